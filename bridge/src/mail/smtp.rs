//! Submission of a finished message to the account's SMTP server (RFC 6409), as the
//! signed-in user, over TLS only.
//!
//! Every recipient is offered before any of the message is: if the server refuses
//! one, the transaction is reset and nothing is sent, so the person can fix the
//! address and send to everyone at once. The message then goes as DATA or, where
//! the server offers BURL (RFC 4468), as its header block in a BDAT chunk and its
//! body by an IMAP URL the server fetches itself. Once the message has started to
//! go out, a broken connection means the outcome is unknown ([`SubmitError::Uncertain`]):
//! the bridge never sends again on its own.

use std::sync::Arc;
use std::time::Duration;

use mail_send::smtp::message::Parameters;
use mail_send::{Credentials, SmtpClient, SmtpClientBuilder};
use smtp_proto::EhloResponse;
use tokio::io::{AsyncRead, AsyncWrite};

/// An SMTP connection over TLS.
type TlsClient = SmtpClient<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

use super::spool::{self, Spooled};
use super::{MailError, UPSTREAM_DEADLINE};
use crate::config::{Security, Server};

/// Extra time allowed for handing over the message, per 256 KiB of it.
const PER_QUARTER_MIB: Duration = Duration::from_secs(1);

/// What an SMTP server said: its reply code, enhanced status code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpReply {
    pub code: u16,
    pub text: String,
}

impl std::fmt::Display for SmtpReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.text.escape_debug())
    }
}

impl SmtpReply {
    fn from_response(response: &smtp_proto::Response<String>) -> Self {
        let [a, b, c] = response.esc;
        let text = if a > 0 {
            format!("{a}.{b}.{c} {}", response.message)
        } else {
            response.message.clone()
        };
        SmtpReply {
            code: response.code,
            text,
        }
    }

    /// The server's words as people read them: without the codes, the
    /// `<address>:` prefix Postfix repeats, or control characters; at most 160
    /// characters.
    pub fn reason(&self) -> String {
        let words: String = self
            .text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut words = words.trim();
        // An enhanced status code such as 5.1.1.
        if let Some((code, rest)) = words.split_once(' ')
            && code.split('.').count() == 3
            && code
                .split('.')
                .all(|n| n.chars().all(|c| c.is_ascii_digit()))
        {
            words = rest.trim();
        }
        if words.starts_with('<')
            && let Some((_, rest)) = words.split_once(">: ")
        {
            words = rest.trim();
        }
        let words = words.trim_end_matches('.');
        if words.chars().count() <= 160 {
            return words.to_owned();
        }
        let cut: String = words.chars().take(159).collect();
        format!("{}…", cut.trim_end())
    }
}

/// Why a message was not (or not surely) sent.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("cannot reach the SMTP server {server}")]
    Unreachable {
        server: String,
        #[source]
        source: mail_send::Error,
    },
    #[error("TLS with the SMTP server {server} failed")]
    Tls {
        server: String,
        #[source]
        source: mail_send::Error,
    },
    #[error("the SMTP server did not accept the login: {0}")]
    Login(SmtpReply),
    #[error("the SMTP server refused the sender: {0}")]
    SenderRefused(SmtpReply),
    #[error("the SMTP server refused {} recipient(s)", refused.len())]
    RecipientsRefused {
        refused: Vec<(String, SmtpReply)>,
        accepted: Vec<String>,
    },
    #[error("the message is {size} bytes, over the server's limit of {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("the SMTP server refused the message: {0}")]
    MessageRefused(SmtpReply),
    /// The connection broke, or the server went quiet, after the message began to
    /// go out.
    #[error("the outcome of sending is unknown")]
    Uncertain(#[source] mail_send::Error),
    #[error("the SMTP server broke off before the message was sent")]
    Broken(#[source] mail_send::Error),
    #[error("the message could not be read back from its spool file")]
    Spool(#[source] Box<MailError>),
}

/// What the SMTP server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub recipients: Vec<String>,
    /// The server's largest message, from its EHLO `SIZE` (0: not said).
    pub size_limit: u64,
}

/// A logged-in submission session, for one message: its envelope first, then
/// its content as DATA or, where the server offers BURL, fetched by the server
/// itself from IMAP.
pub struct Submission {
    client: TlsClient,
    size_limit: u64,
    eight_bit: bool,
    burl: bool,
}

impl Submission {
    /// Connects with TLS and logs in as `user`.
    pub async fn open(
        server: &Server,
        tls: Arc<rustls::ClientConfig>,
        helo: &str,
        user: &str,
        password: &str,
    ) -> Result<Self, SubmitError> {
        let (mut client, capabilities) = greet(server, tls, helo, UPSTREAM_DEADLINE)
            .await
            .map_err(|source| connect_error(&format!("{}:{}", server.host, server.port), source))?;
        client
            .authenticate(Credentials::new(user, password), &capabilities)
            .await
            .map_err(|error| match error {
                mail_send::Error::AuthenticationFailed(reply)
                | mail_send::Error::UnexpectedReply(reply) => {
                    SubmitError::Login(SmtpReply::from_response(&reply))
                }
                other => SubmitError::Broken(other),
            })?;
        Ok(Submission {
            client,
            size_limit: capabilities.size as u64,
            eight_bit: capabilities.has_capability(smtp_proto::EXT_8BIT_MIME),
            // BURL (RFC 4468) rides on BDAT (RFC 3030) for the head.
            burl: capabilities.has_capability(smtp_proto::EXT_BURL)
                && capabilities.has_capability(smtp_proto::EXT_CHUNKING),
        })
    }

    /// Whether the server fetches a message's content from IMAP by URL (BURL).
    pub fn offers_burl(&self) -> bool {
        self.burl
    }

    /// Offers the sender and every recipient for a message of `size` bytes: the
    /// recipients taken, or why not. A refused recipient resets the transaction,
    /// so nothing is sent to anyone.
    pub async fn envelope(
        &mut self,
        from: &str,
        recipients: &[String],
        size: u64,
    ) -> Result<Vec<String>, SubmitError> {
        if self.size_limit > 0 && size > self.size_limit {
            return Err(SubmitError::TooLarge {
                size,
                limit: self.size_limit,
            });
        }
        let client = &mut self.client;
        let mut parameters = Parameters::new();
        parameters.add(("SIZE".to_owned(), size.to_string()));
        // A forwarded message goes as it is, 8-bit text included.
        if self.eight_bit {
            parameters.add(("BODY".to_owned(), "8BITMIME".to_owned()));
        }
        client
            .mail_from(from, &parameters)
            .await
            .map_err(|error| refusal(error, SubmitError::SenderRefused))?;
        let mut accepted = Vec::new();
        let mut refused = Vec::new();
        for recipient in recipients {
            match client.rcpt_to(recipient, &Parameters::new()).await {
                Ok(()) => accepted.push(recipient.clone()),
                Err(mail_send::Error::UnexpectedReply(reply)) => {
                    refused.push((recipient.clone(), SmtpReply::from_response(&reply)));
                }
                Err(other) => return Err(SubmitError::Broken(other)),
            }
        }
        if !refused.is_empty() {
            let _ = client.rset().await;
            // Servers that judge the sender only once a recipient is named (Postfix's
            // default `smtpd_delay_reject`) refuse every recipient for it.
            if accepted.is_empty()
                && refused.windows(2).all(|w| w[0].1 == w[1].1)
                && refused[0]
                    .1
                    .text
                    .to_ascii_lowercase()
                    .contains("sender address")
            {
                return Err(SubmitError::SenderRefused(refused.swap_remove(0).1));
            }
            return Err(SubmitError::RecipientsRefused { refused, accepted });
        }
        Ok(accepted)
    }

    /// Hands over the whole message as DATA, after [`Submission::envelope`].
    pub async fn data(&mut self, message: &Spooled) -> Result<(), SubmitError> {
        let client = &mut self.client;
        let mut reader = message
            .reader()
            .map_err(|e| SubmitError::Spool(Box::new(e)))?;
        let go_ahead = client
            .cmd(b"DATA\r\n")
            .await
            .map_err(|error| refusal(error, SubmitError::MessageRefused))?;
        if go_ahead.code != 354 {
            return Err(SubmitError::MessageRefused(SmtpReply::from_response(
                &go_ahead,
            )));
        }
        // From here on, a break leaves the outcome unknown.
        let allowed = handing_over(message.len());
        let answer = tokio::time::timeout(allowed, async {
            write_data(&mut client.stream, &mut reader)
                .await
                .map_err(mail_send::Error::Io)?;
            client.read().await
        })
        .await
        .map_err(|_| SubmitError::Uncertain(mail_send::Error::Timeout))?
        .map_err(SubmitError::Uncertain)?;
        accepted(&answer)
    }

    /// Hands over the message as `head` (its header block, up to and with the
    /// empty line) in a BDAT chunk, then its body by `url`, an IMAP URL the server
    /// may fetch (URLAUTH), after [`Submission::envelope`] (RFC 4468); `size` is
    /// the whole message's. A refusal ends the transaction: [`Submission::reset`]
    /// before offering it again.
    pub async fn burl(&mut self, head: &[u8], url: &str, size: u64) -> Result<(), SubmitError> {
        use tokio::io::AsyncWriteExt;
        // The URL came from the IMAP server: nothing in it may end the command.
        if url.is_empty() || !url.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SubmitError::MessageRefused(SmtpReply {
                code: 554,
                text: "the IMAP server gave an URL that cannot be sent".into(),
            }));
        }
        let client = &mut self.client;
        let chunk = tokio::time::timeout(UPSTREAM_DEADLINE, async {
            client
                .stream
                .write_all(format!("BDAT {}\r\n", head.len()).as_bytes())
                .await?;
            client.stream.write_all(head).await?;
            client.stream.flush().await?;
            client.read().await
        })
        .await
        .map_err(|_| SubmitError::Broken(mail_send::Error::Timeout))?
        .map_err(SubmitError::Broken)?;
        accepted(&chunk)?;
        // From here on, a break leaves the outcome unknown. The server fetches the
        // whole body before it answers, given the time DATA would have.
        let allowed = handing_over(size);
        let answer = tokio::time::timeout(allowed, async {
            client
                .stream
                .write_all(format!("BURL {url} LAST\r\n").as_bytes())
                .await?;
            client.stream.flush().await?;
            client.read().await
        })
        .await
        .map_err(|_| SubmitError::Uncertain(mail_send::Error::Timeout))?
        .map_err(SubmitError::Uncertain)?;
        accepted(&answer)
    }

    /// Ends a refused transaction, so that the message can be offered again.
    pub async fn reset(&mut self) -> Result<(), SubmitError> {
        self.client.rset().await.map_err(SubmitError::Broken)
    }

    /// Says goodbye once the message is taken.
    pub async fn done(self, recipients: Vec<String>) -> Submitted {
        let _ = self.client.quit().await;
        Submitted {
            recipients,
            size_limit: self.size_limit,
        }
    }
}

/// How long the server may take to answer a message of `size` bytes, once it
/// has all of it (DATA) or has been told where to fetch it (BURL).
fn handing_over(size: u64) -> Duration {
    UPSTREAM_DEADLINE + PER_QUARTER_MIB * (size / (256 * 1024)) as u32
}

/// A 2xx answer to the message, or its refusal.
fn accepted(answer: &smtp_proto::Response<String>) -> Result<(), SubmitError> {
    if (200..300).contains(&answer.code) {
        Ok(())
    } else {
        Err(SubmitError::MessageRefused(SmtpReply::from_response(
            answer,
        )))
    }
}

/// The server's largest message (EHLO `SIZE`), asked without logging in; `None`
/// when it cannot be reached in `wait` or does not say.
pub async fn size_limit(
    server: &Server,
    tls: Arc<rustls::ClientConfig>,
    helo: &str,
    wait: Duration,
) -> Option<u64> {
    let probe = async {
        let (client, capabilities) = greet(server, tls, helo, wait).await.ok()?;
        let _ = client.quit().await;
        Some(capabilities.size as u64).filter(|size| *size > 0)
    };
    tokio::time::timeout(wait, probe).await.ok().flatten()
}

/// Connects with TLS (implicit, or STARTTLS first) and says EHLO, with `wait`
/// for each step; the capabilities are those offered after TLS.
async fn greet(
    server: &Server,
    tls: Arc<rustls::ClientConfig>,
    helo: &str,
    wait: Duration,
) -> Result<(TlsClient, EhloResponse<String>), mail_send::Error> {
    let mut client = SmtpClientBuilder::new_with_tls_connector(
        server.host.as_str(),
        server.port,
        tokio_rustls::TlsConnector::from(tls),
    )
    .implicit_tls(server.security == Security::Implicit)
    .helo_host(helo)
    .timeout(wait)
    // The capabilities after TLS are read here, where their SIZE is wanted.
    .say_ehlo(false)
    .connect()
    .await?;
    // Commands are whole lines, written at once: waiting to fill a segment (Nagle)
    // only meets the server's delayed acknowledgement, 40 ms a time.
    let _ = client.stream.get_ref().0.set_nodelay(true);
    let capabilities = client.ehlo(helo).await?;
    Ok((client, capabilities))
}

/// Writes the message from `reader` as DATA: dot-stuffed, its last line ended,
/// then the lone dot.
async fn write_data<W: AsyncWrite + Unpin>(
    stream: &mut W,
    reader: &mut (impl AsyncRead + Unpin),
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stuffer = DotStuffer::default();
    let mut chunk = vec![0; spool::CHUNK];
    let mut out = Vec::with_capacity(2 * spool::CHUNK);
    loop {
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        // Each piece goes out once the next is known to exist, so that the end of
        // the message leaves with its last piece, in one write.
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        stuffer.push(&chunk[..n], &mut out);
    }
    stuffer.finish(&mut out);
    stream.write_all(&out).await?;
    stream.flush().await
}

/// SMTP's transparency (RFC 5321 4.5.2) over a message given in pieces: a dot at
/// the start of a line is doubled, wherever the pieces break.
#[derive(Debug)]
struct DotStuffer {
    at_line_start: bool,
    ends_with_crlf: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        DotStuffer {
            at_line_start: true,
            ends_with_crlf: true,
        }
    }
}

impl DotStuffer {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        for &byte in chunk {
            if byte == b'.' && self.at_line_start {
                out.push(b'.');
            }
            out.push(byte);
            self.at_line_start = byte == b'\n';
        }
        if let Some(last) = chunk.last() {
            self.ends_with_crlf = *last == b'\n';
        }
    }

    fn finish(self, out: &mut Vec<u8>) {
        if !self.ends_with_crlf {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

/// A refusal as `make` says, or the broken connection it was.
fn refusal(error: mail_send::Error, make: fn(SmtpReply) -> SubmitError) -> SubmitError {
    match error {
        mail_send::Error::UnexpectedReply(reply) => make(SmtpReply::from_response(&reply)),
        other => SubmitError::Broken(other),
    }
}

fn connect_error(server: &str, source: mail_send::Error) -> SubmitError {
    let server = server.to_owned();
    match source {
        mail_send::Error::Tls(_)
        | mail_send::Error::MissingStartTls
        | mail_send::Error::InvalidTLSName => SubmitError::Tls { server, source },
        source => SubmitError::Unreachable { server, source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_are_stuffed_across_pieces() {
        let stuffed = |pieces: &[&[u8]]| {
            let mut stuffer = DotStuffer::default();
            let mut out = Vec::new();
            for piece in pieces {
                stuffer.push(piece, &mut out);
            }
            stuffer.finish(&mut out);
            String::from_utf8(out).expect("text")
        };
        assert_eq!(stuffed(&[b".a\r\n.\r\nb"]), "..a\r\n..\r\nb\r\n.\r\n");
        assert_eq!(stuffed(&[b"a\r\n", b".", b"b\r\n"]), "a\r\n..b\r\n.\r\n");
        assert_eq!(stuffed(&[b"a.b\r\n"]), "a.b\r\n.\r\n");
        assert_eq!(stuffed(&[]), ".\r\n");
    }

    #[test]
    fn reasons_lose_the_codes_and_the_address_prefix() {
        let reply = |text: &str| SmtpReply {
            code: 550,
            text: text.into(),
        };
        assert_eq!(
            reply("5.1.1 <nobody@example.test>: Recipient address rejected: User unknown in virtual mailbox table").reason(),
            "Recipient address rejected: User unknown in virtual mailbox table"
        );
        assert_eq!(reply("Mailbox full.").reason(), "Mailbox full");
        assert_eq!(reply("bad\r\nthing").reason(), "bad  thing");
        assert_eq!(reply(&"x".repeat(400)).reason().chars().count(), 160);
    }
}
