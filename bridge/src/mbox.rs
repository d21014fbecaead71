//! The mbox format (mboxrd, RFC 4155's common variant) for "Download all": each
//! message follows a `From ` separator line, and any line of it that starts with
//! `>`s followed by `From ` gains one more `>`, so that readers can undo the quoting
//! exactly. Messages are quoted as they stream, chunk by chunk.

/// The separator line before a message that arrived at `date` (seconds since the
/// epoch, UTC), in `asctime` form as mbox readers expect.
pub fn separator(date: i64) -> Vec<u8> {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let date = date.max(0);
    let (days, seconds) = (date / 86_400, date % 86_400);
    let (year, month, day) = civil(days);
    format!(
        "From MAILER-DAEMON {} {} {:2} {:02}:{:02}:{:02} {}\n",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        year
    )
    .into_bytes()
}

/// Year, month and day of `days` since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Quotes one message's bytes as they stream: a line that reads `>*From ` gets
/// another `>`. The `>`s at a line start go out at once (one more in front of the
/// run is the same bytes as one more at its end), and at most the five bytes that
/// might still spell `From ` are held back.
#[derive(Debug)]
pub struct Quoter {
    /// After a line start and any `>`s: the bytes that may still become `From `.
    held: Vec<u8>,
    at_line_start: bool,
    /// The last byte written, to end the message with a line break.
    last: Option<u8>,
}

impl Default for Quoter {
    fn default() -> Self {
        Quoter {
            held: Vec::with_capacity(5),
            at_line_start: true,
            last: None,
        }
    }
}

impl Quoter {
    /// Quotes `input`, appending to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &byte in input {
            if !self.at_line_start {
                self.emit(&[byte], out);
                self.at_line_start = byte == b'\n';
                continue;
            }
            if self.held.is_empty() && byte == b'>' {
                self.emit(b">", out);
                continue;
            }
            self.held.push(byte);
            if self.held.len() < 5 && b"From ".starts_with(&self.held) {
                continue;
            }
            let held = std::mem::take(&mut self.held);
            if held == b"From " {
                self.emit(b">", out);
            }
            self.emit(&held, out);
            self.at_line_start = byte == b'\n';
        }
    }

    /// Ends the message: what is held back goes out, then a line break if the
    /// message lacked one, and the blank line that separates messages.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        let held = std::mem::take(&mut self.held);
        self.emit(&held, out);
        if self.last.is_some_and(|b| b != b'\n') {
            out.push(b'\n');
        }
        out.push(b'\n');
    }

    fn emit(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if let Some(&last) = bytes.last() {
            self.last = Some(last);
        }
        out.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(message: &[u8], chunk: usize) -> Vec<u8> {
        let mut quoter = Quoter::default();
        let mut out = Vec::new();
        for piece in message.chunks(chunk) {
            quoter.push(piece, &mut out);
        }
        quoter.finish(&mut out);
        out
    }

    #[test]
    fn from_lines_are_quoted_the_same_for_any_chunking() {
        let message =
            b"From: a\r\nSubject: b\r\n\r\nFrom here\r\n>From there\r\n>>From x\r\nFro\r\n>Fr\r\nFromage\r\n";
        let expected =
            b"From: a\r\nSubject: b\r\n\r\n>From here\r\n>>From there\r\n>>>From x\r\nFro\r\n>Fr\r\nFromage\r\n\n";
        for chunk in 1..=message.len() {
            assert_eq!(
                quoted(message, chunk),
                expected.to_vec(),
                "chunks of {chunk}"
            );
        }
    }

    #[test]
    fn a_long_run_of_quote_marks_is_not_held_back() {
        let mut line = vec![b'>'; 100_000];
        line.extend_from_slice(b"From x\n");
        let mut quoter = Quoter::default();
        let mut out = Vec::new();
        quoter.push(&line[..50_000], &mut out);
        assert_eq!(out.len(), 50_000, "the run goes out as it comes");
        quoter.push(&line[50_000..], &mut out);
        assert_eq!(out.len(), line.len() + 1, "one more quote mark");
    }

    #[test]
    fn a_message_without_a_final_line_break_gets_one() {
        assert_eq!(quoted(b"body", 3), b"body\n\n".to_vec());
        assert_eq!(quoted(b"From", 2), b"From\n\n".to_vec());
    }

    #[test]
    fn separators_carry_the_date_in_asctime_form() {
        assert_eq!(
            separator(0),
            b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n".to_vec()
        );
        // 2023-11-06 10:00:00 UTC was a Monday.
        assert_eq!(
            separator(1_699_264_800),
            b"From MAILER-DAEMON Mon Nov  6 10:00:00 2023\n".to_vec()
        );
        // A leap day.
        assert_eq!(
            separator(1_709_208_000),
            b"From MAILER-DAEMON Thu Feb 29 12:00:00 2024\n".to_vec()
        );
    }
}
