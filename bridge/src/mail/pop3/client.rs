//! A small POP3 client (RFC 1939, with CAPA from RFC 2449, STLS from RFC 2595 and
//! AUTH PLAIN from RFC 5034) over any byte stream, bounded everywhere: status lines
//! are capped, listings have a byte budget, and message data streams through a sink
//! chunk by chunk, dot-unstuffed, so nothing the server sends is ever held whole.
//!
//! Why not async-pop: it spins at end of stream, does not undo dot-stuffing, logs
//! what it sends (passwords included), buffers each response whole, and has no STLS.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;

/// The longest status line accepted. RFC 1939 allows 512 octets; servers keep well
/// under it.
const MAX_STATUS_LINE: usize = 4096;
/// The read buffer: also the longest piece of a data line handled at once (longer
/// lines pass through in pieces).
const BUFFER: usize = 64 << 10;
/// The most bytes a listing (CAPA, UIDL, LIST) may take: about 350,000 messages.
pub const MAX_LISTING: u64 = 32 << 20;

/// What can go wrong in a POP3 exchange.
#[derive(Debug, thiserror::Error)]
pub enum Pop3Error {
    #[error("the connection failed")]
    Io(#[from] io::Error),
    #[error("the server did not answer in time")]
    Timeout,
    #[error("the server answered -ERR {}{text}", code.as_deref().map(|c| format!("[{c}] ")).unwrap_or_default())]
    Refused { code: Option<String>, text: String },
    #[error("the server's answer is not POP3: {0}")]
    Protocol(&'static str),
    #[error("the server sent more than the {0} bytes allowed")]
    TooLarge(u64),
}

impl Pop3Error {
    /// The response code of a refusal (RFC 2449 and 3206), such as `IN-USE` or `AUTH`.
    pub fn code(&self) -> Option<&str> {
        match self {
            Pop3Error::Refused { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// Whether the exchange is still in step: only a clean `-ERR` leaves it so.
    pub fn leaves_session_usable(&self) -> bool {
        matches!(self, Pop3Error::Refused { .. })
    }
}

/// `-ERR [CODE] text` as an error; `None` for any other line.
fn refusal(line: &str) -> Option<Pop3Error> {
    let rest = line.strip_prefix("-ERR")?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    let rest = rest.trim_start();
    let (code, text) = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((code, text)) => (Some(code.to_ascii_uppercase()), text.trim_start()),
        None => (None, rest),
    };
    Some(Pop3Error::Refused {
        code,
        text: text.chars().take(200).collect(),
    })
}

/// One POP3 conversation. Every read waits at most `deadline` for the next bytes.
pub struct Pop3<S> {
    stream: S,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    deadline: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Pop3<S> {
    pub fn new(stream: S, deadline: Duration) -> Self {
        Pop3 {
            stream,
            buf: vec![0; BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
            deadline,
        }
    }

    /// The stream, for a TLS handshake after STLS. Anything the server sent after its
    /// `+OK` is dropped, so nothing from before TLS can pass for an answer after it.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Reads the greeting.
    pub async fn greeting(&mut self) -> Result<String, Pop3Error> {
        self.status().await
    }

    /// Sends one command line and reads its status. The line must not hold CR or LF;
    /// callers check text that came from people.
    pub async fn command(&mut self, line: &str) -> Result<String, Pop3Error> {
        debug_assert!(!line.contains(['\r', '\n']));
        self.send(line).await?;
        self.status().await
    }

    /// Writes the line and its CRLF without copying it (a line may hold a password).
    async fn send(&mut self, line: &str) -> Result<(), Pop3Error> {
        let write = async {
            self.stream.write_all(line.as_bytes()).await?;
            self.stream.write_all(b"\r\n").await?;
            self.stream.flush().await
        };
        match timeout(self.deadline, write).await {
            Err(_) => Err(Pop3Error::Timeout),
            Ok(result) => Ok(result?),
        }
    }

    /// The server's capabilities (upper-cased names with their arguments), or `None`
    /// when it does not know CAPA.
    pub async fn capa(&mut self) -> Result<Option<Vec<String>>, Pop3Error> {
        match self.command("CAPA").await {
            Ok(_) => {}
            Err(Pop3Error::Refused { .. }) => return Ok(None),
            Err(other) => return Err(other),
        }
        let lines = self.listing().await?;
        Ok(Some(
            lines.into_iter().map(|l| l.to_ascii_uppercase()).collect(),
        ))
    }

    /// Asks for STLS; on `+OK` the caller hands [`Pop3::into_inner`] to TLS.
    pub async fn stls(&mut self) -> Result<(), Pop3Error> {
        self.command("STLS").await.map(drop)
    }

    /// `AUTH PLAIN` (RFC 5034): with the initial response on the command line when
    /// that stays within the 255 octets allowed, else after the server's `+`.
    pub async fn auth_plain(&mut self, user: &str, password: &str) -> Result<(), Pop3Error> {
        use base64::Engine;
        let mut token =
            zeroize::Zeroizing::new(Vec::with_capacity(user.len() + password.len() + 2));
        token.push(0);
        token.extend_from_slice(user.as_bytes());
        token.push(0);
        token.extend_from_slice(password.as_bytes());
        let mut line = zeroize::Zeroizing::new(String::with_capacity(2 * token.len() + 16));
        line.push_str("AUTH PLAIN ");
        let at = line.len();
        base64::engine::general_purpose::STANDARD.encode_string(&*token, &mut line);
        if line.len() <= 255 {
            return self.command(&line).await.map(drop);
        }
        self.send("AUTH PLAIN").await?;
        self.continuation().await?;
        self.command(&line[at..]).await.map(drop)
    }

    /// Reads the server's `+ ` invitation to go on with an AUTH exchange.
    async fn continuation(&mut self) -> Result<(), Pop3Error> {
        match self.line().await? {
            line if line == "+" || line.starts_with("+ ") => Ok(()),
            line => Err(refusal(&line).unwrap_or(Pop3Error::Protocol(
                "an AUTH answer that is neither + nor -ERR",
            ))),
        }
    }

    /// `USER` then `PASS`.
    pub async fn user_pass(&mut self, user: &str, password: &str) -> Result<(), Pop3Error> {
        self.command(&format!("USER {user}")).await?;
        let line = zeroize::Zeroizing::new(format!("PASS {password}"));
        self.command(&line).await.map(drop)
    }

    /// Message numbers with their unique ids (`UIDL`), in the server's order.
    pub async fn uidl(&mut self) -> Result<Vec<(u32, String)>, Pop3Error> {
        self.command("UIDL").await?;
        let mut out = Vec::new();
        for line in self.listing().await? {
            let mut words = line.split_ascii_whitespace();
            let (Some(number), Some(id)) =
                (words.next().and_then(|n| n.parse().ok()), words.next())
            else {
                return Err(Pop3Error::Protocol("a UIDL line without number and id"));
            };
            if id.len() > 70 || !id.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
                return Err(Pop3Error::Protocol("a unique id outside RFC 1939's rules"));
            }
            out.push((number, id.to_owned()));
        }
        Ok(out)
    }

    /// Message numbers with their sizes in octets (`LIST`).
    pub async fn list(&mut self) -> Result<Vec<(u32, u64)>, Pop3Error> {
        self.command("LIST").await?;
        let mut out = Vec::new();
        for line in self.listing().await? {
            let mut words = line.split_ascii_whitespace();
            match (
                words.next().and_then(|n| n.parse().ok()),
                words.next().and_then(|n| n.parse().ok()),
            ) {
                (Some(number), Some(size)) => out.push((number, size)),
                _ => return Err(Pop3Error::Protocol("a LIST line without number and size")),
            }
        }
        Ok(out)
    }

    /// The header block of message `number` (`TOP n 0`), at most `max` bytes of it;
    /// the rest is read and dropped.
    pub async fn top(&mut self, number: u32, max: usize) -> Result<Vec<u8>, Pop3Error> {
        self.command(&format!("TOP {number} 0")).await?;
        let mut header = Vec::new();
        self.data(MAX_LISTING, |chunk| {
            let room = max.saturating_sub(header.len());
            header.extend_from_slice(&chunk[..chunk.len().min(room)]);
            Ok(())
        })
        .await?;
        Ok(header)
    }

    /// Streams message `number` (`RETR`) into `sink`, at most `max` bytes.
    pub async fn retr(
        &mut self,
        number: u32,
        max: u64,
        sink: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> Result<(), Pop3Error> {
        self.command(&format!("RETR {number}")).await?;
        self.data(max, sink).await
    }

    pub async fn dele(&mut self, number: u32) -> Result<(), Pop3Error> {
        self.command(&format!("DELE {number}")).await.map(drop)
    }

    /// Ends the session; the server then removes what was marked with DELE.
    pub async fn quit(&mut self) -> Result<(), Pop3Error> {
        self.command("QUIT").await.map(drop)
    }

    /// Reads one status line: `+OK text` gives the text, `-ERR [CODE] text` an error.
    async fn status(&mut self) -> Result<String, Pop3Error> {
        let line = self.line().await?;
        if line == "+OK" {
            return Ok(String::new());
        }
        if let Some(text) = line.strip_prefix("+OK ") {
            return Ok(text.to_owned());
        }
        Err(refusal(&line).unwrap_or(Pop3Error::Protocol(
            "a status line that is neither +OK nor -ERR",
        )))
    }

    /// Reads one line, without its line end, within [`MAX_STATUS_LINE`].
    async fn line(&mut self) -> Result<String, Pop3Error> {
        loop {
            if let Some(at) = self.buf[self.start..self.end]
                .iter()
                .position(|b| *b == b'\n')
            {
                let line = &self.buf[self.start..self.start + at];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let text = String::from_utf8_lossy(line).into_owned();
                self.start += at + 1;
                return Ok(text);
            }
            if self.end - self.start >= MAX_STATUS_LINE {
                return Err(Pop3Error::Protocol("a status line too long"));
            }
            if !self.fill().await? {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
        }
    }

    /// The lines of a multi-line answer, within [`MAX_LISTING`].
    async fn listing(&mut self) -> Result<Vec<String>, Pop3Error> {
        let mut all = Vec::new();
        self.data(MAX_LISTING, |chunk| {
            all.extend_from_slice(chunk);
            Ok(())
        })
        .await?;
        Ok(String::from_utf8_lossy(&all)
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.trim().is_empty())
            .collect())
    }

    /// Streams a multi-line answer's data to `sink`: line endings kept, the leading
    /// dot of stuffed lines removed, up to (not including) the final `.` line. More
    /// than `max` bytes is an error, after which the session is out of step.
    async fn data(
        &mut self,
        max: u64,
        mut sink: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> Result<(), Pop3Error> {
        let mut at_line_start = true;
        let mut total = 0u64;
        loop {
            let available = &self.buf[self.start..self.end];
            // At a line start, a dot is either the end (".\r\n") or stuffing; with
            // too few bytes to tell, read more first.
            if at_line_start {
                let undecided = available.is_empty()
                    || (available[0] == b'.' && available.len() < 3 && !available.contains(&b'\n'));
                if undecided {
                    if !self.fill().await? {
                        return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
                    }
                    continue;
                }
                if available[0] == b'.' {
                    if available.starts_with(b".\r\n") {
                        self.start += 3;
                        return Ok(());
                    }
                    if available.starts_with(b".\n") {
                        self.start += 2;
                        return Ok(());
                    }
                    self.start += 1;
                    at_line_start = false;
                    continue;
                }
            }
            if available.is_empty() {
                if !self.fill().await? {
                    return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
                }
                continue;
            }
            let (piece, line_ends) = match available.iter().position(|b| *b == b'\n') {
                Some(at) => (&available[..=at], true),
                None => (available, false),
            };
            total += piece.len() as u64;
            if total > max {
                return Err(Pop3Error::TooLarge(max));
            }
            sink(piece)?;
            self.start += piece.len();
            at_line_start = line_ends;
        }
    }

    /// Reads more bytes into the buffer; false at the end of the stream.
    async fn fill(&mut self) -> Result<bool, Pop3Error> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // Only a status line can fill the buffer unread; it is capped far below.
            return Err(Pop3Error::Protocol("a line too long"));
        }
        match timeout(self.deadline, self.stream.read(&mut self.buf[self.end..])).await {
            Err(_) => Err(Pop3Error::Timeout),
            Ok(Err(error)) => Err(error.into()),
            Ok(Ok(0)) => Ok(false),
            Ok(Ok(read)) => {
                self.end += read;
                Ok(true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, BufReader};

    /// A client wired to a scripted server that answers each line it reads with the
    /// next reply of `script`, and records what it was sent.
    async fn scripted(
        greeting: &str,
        script: Vec<&'static [u8]>,
    ) -> (
        Pop3<tokio::io::DuplexStream>,
        tokio::task::JoinHandle<Vec<String>>,
    ) {
        let (client, server) = tokio::io::duplex(1 << 16);
        let greeting = greeting.to_owned();
        let task = tokio::spawn(async move {
            let (read, mut write) = tokio::io::split(server);
            let mut read = BufReader::new(read);
            write.write_all(greeting.as_bytes()).await.ok();
            let mut seen = Vec::new();
            for reply in script {
                let mut line = String::new();
                if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                    break;
                }
                seen.push(line.trim_end().to_owned());
                // Dribble the reply in small pieces, to cross every buffer boundary.
                for piece in reply.chunks(3) {
                    if write.write_all(piece).await.is_err() {
                        return seen;
                    }
                }
            }
            seen
        });
        (Pop3::new(client, Duration::from_secs(5)), task)
    }

    #[tokio::test]
    async fn data_is_unstuffed_and_ends_at_the_lone_dot() {
        let (mut pop, server) = scripted(
            "+OK ready\r\n",
            vec![b"+OK 40 octets\r\nSubject: a\r\n\r\n..leading dot\r\n.\r\n...\r\nend\r\n.\r\n"],
        )
        .await;
        pop.greeting().await.expect("greeting");
        let mut got = Vec::new();
        pop.retr(1, 1 << 20, |chunk| {
            got.extend_from_slice(chunk);
            Ok(())
        })
        .await
        .expect("retr");
        assert_eq!(got, b"Subject: a\r\n\r\n.leading dot\r\n".to_vec());
        // What followed the end belongs to the next answer, not to this message.
        assert_eq!(server.await.expect("server"), vec!["RETR 1"]);
    }

    #[tokio::test]
    async fn listings_and_refusals_with_codes() {
        let (mut pop, server) = scripted(
            "+OK hi\r\n",
            vec![
                b"+OK\r\nTOP\r\nUIDL\r\nSASL PLAIN LOGIN\r\nSTLS\r\n.\r\n",
                b"+OK\r\n1 000000017a2b\r\n2 x.y-z\r\n.\r\n",
                b"+OK\r\n1 120\r\n2 4500\r\n.\r\n",
                b"-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n",
            ],
        )
        .await;
        pop.greeting().await.expect("greeting");
        let capa = pop.capa().await.expect("capa").expect("some");
        assert!(capa.contains(&"SASL PLAIN LOGIN".to_owned()) && capa.contains(&"STLS".to_owned()));
        assert_eq!(
            pop.uidl().await.expect("uidl"),
            vec![(1, "000000017a2b".to_owned()), (2, "x.y-z".to_owned())]
        );
        assert_eq!(pop.list().await.expect("list"), vec![(1, 120), (2, 4500)]);
        let error = pop.auth_plain("u", "p").await.expect_err("locked");
        assert_eq!(error.code(), Some("IN-USE"));
        assert!(error.leaves_session_usable());
        let sent = server.await.expect("server");
        assert_eq!(sent[3], "AUTH PLAIN AHUAcA==");
    }

    #[tokio::test]
    async fn long_credentials_go_after_the_continuation() {
        let (mut pop, server) =
            scripted("+OK\r\n", vec![b"+ \r\n", b"+OK welcome\r\n", b"+OKAY\r\n"]).await;
        pop.greeting().await.expect("greeting");
        let password = "p".repeat(300);
        pop.auth_plain("alice", &password).await.expect("signed in");
        let error = pop.command("NOOP").await.expect_err("not +OK");
        assert!(matches!(error, Pop3Error::Protocol(_)), "{error:?}");
        let sent = server.await.expect("server");
        assert_eq!(sent[0], "AUTH PLAIN");
        assert!(sent[1].len() > 255 && !sent[1].contains(' '), "{}", sent[1]);
    }

    #[tokio::test]
    async fn a_header_block_is_capped_and_the_rest_drained() {
        let (mut pop, _server) = scripted(
            "+OK\r\n",
            vec![
                b"+OK\r\nSubject: long\r\nX: 0123456789\r\n\r\n.\r\n",
                b"+OK bye\r\n",
            ],
        )
        .await;
        pop.greeting().await.expect("greeting");
        assert_eq!(pop.top(1, 10).await.expect("top"), b"Subject: l".to_vec());
        pop.quit().await.expect("still in step");
    }

    #[tokio::test]
    async fn too_much_data_and_early_end_are_errors() {
        let (mut pop, _server) = scripted("+OK\r\n", vec![b"+OK\r\n0123456789\r\n.\r\n"]).await;
        pop.greeting().await.expect("greeting");
        let error = pop.retr(1, 5, |_| Ok(())).await.expect_err("too large");
        assert!(matches!(error, Pop3Error::TooLarge(5)));

        let (mut pop, _server) = scripted("+OK\r\n", vec![b"+OK\r\npartial line"]).await;
        pop.greeting().await.expect("greeting");
        let error = pop.retr(1, 1 << 20, |_| Ok(())).await.expect_err("cut off");
        assert!(matches!(error, Pop3Error::Io(_)), "{error:?}");
    }

    #[tokio::test]
    async fn a_long_line_passes_through_in_pieces() {
        static REPLY: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
            let mut reply = b"+OK\r\n".to_vec();
            reply.extend(std::iter::repeat_n(b'a', 200_000));
            reply.extend_from_slice(b"\r\n.\r\n");
            reply
        });
        let (mut pop, _server) = scripted("+OK\r\n", vec![REPLY.as_slice()]).await;
        pop.greeting().await.expect("greeting");
        let mut size = 0;
        pop.retr(1, 1 << 20, |chunk| {
            size += chunk.len();
            Ok(())
        })
        .await
        .expect("retr");
        assert_eq!(size, 200_002);
    }

    #[tokio::test]
    async fn an_endless_status_line_is_refused() {
        static REPLY: std::sync::LazyLock<Vec<u8>> =
            std::sync::LazyLock::new(|| vec![b'+'; 100_000]);
        let (mut pop, _server) = scripted("+OK\r\n", vec![REPLY.as_slice()]).await;
        pop.greeting().await.expect("greeting");
        let error = pop.command("NOOP").await.expect_err("too long");
        assert!(matches!(error, Pop3Error::Protocol(_)), "{error:?}");
    }
}
