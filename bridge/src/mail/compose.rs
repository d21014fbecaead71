//! A draft from the browser into a MIME message (mail-builder), and what replies and
//! forwards start from.
//!
//! Nothing typed becomes a header by hand: addresses are checked here and written
//! by mail-builder, names and subjects as RFC 2047 words, and CR, LF or NUL in any
//! field is refused, so no field can add a header or change the structure.

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address as MimeAddress;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::message_id::MessageId;
use mail_builder::mime::{BodyPart, MimePart};
pub use protocol::address_problem;
use protocol::{
    Address, ComposeKind, Draft, DraftAttachment, Identity, MAX_IDENTITIES, MAX_IDENTITY_NAME,
    MAX_SIGNATURE,
};

/// Where flowed text wraps (RFC 3676 recommends lines of at most 78 characters).
const FLOWED_WIDTH: usize = 76;
/// The most recipients one message may have.
pub const MAX_RECIPIENTS: usize = 500;
/// The most characters of a subject or a display name.
const MAX_FIELD_CHARS: usize = 998;

/// What composing needs from a message's header beyond the reading pane: its
/// place in its thread (its own Message-ID and its References) and, for a draft,
/// its Bcc and Postern's note of what it answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Threading {
    /// Without angle brackets.
    pub message_id: Option<String>,
    /// Oldest first, without angle brackets.
    pub references: Vec<String>,
    pub bcc: Vec<Address>,
    /// The `X-Postern-Draft` header.
    pub draft_note: Option<String>,
}

/// Why a draft cannot be sent as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    #[error("{address} is not a valid address: {reason}")]
    InvalidAddress {
        address: String,
        reason: &'static str,
    },
    #[error("the message has no recipient")]
    NoRecipient,
    #[error("the message has more than {MAX_RECIPIENTS} recipients")]
    TooManyRecipients,
    #[error("the {0} holds a line break or a NUL character")]
    ControlCharacter(&'static str),
    #[error("the {0} is too long")]
    TooLong(&'static str),
    #[error("{0} is not one of this account's identities")]
    UnknownIdentity(String),
    #[error("the message has more than {MAX_ATTACHMENTS} attachments")]
    TooManyAttachments,
    #[error("the attachment {0:?} names no file")]
    BadAttachment(String),
    #[error("the uploaded file {0:?} is no longer kept")]
    UploadGone(String),
    #[error("the forwarded message is no longer on the server")]
    OriginalGone,
    #[error("at most {MAX_IDENTITIES} identities can be kept")]
    TooManyIdentities,
    #[error("{0} is listed twice among the identities")]
    DuplicateIdentity(String),
}

/// A message ready to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The message as submitted (no Bcc header): written bytes, and where each
    /// attachment's base64 lines go, to be streamed in from where the file is.
    pub pieces: Vec<Piece>,
    /// The `Bcc:` header line (CRLF-terminated) the Sent copy starts with, if any.
    pub bcc_header: Vec<u8>,
    /// With angle brackets, as in the header.
    pub message_id: String,
    /// The envelope: the sender and every recipient (To, Cc and Bcc, once each).
    pub from: String,
    pub recipients: Vec<String>,
}

impl Built {
    /// The message's header block, up to and with the empty line after it.
    pub fn head(&self) -> Option<&[u8]> {
        let Some(Piece::Bytes(first)) = self.pieces.first() else {
            return None;
        };
        let end = first.windows(4).position(|w| w == b"\r\n\r\n")?;
        Some(&first[..end + 4])
    }
}

/// A stretch of a built message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Bytes(Vec<u8>),
    /// The body of the draft's attachment at this index, as base64 lines (CRLF
    /// between them, none after the last).
    Attachment(usize),
}

/// The most files one message may carry.
pub const MAX_ATTACHMENTS: usize = 100;

fn check_text(text: &str, field: &'static str, max: usize) -> Result<(), ComposeError> {
    if text.contains(['\r', '\n', '\0']) {
        return Err(ComposeError::ControlCharacter(field));
    }
    if text.chars().count() > max {
        return Err(ComposeError::TooLong(field));
    }
    Ok(())
}

fn check_addresses(list: &[Address]) -> Result<(), ComposeError> {
    for address in list {
        if let Some(name) = &address.name {
            check_text(name, "name", MAX_FIELD_CHARS)?;
        }
        if let Some(reason) = address_problem(&address.email) {
            return Err(ComposeError::InvalidAddress {
                address: address.email.clone(),
                reason,
            });
        }
    }
    Ok(())
}

fn mime_list(list: &[Address]) -> MimeAddress<'static> {
    MimeAddress::new_list(
        list.iter()
            .map(|a| {
                MimeAddress::new_address(
                    a.name.clone().filter(|n| !n.trim().is_empty()),
                    a.email.clone(),
                )
            })
            .collect(),
    )
}

/// A fresh Message-ID on `domain`, with angle brackets: 120 random bits.
pub fn new_message_id(domain: &str) -> String {
    let mut bytes = [0u8; 15];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    let token: String = bytes
        .iter()
        .map(|b| {
            let alphabet = b"abcdefghijklmnopqrstuvwxyz234567";
            alphabet[usize::from(b & 31)] as char
        })
        .collect();
    format!("<{token}@{domain}>")
}

/// Whether `id` is a Message-ID the bridge can write: `<local@domain>` of
/// printable ASCII without brackets, quotes or white space inside.
pub fn is_message_id(id: &str) -> bool {
    id.len() <= 250
        && id
            .strip_prefix('<')
            .and_then(|rest| rest.strip_suffix('>'))
            .is_some_and(|bare| {
                bare.contains('@')
                    && bare
                        .chars()
                        .all(|c| c.is_ascii_graphic() && !"<>\\\"()[],;".contains(c))
            })
}

/// Identities as Settings saves them, cleaned up (trimmed; empty names and
/// signatures left out; signatures with `\n` line ends and no NUL) or refused: an address
/// that cannot be sent from, a name that could break the `From` header, a
/// signature too long, an address listed twice, or too many.
pub fn checked_identities(identities: Vec<Identity>) -> Result<Vec<Identity>, ComposeError> {
    if identities.len() > MAX_IDENTITIES {
        return Err(ComposeError::TooManyIdentities);
    }
    let mut checked: Vec<Identity> = Vec::with_capacity(identities.len());
    for identity in identities {
        let email = identity.email.trim().to_owned();
        if let Some(reason) = address_problem(&email) {
            return Err(ComposeError::InvalidAddress {
                address: email,
                reason,
            });
        }
        if checked.iter().any(|i| i.email.eq_ignore_ascii_case(&email)) {
            return Err(ComposeError::DuplicateIdentity(email));
        }
        let name = identity
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
        if let Some(name) = &name {
            if name.chars().any(char::is_control) {
                return Err(ComposeError::ControlCharacter("identity's name"));
            }
            if name.chars().count() > MAX_IDENTITY_NAME {
                return Err(ComposeError::TooLong("identity's name"));
            }
        }
        let signature = identity
            .signature
            .map(|s| {
                s.replace("\r\n", "\n")
                    .replace('\r', "\n")
                    .replace('\0', "")
                    .trim_end()
                    .to_owned()
            })
            .filter(|s| !s.trim().is_empty());
        if signature
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_SIGNATURE)
        {
            return Err(ComposeError::TooLong("signature"));
        }
        checked.push(Identity {
            name,
            email,
            signature,
        });
    }
    Ok(checked)
}

/// The identity `draft.from` names (by address), or the first.
pub fn identity_for<'a>(
    draft: &Draft,
    identities: &'a [Identity],
) -> Result<&'a Identity, ComposeError> {
    match &draft.from {
        None => identities
            .first()
            .ok_or_else(|| ComposeError::UnknownIdentity(String::new())),
        Some(from) => identities
            .iter()
            .find(|i| i.email.eq_ignore_ascii_case(from))
            .ok_or_else(|| ComposeError::UnknownIdentity(from.clone())),
    }
}

/// Builds the message for `draft` from `from`, dated `now`, answering `parent`.
pub fn build(
    draft: &Draft,
    from: &Identity,
    parent: Option<&Threading>,
    message_id: &str,
    now: i64,
) -> Result<Built, ComposeError> {
    write(draft, from, parent, message_id, now, false)
}

/// Builds the version of `draft` kept in the Drafts folder: recipients may be
/// missing or not yet valid (they are kept as typed, without line breaks), the
/// Bcc header is in it, the text is kept exactly as typed, and an
/// `X-Postern-Draft` header notes what it answers, for resuming it elsewhere.
pub fn build_draft(
    draft: &Draft,
    from: &Identity,
    message_id: &str,
    now: i64,
) -> Result<Built, ComposeError> {
    write(draft, from, None, message_id, now, true)
}

fn write(
    draft: &Draft,
    from: &Identity,
    parent: Option<&Threading>,
    message_id: &str,
    now: i64,
    for_drafts: bool,
) -> Result<Built, ComposeError> {
    check_text(&draft.subject, "subject", MAX_FIELD_CHARS)?;
    check_text(&from.email, "sender", MAX_FIELD_CHARS)?;
    if let Some(name) = &from.name {
        check_text(name, "name", MAX_FIELD_CHARS)?;
    }
    for list in [&draft.to, &draft.cc, &draft.bcc] {
        if for_drafts {
            for address in list.iter() {
                check_text(&address.email, "address", MAX_FIELD_CHARS)?;
                if let Some(name) = &address.name {
                    check_text(name, "name", MAX_FIELD_CHARS)?;
                }
            }
        } else {
            check_addresses(list)?;
        }
    }
    if draft.text.contains('\0') {
        return Err(ComposeError::ControlCharacter("message"));
    }
    let mut recipients: Vec<String> = Vec::new();
    for address in draft.to.iter().chain(&draft.cc).chain(&draft.bcc) {
        if !recipients
            .iter()
            .any(|r| r.eq_ignore_ascii_case(&address.email))
        {
            recipients.push(address.email.clone());
        }
    }
    if recipients.is_empty() && !for_drafts {
        return Err(ComposeError::NoRecipient);
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(ComposeError::TooManyRecipients);
    }
    let bare_id = message_id.trim_start_matches('<').trim_end_matches('>');
    let mut builder = MessageBuilder::new()
        .from(MimeAddress::new_address(
            from.name.clone(),
            from.email.clone(),
        ))
        .date(mail_builder::headers::date::Date::new(now))
        .message_id(bare_id.to_owned());
    if !draft.to.is_empty() {
        builder = builder.to(mime_list(&draft.to));
    }
    if !draft.cc.is_empty() {
        builder = builder.cc(mime_list(&draft.cc));
    }
    builder = builder.subject(draft.subject.trim().to_owned());
    if let Some(parent) = parent
        && let Some(parent_id) = &parent.message_id
    {
        let mut references = parent.references.clone();
        references.push(parent_id.clone());
        builder = builder
            .in_reply_to(parent_id.clone())
            .references(MessageId::new_list(references.into_iter()));
    }
    if for_drafts {
        builder = builder.header(
            "X-Postern-Draft",
            mail_builder::headers::raw::Raw::new(draft_note(draft)),
        );
        if !draft.bcc.is_empty() {
            builder = builder.bcc(mime_list(&draft.bcc));
        }
    }
    let mut content_type = ContentType::new("text/plain").attribute("charset", "utf-8");
    let text = if draft.no_wrap || for_drafts {
        hard_lines(&draft.text)
    } else {
        content_type = content_type.attribute("format", "flowed");
        flowed(&draft.text)
    };

    let mut text = MimePart::new(content_type, BodyPart::Text(text.into()));
    if draft.formatted && !for_drafts {
        let html = MimePart::new(
            ContentType::new("text/html").attribute("charset", "utf-8"),
            BodyPart::Text(markdown_html(&draft.text).into()),
        );
        text = MimePart::new("multipart/alternative", vec![text, html]);
    }
    if draft.attachments.len() > MAX_ATTACHMENTS {
        return Err(ComposeError::TooManyAttachments);
    }
    if draft.attachments.is_empty() {
        builder = builder.body(text);
    } else {
        let mut parts = vec![text];
        for (index, attachment) in draft.attachments.iter().enumerate() {
            check_attachment(attachment, draft)?;
            let name = file_name(&attachment.name);
            // A marker where the file's lines go: NUL appears nowhere else in a
            // built message, since no field may hold one.
            let marker = format!("\0{index}\0").into_bytes();
            let content_type = attachment_type(&attachment.content_type);
            let encoding = if written_raw(&content_type) {
                "8bit"
            } else {
                "base64"
            };
            parts.push(
                MimePart::new(
                    ContentType::new(content_type).attribute("name", name.clone()),
                    BodyPart::Binary(marker.into()),
                )
                .attachment(name)
                .transfer_encoding(encoding),
            );
        }
        builder = builder.body(MimePart::new("multipart/mixed", parts));
    }
    let mut message = builder
        .write_to_vec()
        .unwrap_or_else(|_| unreachable!("writing to a Vec cannot fail"));
    if !message.ends_with(b"\r\n") {
        message.extend_from_slice(b"\r\n");
    }
    let mut bcc_header = Vec::new();
    if !draft.bcc.is_empty() && !for_drafts {
        use mail_builder::headers::Header;
        bcc_header.extend_from_slice(b"Bcc: ");
        mime_list(&draft.bcc).write_header(&mut bcc_header, 5);
    }
    Ok(Built {
        pieces: pieces(message),
        bcc_header,
        message_id: format!("<{bare_id}>"),
        from: from.email.clone(),
        recipients,
    })
}

/// The HTML alternative of a formatted message: its Markdown rendered, quotes as
/// `<blockquote type="cite">`, and the whole passed through the sanitizer, so that
/// no script, event handler, `javascript:` link or remote resource leaves.
pub fn markdown_html(text: &str) -> String {
    use pulldown_cmark::{Options, Parser, html};
    let mut rendered = String::with_capacity(text.len() * 3 / 2);
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
    // Every typed line break is a break, as in the text part.
    let events = Parser::new_ext(text, options).map(|event| match event {
        pulldown_cmark::Event::SoftBreak => pulldown_cmark::Event::HardBreak,
        other => other,
    });
    html::push_html(&mut rendered, events);
    let rendered = rendered.replace("<blockquote>", "<blockquote type=\"cite\">");
    let body = ammonia::Builder::default()
        .add_tag_attributes("blockquote", ["type"])
        .url_schemes(["http", "https", "mailto"].into())
        .link_rel(Some("noopener noreferrer"))
        // No image may load anything when the recipient opens it.
        .rm_tags(["img"])
        .clean(&rendered)
        .to_string();
    format!(
        "<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\"></head><body>{body}</body></html>\r\n"
    )
}

/// What a draft's `X-Postern-Draft` header says: whether it wraps, and the message
/// it answers or forwards (its folder percent-encoded), all in ASCII.
fn draft_note(draft: &Draft) -> String {
    let mut note = format!("v=1; wrap={}", if draft.no_wrap { "no" } else { "yes" });
    if draft.formatted {
        note.push_str("; formatted=yes");
    }
    if let Some(source) = &draft.source {
        let kind = match source.kind {
            ComposeKind::Reply => "reply",
            ComposeKind::ReplyAll => "reply_all",
            ComposeKind::Forward => "forward",
            ComposeKind::ForwardAsAttachment => "forward_as_attachment",
        };
        let folder: String = source
            .folder
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        note.push_str(&format!(
            "; kind={kind}; uid={}; uidvalidity={}; folder={folder}",
            source.uid,
            source.uid_validity.unwrap_or(0)
        ));
    }
    note
}

/// Reads an `X-Postern-Draft` header back: "Don't wrap", and what the draft
/// answers or forwards. Anything unreadable is left out.
pub fn read_draft_note(note: &str) -> DraftNote {
    let mut no_wrap = false;
    let mut formatted = false;
    let (mut kind, mut uid, mut validity, mut folder) = (None, None, None, None);
    for field in note.split(';') {
        let Some((key, value)) = field.trim().split_once('=') else {
            continue;
        };
        match key {
            "wrap" => no_wrap = value == "no",
            "formatted" => formatted = value == "yes",
            "kind" => {
                kind = match value {
                    "reply" => Some(ComposeKind::Reply),
                    "reply_all" => Some(ComposeKind::ReplyAll),
                    "forward" => Some(ComposeKind::Forward),
                    "forward_as_attachment" => Some(ComposeKind::ForwardAsAttachment),
                    _ => None,
                }
            }
            "uid" => uid = value.parse::<u32>().ok(),
            "uidvalidity" => validity = value.parse::<u32>().ok().filter(|v| *v > 0),
            "folder" => folder = percent_decoded(value),
            _ => {}
        }
    }
    let source = match (kind, uid, folder) {
        (Some(kind), Some(uid), Some(folder)) if !folder.is_empty() => {
            Some(protocol::DraftSource {
                folder,
                uid,
                kind,
                uid_validity: validity,
            })
        }
        _ => None,
    };
    DraftNote {
        no_wrap,
        formatted,
        source,
    }
}

/// What an `X-Postern-Draft` header says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DraftNote {
    pub no_wrap: bool,
    pub formatted: bool,
    pub source: Option<protocol::DraftSource>,
}

fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).ok()?;
    (!text.contains(['\r', '\n', '\0'])).then_some(text)
}

/// The written message cut at its attachment markers (`\0index\0`).
fn pieces(message: Vec<u8>) -> Vec<Piece> {
    if !message.contains(&0) {
        return vec![Piece::Bytes(message)];
    }
    message
        .split(|b| *b == 0)
        .enumerate()
        .filter_map(|(i, stretch)| {
            if i % 2 == 0 {
                (!stretch.is_empty()).then(|| Piece::Bytes(stretch.to_vec()))
            } else {
                let index = std::str::from_utf8(stretch).ok()?.parse().ok()?;
                Some(Piece::Attachment(index))
            }
        })
        .collect()
}

fn check_attachment(attachment: &DraftAttachment, draft: &Draft) -> Result<(), ComposeError> {
    let section_ok = |part: &String| {
        part.split('.')
            .all(|n| !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let upload = attachment
        .upload
        .as_ref()
        .is_some_and(|id| !id.is_empty() && id.len() <= 64);
    let saved = draft.saved.is_some() && attachment.saved_part.as_ref().is_some_and(section_ok);
    let part = draft.source.is_some()
        && (attachment.whole || attachment.part.as_ref().is_some_and(section_ok));
    let malformed = [&attachment.saved_part, &attachment.part]
        .into_iter()
        .flatten()
        .any(|p| !section_ok(p));
    if (upload || saved || part) && !malformed {
        Ok(())
    } else {
        Err(ComposeError::BadAttachment(attachment.name.clone()))
    }
}

/// A file name that can be written into a header parameter: no control
/// characters, quotes, backslashes or path separators; at most 200 characters;
/// never empty.
pub fn file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '"' | '\\' | '/' | '\u{2028}' | '\u{2029}') {
                '_'
            } else {
                c
            }
        })
        .take(200)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.');
    if cleaned.is_empty() {
        "attachment".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// The content type an attachment is written under: a plain `type/subtype`, else
/// `application/octet-stream`. Multipart and message types cannot be base64, so
/// they go as opaque files too.
pub fn attachment_type(content_type: &str) -> String {
    let lower = content_type.trim().to_ascii_lowercase();
    let token = |t: &str| {
        !t.is_empty()
            && t.len() <= 100
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    match lower.split_once('/') {
        Some(("message", "rfc822")) => lower,
        Some((kind, sub))
            if token(kind) && token(sub) && kind != "multipart" && kind != "message" =>
        {
            lower
        }
        _ => "application/octet-stream".to_owned(),
    }
}

/// Whether an attachment of this type is written as it is (`8bit`) rather than
/// as base64: a message, which MIME does not allow to be encoded.
pub fn written_raw(content_type: &str) -> bool {
    attachment_type(content_type) == "message/rfc822"
}

/// The lines as typed, CRLF between them, trailing white space kept.
fn hard_lines(text: &str) -> String {
    text.split('\n')
        .map(|line| line.trim_end_matches('\r'))
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// `text` as `format=flowed` (RFC 3676, DelSp=no): each typed line is one
/// paragraph, wrapped at spaces into lines that end in a space; quoted lines
/// (`>`) are kept as they are; lines that start with a space or `From ` are
/// space-stuffed; trailing spaces of typed lines are dropped, except in the
/// signature separator `-- `.
pub fn flowed(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if line == "-- " {
            out.push(line.to_owned());
            continue;
        }
        let line = line.trim_end_matches(' ');
        if line.starts_with('>') {
            out.push(line.to_owned());
            continue;
        }
        let stuff = |piece: &str| {
            if piece.starts_with(' ') || piece.starts_with("From ") {
                format!(" {piece}")
            } else {
                piece.to_owned()
            }
        };
        let mut rest = line;
        while rest.chars().count() > FLOWED_WIDTH {
            // The last space within the width, else the first after it: a word
            // longer than a line stays whole.
            let limit = rest
                .char_indices()
                .nth(FLOWED_WIDTH)
                .map_or(rest.len(), |(i, _)| i);
            let cut = rest[..limit]
                .rfind(' ')
                .filter(|&i| i > 0)
                .or_else(|| rest[limit..].find(' ').map(|i| i + limit));
            let Some(cut) = cut else { break };
            out.push(stuff(&rest[..=cut]));
            rest = &rest[cut + 1..];
        }
        out.push(stuff(rest));
    }
    out.join("\r\n")
}

/// The subject of a reply ("Re: " once) or forward ("Fwd: ").
pub fn subject_for(kind: ComposeKind, original: &str) -> String {
    let original = original.trim();
    let lower = original.to_ascii_lowercase();
    match kind {
        ComposeKind::Reply | ComposeKind::ReplyAll => {
            if lower.starts_with("re:") {
                original.to_owned()
            } else {
                format!("Re: {original}")
            }
        }
        ComposeKind::Forward | ComposeKind::ForwardAsAttachment => {
            if lower.starts_with("fwd:") || lower.starts_with("fw:") {
                original.to_owned()
            } else {
                format!("Fwd: {original}")
            }
        }
    }
}

/// An HTML document (as the sanitizer left it) as plain text, for quoting.
pub fn html_as_text(document: &str) -> String {
    let body = document
        .find("<body")
        .map_or(document, |start| &document[start..]);
    mail_parser::decoders::html::html_to_text(body)
        .trim()
        .to_owned()
}

/// The headers of a message being answered, as the reading pane decoded them.
pub struct Original<'a> {
    pub from: &'a [Address],
    pub to: &'a [Address],
    pub cc: &'a [Address],
    pub reply_to: &'a [Address],
}

pub fn mine(address: &Address, identities: &[Identity]) -> bool {
    identities
        .iter()
        .any(|i| i.email.eq_ignore_ascii_case(&address.email))
}

/// The To and Cc of a reply: the original's `Reply-To`, else its sender (else, for
/// one's own message, its recipients); for reply all also everyone else it went to.
/// The person's own addresses are left out, each address once.
pub fn reply_recipients(
    kind: ComposeKind,
    original: &Original<'_>,
    identities: &[Identity],
) -> (Vec<Address>, Vec<Address>) {
    let mut to: Vec<Address> = Vec::new();
    let mut cc: Vec<Address> = Vec::new();
    let push = |list: &mut Vec<Address>, seen: &[Address], address: &Address| {
        if !mine(address, identities)
            && !address.email.is_empty()
            && !seen
                .iter()
                .chain(list.iter())
                .any(|a| a.email.eq_ignore_ascii_case(&address.email))
        {
            list.push(address.clone());
        }
    };
    if matches!(
        kind,
        ComposeKind::Forward | ComposeKind::ForwardAsAttachment
    ) {
        return (to, cc);
    }
    let own_message = original.from.iter().all(|a| mine(a, identities));
    let primary = if !original.reply_to.is_empty() {
        original.reply_to
    } else if own_message && !original.from.is_empty() {
        // Answering one's own sent message goes to its recipients again.
        original.to
    } else {
        original.from
    };
    for address in primary {
        push(&mut to, &[], address);
    }
    if kind == ComposeKind::ReplyAll {
        for address in original.to.iter().chain(original.from) {
            push(&mut to, &[], address);
        }
        for address in original.cc {
            let seen = to.clone();
            push(&mut cc, &seen, address);
        }
    }
    (to, cc)
}

/// The identity a reply goes out as: the one the original was sent to, else the
/// first.
pub fn identity_answering<'a>(
    original: &Original<'_>,
    identities: &'a [Identity],
) -> Option<&'a Identity> {
    original
        .to
        .iter()
        .chain(original.cc)
        .find_map(|a| {
            identities
                .iter()
                .find(|i| i.email.eq_ignore_ascii_case(&a.email))
        })
        .or_else(|| identities.first())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(name: Option<&str>, email: &str) -> Address {
        Address {
            name: name.map(str::to_owned),
            email: email.to_owned(),
        }
    }

    fn alice() -> Identity {
        Identity {
            name: Some("Alice Ünicode".into()),
            email: "alice@example.test".into(),
            ..Identity::default()
        }
    }

    fn draft() -> Draft {
        Draft {
            to: vec![address(Some("Bob"), "bob@example.test")],
            bcc: vec![address(None, "carol@example.test")],
            subject: "Grüße aus Köln".into(),
            text: "Hello Bob,\n\nsee you.".into(),
            ..Draft::default()
        }
    }

    /// The message with `files` streamed in where its attachments go.
    fn whole(built: &Built, files: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in &built.pieces {
            match piece {
                Piece::Bytes(bytes) => out.extend_from_slice(bytes),
                Piece::Attachment(i) => {
                    let mut lines = crate::mail::spool::Base64Lines::default();
                    lines.push(files[*i], &mut out);
                    lines.finish(&mut out);
                }
            }
        }
        out
    }

    #[test]
    fn formatted_text_goes_as_sanitized_html_beside_the_text() {
        let html = markdown_html(
            "**Bold** and _it_\n\n- one\n- two\n\n> quoted\n\n[ok](https://example.org) \
             [bad](javascript:alert(1)) <script>alert(1)</script> <b onclick=\"x()\">b</b> \
             ![img](https://tracker.example/x.png)",
        );
        assert!(html.contains("<strong>Bold</strong>"), "{html}");
        assert!(html.contains("<em>it</em>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
        assert!(html.contains("<blockquote type=\"cite\">"), "{html}");
        assert!(html.contains("href=\"https://example.org\""), "{html}");
        for bad in [
            "javascript:",
            "<script",
            "onclick",
            "<img",
            "tracker.example",
        ] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
        let mut formatted = draft();
        formatted.formatted = true;
        formatted.text = "**Hi** Bob".into();
        let built = build(&formatted, &alice(), None, "<a@b.test>", 0).expect("builds");
        let bytes = whole(&built, &[]);
        let message = parsed(&bytes);
        assert_eq!(
            message.body_text(0).as_deref().map(str::trim_end),
            Some("**Hi** Bob")
        );
        assert!(
            message
                .body_html(0)
                .is_some_and(|h| h.contains("<strong>Hi</strong>"))
        );
        let note = read_draft_note(&draft_note(&formatted));
        assert!(note.formatted && !note.no_wrap && note.source.is_none());
    }

    #[test]
    fn attachments_are_parts_with_safe_names_and_their_bytes() {
        use mail_parser::MimeHeaders;
        let upload = |name: &str, content_type: &str| DraftAttachment {
            name: name.into(),
            content_type: content_type.into(),
            size: 0,
            upload: Some("u1".into()),
            part: None,
            saved_part: None,
            whole: false,
        };
        let mut draft = draft();
        draft.attachments = vec![
            upload("Jahresabschluß 2024.pdf", "application/pdf"),
            upload("evil\"\r\nBcc: x@y.test\u{0}.txt", "text/plain\r\nX: y"),
            upload("../../etc/passwd", "multipart/mixed"),
        ];
        let files: [&[u8]; 3] = [&[0, 1, 2, 255, 254], b"hello", &[b'.'; 200]];
        let built = build(&draft, &alice(), None, "<a@b.test>", 0).expect("builds");
        let bytes = whole(&built, &files);
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("\nBcc"), "{text}");
        assert!(!text.contains("\nX: y"), "{text}");
        let message = parsed(&bytes);
        assert_eq!(message.attachment_count(), 3);
        let names: Vec<_> = message
            .attachments()
            .map(|a| a.attachment_name().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "Jahresabschluß 2024.pdf",
                "evil___Bcc: x@y.test_.txt",
                "_.._etc_passwd"
            ]
        );
        for (attachment, file) in message.attachments().zip(files) {
            assert_eq!(attachment.contents(), file);
        }
        let types: Vec<_> = message
            .attachments()
            .map(|a| {
                a.content_type()
                    .map(|t| format!("{}/{}", t.ctype(), t.subtype().unwrap_or_default()))
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(
            types,
            [
                "application/pdf",
                "application/octet-stream",
                "application/octet-stream"
            ]
        );
        assert_eq!(
            message.body_text(0).as_deref(),
            Some("Hello Bob,\r\n\r\nsee you.")
        );
        // A part of the forwarded message needs that message, and a section number.
        draft.attachments = vec![DraftAttachment {
            part: Some("2".into()),
            upload: None,
            ..upload("a", "b/c")
        }];
        assert_eq!(
            build(&draft, &alice(), None, "<a@b.test>", 0),
            Err(ComposeError::BadAttachment("a".into()))
        );
        draft.source = Some(protocol::DraftSource {
            folder: "INBOX".into(),
            uid: 1,
            kind: ComposeKind::Forward,
            uid_validity: None,
        });
        assert!(build(&draft, &alice(), None, "<a@b.test>", 0).is_ok());
        draft.attachments[0].part = Some("2 BODY[]".into());
        assert!(build(&draft, &alice(), None, "<a@b.test>", 0).is_err());
    }

    fn parsed(bytes: &[u8]) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::new()
            .parse(bytes)
            .expect("parses")
    }

    #[test]
    fn a_message_has_its_headers_and_no_bcc() {
        let built = build(
            &draft(),
            &alice(),
            None,
            "<abc@example.test>",
            1_700_000_000,
        )
        .expect("builds");
        let bytes = whole(&built, &[]);
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.to_ascii_lowercase().contains("bcc"), "{text}");
        assert!(!text.contains("carol"), "{text}");
        assert!(text.contains("format=\"flowed\""), "{text}");
        let bytes = whole(&built, &[]);
        let message = parsed(&bytes);
        assert_eq!(message.subject(), Some("Grüße aus Köln"));
        assert_eq!(message.message_id(), Some("abc@example.test"));
        assert_eq!(
            message
                .from()
                .and_then(|a| a.first())
                .and_then(|a| a.name()),
            Some("Alice Ünicode")
        );
        assert_eq!(
            message.date().map(|d| d.to_timestamp()),
            Some(1_700_000_000)
        );
        assert_eq!(
            built.recipients,
            vec!["bob@example.test", "carol@example.test"]
        );
        let copy = [built.bcc_header.clone(), whole(&built, &[])].concat();
        let copy = parsed(&copy);
        assert_eq!(
            copy.bcc().and_then(|a| a.first()).and_then(|a| a.address()),
            Some("carol@example.test")
        );
        assert_eq!(
            copy.body_text(0).as_deref(),
            Some("Hello Bob,\r\n\r\nsee you.\r\n")
        );
    }

    #[test]
    fn replies_carry_the_thread() {
        let parent = Threading {
            message_id: Some("p@example.org".into()),
            references: vec!["root@example.org".into()],
            ..Threading::default()
        };
        let built = build(&draft(), &alice(), Some(&parent), "<r@x.test>", 0).expect("builds");
        let bytes = whole(&built, &[]);
        let message = parsed(&bytes);
        assert_eq!(message.in_reply_to().as_text(), Some("p@example.org"));
        let references: Vec<&str> = message
            .references()
            .as_text_list()
            .unwrap_or_default()
            .iter()
            .map(|r| r.as_ref())
            .collect();
        assert_eq!(references, ["root@example.org", "p@example.org"]);
    }

    #[test]
    fn nothing_typed_can_add_a_header() {
        let mut bad = draft();
        bad.subject = "Hi\r\nBcc: eve@evil.test".into();
        assert_eq!(
            build(&bad, &alice(), None, "<a@b.test>", 0),
            Err(ComposeError::ControlCharacter("subject"))
        );
        let mut bad = draft();
        bad.to[0].name = Some("Bob\nX-Evil: 1".into());
        assert!(build(&bad, &alice(), None, "<a@b.test>", 0).is_err());
        for email in [
            "bob@example.test\r\nRCPT TO:<eve@evil.test>",
            "bob@example.test>",
            "<bob@example.test",
            "bob@exa\0mple.test",
            "\"bob\"@example.test",
        ] {
            let mut bad = draft();
            bad.to[0].email = email.into();
            assert!(
                matches!(
                    build(&bad, &alice(), None, "<a@b.test>", 0),
                    Err(ComposeError::InvalidAddress { .. })
                ),
                "{email:?}"
            );
        }
        // A text line that starts a new part or header stays text.
        let mut tricky = draft();
        tricky.text = "line\r\n\r\nContent-Type: text/html\n.\n".into();
        let built = build(&tricky, &alice(), None, "<a@b.test>", 0).expect("builds");
        let bytes = whole(&built, &[]);
        let message = parsed(&bytes);
        assert_eq!(message.parts.len(), 1);
    }

    #[test]
    fn addresses_are_checked_with_reasons() {
        assert_eq!(address_problem("bob@example.test"), None);
        assert_eq!(address_problem("o'brien+x@mail.example.co.uk"), None);
        assert_eq!(address_problem("bob"), Some("it has no @"));
        assert_eq!(
            address_problem("@example.test"),
            Some("it has nothing before the @")
        );
        assert_eq!(
            address_problem("bob@"),
            Some("it has no domain after the @")
        );
        assert_eq!(address_problem("bob @x.test"), Some("it has a space in it"));
        assert!(address_problem("bob@localhost").is_some());
        assert!(address_problem("bob@-x.test").is_some());
        assert!(address_problem("a..b@x.test").is_some());
    }

    #[test]
    fn text_flows_and_quotes_stay() {
        let long = "word ".repeat(40);
        let flowed = flowed(&format!(
            "{long}\n> quoted line stays as it is even when it is long enough to wrap around\nFrom here\n -- \n-- \nsig"
        ));
        let lines: Vec<&str> = flowed.split("\r\n").collect();
        assert!(lines.iter().all(|l| l.chars().count() <= 78), "{lines:?}");
        assert!(lines[0].ends_with(' '), "soft break: {:?}", lines[0]);
        let quoted = lines
            .iter()
            .position(|l| l.starts_with('>'))
            .expect("quote");
        assert!(
            !lines[quoted - 1].ends_with(' '),
            "hard break before the quote"
        );
        assert!(lines.contains(&" From here"));
        assert!(lines.contains(&"  --"));
        assert!(lines.contains(&"-- "));
        // Reading it back joins the soft breaks.
        let joined: String = lines[..quoted].concat();
        assert_eq!(joined, long.trim_end());
        // A word longer than a line is not cut.
        let url = format!("https://example.org/{}", "a".repeat(100));
        assert_eq!(super::flowed(&url), url);
    }

    #[test]
    fn replies_go_to_the_right_people() {
        let me = [
            alice(),
            Identity {
                name: None,
                email: "alice@work.test".into(),
                ..Identity::default()
            },
        ];
        let from = [address(Some("Bob"), "bob@example.test")];
        let to = [
            address(None, "ALICE@work.test"),
            address(None, "dan@example.test"),
        ];
        let cc = [
            address(None, "erin@example.test"),
            address(None, "bob@example.test"),
        ];
        let original = Original {
            from: &from,
            to: &to,
            cc: &cc,
            reply_to: &[],
        };
        let (to_reply, cc_reply) = reply_recipients(ComposeKind::Reply, &original, &me);
        assert_eq!(to_reply, from.to_vec());
        assert!(cc_reply.is_empty());
        let (to_all, cc_all) = reply_recipients(ComposeKind::ReplyAll, &original, &me);
        let emails = |l: &[Address]| l.iter().map(|a| a.email.clone()).collect::<Vec<_>>();
        assert_eq!(emails(&to_all), ["bob@example.test", "dan@example.test"]);
        assert_eq!(emails(&cc_all), ["erin@example.test"]);
        assert_eq!(
            identity_answering(&original, &me).map(|i| i.email.as_str()),
            Some("alice@work.test")
        );
        let lists = [address(None, "list-replies@example.test")];
        let via_list = Original {
            reply_to: &lists,
            ..original
        };
        let (to_list, _) = reply_recipients(ComposeKind::Reply, &via_list, &me);
        assert_eq!(emails(&to_list), ["list-replies@example.test"]);
        assert_eq!(subject_for(ComposeKind::Reply, "RE: x"), "RE: x");
        assert_eq!(subject_for(ComposeKind::ReplyAll, "x"), "Re: x");
        assert_eq!(subject_for(ComposeKind::Forward, "x"), "Fwd: x");
    }

    #[test]
    fn identities_are_cleaned_or_refused() {
        let identity = |name: Option<&str>, email: &str, signature: Option<&str>| Identity {
            name: name.map(str::to_owned),
            email: email.to_owned(),
            signature: signature.map(str::to_owned),
        };
        let kept = checked_identities(vec![
            identity(
                Some("  Alice  "),
                " alice@example.test ",
                Some("-- \r\nAlice\r\n\r\n"),
            ),
            identity(Some(" "), "alice@work.test", Some("  ")),
        ])
        .expect("valid");
        assert_eq!(
            kept,
            vec![
                identity(Some("Alice"), "alice@example.test", Some("-- \nAlice")),
                identity(None, "alice@work.test", None),
            ]
        );
        let refused = |list: Vec<Identity>| checked_identities(list).expect_err("refused");
        assert!(matches!(
            refused(vec![identity(None, "alice@", None)]),
            ComposeError::InvalidAddress { .. }
        ));
        assert_eq!(
            refused(vec![identity(
                Some("Eve\r\nBcc: x@evil.test"),
                "eve@example.test",
                None
            )]),
            ComposeError::ControlCharacter("identity's name")
        );
        assert_eq!(
            refused(vec![
                identity(None, "a@example.test", None),
                identity(None, "A@Example.test", None)
            ]),
            ComposeError::DuplicateIdentity("A@Example.test".into())
        );
        assert_eq!(
            refused(vec![identity(
                None,
                "a@example.test",
                Some(&"x".repeat(MAX_SIGNATURE + 1))
            )]),
            ComposeError::TooLong("signature")
        );
        assert_eq!(
            refused(
                (0..=MAX_IDENTITIES)
                    .map(|i| identity(None, &format!("a{i}@example.test"), None))
                    .collect()
            ),
            ComposeError::TooManyIdentities
        );
    }
}
