//! A scripted IMAP server for faults a real server will not produce on purpose. It
//! speaks implicit TLS with a certificate from its own throwaway CA.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// What the server does once the client has sent its first command.
#[derive(Debug, Clone)]
pub enum Misbehaviour {
    /// Answers with one response that never ends (bounded here at 64 MiB).
    EndlessResponse,
    /// Answers with one line of 1 GiB.
    GiantLine,
    /// Announces a literal of 1 TB and sends it (bounded here at 1 GiB).
    EndlessLiteral,
    /// Answers with untagged responses, without end (bounded here at 10 million).
    Flood,
    /// Answers with bytes that are no IMAP at all.
    Garbage,
    /// Answers with a BODYSTRUCTURE nested 100,000 levels deep, which would overflow
    /// the stack of a recursive parser.
    DeepNesting,
    /// Serves an INBOX of these messages (UIDs from 1) as a server that cannot
    /// read broken MIME describes them: each `BODYSTRUCTURE` one empty text/plain
    /// part, `BODY[TEXT]` and `BODY[1]` empty, while `BODY[]` and `BODY[HEADER]`
    /// hold the message as stored. Answers every other command with a plain OK.
    DescribesBrokenMailAsEmpty(Vec<Vec<u8>>),
    /// Serves an INBOX of these messages as above, and answers `UID SEARCH` as
    /// told.
    Searching(Vec<Vec<u8>>, SearchAnswer),
}

/// How [`Misbehaviour::Searching`] answers a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchAnswer {
    /// One `* SEARCH` line of UIDs that never ends (bounded here at 64 MiB).
    Endless,
    /// An `ESEARCH` naming every UID there can be: `1:4294967295`.
    EveryUid,
    /// `NO [BADCHARSET]`, as a server that searches in US-ASCII only.
    BadCharset,
}

pub struct HostileImap {
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
    ca_file: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl HostileImap {
    pub async fn start(misbehaviour: Misbehaviour) -> Result<Self> {
        let ca = maildev::TestCa::generate()?;
        let dir = tempfile::tempdir()?;
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, &ca.cert_pem)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(ca.server_config(&["127.0.0.1"])?));
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let misbehaviour = misbehaviour.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let _ = match misbehaviour {
                        Misbehaviour::DescribesBrokenMailAsEmpty(messages) => {
                            describe_as_empty(tls, &messages, None).await
                        }
                        Misbehaviour::Searching(messages, answer) => {
                            describe_as_empty(tls, &messages, Some(answer)).await
                        }
                        other => misbehave(tls, other).await,
                    };
                });
            }
        });
        Ok(HostileImap {
            addr,
            _dir: dir,
            ca_file,
            task,
        })
    }

    /// An account for the bridge that trusts this server's CA.
    pub fn account(&self, name: &str) -> super::AccountSpec {
        super::AccountSpec {
            name: name.to_owned(),
            imap: format!("imaps://127.0.0.1:{}", self.addr.port()),
            pop3: None,
            ca_file: Some(self.ca_file.clone()),
            extra: String::new(),
        }
    }
}

impl Drop for HostileImap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn misbehave<S>(stream: S, misbehaviour: Misbehaviour) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut stream = BufReader::new(stream);
    stream
        .write_all(b"* OK [CAPABILITY IMAP4rev1] scripted server ready\r\n")
        .await?;
    stream.flush().await?;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    match misbehaviour {
        Misbehaviour::DeepNesting => {
            let deep = "(".repeat(100_000);
            stream
                .write_all(format!("* 1 FETCH (BODYSTRUCTURE {deep}\r\n").as_bytes())
                .await?;
            stream.flush().await?;
        }
        Misbehaviour::EndlessResponse => {
            stream.write_all(b"* OK ").await?;
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..1024 {
                stream.write_all(&chunk).await?;
            }
        }
        Misbehaviour::GiantLine => {
            stream.write_all(b"* OK ").await?;
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..1024 {
                stream.write_all(&chunk).await?;
            }
            stream.write_all(b"\r\n").await?;
        }
        Misbehaviour::EndlessLiteral => {
            stream
                .write_all(b"* 1 FETCH (BODY[] {1000000000000}\r\n")
                .await?;
            let chunk = vec![b'y'; 1 << 20];
            for _ in 0..1024 {
                stream.write_all(&chunk).await?;
            }
        }
        Misbehaviour::Flood => {
            let burst = "* 1 EXISTS\r\n* OK still here\r\n".repeat(4096);
            for _ in 0..1220 {
                stream.write_all(burst.as_bytes()).await?;
            }
        }
        Misbehaviour::Garbage => {
            let mut state = 0x1234_5678_u32;
            let garbage: Vec<u8> = (0..1 << 20)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    state as u8
                })
                .collect();
            for _ in 0..64 {
                stream.write_all(&garbage).await?;
            }
        }
        Misbehaviour::DescribesBrokenMailAsEmpty(_) | Misbehaviour::Searching(..) => {}
    }
    Ok(())
}

/// The conversation of [`Misbehaviour::DescribesBrokenMailAsEmpty`], and of
/// [`Misbehaviour::Searching`] where `search` says how.
async fn describe_as_empty<S>(
    stream: S,
    messages: &[Vec<u8>],
    search: Option<SearchAnswer>,
) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut stream = BufReader::new(stream);
    stream
        .write_all(b"* OK [CAPABILITY IMAP4rev1 UIDPLUS] scripted server ready\r\n")
        .await?;
    stream.flush().await?;
    let count = messages.len();
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end();
        let (tag, command) = line.split_once(' ').unwrap_or((line, ""));
        let upper = command.to_ascii_uppercase();
        let mut out = Vec::new();
        if upper.starts_with("CAPABILITY") {
            out.extend_from_slice(b"* CAPABILITY IMAP4rev1 UIDPLUS ESEARCH\r\n");
        } else if let (true, Some(answer)) = (upper.starts_with("UID SEARCH"), search) {
            match answer {
                SearchAnswer::Endless => {
                    stream.write_all(b"* SEARCH").await?;
                    let chunk = " 1".repeat(32 * 1024).into_bytes();
                    for _ in 0..1024 {
                        stream.write_all(&chunk).await?;
                    }
                    return Ok(());
                }
                SearchAnswer::EveryUid => out.extend_from_slice(
                    format!("* ESEARCH (TAG \"{tag}\") UID ALL 1:4294967295\r\n").as_bytes(),
                ),
                SearchAnswer::BadCharset => {
                    stream
                        .write_all(format!("{tag} NO [BADCHARSET (US-ASCII)] no\r\n").as_bytes())
                        .await?;
                    stream.flush().await?;
                    continue;
                }
            }
        } else if upper.starts_with("SELECT") || upper.starts_with("EXAMINE") {
            out.extend_from_slice(
                format!(
                    "* FLAGS (\\Seen)\r\n* {count} EXISTS\r\n* OK [UIDVALIDITY 1] ok\r\n* OK [UIDNEXT {}] ok\r\n",
                    count + 1
                )
                .as_bytes(),
            );
        } else if upper.starts_with("STATUS") {
            out.extend_from_slice(
                format!(
                    "* STATUS INBOX (MESSAGES {count} UNSEEN 0 UIDVALIDITY 1 UIDNEXT {})\r\n",
                    count + 1
                )
                .as_bytes(),
            );
        } else if upper.starts_with("LIST") || upper.starts_with("LSUB") {
            let word = if upper.starts_with("LIST") {
                "LIST"
            } else {
                "LSUB"
            };
            out.extend_from_slice(format!("* {word} () \"/\" INBOX\r\n").as_bytes());
        } else if upper.starts_with("UID FETCH ") {
            let rest = &command["UID FETCH ".len()..];
            let (uid, items) = rest.split_once(' ').unwrap_or((rest, ""));
            if let Some(raw) = uid
                .parse::<usize>()
                .ok()
                .and_then(|u| messages.get(u.wrapping_sub(1)))
            {
                out.extend_from_slice(&fetch_answer(uid, raw, &items.to_ascii_uppercase()));
            }
        } else if upper.starts_with("LOGOUT") {
            stream.write_all(b"* BYE\r\n").await?;
            stream
                .write_all(format!("{tag} OK bye\r\n").as_bytes())
                .await?;
            return stream.flush().await;
        }
        out.extend_from_slice(format!("{tag} OK done\r\n").as_bytes());
        stream.write_all(&out).await?;
        stream.flush().await?;
    }
}

/// One message's answer to a `UID FETCH` of `items`, as a server that found no
/// MIME structure in it gives.
pub(crate) fn fetch_answer(uid: &str, raw: &[u8], items: &str) -> Vec<u8> {
    let header_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |i| i + 4);
    let mut out = format!("* {uid} FETCH (UID {uid} FLAGS ()").into_bytes();
    if items.contains("BODYSTRUCTURE") {
        out.extend_from_slice(
            format!(
                " RFC822.SIZE {} BODYSTRUCTURE (\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
                raw.len()
            )
            .as_bytes(),
        );
    }
    let range = |spec: &str| -> (usize, usize) {
        // `<offset.length>` after the section, if any.
        let Some(open) = items.find(&format!("{spec}<")) else {
            return (0, usize::MAX);
        };
        let inner = &items[open + spec.len() + 1..];
        let inner = &inner[..inner.find('>').unwrap_or(inner.len())];
        let (offset, len) = inner.split_once('.').unwrap_or((inner, ""));
        (
            offset.parse().unwrap_or(0),
            len.parse().unwrap_or(usize::MAX),
        )
    };
    let mut literal = |name: &str, spec: &str, data: &[u8]| {
        let (offset, len) = range(spec);
        let start = offset.min(data.len());
        let end = start.saturating_add(len).min(data.len());
        out.extend_from_slice(format!(" {name}<{offset}> {{{}}}\r\n", end - start).as_bytes());
        out.extend_from_slice(&data[start..end]);
    };
    if items.contains("BODY.PEEK[HEADER]") {
        literal("BODY[HEADER]", "BODY.PEEK[HEADER]", &raw[..header_end]);
    }
    if items.contains("BODY.PEEK[TEXT]") {
        literal("BODY[TEXT]", "BODY.PEEK[TEXT]", b"");
    }
    if items.contains("BODY.PEEK[1]") {
        literal("BODY[1]", "BODY.PEEK[1]", b"");
    }
    if items.contains("BODY.PEEK[]") {
        literal("BODY[]", "BODY.PEEK[]", raw);
    }
    out.extend_from_slice(b")\r\n");
    out
}
