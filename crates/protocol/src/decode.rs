//! Reading the server's messages from already-parsed JSON, field by field.
//!
//! The browser app decodes every frame with this instead of serde's derived
//! `Deserialize`: the browser's own `JSON.parse` does the parsing, and each type here
//! reads its fields by name, so the app carries no JSON parser and none of the
//! buffering that serde needs for internally tagged enums (which was most of its size).
//! The wire format is the one the serde attributes in this crate define; the tests
//! check that both readings agree on every documented example.
//!
//! The source of the values is abstract ([`Json`]): the app implements it over
//! JavaScript values, the tests over `serde_json::Value`.

use std::fmt;

use crate::{
    Address, Body, BodyContent, ComposeKind, Connectivity, Conversation, Draft, DraftAttachment,
    DraftSource, ErrorCode, Event, Flag, Folder, FolderCount, FolderNamespace, FolderRole, Hit,
    Identity, MailProtocol, MessageFlags, MessageHeader, MessageView, Note, Part, PartRole,
    Preferences, Quote, Reply, SavedDraft, Sending, ServerMessage, Sort, SortKey, Uploaded,
    WireError,
};

/// A parsed JSON value, as far as decoding needs to look into it.
pub trait Json: Sized {
    /// The member `name` of an object; `None` when it is absent or null, or when this
    /// is not an object.
    fn member(&self, name: &str) -> Option<Self>;
    fn string(&self) -> Option<String>;
    fn number(&self) -> Option<f64>;
    fn boolean(&self) -> Option<bool>;
    /// The items of an array; `None` when this is not one.
    fn items(&self) -> Option<Vec<Self>>;
}

/// Why a message could not be read: a missing or mistyped field, or an unknown kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

impl From<&str> for DecodeError {
    fn from(why: &str) -> Self {
        DecodeError(why.to_owned())
    }
}

fn expected(what: &str) -> DecodeError {
    DecodeError(format!("expected {what}"))
}

/// A type that can be read from a JSON value.
pub trait FromJson: Sized {
    fn from_json<J: Json>(value: &J) -> Result<Self, DecodeError>;

    /// What a missing field of this type means, if it may be missing.
    fn absent() -> Option<Self> {
        None
    }
}

/// Decodes one of the server's messages.
pub fn server_message<J: Json>(value: &J) -> Result<ServerMessage, DecodeError> {
    ServerMessage::from_json(value)
}

/// A field that must be there (an `Option` may be missing: it is then `None`).
fn req<J: Json, T: FromJson>(value: &J, name: &str) -> Result<T, DecodeError> {
    match value.member(name) {
        Some(member) => {
            T::from_json(&member).map_err(|DecodeError(why)| DecodeError(format!("{name}: {why}")))
        }
        None => T::absent().ok_or_else(|| DecodeError(format!("missing field `{name}`"))),
    }
}

/// A field with `#[serde(default)]`.
fn def<J: Json, T: FromJson + Default>(value: &J, name: &str) -> Result<T, DecodeError> {
    match value.member(name) {
        Some(_) => req(value, name),
        None => Ok(T::default()),
    }
}

fn tag<J: Json>(value: &J, name: &str) -> Result<String, DecodeError> {
    req(value, name)
}

fn unknown(what: &str, name: &str) -> DecodeError {
    DecodeError(format!("unknown {what} `{name}`"))
}

impl FromJson for String {
    fn from_json<J: Json>(value: &J) -> Result<Self, DecodeError> {
        value.string().ok_or_else(|| expected("a string"))
    }
}

impl FromJson for crate::ResumeToken {
    fn from_json<J: Json>(value: &J) -> Result<Self, DecodeError> {
        String::from_json(value).map(crate::ResumeToken)
    }
}

impl FromJson for bool {
    fn from_json<J: Json>(value: &J) -> Result<Self, DecodeError> {
        value.boolean().ok_or_else(|| expected("true or false"))
    }
}

/// Whole numbers: JSON numbers are doubles, exact up to 2^53.
fn whole<J: Json>(value: &J, min: f64, max: f64) -> Result<f64, DecodeError> {
    match value.number() {
        Some(n) if n.fract() == 0.0 && (min..=max).contains(&n) => Ok(n),
        _ => Err(expected("a whole number in range")),
    }
}

const EXACT: f64 = 9_007_199_254_740_991.0;

impl FromJson for u32 {
    fn from_json<J: Json>(value: &J) -> Result<Self, DecodeError> {
        whole(value, 0.0, f64::from(u32::MAX)).map(|n| n as u32)
    }
}

impl FromJson for u64 {
    fn from_json<J: Json>(value: &J) -> Result<Self, DecodeError> {
        whole(value, 0.0, EXACT).map(|n| n as u64)
    }
}

impl FromJson for i64 {
    fn from_json<J: Json>(value: &J) -> Result<Self, DecodeError> {
        whole(value, -EXACT, EXACT).map(|n| n as i64)
    }
}

impl<T: FromJson> FromJson for Option<T> {
    fn from_json<J: Json>(value: &J) -> Result<Self, DecodeError> {
        T::from_json(value).map(Some)
    }

    fn absent() -> Option<Self> {
        Some(None)
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json<J: Json>(value: &J) -> Result<Self, DecodeError> {
        let items = value.items().ok_or_else(|| expected("an array"))?;
        items.iter().map(T::from_json).collect()
    }
}

impl<T: FromJson> FromJson for Box<T> {
    fn from_json<J: Json>(value: &J) -> Result<Self, DecodeError> {
        T::from_json(value).map(Box::new)
    }
}

/// A struct read field by field: `req` for a field that must be there, `def` for one
/// with `#[serde(default)]`.
macro_rules! object {
    ($($ty:ident { $($field:ident: $how:ident),* $(,)? })*) => {$(
        impl FromJson for $ty {
            fn from_json<J: Json>(v: &J) -> Result<Self, DecodeError> {
                Ok($ty { $($field: $how(v, stringify!($field))?),* })
            }
        }
    )*};
}

/// An enum written as a bare string.
macro_rules! names {
    ($($ty:ident { $($name:literal => $variant:ident),* $(,)? })*) => {$(
        impl FromJson for $ty {
            fn from_json<J: Json>(v: &J) -> Result<Self, DecodeError> {
                let name = String::from_json(v)?;
                Ok(match name.as_str() {
                    $($name => $ty::$variant,)*
                    _ => return Err(unknown(stringify!($ty), &name)),
                })
            }
        }
    )*};
}

/// An internally tagged enum: the tag field names the variant, whose fields sit beside it.
macro_rules! tagged {
    ($($ty:ident($tag:literal) { $($name:literal => $variant:ident { $($field:ident: $how:ident),* $(,)? }),* $(,)? })*) => {$(
        impl FromJson for $ty {
            fn from_json<J: Json>(v: &J) -> Result<Self, DecodeError> {
                let name = tag(v, $tag)?;
                Ok(match name.as_str() {
                    $($name => $ty::$variant { $($field: $how(v, stringify!($field))?),* },)*
                    _ => return Err(unknown(stringify!($ty), &name)),
                })
            }
        }
    )*};
}

tagged! {
    ServerMessage("type") {
        "hello" => Hello { accounts: req, pop3: def, imap: def },
        "reply" => Reply { id: req, reply: req },
        "failed" => Failed { id: req, error: req },
        "event" => Event { event: req },
    }
    Reply("type") {
        "signed_in" => SignedIn { account: req, user: req, protocol: def, sending: def, preferences: def, resume: def },
        "folders" => Folders { folders: req },
        "folder_opened" => FolderOpened {
            folder: req, uid_validity: req, total: req, unread: req, offset: req, messages: req,
            labels: def, new_labels: def, sort: def,
        },
        "messages" => Messages { folder: req, total: req, offset: req, messages: req, sort: def },
        "message_opened" => MessageOpened { folder: req, uid: req, message: req },
        "part_shown" => PartShown { folder: req, uid: req, body: req },
        "flags_set" => FlagsSet { folder: req, messages: req },
        "messages_moved" => MessagesMoved { folder: req, uids: req, to: req },
        "messages_copied" => MessagesCopied { folder: req, uids: req, to: req },
        "messages_expunged" => MessagesExpunged { folder: req, uids: req },
        "export_ready" => ExportReady { folder: req, link: req },
        "compose_started" => ComposeStarted { draft: req, quote: req },
        "draft_saved" => DraftSaved { saved: def, message_id: req, attachments: def },
        "draft_resumed" => DraftResumed { draft: req },
        "message_queued" => MessageQueued { outbox: req, hold_seconds: req },
        "send_cancelled" => SendCancelled { outbox: req },
        "identities_saved" => IdentitiesSaved { identities: req },
        "recipient_suggestions" => RecipientSuggestions { text: req, people: req },
        "hits" => Hits {
            search: req, total: req, offset: req, hits: req, searched: req, of: req, done: req,
            bodies_unsearched: def,
        },
        "conversations" => Conversations { folder: req, total: req, offset: req, conversations: req },
        "search_stopped" => SearchStopped { search: req },
        "conversation_opened" => ConversationOpened { folder: req, messages: req, earlier: def },
        "preferences_saved" => PreferencesSaved { preferences: req },
        "message_sent" => MessageSent { message_id: req, recipients: req, sent_folder: def },
        "signed_out" => SignedOut {},
        "pong" => Pong {},
    }
    Event("type") {
        "connectivity_changed" => ConnectivityChanged { state: req },
        "session_renewed" => SessionRenewed { resume: req },
        "outbox_sent" => OutboxSent { outbox: req, message_id: req, recipients: req, sent_folder: def },
        "outbox_failed" => OutboxFailed { outbox: req, error: req, draft: req },
        "folder_changed" => FolderChanged {
            folder: req, total: req, unread: req, added: def, added_at: def, flags: def,
            removed: def, removed_at: def,
        },
        "folder_reset" => FolderReset { folder: req },
        "folder_counts" => FolderCounts { folders: req },
        "search_updated" => SearchUpdated { search: req, total: req, searched: req, of: req, done: req },
    }
    BodyContent("kind") {
        "html" => Html { document: req },
        "text" => Text { text: req },
    }
    Note("type") {
        "too_many_parts" => TooManyParts { shown: req },
        "nested_too_deep" => NestedTooDeep {},
        "unknown_charset" => UnknownCharset { charset: req },
        "damaged_encoding" => DamagedEncoding {},
        "no_displayable_part" => NoDisplayablePart {},
        "malformed_structure" => MalformedStructure {},
    }
}

object! {
    Conversation { uids: req, count: req, unread: req, flagged: req, participants: req, newest: req }
    Preferences { conversations: def }
    Hit { folder: req, message: req }
    FolderCount { folder: req, total: req, unread: req }
    WireError { code: req, message: req, refused: def }
    Folder {
        id: req, name: req, parent: req, depth: req, role: req, selectable: req, subscribed: req,
        total: req, unread: req, namespace: def, read_only: def,
    }
    MessageHeader {
        uid: req, from: req, to: req, subject: req, date: req, flags: req, size: req,
        has_attachments: req,
    }
    Address { name: req, email: req }
    MessageView {
        part: req, subject: req, from: req, to: req, cc: req, reply_to: req, date: req,
        flags: req, size: req, parts: req, body: req, alternatives: req, notes: req, link: req,
    }
    Part { id: req, content_type: req, size: req, name: req, content_id: req, depth: req, role: req }
    MessageFlags { uid: req, flags: req }
    Draft {
        from: def, to: def, cc: def, bcc: def, subject: def, text: def, no_wrap: def,
        formatted: def, source: def, attachments: def, message_id: def, saved: def,
    }
    SavedDraft { folder: req, uid_validity: req, uid: req }
    DraftAttachment {
        name: req, content_type: req, size: req, upload: def, part: def, saved_part: def,
        whole: def,
    }
    Uploaded { id: req, name: req, content_type: req, size: req }
    DraftSource { folder: req, uid: req, kind: req, uid_validity: def }
    Quote { from: req, to: def, cc: def, subject: req, date: req, text: req }
    Sending { identities: req, max_message_bytes: req, upload: def }
    Identity { name: def, email: req, signature: def }
}

names! {
    MailProtocol { "imap" => Imap, "pop3" => Pop3 }
    SortKey { "arrival" => Arrival, "date" => Date }
    Connectivity { "connected" => Connected, "reconnecting" => Reconnecting, "lost" => Lost }
    ErrorCode {
        "wrong_credentials" => WrongCredentials, "too_many_attempts" => TooManyAttempts,
        "server_unreachable" => ServerUnreachable, "tls_failure" => TlsFailure,
        "folder_not_found" => FolderNotFound, "message_not_found" => MessageNotFound,
        "unknown_account" => UnknownAccount, "not_signed_in" => NotSignedIn,
        "refused" => Refused, "mailbox_in_use" => MailboxInUse, "bad_request" => BadRequest,
        "bad_query" => BadQuery, "recipient_refused" => RecipientRefused,
        "send_refused" => SendRefused, "send_uncertain" => SendUncertain, "internal" => Internal,
        "session_expired" => SessionExpired,
        "too_many_connections" => TooManyConnections,
    }
    FolderNamespace { "personal" => Personal, "other_users" => OtherUsers, "shared" => Shared }
    FolderRole {
        "inbox" => Inbox, "drafts" => Drafts, "sent" => Sent, "archive" => Archive,
        "junk" => Junk, "trash" => Trash, "all" => All, "flagged" => Flagged,
    }
    PartRole {
        "container" => Container, "body" => Body, "inline" => Inline,
        "attachment" => Attachment, "message" => Message,
    }
    ComposeKind {
        "reply" => Reply, "reply_all" => ReplyAll, "forward" => Forward,
        "forward_as_attachment" => ForwardAsAttachment,
    }
}

impl FromJson for Body {
    fn from_json<J: Json>(v: &J) -> Result<Self, DecodeError> {
        Ok(Body {
            part: req(v, "part")?,
            content: BodyContent::from_json(v)?,
            blocked_remote: req(v, "blocked_remote")?,
            remote_loaded: req(v, "remote_loaded")?,
            truncated: req(v, "truncated")?,
            notes: req(v, "notes")?,
        })
    }
}

impl FromJson for Sort {
    fn from_json<J: Json>(v: &J) -> Result<Self, DecodeError> {
        Ok(Sort {
            by: req(v, "by")?,
            newest_first: req::<J, Option<bool>>(v, "newest_first")?.unwrap_or(true),
        })
    }
}

/// A system flag is a bare name; a keyword is `{"keyword": "..."}`.
impl FromJson for Flag {
    fn from_json<J: Json>(v: &J) -> Result<Self, DecodeError> {
        if let Some(keyword) = v.member("keyword") {
            return String::from_json(&keyword).map(Flag::Keyword);
        }
        let name = String::from_json(v)?;
        Ok(match name.as_str() {
            "seen" => Flag::Seen,
            "answered" => Flag::Answered,
            "flagged" => Flag::Flagged,
            "deleted" => Flag::Deleted,
            "draft" => Flag::Draft,
            "forwarded" => Flag::Forwarded,
            _ => return Err(unknown("flag", &name)),
        })
    }
}

/// The tests read through `serde_json`, so that they run without a browser.
impl Json for serde_json::Value {
    fn member(&self, name: &str) -> Option<Self> {
        self.get(name).filter(|v| !v.is_null()).cloned()
    }

    fn string(&self) -> Option<String> {
        self.as_str().map(str::to_owned)
    }

    fn number(&self) -> Option<f64> {
        self.as_f64()
    }

    fn boolean(&self) -> Option<bool> {
        self.as_bool()
    }

    fn items(&self) -> Option<Vec<Self>> {
        self.as_array().cloned()
    }
}
