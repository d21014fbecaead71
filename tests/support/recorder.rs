//! Scripted servers that record what the bridge sends them, read by the grammar
//! of each protocol, for the injection tests: an IMAP server that answers enough
//! for a session (one message in every folder) and records every command as
//! tokens, literals included; an SMTP server that records every command line and
//! every message; a POP3 server that records every line. All speak implicit TLS
//! with certificates from a throwaway CA.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// One token of an IMAP command as a server's parser reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Word {
    /// An atom, with any `[...]` section it carries (`BODY.PEEK[HEADER]`).
    Atom(String),
    /// A quoted string, unescaped.
    Quoted(Vec<u8>),
    /// A literal's bytes (`{n}` or `{n+}`).
    Literal(Vec<u8>),
    Open,
    Close,
}

impl Word {
    /// The text of a string argument (quoted or literal), or of an atom.
    pub fn text(&self) -> Option<String> {
        match self {
            Word::Atom(a) => Some(a.clone()),
            Word::Quoted(b) | Word::Literal(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Word::Open | Word::Close => None,
        }
    }
}

/// One IMAP command: its tag and the words after it; `None` words when it did not
/// parse (an unterminated string, a stray byte), which no command of the bridge's
/// may ever be.
#[derive(Debug, Clone)]
pub struct Command {
    pub tag: String,
    pub words: Option<Vec<Word>>,
    /// The line as received, literals left out, for messages.
    pub raw: String,
}

impl Command {
    /// The command's name, upper case, with `UID` joined to what follows it.
    pub fn verb(&self) -> String {
        let words = self.words.as_deref().unwrap_or_default();
        let name = |i: usize| match words.get(i) {
            Some(Word::Atom(a)) => a.to_ascii_uppercase(),
            _ => String::new(),
        };
        match name(0).as_str() {
            "UID" => format!("UID {}", name(1)),
            other => other.to_owned(),
        }
    }

    /// The words after the verb.
    pub fn arguments(&self) -> &[Word] {
        let words = self.words.as_deref().unwrap_or_default();
        let skip = if self.verb().starts_with("UID ") {
            2
        } else {
            1
        };
        words.get(skip..).unwrap_or_default()
    }
}

/// What a recording server has heard so far, shared with the test.
#[derive(Debug, Clone)]
pub struct Log<T>(Arc<Mutex<Vec<T>>>);

impl<T> Default for Log<T> {
    fn default() -> Self {
        Log(Arc::default())
    }
}

impl<T: Clone> Log<T> {
    fn push(&self, item: T) {
        self.0.lock().expect("log").push(item);
    }

    pub fn len(&self) -> usize {
        self.0.lock().expect("log").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Everything from `from` on.
    pub fn since(&self, from: usize) -> Vec<T> {
        self.0.lock().expect("log")[from..].to_vec()
    }
}

/// Listens with implicit TLS on loopback, with a certificate from `ca`, and runs
/// `serve` for each connection.
async fn listen<F, Fut>(
    ca: &maildev::TestCa,
    serve: F,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)>
where
    F: Fn(tokio_rustls::server::TlsStream<tokio::net::TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
{
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(ca.server_config(&["127.0.0.1"])?));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let serve = Arc::new(serve);
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let serve = serve.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let _ = serve(tls).await;
                }
            });
        }
    });
    Ok((addr, task))
}

/// The recording servers of one test, sharing a CA the bridge is told to trust.
pub struct Recorders {
    ca: maildev::TestCa,
    dir: tempfile::TempDir,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Recorders {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Recorders {
    pub fn new() -> Result<Self> {
        let ca = maildev::TestCa::generate()?;
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("ca.pem"), &ca.cert_pem)?;
        Ok(Recorders {
            ca,
            dir,
            tasks: Vec::new(),
        })
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// An IMAP server offering `LITERAL+` or not, and its log of commands.
    pub async fn imap(&mut self, literal_plus: bool) -> Result<(String, Log<Command>)> {
        let log = Log::default();
        let heard = log.clone();
        let (addr, task) = listen(&self.ca, move |tls| {
            imap_session(tls, literal_plus, heard.clone())
        })
        .await?;
        self.tasks.push(task);
        Ok((format!("imaps://127.0.0.1:{}", addr.port()), log))
    }

    /// An SMTP server that takes every message, and its log.
    pub async fn smtp(&mut self) -> Result<(String, Log<SmtpEvent>)> {
        let log = Log::default();
        let heard = log.clone();
        let (addr, task) = listen(&self.ca, move |tls| smtp_session(tls, heard.clone())).await?;
        self.tasks.push(task);
        Ok((format!("smtps://127.0.0.1:{}", addr.port()), log))
    }

    /// A POP3 server with an empty maildrop that takes every sign-in, and its log
    /// of lines.
    pub async fn pop3(&mut self) -> Result<(String, Log<String>)> {
        let log = Log::default();
        let heard = log.clone();
        let (addr, task) = listen(&self.ca, move |tls| pop3_session(tls, heard.clone())).await?;
        self.tasks.push(task);
        Ok((format!("pop3s://127.0.0.1:{}", addr.port()), log))
    }
}

/// The one message every folder holds, UID 1.
const MESSAGE: &[u8] = b"From: Ann <ann@example.org>\r\nTo: me@example.org\r\n\
Subject: The one message\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\
Message-ID: <one@example.org>\r\n\r\nHello.\r\n";

async fn imap_session<S>(stream: S, literal_plus: bool, log: Log<Command>) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let capabilities = if literal_plus {
        "IMAP4rev1 LITERAL+ UIDPLUS MOVE IDLE NAMESPACE"
    } else {
        "IMAP4rev1 UIDPLUS MOVE IDLE NAMESPACE"
    };
    let mut stream = BufReader::new(stream);
    stream
        .write_all(format!("* OK [CAPABILITY {capabilities}] recorder ready\r\n").as_bytes())
        .await?;
    stream.flush().await?;
    loop {
        let Some(command) = read_command(&mut stream).await? else {
            return Ok(());
        };
        log.push(command.clone());
        let tag = &command.tag;
        let verb = command.verb();
        let mut out = Vec::new();
        let mut tagged_ok = format!("{tag} OK done\r\n");
        match verb.as_str() {
            "CAPABILITY" => out.extend(format!("* CAPABILITY {capabilities}\r\n").bytes()),
            "NAMESPACE" => out.extend(b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"),
            "LIST" | "LSUB" => {
                for (attributes, name) in [
                    ("\\HasChildren", "INBOX"),
                    ("\\HasNoChildren \\Trash", "Trash"),
                    ("\\HasNoChildren \\Sent", "Sent"),
                    ("\\HasNoChildren \\Drafts", "Drafts"),
                    ("\\HasNoChildren", "Work"),
                ] {
                    out.extend(format!("* {verb} ({attributes}) \"/\" {name}\r\n").bytes());
                }
            }
            "STATUS" => {
                let name = command
                    .arguments()
                    .first()
                    .and_then(Word::text)
                    .unwrap_or_default();
                out.extend(
                    format!(
                        "* STATUS {} (MESSAGES 1 UNSEEN 0 UIDNEXT 2 UIDVALIDITY 1)\r\n",
                        literal(&name)
                    )
                    .bytes(),
                );
            }
            "SELECT" | "EXAMINE" => out.extend(
                b"* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)\r\n\
* OK [PERMANENTFLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft \\*)] ok\r\n\
* 1 EXISTS\r\n* OK [UIDVALIDITY 1] ok\r\n* OK [UIDNEXT 2] ok\r\n",
            ),
            "UID FETCH" | "FETCH" => {
                let items = command
                    .arguments()
                    .iter()
                    .skip(1)
                    .filter_map(Word::text)
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_ascii_uppercase();
                out.extend(super::hostile::fetch_answer("1", MESSAGE, &items));
            }
            // A search for a Message-ID (is the copy in Sent already?) finds
            // nothing; every other finds the one message.
            "UID SEARCH" | "SEARCH" => {
                let by_id = command.arguments().iter().any(|w| {
                    w.text()
                        .is_some_and(|t| t.eq_ignore_ascii_case("Message-ID"))
                });
                out.extend(if by_id {
                    &b"* SEARCH\r\n"[..]
                } else {
                    b"* SEARCH 1\r\n"
                });
            }
            "APPEND" => {
                tagged_ok = format!("{tag} OK [APPENDUID 1 2] done\r\n");
            }
            "IDLE" => {
                stream.write_all(b"+ idling\r\n").await?;
                stream.flush().await?;
                let Some(done) = read_command(&mut stream).await? else {
                    return Ok(());
                };
                log.push(done);
            }
            "LOGOUT" => {
                stream
                    .write_all(format!("* BYE\r\n{tag} OK bye\r\n").as_bytes())
                    .await?;
                return stream.flush().await;
            }
            _ => {}
        }
        out.extend(tagged_ok.bytes());
        stream.write_all(&out).await?;
        stream.flush().await?;
    }
}

/// A mailbox name as a literal, which carries any bytes.
fn literal(name: &str) -> String {
    format!("{{{}}}\r\n{name}", name.len())
}

/// Reads one command, literals and all, answering a synchronizing literal's
/// announcement with a continuation. `None` at the end of the stream.
async fn read_command<S>(stream: &mut BufReader<S>) -> std::io::Result<Option<Command>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut words = Vec::new();
    let mut raw = String::new();
    let mut broken = false;
    loop {
        let mut line = Vec::new();
        if stream.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        if line.ends_with(b"\r\n") {
            line.truncate(line.len() - 2);
        } else {
            broken = true;
        }
        raw.push_str(&String::from_utf8_lossy(&line));
        let announced = tokenize(&line, &mut words).unwrap_or_else(|| {
            broken = true;
            None
        });
        let Some((size, plus)) = announced else {
            break;
        };
        if !plus {
            stream.write_all(b"+ go ahead\r\n").await?;
            stream.flush().await?;
        }
        let mut bytes = vec![0; size];
        stream.read_exact(&mut bytes).await?;
        words.push(Word::Literal(bytes));
    }
    let mut words = words.into_iter();
    let tag = match words.next() {
        Some(Word::Atom(tag)) => tag,
        _ => {
            broken = true;
            String::new()
        }
    };
    let words: Vec<Word> = words.collect();
    Ok(Some(Command {
        tag,
        words: (!broken).then_some(words),
        raw,
    }))
}

/// Splits one line into words, appending them; `Some(Some((n, plus)))` when the
/// line ends announcing a literal of `n` bytes, `None` when it does not parse.
fn tokenize(line: &[u8], words: &mut Vec<Word>) -> Option<Option<(usize, bool)>> {
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b' ' => i += 1,
            b'(' => {
                words.push(Word::Open);
                i += 1;
            }
            b')' => {
                words.push(Word::Close);
                i += 1;
            }
            b'"' => {
                let mut text = Vec::new();
                i += 1;
                loop {
                    match *line.get(i)? {
                        b'\\' => {
                            let escaped = *line.get(i + 1)?;
                            if escaped != b'\\' && escaped != b'"' {
                                return None;
                            }
                            text.push(escaped);
                            i += 2;
                        }
                        b'"' => {
                            i += 1;
                            break;
                        }
                        byte => {
                            text.push(byte);
                            i += 1;
                        }
                    }
                }
                words.push(Word::Quoted(text));
            }
            b'{' => {
                let close = i + line[i..].iter().position(|b| *b == b'}')?;
                if close + 1 != line.len() {
                    return None;
                }
                let inner = std::str::from_utf8(&line[i + 1..close]).ok()?;
                let (digits, plus) = match inner.strip_suffix('+') {
                    Some(digits) => (digits, true),
                    None => (inner, false),
                };
                return Some(Some((digits.parse().ok()?, plus)));
            }
            _ => {
                let start = i;
                let mut depth = 0;
                while i < line.len() {
                    match line[i] {
                        // A fetch item's section, which may hold spaces and lists;
                        // elsewhere `[` is an ordinary atom character.
                        b'[' if section_follows(&line[start..i]) || depth > 0 => depth += 1,
                        b']' if depth > 0 => depth -= 1,
                        b' ' | b'(' | b')' if depth == 0 => break,
                        b'"' | b'{' if depth == 0 => return None,
                        byte if byte < 0x20 || byte == 0x7f => return None,
                        _ => {}
                    }
                    i += 1;
                }
                words.push(Word::Atom(
                    String::from_utf8_lossy(&line[start..i]).into_owned(),
                ));
            }
        }
    }
    Some(None)
}

/// Whether an atom so far names a fetch item that a `[section]` follows.
fn section_follows(atom: &[u8]) -> bool {
    let atom = String::from_utf8_lossy(atom).to_ascii_uppercase();
    ["BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE"]
        .iter()
        .any(|item| atom.ends_with(item))
}

/// What an SMTP client did: a command line, or a whole message after `DATA`.
#[derive(Debug, Clone)]
pub enum SmtpEvent {
    Line(String),
    Message(Vec<u8>),
}

async fn smtp_session<S>(stream: S, log: Log<SmtpEvent>) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut stream = BufReader::new(stream);
    stream.write_all(b"220 recorder ESMTP\r\n").await?;
    stream.flush().await?;
    loop {
        let Some(text) = next_line(&mut stream).await? else {
            return Ok(());
        };
        log.push(SmtpEvent::Line(text.clone()));
        let upper = text.trim_end().to_ascii_uppercase();
        let answer: &[u8] = if upper.starts_with("EHLO") {
            b"250-recorder\r\n250-AUTH PLAIN\r\n250-8BITMIME\r\n250 SIZE 50000000\r\n"
        } else if upper.starts_with("AUTH") {
            b"235 2.7.0 ok\r\n"
        } else if upper == "DATA" {
            stream.write_all(b"354 go ahead\r\n").await?;
            stream.flush().await?;
            let mut message = Vec::new();
            loop {
                let mut data = Vec::new();
                if stream.read_until(b'\n', &mut data).await? == 0 {
                    return Ok(());
                }
                if data == b".\r\n" {
                    break;
                }
                let data = data.strip_prefix(b".").unwrap_or(&data);
                message.extend_from_slice(data);
            }
            log.push(SmtpEvent::Message(message));
            b"250 2.0.0 queued\r\n"
        } else if upper == "QUIT" {
            stream.write_all(b"221 bye\r\n").await?;
            return stream.flush().await;
        } else {
            b"250 ok\r\n"
        };
        stream.write_all(answer).await?;
        stream.flush().await?;
    }
}

/// The next line a client sent, its line end kept; `None` at the end of the stream.
async fn next_line<S>(stream: &mut BufReader<S>) -> std::io::Result<Option<String>>
where
    S: tokio::io::AsyncRead + Unpin,
{
    let mut line = Vec::new();
    if stream.read_until(b'\n', &mut line).await? == 0 {
        return Ok(None);
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

async fn pop3_session<S>(stream: S, log: Log<String>) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut stream = BufReader::new(stream);
    stream.write_all(b"+OK recorder ready\r\n").await?;
    stream.flush().await?;
    loop {
        let Some(text) = next_line(&mut stream).await? else {
            return Ok(());
        };
        log.push(text.clone());
        let upper = text.trim_end().to_ascii_uppercase();
        let answer: &[u8] = if upper == "CAPA" {
            b"+OK\r\nUIDL\r\nTOP\r\nUSER\r\n.\r\n"
        } else if upper == "UIDL" || upper == "LIST" {
            b"+OK\r\n.\r\n"
        } else if upper.starts_with("STAT") {
            b"+OK 0 0\r\n"
        } else if upper == "QUIT" {
            stream.write_all(b"+OK bye\r\n").await?;
            return stream.flush().await;
        } else {
            b"+OK\r\n"
        };
        stream.write_all(answer).await?;
        stream.flush().await?;
    }
}
