//! Mail sources: one interface over a user's mail server, and its IMAP and POP3
//! implementations.
//!
//! Only this module talks to mail servers or imports async-imap and mail-parser;
//! what it returns is already in the wire types of [`protocol`].

pub mod compose;
mod decode;
mod folders;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
mod headers;
mod imap;
mod message;
mod mime_scan;
mod namespace;
mod news;
mod order;
mod pop3;
mod raw;
mod sanitize;
pub mod search;
pub mod smtp;
pub mod spool;
mod store;
mod structure;
pub mod thread;
mod transport;
mod view;

use protocol::{
    Body, Event, Flag, Folder, FolderCount, MessageFlags, MessageHeader, MessageView, Sort,
};

pub use decode::StreamDecoder;
pub use imap::ImapSource;
pub use pop3::{Index, Maildrops, Pop3Source};
pub use sanitize::Links;
pub use spool::Spooled;
pub use store::Store;
pub use structure::Encoding;

/// How long any single upstream step (connect, handshake, one command) may take.
pub const UPSTREAM_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// A window of a folder's message headers, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderWindow {
    pub folder: String,
    pub uid_validity: u32,
    pub total: u32,
    pub unread: u32,
    /// How many messages were skipped before `messages`, in `sort` order.
    pub offset: u32,
    pub messages: Vec<MessageHeader>,
    pub sort: Sort,
    /// Labels (keywords) the folder knows, and whether new ones can be made.
    pub labels: Vec<String>,
    pub new_labels: bool,
}

/// An opened message, and the folder state it was read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedMessage {
    /// The view, with `link` still empty: the session fills it in.
    pub view: MessageView,
    pub uid_validity: u32,
    /// Its Message-ID and References, for a reply to it.
    pub threading: compose::Threading,
}

/// A message as the HTTP routes address it: stable while `uid_validity` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    pub folder: String,
    pub uid_validity: u32,
    pub uid: u32,
}

/// What the HTTP routes need to serve a part (or, for no part, the raw message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartMeta {
    pub content_type: String,
    pub name: Option<String>,
    pub encoding: Encoding,
    /// Encoded size, as stored.
    pub size: u64,
    /// Decoded size, when it can be known before decoding everything.
    pub decoded_size: Option<u64>,
}

/// A folder's messages for an mbox export, oldest first, each with its date
/// (seconds since the epoch) where known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub uid_validity: u32,
    pub messages: Vec<(u32, Option<i64>)>,
}

/// The selected folder's state as the bridge last heard it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub folder: String,
    pub uid_validity: u32,
    /// The UID the next message will get; anything from here on is new.
    pub uid_next: u32,
    pub exists: u32,
    /// The highest MODSEQ known (QRESYNC), from which to catch up after a reconnect.
    pub modseq: Option<u64>,
}

/// A change to the folder tree. Names are as people read them; ids are the
/// server's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderChange {
    Create {
        parent: Option<String>,
        name: String,
    },
    Rename {
        folder: String,
        parent: Option<String>,
        name: String,
    },
    Delete {
        folder: String,
    },
    Subscribe {
        folder: String,
        subscribed: bool,
    },
}

/// What a search found in one folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub uid_validity: u32,
    /// Lowest first.
    pub uids: Vec<u32>,
    /// Each one's arrival time, beside `uids`, where asked for.
    pub dates: Option<Vec<i64>>,
    /// How many of the folder's messages had their bodies searched, where not all
    /// were (POP3 searches the bodies it has retrieved).
    pub bodies_unsearched: u32,
}

/// Which messages of a folder [`MailSource::threading`] reads.
#[derive(Debug, Clone, Copy)]
pub enum Which<'a> {
    /// These UIDs (those still there).
    These(&'a [u32]),
    /// Every message with a UID above this one (0: all of them).
    Above(u32),
}

/// The Sent copy of a message kept before it is submitted, for the submission
/// server to fetch by URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptCopy {
    pub folder: String,
    /// Where it is, when the server said (UIDPLUS).
    pub at: Option<protocol::SavedDraft>,
    /// Its body's URL with a submission authorization, when the server gave one.
    pub url: Option<String>,
}

/// What the session needs from a user's mail server, whatever its protocol.
pub trait MailSource: Send + 'static {
    /// The folder tree with counts, special-use folders first.
    fn folders(&mut self) -> impl Future<Output = Result<Vec<Folder>, MailError>> + Send;

    /// Selects `folder` and returns its first `limit` headers in `sort` order.
    fn open_folder(
        &mut self,
        folder: &str,
        limit: u32,
        sort: Sort,
    ) -> impl Future<Output = Result<FolderWindow, MailError>> + Send;

    /// Headers of `folder` in `sort` order, skipping the first `offset`. The
    /// folder's news (see `news`) gives positions in the order last asked for.
    fn messages(
        &mut self,
        folder: &str,
        offset: u32,
        limit: u32,
        sort: Sort,
    ) -> impl Future<Output = Result<FolderWindow, MailError>> + Send;

    /// Opens message `uid` (or the message attached at `part`): headers, structure
    /// and the preferred body part; marks it read when `mark_seen`.
    fn open_message(
        &mut self,
        folder: &str,
        uid: u32,
        part: Option<&str>,
        mark_seen: bool,
        links: &Links,
    ) -> impl Future<Output = Result<OpenedMessage, MailError>> + Send;

    /// Decodes and shows one displayable part.
    fn show_part(
        &mut self,
        folder: &str,
        uid: u32,
        part: &str,
        links: &Links,
    ) -> impl Future<Output = Result<Body, MailError>> + Send;

    /// Adds, then removes flags; returns the messages' flags afterwards.
    fn set_flags(
        &mut self,
        folder: &str,
        uids: &[u32],
        add: &[Flag],
        remove: &[Flag],
    ) -> impl Future<Output = Result<Vec<MessageFlags>, MailError>> + Send;

    /// Moves messages to `to` (MOVE, else COPY, `\Deleted` and UID EXPUNGE).
    fn move_messages(
        &mut self,
        folder: &str,
        uids: &[u32],
        to: &str,
    ) -> impl Future<Output = Result<(), MailError>> + Send;

    fn copy_messages(
        &mut self,
        folder: &str,
        uids: &[u32],
        to: &str,
    ) -> impl Future<Output = Result<(), MailError>> + Send;

    /// Removes messages for good.
    fn expunge_messages(
        &mut self,
        folder: &str,
        uids: &[u32],
    ) -> impl Future<Output = Result<(), MailError>> + Send;

    /// Creates, renames, deletes or (un)subscribes a folder.
    fn change_folder(
        &mut self,
        change: FolderChange,
    ) -> impl Future<Output = Result<(), MailError>> + Send;

    /// Describes a part (or, with `None`, the raw message) for download.
    fn part_meta(
        &mut self,
        message: &MessageRef,
        part: Option<&str>,
    ) -> impl Future<Output = Result<PartMeta, MailError>> + Send;

    /// Up to `len` encoded bytes of a part (or the raw message) from `offset`;
    /// fewer only at its end.
    fn read_part(
        &mut self,
        message: &MessageRef,
        part: Option<&str>,
        offset: u64,
        len: u32,
    ) -> impl Future<Output = Result<Vec<u8>, MailError>> + Send;

    /// The URL by which an APPEND here can take a part (or, with `None`, the raw
    /// message) as the server stores it, and what it is; `None` where the source
    /// cannot (IMAP without CATENATE, POP3).
    fn stored_part(
        &mut self,
        _message: &MessageRef,
        _part: Option<&str>,
    ) -> impl Future<Output = Result<Option<(String, PartMeta)>, MailError>> + Send {
        async { Ok(None) }
    }

    /// The messages of `folder` that match `query`: their UIDs, lowest first, and
    /// with `dated` each one's arrival time (to merge hits from several folders).
    fn search(
        &mut self,
        folder: &str,
        query: &protocol::search::Query,
        dated: bool,
    ) -> impl Future<Output = Result<Found, MailError>> + Send;

    /// `folder`'s messages grouped into conversations ([`thread`]), newest first
    /// ([`thread::newest_first`]), and the folder's UID validity.
    fn conversations(
        &mut self,
        folder: &str,
    ) -> impl Future<Output = Result<(u32, Vec<Vec<u32>>), MailError>> + Send;

    /// What grouping into conversations needs of `which` messages of `folder`,
    /// lowest UID first, and the folder's UID validity.
    fn threading(
        &mut self,
        _folder: &str,
        _which: Which<'_>,
    ) -> impl Future<Output = Result<(u32, Vec<thread::Threaded>), MailError>> + Send {
        async {
            Err(MailError::Unsupported(
                "Conversations are not available for POP3 accounts yet.",
            ))
        }
    }

    /// The user's folder with `role`, if there is one; `None` where the source
    /// has no such folders.
    fn folder_with_role(
        &mut self,
        _role: protocol::FolderRole,
    ) -> impl Future<Output = Result<Option<String>, MailError>> + Send {
        async { Ok(None) }
    }

    /// The list headers of those of `uids` (at most [`protocol::MAX_WINDOW`]) still
    /// in `folder`, which has `uid_validity` (else none are).
    fn headers(
        &mut self,
        folder: &str,
        uid_validity: u32,
        uids: &[u32],
    ) -> impl Future<Output = Result<std::collections::HashMap<u32, MessageHeader>, MailError>> + Send;

    /// Every message of `folder`, for downloading it whole.
    fn listing(&mut self, folder: &str) -> impl Future<Output = Result<Listing, MailError>> + Send;

    /// True once the connection can no longer be trusted (closed, timed out, overflowed).
    /// Waits for news about the open folder (IDLE) until `stop` completes; returns
    /// `stop`'s output if it did. A failure shows in `is_broken`.
    fn watch<F: Future<Output: Send> + Send>(
        &mut self,
        stop: F,
    ) -> impl Future<Output = Option<F::Output>> + Send;

    /// What changed since the last call, as events: the open folder's changes, and
    /// other folders' counts where the server reports them (NOTIFY).
    fn news(&mut self) -> impl Future<Output = Result<Vec<Event>, MailError>> + Send;

    /// The counts of the folders other than the open one.
    fn counts(&mut self) -> impl Future<Output = Result<Vec<FolderCount>, MailError>> + Send;

    /// How often the other folders' counts are worth refreshing, given the
    /// configured interval: sooner where the server reports no changes itself but
    /// counts every folder in one round trip.
    fn counts_every(&self, configured: std::time::Duration) -> std::time::Duration {
        configured
    }

    /// One folder's counts now, for a folder the session just changed (a move or
    /// copy into it); `None` where the source has no such folder.
    fn count(
        &mut self,
        folder: &str,
    ) -> impl Future<Output = Result<Option<FolderCount>, MailError>> + Send;

    /// Takes over from `old`, a broken source of the same user: reopens its folder
    /// and gathers what changed since (as `news`).
    fn resume(&mut self, old: Self) -> impl Future<Output = Result<(), MailError>> + Send
    where
        Self: Sized;

    fn is_broken(&self) -> bool;

    /// Keeps `head` followed by `message`, just sent, in the Sent folder (created
    /// if there is none) as read, unless it holds that Message-ID already; returns the folder, or `None` where the source has no folders.
    fn save_sent(
        &mut self,
        head: &[u8],
        message: &Spooled,
        message_id: &str,
    ) -> impl Future<Output = Result<Option<String>, MailError>> + Send;

    /// Keeps `message` in the Drafts folder (created if there is none) as a draft,
    /// then removes `replacing`, its last version; where it now is, when the
    /// server says. `None` where the source has no folders.
    fn save_draft(
        &mut self,
        message: &Spooled,
        replacing: Option<&protocol::SavedDraft>,
    ) -> impl Future<Output = Result<Option<protocol::SavedDraft>, MailError>> + Send;

    /// Whether [`MailSource::keep_sent_by_url`] can give URLs (IMAP's URLAUTH).
    fn gives_urls(&self) -> bool {
        false
    }

    /// Keeps `head` followed by `message`, about to be sent, in the Sent folder as
    /// `save_sent` does, with an URL by which the submission server may fetch its
    /// body (URLAUTH, RFC 4467, for BURL). `None` where the source gives no URLs or
    /// Sent holds that Message-ID already.
    fn keep_sent_by_url(
        &mut self,
        _head: &[u8],
        _message: &Spooled,
        _message_id: &str,
    ) -> impl Future<Output = Result<Option<KeptCopy>, MailError>> + Send {
        async { Ok(None) }
    }

    /// Removes a message the bridge stored (a draft, or the Sent copy of a message
    /// that was not sent after all), if it is still the message it was.
    fn remove_saved(
        &mut self,
        saved: &protocol::SavedDraft,
    ) -> impl Future<Output = Result<(), MailError>> + Send;

    /// Whether the server files sent mail into Sent itself (Gmail does).
    fn keeps_sent_copies(&self) -> bool {
        false
    }

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
    #[error("{server} refused STARTTLS (or POP3's STLS)")]
    StartTlsRefused {
        server: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the mail server rejected the user name or password")]
    WrongCredentials,
    #[error("cannot select mailbox {0}")]
    FolderNotFound(String),
    #[error("message {uid} (part {part:?}) is not in {folder}")]
    MessageNotFound {
        folder: String,
        uid: u32,
        part: Option<String>,
    },
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
    #[error("the mail server would not {0}")]
    Refused(&'static str),
    /// The server answered NO or BAD, with its reason; `doing` names what was
    /// refused, as people would say it ("create the folder").
    #[error("the mail server refused to {doing}: {refusal}")]
    Rejected {
        doing: &'static str,
        refusal: Refusal,
    },
    /// Something Postern itself does not do, said as a sentence for people.
    #[error("{0}")]
    Unsupported(&'static str),
    /// A search query that cannot be searched as typed, said as a sentence.
    #[error("{0}")]
    Query(String),
    #[error("{action} failed")]
    Pop3 {
        action: &'static str,
        #[source]
        source: pop3::Pop3Error,
    },
    /// The server refused the login for the user's number of connections
    /// (Dovecot's `mail_max_userip_connections`), not for the password.
    #[error("the mail server allows no more connections for this user")]
    ConnectionLimit,
    /// The POP3 server says another session has the mailbox (`[IN-USE]`).
    #[error("the mailbox is in use by another POP3 session")]
    InUse,
    #[error("spooling a message failed")]
    Spool(#[source] std::io::Error),
    /// Keeping a POP3 mailbox's draft in the bridge's `data_dir` failed.
    #[error("the bridge could not keep the draft")]
    Draft(#[source] std::io::Error),
    #[error("the bridge's own store failed")]
    Store(#[from] store::StoreError),
    #[error("the bridge's profile of the user failed")]
    Profile(#[from] crate::profiles::ProfileError),
    #[error("the draft cannot be sent")]
    Compose(#[from] compose::ComposeError),
    #[error("sending failed")]
    Submit(#[from] smtp::SubmitError),
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
            MailError::MessageNotFound { .. } => ErrorCode::MessageNotFound,
            MailError::BadInput(_) => ErrorCode::BadRequest,
            MailError::Query(_) => ErrorCode::BadQuery,
            MailError::Refused(_) | MailError::Unsupported(_) | MailError::Rejected { .. } => {
                ErrorCode::Refused
            }
            MailError::InUse => ErrorCode::MailboxInUse,
            MailError::ConnectionLimit => ErrorCode::TooManyConnections,
            MailError::Pop3 { source, .. } => match source {
                pop3::Pop3Error::Io(_) | pop3::Pop3Error::Timeout => ErrorCode::ServerUnreachable,
                _ => ErrorCode::Internal,
            },
            MailError::Spool(_)
            | MailError::Draft(_)
            | MailError::Store(_)
            | MailError::Profile(_) => ErrorCode::Internal,
            MailError::Compose(_) => ErrorCode::BadRequest,
            MailError::Submit(error) => match error {
                smtp::SubmitError::Unreachable { .. } | smtp::SubmitError::Broken(_) => {
                    ErrorCode::ServerUnreachable
                }
                smtp::SubmitError::Tls { .. } => ErrorCode::TlsFailure,
                smtp::SubmitError::Login(_)
                | smtp::SubmitError::SenderRefused(_)
                | smtp::SubmitError::TooLarge { .. }
                | smtp::SubmitError::MessageRefused(_) => ErrorCode::SendRefused,
                smtp::SubmitError::RecipientsRefused { .. } => ErrorCode::RecipientRefused,
                smtp::SubmitError::Uncertain(_) => ErrorCode::SendUncertain,
                smtp::SubmitError::Spool(_) => ErrorCode::Internal,
            },
            MailError::Imap { source, .. } => match source {
                async_imap::error::Error::Io(_) | async_imap::error::Error::ConnectionLost => {
                    ErrorCode::ServerUnreachable
                }
                _ => ErrorCode::Internal,
            },
        }
    }
}

/// What a server said when it refused a command: its response code, if any
/// (`ALREADYEXISTS`, `NOPERM`, `OVERQUOTA`, `LIMIT`…), and its text, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: Option<String>,
    pub text: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(code) => write!(f, "[{code}] {}", self.text.escape_debug()),
            None => write!(f, "{}", self.text.escape_debug()),
        }
    }
}

impl Refusal {
    /// The longest reason passed on to people, in characters.
    const MAX_REASON: usize = 160;

    /// From the text after `NO` or `BAD`: an optional `[CODE …]`, then text.
    pub fn from_text(text: &str) -> Self {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix('[')
            && let Some((code, rest)) = rest.split_once(']')
        {
            let code = code.split_whitespace().next().unwrap_or_default();
            return Refusal {
                code: (!code.is_empty()).then(|| code.to_ascii_uppercase()),
                text: rest.trim().to_owned(),
            };
        }
        Refusal {
            code: None,
            text: text.to_owned(),
        }
    }

    /// From imap-proto's reading of a tagged answer: codes it knows come parsed,
    /// others stay at the start of the text.
    pub fn from_outcome(
        code: Option<&async_imap::imap_proto::ResponseCode<'_>>,
        information: Option<&str>,
    ) -> Self {
        use async_imap::imap_proto::ResponseCode as C;
        let mut refusal = Refusal::from_text(information.unwrap_or_default());
        let known = code.map(|code| match code {
            C::TryCreate => "TRYCREATE".to_owned(),
            C::ReadOnly => "READ-ONLY".to_owned(),
            C::Alert => "ALERT".to_owned(),
            C::Parse => "PARSE".to_owned(),
            C::BadCharset(_) => "BADCHARSET".to_owned(),
            other => format!("{other:?}")
                .split(['(', ' '])
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase(),
        });
        if known.is_some() {
            refusal.code = known;
        }
        refusal
    }

    /// The reason as people read it: the server's words without control
    /// characters, response code or Dovecot's timings, at most 160 characters;
    /// where the server gave no words, what its code means.
    pub fn reason(&self) -> String {
        let mut words: String = self
            .text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        // Dovecot ends each answer with its timings: "(0.001 + 0.000 secs)."
        if let Some(open) = words.rfind(" (")
            && words[open..].trim_end_matches('.').ends_with("secs)")
        {
            words.truncate(open);
        }
        let words = words.trim().trim_end_matches('.').trim();
        if words.is_empty() {
            return match self.code.as_deref() {
                Some("ALREADYEXISTS") => "a folder of that name already exists",
                Some("NOPERM") => "permission denied",
                Some("OVERQUOTA") => "the mailbox is full",
                Some("LIMIT") => "a limit of the server was reached",
                Some("NONEXISTENT" | "TRYCREATE") => "the folder does not exist",
                Some("INUSE") => "the folder is in use",
                _ => "",
            }
            .to_owned();
        }
        if words.chars().count() <= Self::MAX_REASON {
            return words.to_owned();
        }
        let cut: String = words.chars().take(Self::MAX_REASON - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

/// The error for a message (or part) that is not in `folder`.
pub fn not_found(folder: &str, uid: u32, part: Option<&str>) -> MailError {
    MailError::MessageNotFound {
        folder: folder.to_owned(),
        uid,
        part: part.map(str::to_owned),
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

#[cfg(test)]
mod tests {
    use super::Refusal;

    #[test]
    fn refusals_keep_their_code_and_lose_the_noise() {
        let exists = Refusal::from_text(
            "[ALREADYEXISTS] Mailbox already exists (0.011 + 0.000 + 0.010 secs).",
        );
        assert_eq!(exists.code.as_deref(), Some("ALREADYEXISTS"));
        assert_eq!(exists.reason(), "Mailbox already exists");
        let denied = Refusal::from_text("Permission denied\r\n\u{7}");
        assert_eq!(denied.code, None);
        assert_eq!(denied.reason(), "Permission denied");
        assert_eq!(
            Refusal::from_text("[OVERQUOTA]").reason(),
            "the mailbox is full"
        );
        let long = Refusal::from_text(&"word ".repeat(100));
        assert_eq!(long.reason().chars().count(), 160);
        assert!(long.reason().ends_with('…'));
        assert_eq!(Refusal::from_text("").reason(), "");
    }
}
