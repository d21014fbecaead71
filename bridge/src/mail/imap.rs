//! A user's IMAP session: connect over TLS (implicit or mandatory STARTTLS), log in,
//! and answer the session's requests, each command under a deadline and a byte budget.

use async_imap::error::Error as ImapError;
use futures::TryStreamExt;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::client::TlsStream;

use super::folders::{FolderEntry, build_tree};
use super::headers::header_from_fetch;
use super::transport::{Bounded, Budget, connect_tcp, server_label, start_tls};
use super::{FolderWindow, MailError, MailSource, UPSTREAM_DEADLINE, check_command_text};
use crate::config::{Account, Security};

type Stream = Bounded<TlsStream<TcpStream>>;

/// What the header list fetches per message: flags, size, arrival time, and only the
/// header fields the list shows (`Content-Type` hints at attachments).
const HEADER_QUERY: &str = "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE CONTENT-TYPE)])";

/// A logged-in IMAP session.
pub struct ImapSource {
    session: async_imap::Session<Stream>,
    budget: Budget,
    broken: bool,
}

impl ImapSource {
    /// Connects to the account's server and logs in. Credentials are sent only once
    /// TLS is up and the certificate has been verified.
    pub async fn connect(account: &Account, user: &str, password: &str) -> Result<Self, MailError> {
        check_command_text(user, "user name")?;
        check_command_text(password, "password")?;
        let server = &account.imap;
        let tcp = connect_tcp(server).await?;
        let tls = match server.security {
            Security::Implicit => start_tls(server, account.tls.clone(), tcp).await?,
            Security::StartTls => {
                let tcp = starttls(account, tcp).await?;
                start_tls(server, account.tls.clone(), tcp).await?
            }
        };
        let budget = Budget::new();
        let mut client = async_imap::Client::new(Bounded::new(tls, budget.clone()));
        if server.security == Security::Implicit {
            read_greeting(&mut client, account).await?;
        }
        budget.refill();
        let session = match timeout(UPSTREAM_DEADLINE, client.login(user, password)).await {
            Err(_) => return Err(MailError::Timeout("LOGIN")),
            Ok(Ok(session)) => session,
            Ok(Err((ImapError::No(_) | ImapError::Bad(_), _))) => {
                return Err(MailError::WrongCredentials);
            }
            Ok(Err((source, _))) => {
                return Err(MailError::Imap {
                    action: "LOGIN",
                    source,
                });
            }
        };
        Ok(ImapSource {
            session,
            budget,
            broken: false,
        })
    }

    /// Runs one command step under the deadline and a fresh byte budget. A timeout or
    /// I/O failure leaves the protocol state unknown, so the session is marked broken.
    async fn step<T>(
        &mut self,
        action: &'static str,
        run: impl AsyncFnOnce(&mut async_imap::Session<Stream>) -> Result<T, ImapError>,
    ) -> Result<T, MailError> {
        if self.broken {
            return Err(MailError::Closed);
        }
        self.budget.refill();
        let result = timeout(UPSTREAM_DEADLINE, run(&mut self.session)).await;
        // Unsolicited responses are not used yet; drain them so none pile up.
        while self.session.unsolicited_responses.try_recv().is_ok() {}
        match result {
            Err(_) => {
                self.broken = true;
                Err(MailError::Timeout(action))
            }
            Ok(Err(source)) => {
                if matches!(
                    source,
                    ImapError::Io(_) | ImapError::ConnectionLost | ImapError::Parse(_)
                ) {
                    self.broken = true;
                }
                Err(MailError::Imap { action, source })
            }
            Ok(Ok(value)) => Ok(value),
        }
    }

    async fn select(&mut self, folder: &str) -> Result<FolderWindow, MailError> {
        check_command_text(folder, "folder name")?;
        let not_found = |e: MailError| match e {
            MailError::Imap {
                source: ImapError::No(_) | ImapError::Bad(_),
                ..
            } => MailError::FolderNotFound(folder.to_owned()),
            other => other,
        };
        // STATUS before SELECT: RFC 3501 advises against STATUS on the selected folder.
        let status = self
            .step("STATUS", async |s| s.status(folder, "(UNSEEN)").await)
            .await
            .map_err(not_found)?;
        let mailbox = self
            .step("SELECT", async |s| s.select(folder).await)
            .await
            .map_err(not_found)?;
        let uid_validity = mailbox.uid_validity.unwrap_or(0);
        Ok(FolderWindow {
            folder: folder.to_owned(),
            uid_validity,
            total: mailbox.exists,
            unread: status.unseen.unwrap_or(0),
            offset: 0,
            messages: Vec::new(),
        })
    }

    /// Fills `window.messages` with up to `limit` headers after skipping `offset` of the
    /// newest, by sequence range within the current selection.
    async fn fill(
        &mut self,
        window: &mut FolderWindow,
        offset: u32,
        limit: u32,
    ) -> Result<(), MailError> {
        window.offset = offset;
        let limit = limit.min(protocol::MAX_WINDOW);
        if offset >= window.total || limit == 0 {
            return Ok(());
        }
        let high = window.total - offset;
        let low = high.saturating_sub(limit - 1).max(1);
        let fetches = self
            .step("FETCH", async |s| {
                s.fetch(format!("{low}:{high}"), HEADER_QUERY)
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?;
        let mut messages: Vec<_> = fetches.iter().filter_map(header_from_fetch).collect();
        messages.sort_by_key(|m| std::cmp::Reverse(m.uid));
        window.messages = messages;
        Ok(())
    }
}

impl MailSource for ImapSource {
    async fn folders(&mut self) -> Result<Vec<protocol::Folder>, MailError> {
        let names = self
            .step("LIST", async |s| {
                s.list(Some(""), Some("*"))
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?;
        let mut entries: Vec<FolderEntry> = names.iter().map(FolderEntry::from_name).collect();
        for entry in entries.iter_mut().filter(|e| e.selectable) {
            let id = entry.id.clone();
            // A folder that vanished between LIST and STATUS is shown without counts.
            match self
                .step("STATUS", async |s| s.status(&id, "(MESSAGES UNSEEN)").await)
                .await
            {
                Ok(status) => {
                    entry.total = status.exists;
                    entry.unread = status.unseen.unwrap_or(0);
                }
                Err(MailError::Imap {
                    source: ImapError::No(_),
                    ..
                }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(build_tree(entries))
    }

    async fn open_folder(&mut self, folder: &str, limit: u32) -> Result<FolderWindow, MailError> {
        let mut window = self.select(folder).await?;
        self.fill(&mut window, 0, limit).await?;
        Ok(window)
    }

    async fn messages(
        &mut self,
        folder: &str,
        offset: u32,
        limit: u32,
    ) -> Result<FolderWindow, MailError> {
        // Reselecting refreshes the count, so the window is taken from a current view.
        let mut window = self.select(folder).await?;
        self.fill(&mut window, offset, limit).await?;
        Ok(window)
    }

    fn is_broken(&self) -> bool {
        self.broken
    }

    async fn logout(mut self) {
        if let Err(error) = self.step("LOGOUT", async |s| s.logout().await).await {
            tracing::debug!(%error, "logout");
        }
    }
}

/// Reads the server's greeting; a missing greeting or `BYE` means the server is not
/// taking connections.
async fn read_greeting<S>(
    client: &mut async_imap::Client<S>,
    account: &Account,
) -> Result<(), MailError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let unreachable = |message: &str| MailError::Unreachable {
        server: server_label(&account.imap),
        source: std::io::Error::new(std::io::ErrorKind::ConnectionRefused, message.to_owned()),
    };
    match timeout(UPSTREAM_DEADLINE, client.read_response()).await {
        Err(_) => Err(MailError::Timeout("the greeting")),
        Ok(Err(source)) => Err(MailError::Unreachable {
            server: server_label(&account.imap),
            source,
        }),
        Ok(Ok(None)) => Err(unreachable("closed before greeting")),
        Ok(Ok(Some(response))) => match response.parsed() {
            async_imap::imap_proto::Response::Data {
                status: async_imap::imap_proto::Status::Bye,
                ..
            } => Err(unreachable("the server said BYE")),
            _ => Ok(()),
        },
    }
}

/// Greets, asks for STARTTLS, and returns the bare TCP stream for the handshake.
/// Anything the server sent after its OK stays in the dropped client's buffer and is
/// discarded, so nothing from before TLS can be mistaken for a response after it.
async fn starttls(account: &Account, tcp: TcpStream) -> Result<TcpStream, MailError> {
    let budget = Budget::new();
    let mut client = async_imap::Client::new(Bounded::new(tcp, budget));
    read_greeting(&mut client, account).await?;
    match timeout(
        UPSTREAM_DEADLINE,
        client.run_command_and_check_ok("STARTTLS", None),
    )
    .await
    {
        Err(_) => Err(MailError::Timeout("STARTTLS")),
        Ok(Err(source)) => Err(MailError::StartTlsRefused {
            server: server_label(&account.imap),
            source,
        }),
        Ok(Ok(())) => Ok(client.into_inner().into_inner()),
    }
}
