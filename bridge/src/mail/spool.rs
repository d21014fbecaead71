//! A whole message being sent, in an unlinked temporary file: written once, piece
//! by piece, then read again as often as needed (submission, the Sent copy), so
//! that no message with attachments is ever held whole in memory.

use std::io::{Seek, SeekFrom, Write};

use tokio::io::AsyncRead;

use super::MailError;

/// How much of a read is asked from the file at a time.
pub const CHUNK: usize = 64 * 1024;

/// A finished message on disk.
#[derive(Debug)]
pub struct Spooled {
    file: std::fs::File,
    len: u64,
    /// The message in order, where some of it is on the server (else empty).
    segments: Vec<Segment>,
    /// The bytes of server parts that are not in the file.
    left_out: u64,
}

/// A run of a spooled message: bytes of the file, or a part the IMAP server holds
/// already, named by its URL, taken as it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    File { start: u64, len: u64 },
    Server { url: String, size: u64 },
}

impl Spooled {
    /// A new, empty spool file; gone from the disk once dropped.
    pub fn writer() -> Result<SpoolWriter, MailError> {
        let file = tempfile::tempfile().map_err(MailError::Spool)?;
        Ok(SpoolWriter {
            out: std::io::BufWriter::with_capacity(CHUNK, file),
            len: 0,
            segments: Vec::new(),
            run_start: 0,
            left_out: 0,
        })
    }

    /// The bytes in the file.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The whole message's size, the parts left on the server included.
    pub fn size(&self) -> u64 {
        self.len + self.left_out
    }

    /// Whether the file holds the whole message (it can be submitted, or appended
    /// without CATENATE).
    pub fn is_whole(&self) -> bool {
        self.left_out == 0
    }

    /// The message as file runs and server parts; `None` when no part of it is
    /// on the server.
    pub fn segments(&self) -> Option<&[Segment]> {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Server { .. }))
            .then_some(self.segments.as_slice())
    }

    /// `len` bytes of the file from `start` (the same shared position as `reader`).
    pub fn range(
        &self,
        start: u64,
        len: u64,
    ) -> std::io::Result<impl AsyncRead + Unpin + Send + use<>> {
        use tokio::io::AsyncReadExt;
        let mut file = self.file.try_clone()?;
        file.seek(SeekFrom::Start(start))?;
        Ok(tokio::fs::File::from_std(file).take(len))
    }

    /// The message from its start. Readers share the file's position, so one is
    /// read to its end (or dropped) before the next is made.
    pub fn reader(&self) -> Result<impl AsyncRead + Unpin + Send + use<>, MailError> {
        let mut file = self.file.try_clone().map_err(MailError::Spool)?;
        file.seek(SeekFrom::Start(0)).map_err(MailError::Spool)?;
        Ok(tokio::fs::File::from_std(file))
    }
}

/// A spool file being written.
pub struct SpoolWriter {
    out: std::io::BufWriter<std::fs::File>,
    len: u64,
    segments: Vec<Segment>,
    /// Where the file run being written began.
    run_start: u64,
    left_out: u64,
}

impl SpoolWriter {
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), MailError> {
        self.out.write_all(bytes).map_err(MailError::Spool)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// The message's size so far, parts left on the server included.
    pub fn len(&self) -> u64 {
        self.len + self.left_out
    }

    /// Notes that what comes next is the server's part at `url`, of `size` bytes
    /// as stored. `left_out`: its bytes are not written into the file; else they
    /// are, and `after_server_part` marks where they end.
    pub fn server_part(&mut self, url: String, size: u64, left_out: bool) {
        self.end_run();
        self.segments.push(Segment::Server { url, size });
        if left_out {
            self.left_out += size;
        }
    }

    /// Marks the end of a server part's bytes written into the file.
    pub fn after_server_part(&mut self) {
        self.run_start = self.len;
    }

    fn end_run(&mut self) {
        if self.len > self.run_start {
            self.segments.push(Segment::File {
                start: self.run_start,
                len: self.len - self.run_start,
            });
        }
        self.run_start = self.len;
    }

    pub fn finish(mut self) -> Result<Spooled, MailError> {
        self.end_run();
        let len = self.len;
        let file = self
            .out
            .into_inner()
            .map_err(|e| MailError::Spool(e.into_error()))?;
        Ok(Spooled {
            file,
            len,
            segments: self.segments,
            left_out: self.left_out,
        })
    }
}

/// Base64 in lines of 76 characters (RFC 2045) over data given in pieces. Lines are
/// joined by CRLF; the last one has none, as a MIME part's body ends before the
/// boundary's own CRLF.
#[derive(Debug, Default)]
pub struct Base64Lines {
    /// Fewer than one line's worth (57 bytes) not yet written.
    pending: Vec<u8>,
    lines: u64,
}

impl Base64Lines {
    const LINE_BYTES: usize = 57;

    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        if !self.pending.is_empty() {
            let take = (Self::LINE_BYTES - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() < Self::LINE_BYTES {
                return;
            }
            let line = std::mem::take(&mut self.pending);
            self.line(&line, out);
        }
        let mut lines = data.chunks_exact(Self::LINE_BYTES);
        for line in &mut lines {
            self.line(line, out);
        }
        self.pending.extend_from_slice(lines.remainder());
    }

    pub fn finish(mut self, out: &mut Vec<u8>) {
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            self.line(&rest, out);
        }
    }

    fn line(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        use base64::Engine;
        if self.lines > 0 {
            out.extend_from_slice(b"\r\n");
        }
        self.lines += 1;
        let start = out.len();
        out.resize(start + bytes.len().div_ceil(3) * 4, 0);
        let written = base64::engine::general_purpose::STANDARD
            .encode_slice(bytes, &mut out[start..])
            .unwrap_or(0);
        out.truncate(start + written);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_lines_do_not_depend_on_how_the_data_is_cut() {
        use base64::Engine;
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = base64::engine::general_purpose::STANDARD.encode(&data);
        let expected = whole
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).expect("ascii"))
            .collect::<Vec<_>>()
            .join("\r\n");
        for cut in [1, 2, 3, 56, 57, 58, 100, 1000] {
            let mut encoder = Base64Lines::default();
            let mut out = Vec::new();
            for piece in data.chunks(cut) {
                encoder.push(piece, &mut out);
            }
            encoder.finish(&mut out);
            assert_eq!(String::from_utf8(out).expect("ascii"), expected, "{cut}");
        }
        let mut out = Vec::new();
        Base64Lines::default().finish(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn the_encoded_size_estimate_covers_the_encoding() {
        for size in [0u64, 1, 56, 57, 58, 10_000, 25 << 20] {
            let mut encoder = Base64Lines::default();
            let mut out = Vec::new();
            encoder.push(&vec![0; size as usize], &mut out);
            encoder.finish(&mut out);
            let estimate = protocol::encoded_size(size);
            assert!(estimate >= out.len() as u64, "{size}");
            assert!(estimate <= out.len() as u64 + 402, "{size}");
        }
    }

    #[test]
    fn server_parts_split_the_file_into_runs() {
        let mut writer = Spooled::writer().expect("spool");
        writer.write(b"head").expect("write");
        writer.server_part("/INBOX;UIDVALIDITY=1/;UID=2".into(), 100, false);
        writer.write(&[b'x'; 100]).expect("write");
        writer.after_server_part();
        writer.write(b"mid").expect("write");
        writer.server_part("/INBOX;UIDVALIDITY=1/;UID=3".into(), 50, true);
        writer.write(b"end").expect("write");
        assert_eq!(writer.len(), 160);
        let spooled = writer.finish().expect("finish");
        assert_eq!((spooled.len(), spooled.size()), (110, 160));
        assert!(!spooled.is_whole());
        let server = |url: &str, size| Segment::Server {
            url: url.into(),
            size,
        };
        assert_eq!(
            spooled.segments().expect("segments"),
            [
                Segment::File { start: 0, len: 4 },
                server("/INBOX;UIDVALIDITY=1/;UID=2", 100),
                Segment::File { start: 104, len: 3 },
                server("/INBOX;UIDVALIDITY=1/;UID=3", 50),
                Segment::File { start: 107, len: 3 },
            ]
        );
    }

    #[tokio::test]
    async fn a_spooled_message_reads_back_whole_each_time() {
        use tokio::io::AsyncReadExt;
        let mut writer = Spooled::writer().expect("spool");
        writer.write(b"Subject: x\r\n\r\n").expect("write");
        writer.write(&[b'a'; 100_000]).expect("write");
        let spooled = writer.finish().expect("finish");
        assert_eq!(spooled.len(), 100_014);
        assert!(spooled.segments().is_none() && spooled.is_whole());
        for _ in 0..2 {
            let mut back = Vec::new();
            spooled
                .reader()
                .expect("reader")
                .read_to_end(&mut back)
                .await
                .expect("read");
            assert_eq!(back.len(), 100_014);
            assert!(back.starts_with(b"Subject: x\r\n\r\naaa"));
        }
    }
}
