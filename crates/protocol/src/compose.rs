//! Writing mail: what the compose form holds, what a reply or forward starts from,
//! and what sending can do for this session.

use serde::{Deserialize, Serialize};

use crate::Address;

/// A message being written, as the compose form holds it. The bridge builds the
/// MIME message from it; nothing here is a raw header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    /// The address of the identity to send as; by default the session's first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<Address>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<Address>,
    /// Receive the message without being named in it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bcc: Vec<Address>,
    #[serde(default)]
    pub subject: String,
    /// The text as typed, lines separated by `\n`. It is sent `format=flowed`, so
    /// long lines wrap on the recipient's screen, unless `no_wrap`.
    #[serde(default)]
    pub text: String,
    /// Send the lines exactly as typed ("Don't wrap"), for code and patches.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_wrap: bool,
    /// The text is Markdown ("Formatting"): it goes out as it was typed, and as
    /// HTML the bridge renders and sanitizes, in a multipart/alternative.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub formatted: bool,
    /// The message this one answers or forwards. The bridge reads its threading
    /// headers from the server and marks it answered or forwarded once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<DraftSource>,
    /// Files that go with the message, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<DraftAttachment>,
    /// The compose's one Message-ID, given by the bridge at the first save: every
    /// saved version and the message sent carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The version last saved in the Drafts folder, which the next save replaces
    /// and a send removes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved: Option<SavedDraft>,
}

/// Where a draft is kept on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedDraft {
    pub folder: String,
    pub uid_validity: u32,
    pub uid: u32,
}

/// A file attached to a draft: one the browser uploaded (`upload`), a part of the
/// saved draft (`saved_part`, a section number of `saved`), the message the draft
/// forwards (`whole`) or a part of it (`part`, a section number of `source`); the bridge
/// reads parts from the mail server without the browser fetching them, and takes
/// the first of these it still has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftAttachment {
    pub name: String,
    /// Lowercase `type/subtype`.
    pub content_type: String,
    /// Decoded size in bytes (for a part, as its structure estimates it).
    pub size: u64,
    /// The id the upload route answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_part: Option<String>,
    /// The whole of `source`, attached as `message/rfc822`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub whole: bool,
}

/// What the upload route (`Sending::upload`) answers for a file it has taken in
/// whole. The body of a refusal is a sentence for people instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uploaded {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
}

/// An uploaded file, attached.
impl From<Uploaded> for DraftAttachment {
    fn from(uploaded: Uploaded) -> Self {
        DraftAttachment {
            name: uploaded.name,
            content_type: uploaded.content_type,
            size: uploaded.size,
            upload: Some(uploaded.id),
            ..DraftAttachment::default()
        }
    }
}

/// How much bigger a file gets in a message: base64 writes 3 bytes as 4 and ends
/// every 76 characters with CRLF, plus room for the part's headers.
pub fn encoded_size(size: u64) -> u64 {
    let chars = size.div_ceil(3) * 4;
    chars + chars.div_ceil(76) * 2 + 400
}

/// The message a draft answers or forwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftSource {
    pub folder: String,
    pub uid: u32,
    pub kind: ComposeKind,
    /// The folder's UIDVALIDITY when the compose began, as the bridge said: a
    /// folder recreated since then holds other messages under the same UIDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid_validity: Option<u32>,
}

/// How a draft relates to the message it starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComposeKind {
    /// To the sender (or its `Reply-To`).
    Reply,
    /// To the sender and every recipient, except the person's own addresses.
    ReplyAll,
    /// The original's text, quoted under its headers, to new recipients.
    Forward,
    /// The original whole, attached as `message/rfc822`, to new recipients.
    ForwardAsAttachment,
}

/// The original a reply or forward quotes. The app writes the attribution line
/// ("On …, Bob wrote:") in the viewer's time zone and quotes `text` under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub from: Vec<Address>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<Address>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<Address>,
    pub subject: String,
    /// Seconds since the Unix epoch, from the original's `Date`.
    pub date: Option<i64>,
    /// The original's text (its plain-text part, else its HTML as text), with `\n`
    /// between lines.
    pub text: String,
}

/// What this session can send: offered only when the account has an SMTP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sending {
    /// Whom the person may send as; the first is the default.
    pub identities: Vec<Identity>,
    /// The largest message, encoded, that may be sent, in bytes.
    pub max_message_bytes: u64,
    /// Where files are uploaded for attaching: `POST {upload}?name=…` with the
    /// file as the body (`DELETE {upload}/{id}` lets one go). The path carries a
    /// token bound to the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<String>,
}

/// An address the person sends as, with the name shown beside it and the
/// signature the form adds under new text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// The most identities a person keeps.
pub const MAX_IDENTITIES: usize = 20;
/// The longest name of an identity, in characters.
pub const MAX_IDENTITY_NAME: usize = 200;
/// The longest signature, in characters.
pub const MAX_SIGNATURE: usize = 2_000;
/// The most people one `suggest_recipients` answers with.
pub const MAX_SUGGESTIONS: usize = 8;

/// Why `email` cannot be an address of a message, or `None` if it can: a
/// dot-atom local part, a domain of two or more labels, ASCII only. The app marks
/// recipients by it before sending; the bridge refuses by it.
pub fn address_problem(email: &str) -> Option<&'static str> {
    if email.chars().any(char::is_whitespace) {
        return Some("it has a space in it");
    }
    if !email.is_ascii() {
        return Some("addresses with letters beyond ASCII are not supported");
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Some("it has no @");
    };
    if local.is_empty() {
        return Some("it has nothing before the @");
    }
    if domain.is_empty() {
        return Some("it has no domain after the @");
    }
    if local.len() > 64 || email.len() > 254 {
        return Some("it is too long");
    }
    let atom = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    if local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
        || !local.chars().all(|c| atom(c) || c == '.')
    {
        return Some("the part before the @ has characters an address cannot have");
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if !domain.contains('.') || !domain.split('.').all(label_ok) {
        return Some("the part after the @ is not a domain name");
    }
    None
}
