//! Mail sources: one interface over a user's mail server, and its IMAP implementation.
//!
//! Only this module talks to mail servers or imports async-imap and mail-parser;
//! what it returns is already in the wire types of [`protocol`].

mod folders;
mod headers;
mod imap;
mod structure;
mod decode;
mod transport;

use protocol::{Folder, MessageHeader};

pub use imap::ImapSource;

/// How long any single upstream step (connect, handshake, one command) may take.
pub const UPSTREAM_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// A window of a folder's message headers, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderWindow {
    pub folder: String,
    pub uid_validity: u32,
    pub total: u32,
    pub unread: u32,
    /// How many of the newest messages were skipped before `messages`.
    pub offset: u32,
    pub messages: Vec<MessageHeader>,
}

/// What the session needs from a user's mail server, whatever its protocol.
pub trait MailSource: Send + 'static {
    /// The folder tree with counts, special-use folders first.
    fn folders(&mut self) -> impl Future<Output = Result<Vec<Folder>, MailError>> + Send;

    /// Selects `folder` and returns its newest `limit` headers.
    fn open_folder(
        &mut self,
        folder: &str,
        limit: u32,
    ) -> impl Future<Output = Result<FolderWindow, MailError>> + Send;

    /// Headers of `folder`, newest first, skipping the newest `offset`.
    fn messages(
        &mut self,
        folder: &str,
        offset: u32,
        limit: u32,
    ) -> impl Future<Output = Result<FolderWindow, MailError>> + Send;

    /// True once the connection can no longer be trusted (closed, timed out, overflowed).
    fn is_broken(&self) -> bool;

    /// Ends the session politely; errors are only logged.
    fn logout(self) -> impl Future<Output = ()> + Send;
}

/// Everything that can go wrong talking to a mail server.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("cannot connect to {server}")]
    Unreachable {
        server: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS with {server} failed")]
    Tls {
        server: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{server} refused STARTTLS")]
    StartTlsRefused {
        server: String,
        #[source]
        source: async_imap::error::Error,
    },
    #[error("the mail server rejected the user name or password")]
    WrongCredentials,
    #[error("cannot select mailbox {0}")]
    FolderNotFound(String),
    #[error("the mail server did not answer {0} in time")]
    Timeout(&'static str),
    #[error("{action} failed")]
    Imap {
        action: &'static str,
        #[source]
        source: async_imap::error::Error,
    },
    #[error("the connection to the mail server is closed")]
    Closed,
    #[error("invalid input: {0}")]
    BadInput(&'static str),
}

impl MailError {
    /// The code the browser sees; the single mapping from mail errors to wire errors.
    pub fn code(&self) -> protocol::ErrorCode {
        use protocol::ErrorCode;
        match self {
            MailError::Unreachable { .. } | MailError::Timeout(_) | MailError::Closed => {
                ErrorCode::ServerUnreachable
            }
            MailError::Tls { .. } | MailError::StartTlsRefused { .. } => ErrorCode::TlsFailure,
            MailError::WrongCredentials => ErrorCode::WrongCredentials,
            MailError::FolderNotFound(_) => ErrorCode::FolderNotFound,
            MailError::BadInput(_) => ErrorCode::BadRequest,
            MailError::Imap { source, .. } => match source {
                async_imap::error::Error::Io(_) | async_imap::error::Error::ConnectionLost => {
                    ErrorCode::ServerUnreachable
                }
                _ => ErrorCode::Internal,
            },
        }
    }
}

/// Refuses text that would break out of an IMAP command line: CR, LF and NUL.
pub fn check_command_text(text: &str, what: &'static str) -> Result<(), MailError> {
    if text.contains(['\r', '\n', '\0']) {
        Err(MailError::BadInput(what))
    } else {
        Ok(())
    }
}
