//! Commands the bridge writes and reads itself, under async-imap, for the answers
//! imap-proto cannot parse (`NAMESPACE`, `GENURLAUTH`, `ESEARCH`) and for
//! arguments that must go as literals (a search for non-ASCII words).
//!
//! The answer is read as lines, literals inlined as quoted strings, within a byte
//! allowance; the untagged lines are returned for the caller to pick from, and
//! what it does not want is news ([`news_in`]).

use async_imap::imap_proto::Response;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Refusal;

/// One argument of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Spelled by the bridge: written as it is.
    Atom(&'static str),
    /// A number, written as digits.
    Number(u64),
    /// A value from a person or the server: a quoted string when it is printable
    /// ASCII, else a literal.
    Text(String),
}

/// A quoted string (for text known to be printable ASCII).
pub fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn printable(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Writes `tag` and `args` as one command (literals once the server asks for
/// them, or at once with LITERAL+ where `literal_plus`) and reads its answer, at
/// most `max` bytes. The untagged lines, or the server's refusal.
pub async fn exchange<S>(
    stream: &mut S,
    tag: &str,
    args: &[Arg],
    literal_plus: bool,
    max: usize,
) -> std::io::Result<Result<Vec<String>, Refusal>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut reader = Lines {
        stream,
        read: 0,
        max,
    };
    let mut line = tag.to_owned();
    let mut early = Vec::new();
    for arg in args {
        line.push(' ');
        match arg {
            Arg::Atom(atom) => line.push_str(atom),
            Arg::Number(n) => line.push_str(&n.to_string()),
            Arg::Text(text) if printable(text) => line.push_str(&quoted(text)),
            Arg::Text(text) => {
                let plus = if literal_plus { "+" } else { "" };
                line.push_str(&format!("{{{}{plus}}}\r\n", text.len()));
                reader.stream.write_all(line.as_bytes()).await?;
                line.clear();
                if !literal_plus {
                    reader.stream.flush().await?;
                    // Wait for the go-ahead; a tagged answer instead is a refusal.
                    loop {
                        let answer = reader.line().await?;
                        if answer.starts_with('+') {
                            break;
                        }
                        if let Some(done) = tagged(&answer, tag) {
                            return Ok(done.map(|()| early));
                        }
                        early.push(answer);
                    }
                }
                reader.stream.write_all(text.as_bytes()).await?;
            }
        }
    }
    line.push_str("\r\n");
    reader.stream.write_all(line.as_bytes()).await?;
    reader.stream.flush().await?;
    reader.answer(tag, early).await
}

/// Writes one command line spelled here (arguments through [`quoted`]) and reads
/// its answer, at most 64 KiB.
pub async fn command<S>(
    stream: &mut S,
    tag: &str,
    command: &str,
) -> std::io::Result<Result<Vec<String>, Refusal>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut reader = Lines {
        stream,
        read: 0,
        max: 64 * 1024,
    };
    reader
        .stream
        .write_all(format!("{tag} {command}\r\n").as_bytes())
        .await?;
    reader.stream.flush().await?;
    reader.answer(tag, Vec::new()).await
}

/// `Some` when `line` is the tagged answer: OK, or the refusal.
fn tagged(line: &str, tag: &str) -> Option<Result<(), Refusal>> {
    let rest = line.strip_prefix(tag)?.strip_prefix(' ')?;
    let (status, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if status.eq_ignore_ascii_case("OK") {
        return Some(Ok(()));
    }
    Some(Err(Refusal::from_text(rest)))
}

/// The untagged lines that are news for the selected folder (EXISTS, EXPUNGE,
/// FETCH, VANISHED, STATUS from NOTIFY), parsed as async-imap would have.
pub fn news_in(lines: &[String], mut absorb: impl FnMut(&Response<'_>)) {
    for line in lines {
        let bytes = format!("{line}\r\n");
        if let Ok((_, response)) = Response::parse(bytes.as_bytes()) {
            absorb(&response);
        }
    }
}

/// Reads answer lines within an allowance of bytes.
struct Lines<'a, S> {
    stream: &'a mut S,
    read: usize,
    max: usize,
}

impl<S: AsyncRead + Unpin> Lines<'_, S> {
    /// Reads on to the tagged answer: the untagged lines (after `lines`, those
    /// read already), or the refusal.
    async fn answer(
        &mut self,
        tag: &str,
        mut lines: Vec<String>,
    ) -> std::io::Result<Result<Vec<String>, Refusal>> {
        loop {
            let answer = self.line().await?;
            if let Some(done) = tagged(&answer, tag) {
                return Ok(done.map(|()| lines));
            }
            lines.push(answer);
        }
    }

    /// The next line without its CRLF; a literal (`{n}` or `{n+}` ending the line,
    /// n bytes after) is inlined as a quoted string.
    async fn line(&mut self) -> std::io::Result<String> {
        let too_long = || std::io::Error::other("the answer is too long");
        let mut line = Vec::new();
        loop {
            let byte = self.stream.read_u8().await?;
            self.read += 1;
            if self.read > self.max {
                return Err(too_long());
            }
            if byte != b'\n' {
                line.push(byte);
                continue;
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if let Some(size) = super::transport::announced_literal(&line) {
                let size = usize::try_from(size).map_err(|_| too_long())?;
                self.read = self.read.saturating_add(size);
                if self.read > self.max {
                    return Err(too_long());
                }
                let open = line.iter().rposition(|b| *b == b'{').unwrap_or(line.len());
                line.truncate(open);
                let mut data = vec![0; size];
                self.stream.read_exact(&mut data).await?;
                line.extend_from_slice(quoted(&String::from_utf8_lossy(&data)).as_bytes());
                continue;
            }
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `exchange` against a scripted server: what it answers, and what it got.
    async fn against(
        answer: &'static [u8],
        args: &[Arg],
        plus: bool,
    ) -> (std::io::Result<Result<Vec<String>, Refusal>>, Vec<u8>) {
        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        let serve = tokio::spawn(async move {
            server.write_all(answer).await.ok();
            let mut got = Vec::new();
            server.read_to_end(&mut got).await.ok();
            got
        });
        let result = exchange(&mut client, "PS1", args, plus, 1024).await;
        drop(client);
        (result, serve.await.unwrap_or_default())
    }

    #[tokio::test]
    async fn values_go_quoted_or_as_literals() {
        let args = [
            Arg::Atom("UID SEARCH"),
            Arg::Atom("CHARSET UTF-8"),
            Arg::Atom("FROM"),
            Arg::Text("bob \"the\" \\ builder".into()),
            Arg::Atom("BODY"),
            Arg::Text("Grüße".into()),
            Arg::Atom("LARGER"),
            Arg::Number(5),
        ];
        let (result, got) = against(
            b"+ go\r\n* 2 EXISTS\r\n* SEARCH 4 9\r\nPS1 OK done\r\n",
            &args,
            false,
        )
        .await;
        assert_eq!(
            result.expect("read").expect("ok"),
            ["* 2 EXISTS", "* SEARCH 4 9"]
        );
        assert_eq!(
            String::from_utf8_lossy(&got),
            "PS1 UID SEARCH CHARSET UTF-8 FROM \"bob \\\"the\\\" \\\\ builder\" BODY {7}\r\nGrüße LARGER 5\r\n"
        );
    }

    #[tokio::test]
    async fn literal_plus_does_not_wait() {
        let args = [Arg::Atom("SEARCH"), Arg::Text("a\u{e9}".into())];
        let (result, got) = against(b"PS1 OK\r\n", &args, true).await;
        assert!(result.expect("read").is_ok());
        assert_eq!(
            String::from_utf8_lossy(&got),
            "PS1 SEARCH {3+}\r\na\u{e9}\r\n"
        );
    }

    #[tokio::test]
    async fn a_refusal_instead_of_the_go_ahead_sends_nothing_more() {
        let args = [Arg::Atom("SEARCH"), Arg::Text("\u{e9}".into())];
        let (result, got) = against(b"PS1 NO [BADCHARSET (US-ASCII)] no\r\n", &args, false).await;
        let refusal = result.expect("read").expect_err("refused");
        assert_eq!(refusal.code.as_deref(), Some("BADCHARSET"));
        assert_eq!(String::from_utf8_lossy(&got), "PS1 SEARCH {2}\r\n");
    }

    #[tokio::test]
    async fn an_endless_answer_ends_within_the_allowance() {
        let (result, _) = against(&[b'9'; 4096], &[Arg::Atom("SEARCH")], false).await;
        assert!(result.is_err());
    }
}
