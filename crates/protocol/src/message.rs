//! An opened message: its decoded headers, its MIME part tree, and the one part shown.

use serde::{Deserialize, Serialize};

use crate::{Address, Flag};

/// A message as the reading pane shows it. Only the displayed part's content is
/// included; every other part is described, not sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    /// The embedded `message/rfc822` part this view shows, or `None` for the message itself.
    pub part: Option<String>,
    pub subject: String,
    pub from: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub reply_to: Vec<Address>,
    /// Seconds since the Unix epoch, from the `Date` header; `None` when it is missing or unreadable.
    pub date: Option<i64>,
    pub flags: Vec<Flag>,
    /// The size of the whole message (or embedded message) in bytes, as stored.
    pub size: u64,
    /// Every part, depth first, as the server describes them.
    pub parts: Vec<Part>,
    /// The part chosen for display: HTML when there is an HTML alternative, else text.
    pub body: Option<Body>,
    /// Displayable parts the user can switch between (the alternatives of the body).
    pub alternatives: Vec<String>,
    /// What could not be shown, and why.
    pub notes: Vec<Note>,
    /// The path under which the bridge serves this message's parts over HTTP:
    /// `{link}/part/{id}` (download), `{link}/inline/{id}` (images), `{link}/source`
    /// (the raw message). It carries a short-lived token bound to the session.
    pub link: String,
}

/// One MIME part, described from the server's structure without fetching it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// The IMAP section number, such as `1` or `2.1.3`.
    pub id: String,
    /// Lowercase `type/subtype`.
    pub content_type: String,
    /// Size in bytes once decoded; estimated from the stored size for base64 parts.
    pub size: u64,
    /// The decoded file name, from `Content-Disposition` or `Content-Type`.
    pub name: Option<String>,
    /// The `Content-ID`, without angle brackets.
    pub content_id: Option<String>,
    /// Nesting depth under the message, starting at 0.
    pub depth: u32,
    pub role: PartRole,
}

/// What a part is for, as far as the reading pane is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartRole {
    /// A `multipart/*` container.
    Container,
    /// Text or HTML that is (or could be) the message body.
    Body,
    /// An image referenced from the HTML body by `cid:`; shown in place.
    Inline,
    /// A file the user can download.
    Attachment,
    /// An attached message, which opens as a message.
    Message,
}

/// The content of a displayed part, decoded to UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Body {
    pub part: String,
    #[serde(flatten)]
    pub content: BodyContent,
    /// Remote images, fonts or styles that were left out.
    pub blocked_remote: u32,
    /// True when remote content is loaded through the bridge's image proxy.
    pub remote_loaded: bool,
    /// True when the part was longer than the bridge shows, and was cut.
    pub truncated: bool,
    /// What went wrong decoding this part.
    pub notes: Vec<Note>,
}

/// Sanitized HTML or plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BodyContent {
    /// A complete, sanitized HTML document, for a sandboxed iframe's `srcdoc` only.
    Html { document: String },
    /// Plain text; the app escapes it and makes links clickable.
    Text { text: String },
}

/// Something about the message that could not be shown as intended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Note {
    /// The message has more parts than are listed.
    TooManyParts { shown: u32 },
    /// Parts nested deeper than the bridge follows were left out.
    NestedTooDeep,
    /// The text is in a character set the bridge does not know; shown as best it can.
    UnknownCharset { charset: String },
    /// The part's transfer encoding was damaged; what could be decoded is shown.
    DamagedEncoding,
    /// No part of the message can be displayed as text.
    NoDisplayablePart,
    /// The message's MIME structure is broken; its text is shown as it was sent.
    MalformedStructure,
}

/// Flags of one message after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageFlags {
    pub uid: u32,
    pub flags: Vec<Flag>,
}
