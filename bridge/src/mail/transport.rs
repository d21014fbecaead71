//! The byte stream under an IMAP session: TCP, then rustls, with a per-response byte
//! budget and a line-length cap, so that a hostile server can make the bridge neither
//! buffer without bound nor spin: async-imap re-parses its whole buffer after every
//! read, so one endless line would cost quadratic time long before the budget ran out.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::client::TlsStream;

use super::{MailError, UPSTREAM_DEADLINE};
use crate::config::Server;

/// The most bytes the server may send in answer to one command.
pub const RESPONSE_BUDGET: usize = 32 << 20;

/// The most bytes the greeting, or the answer to LOGIN, may take: a few lines
/// (a long capability list among them), so that a server that floods a sign-in
/// costs the bridge little.
pub const SIGN_IN_BUDGET: usize = 256 << 10;

/// The longest line the server may send, literals aside. Lines are short in IMAP;
/// big data comes in literals, which the parser waits for by their announced size.
pub const MAX_LINE: usize = 1 << 20;

/// A stream that fails reads once its budget is spent or a line grows too long.
/// [`Budget::refill`] is called before each command.
#[derive(Debug)]
pub struct Bounded<S> {
    inner: S,
    budget: Budget,
    lines: LineGuard,
}

/// The deepest parenthesis nesting a response may have. imap-proto parses nested
/// structures (BODYSTRUCTURE) recursively, and a stack overflow would abort the whole
/// bridge, so deeper responses are refused before they reach it. Real messages nest a
/// handful of levels, but a hostile one can nest as deep as the server follows
/// (Dovecot: 100 MIME levels), and refusing it would end the session each time the
/// message is opened; so the limit sits above that, and a test checks that parsing
/// at the limit fits in half of a tokio worker's stack.
pub const MAX_NESTING: u32 = 128;

/// Tracks the length of the current line and the nesting of the current response,
/// skipping literal data (`{n}` at the end of a line announces `n` bytes that follow)
/// and quoted strings.
#[derive(Debug, Default)]
struct LineGuard {
    length: usize,
    literal_left: u64,
    depth: u32,
    in_quote: bool,
    escaped: bool,
    /// The last bytes of the current line, to spot a literal's announcement.
    tail: Vec<u8>,
    /// The longest line allowed now, when not [`MAX_LINE`].
    limit: Option<usize>,
}

impl LineGuard {
    const TAIL: usize = 24;

    /// Follows parentheses outside quoted strings; false when nested too deep.
    fn nest(&mut self, line: &[u8]) -> bool {
        for &byte in line {
            if self.in_quote {
                match byte {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => self.escaped = true,
                    b'"' => self.in_quote = false,
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => self.in_quote = true,
                b'(' => {
                    self.depth += 1;
                    if self.depth > MAX_NESTING {
                        return false;
                    }
                }
                b')' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        true
    }

    /// Scans newly read bytes; false once a line is longer than [`MAX_LINE`] or a
    /// response nests deeper than [`MAX_NESTING`].
    fn scan(&mut self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            if self.literal_left > 0 {
                let skip = bytes
                    .len()
                    .min(usize::try_from(self.literal_left).unwrap_or(usize::MAX));
                self.literal_left -= skip as u64;
                bytes = &bytes[skip..];
                continue;
            }
            let (line, rest, ended) = match bytes.iter().position(|b| *b == b'\n') {
                Some(end) => (&bytes[..end], &bytes[end + 1..], true),
                None => (bytes, &[][..], false),
            };
            self.length += line.len();
            if self.length > self.limit.unwrap_or(MAX_LINE) || !self.nest(line) {
                return false;
            }
            self.tail
                .extend_from_slice(&line[line.len().saturating_sub(Self::TAIL)..]);
            let excess = self.tail.len().saturating_sub(Self::TAIL);
            self.tail.drain(..excess);
            if ended {
                self.literal_left = announced_literal(&self.tail).unwrap_or(0);
                // A response ends with a line that announces no literal.
                if self.literal_left == 0 {
                    self.depth = 0;
                }
                self.length = 0;
                self.tail.clear();
                self.in_quote = false;
                self.escaped = false;
            }
            bytes = rest;
        }
        true
    }
}

/// The size `n` of a line ending in `{n}` or `{n+}` (before its CR).
pub fn announced_literal(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The shared byte allowance of a [`Bounded`] stream, and its longest line.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    bytes: Arc<AtomicUsize>,
    /// Zero for [`MAX_LINE`].
    line: Arc<AtomicUsize>,
    /// Set once the server has closed the stream. async-imap ends a response at
    /// the end of the stream as if it were complete, so an answer cut off there
    /// (after a `* BYE`) would otherwise read as an empty one.
    closed: Arc<AtomicBool>,
}

impl Budget {
    pub fn new() -> Self {
        let budget = Budget::default();
        budget.refill();
        budget
    }

    /// A fresh allowance for the next command, with the usual line limit.
    pub fn refill(&self) {
        self.bytes.store(RESPONSE_BUDGET, Ordering::Relaxed);
        self.line.store(0, Ordering::Relaxed);
    }

    /// A smaller allowance than [`RESPONSE_BUDGET`] for the next answer, one known
    /// to be short (the greeting, LOGIN's).
    pub fn refill_with(&self, bytes: usize) {
        self.bytes.store(bytes, Ordering::Relaxed);
        self.line.store(0, Ordering::Relaxed);
    }

    /// Whether the server has closed the stream.
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Lets the current command's answer have lines up to `max` bytes (a `SORT`
    /// of a big folder is one line), until the next refill.
    pub fn allow_lines(&self, max: usize) {
        self.line.store(max, Ordering::Relaxed);
    }
}

impl<S> Bounded<S> {
    pub fn new(inner: S, budget: Budget) -> Self {
        Bounded {
            inner,
            budget,
            lines: LineGuard::default(),
        }
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Bounded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let remaining = this.budget.bytes.load(Ordering::Relaxed);
        if remaining == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the mail server sent more than one response may hold",
            )));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read == 0 && buf.remaining() > 0 && matches!(result, Poll::Ready(Ok(()))) {
            this.budget.closed.store(true, Ordering::Relaxed);
        }
        this.budget
            .bytes
            .store(remaining.saturating_sub(read), Ordering::Relaxed);
        this.lines.limit = Some(this.budget.line.load(Ordering::Relaxed)).filter(|l| *l > 0);
        if !this.lines.scan(&buf.filled()[before..]) {
            // A failed read hands over nothing, as readers expect.
            buf.set_filled(before);
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the mail server sent an overlong or too deeply nested response",
            )));
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Bounded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// `host:port`, for messages and logs.
pub fn server_label(server: &Server) -> String {
    if server.host.contains(':') {
        format!("[{}]:{}", server.host, server.port)
    } else {
        format!("{}:{}", server.host, server.port)
    }
}

/// Opens the TCP connection, with a deadline.
pub async fn connect_tcp(server: &Server) -> Result<TcpStream, MailError> {
    let label = server_label(server);
    let tcp = match timeout(
        UPSTREAM_DEADLINE,
        TcpStream::connect((server.host.as_str(), server.port)),
    )
    .await
    {
        Err(_) => return Err(MailError::Timeout("the connection")),
        Ok(Err(source)) => {
            return Err(MailError::Unreachable {
                server: label,
                source,
            });
        }
        Ok(Ok(tcp)) => tcp,
    };
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// Runs the TLS handshake, verifying the certificate against `tls`'s roots and the
/// configured host name.
pub async fn start_tls(
    server: &Server,
    tls: Arc<rustls::ClientConfig>,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, MailError> {
    let label = server_label(server);
    let name = ServerName::try_from(server.host.clone()).map_err(|e| MailError::Tls {
        server: label.clone(),
        source: io::Error::new(io::ErrorKind::InvalidInput, e),
    })?;
    match timeout(
        UPSTREAM_DEADLINE,
        tokio_rustls::TlsConnector::from(tls).connect(name, tcp),
    )
    .await
    {
        Err(_) => Err(MailError::Timeout("the TLS handshake")),
        Ok(Err(source)) => Err(MailError::Tls {
            server: label,
            source,
        }),
        Ok(Ok(stream)) => Ok(stream),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_announced_at_line_ends() {
        assert_eq!(announced_literal(b"* 1 FETCH (BODY[] {1234}\r"), Some(1234));
        assert_eq!(announced_literal(b"A1 APPEND x {5+}"), Some(5));
        assert_eq!(announced_literal(b"* OK {not a number}\r"), None);
        assert_eq!(announced_literal(b"* OK done\r"), None);
    }

    #[test]
    fn long_lines_fail_but_long_literals_pass() {
        let mut guard = LineGuard::default();
        let announce = format!("* 1 FETCH (BODY[] {{{}}}\r\n", 3 * MAX_LINE);
        assert!(guard.scan(announce.as_bytes()));
        let chunk = vec![b'x'; MAX_LINE];
        for _ in 0..3 {
            assert!(guard.scan(&chunk), "literal data is not a line");
        }
        assert!(guard.scan(b")\r\n* OK short\r\n"));
        assert!(guard.scan(&chunk));
        assert!(!guard.scan(b"y"), "a line just over the limit fails");
    }

    #[test]
    fn deep_nesting_fails_but_quoted_and_literal_parentheses_do_not_count() {
        let mut guard = LineGuard::default();
        let deep = "(".repeat(MAX_NESTING as usize);
        assert!(!guard.scan(format!("* 1 FETCH (X {deep}").as_bytes()));

        let mut guard = LineGuard::default();
        let quoted = format!("* 1 FETCH (ENVELOPE (\"{}\\\" (\"))\r\n", "(".repeat(500));
        assert!(guard.scan(quoted.as_bytes()));
        let literal = format!("* 2 FETCH (BODY[] {{500}}\r\n{})\r\n", "(".repeat(500));
        assert!(guard.scan(literal.as_bytes()));
        let levels = "(".repeat(MAX_NESTING as usize - 1);
        assert!(guard.scan(format!("* 3 FETCH {levels}\r\n").as_bytes()));
        assert!(
            guard.scan(format!("* 4 FETCH {levels}\r\n").as_bytes()),
            "depth resets per response"
        );
    }

    /// Found by the `bodystructure` fuzz target: a read refused for its nesting
    /// still handed over the bytes it had read, which readers do not expect
    /// (tokio's `read_to_end` asserts it).
    #[test]
    fn fuzz_bodystructure_a_refused_read_hands_over_no_bytes() {
        let deep = format!("* 1 FETCH (X {}", "(".repeat(MAX_NESTING as usize));
        let mut stream = Bounded::new(deep.as_bytes(), Budget::new());
        let mut space = [0u8; 1024];
        let mut buf = ReadBuf::new(&mut space);
        let result = futures::executor::block_on(std::future::poll_fn(|cx| {
            Pin::new(&mut stream).poll_read(cx, &mut buf)
        }));
        assert!(result.is_err());
        assert!(
            buf.filled().is_empty(),
            "{} bytes handed over",
            buf.filled().len()
        );
    }

    #[test]
    fn the_end_of_the_stream_is_seen() {
        use tokio::io::AsyncReadExt;
        let budget = Budget::new();
        let mut stream = Bounded::new(&b"* BYE going away\r\n"[..], budget.clone());
        let mut line = [0u8; 8];
        futures::executor::block_on(stream.read(&mut line)).expect("reads");
        assert!(!budget.closed(), "closed before the end");
        let mut rest = Vec::new();
        futures::executor::block_on(stream.read_to_end(&mut rest)).expect("reads");
        assert!(budget.closed());
    }

    #[test]
    fn a_smaller_allowance_ends_a_flood_sooner() {
        use tokio::io::AsyncReadExt;
        let flood = "* 1 EXISTS\r\n".repeat(100_000);
        let budget = Budget::new();
        budget.refill_with(SIGN_IN_BUDGET);
        let mut stream = Bounded::new(flood.as_bytes(), budget);
        let mut read = Vec::new();
        let result = futures::executor::block_on(stream.read_to_end(&mut read));
        assert!(result.is_err(), "the flood passed");
        assert!(
            read.len() <= SIGN_IN_BUDGET + (64 << 10),
            "{} bytes read",
            read.len()
        );
    }

    #[test]
    fn parsing_at_the_nesting_limit_fits_in_a_small_stack() {
        let text = r#"("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 1 1 NIL NIL NIL NIL)"#;
        let mut structure = text.to_owned();
        // Each multipart level adds one parenthesis; its parameter list one more, briefly.
        for _ in 0..MAX_NESTING - 4 {
            structure = format!(r#"({structure} "mixed" ("boundary" "b") NIL NIL NIL)"#);
        }
        let line = format!("* 1 FETCH (UID 1 BODYSTRUCTURE {structure})\r\n");
        let mut guard = LineGuard::default();
        assert!(guard.scan(line.as_bytes()), "within the limit");
        let parsed = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(move || async_imap::imap_proto::Response::parse(line.as_bytes()).is_ok())
            .expect("thread")
            .join()
            .expect("no overflow");
        assert!(parsed);
    }

    #[test]
    fn an_announcement_split_across_reads_is_seen() {
        let mut guard = LineGuard::default();
        assert!(guard.scan(b"* 1 FETCH (BODY[] {"));
        assert!(guard.scan(b"3000000}\r"));
        assert!(guard.scan(b"\n"));
        assert!(guard.scan(&vec![b'x'; 3_000_000]));
    }
}
