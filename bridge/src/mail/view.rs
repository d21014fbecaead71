//! The reading pane's view of a message, built the same way whatever protocol holds
//! it: IMAP reads sections from the server, POP3 from the spooled copy. Only the
//! [`Sections`] a protocol can read differ.

use protocol::{Body, BodyContent, Flag, MessageView, Note};

use super::compose::Threading;
use super::headers::view_headers;
use super::message::{MAX_DISPLAY_FETCH, base64_decoded_size, parse_section, render};
use super::structure::{self, Encoding, Kind, Node};
use super::{Links, MailError, PartMeta};

/// The most header bytes read for the reading pane.
pub const MAX_HEADER_FETCH: u64 = 256 * 1024;
/// The most of a broken message's raw text that is shown.
pub const MAX_RAW_TEXT: u64 = 256 * 1024;

/// Reads one message's bytes by IMAP section (RFC 3501 6.4.5).
pub trait Sections: Send {
    /// Up to `len` bytes of part `id` (or, for `None`, of the whole message)
    /// from `offset`; `None` when there is no such part.
    fn section(
        &mut self,
        id: Option<&str>,
        offset: u64,
        len: u64,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, MailError>> + Send;

    /// At most `max` bytes of the header block of the message, or of the message
    /// attached at part `message`.
    fn header(
        &mut self,
        message: Option<&str>,
        max: u64,
    ) -> impl Future<Output = Result<Vec<u8>, MailError>> + Send;
}

/// A message's structure and state, as read when it is opened.
pub struct Structure {
    pub root: Node,
    pub notes: Vec<Note>,
    pub flags: Vec<Flag>,
    pub size: u64,
}

/// The view of the message (or of the message attached at `part`), its flags as
/// given, and its place in its thread; `missing` is the error for a part that is
/// not there.
pub async fn open(
    sections: &mut impl Sections,
    structure: Structure,
    part: Option<&str>,
    links: &Links,
    missing: impl Fn() -> MailError,
) -> Result<(MessageView, Threading), MailError> {
    let Structure {
        root,
        mut notes,
        flags,
        size,
    } = structure;
    let (shown, shown_size) = match part {
        None => (&root, size),
        Some(part) => {
            parse_section(part).ok_or(MailError::BadInput("section"))?;
            match root.find(part) {
                Some(Node {
                    kind: Kind::Message(Some(inner)),
                    size,
                    ..
                }) => (&**inner, *size),
                _ => return Err(missing()),
            }
        }
    };
    let header = sections.header(part, MAX_HEADER_FETCH).await?;
    let headers = view_headers(&header);
    let layout = structure::layout(shown);
    let mut body = match layout.body.as_deref().and_then(|id| shown.find(id)) {
        Some(node) => Some(render_part(sections, node, shown, links).await?),
        None => None,
    };
    let blank = |body: &Option<Body>| {
        body.as_ref().is_none_or(|b| match &b.content {
            BodyContent::Text { text } => text.trim().is_empty(),
            BodyContent::Html { .. } => false,
        })
    };
    // Servers describe broken mail differently: Dovecot gives a multipart whose
    // boundaries never appear empty parts, Cyrus one empty text part, and an empty
    // `TEXT` section too. Where the structure holds nothing but the message does,
    // what follows the header is shown as it was sent, read as a raw range.
    let header_len = header.len() as u64;
    if blank(&body) && content_size(shown) == 0 && shown_size > header_len + 2 {
        let raw = sections
            .section(part, header_len, MAX_RAW_TEXT)
            .await?
            .unwrap_or_default();
        let raw = super::decode::text(&raw, Encoding::Identity, None, false).text;
        if !raw.trim().is_empty() {
            body = Some(Body {
                part: shown.id.clone(),
                content: BodyContent::Text { text: raw },
                blocked_remote: 0,
                remote_loaded: false,
                truncated: shown_size > header_len + MAX_RAW_TEXT,
                notes: vec![],
            });
            notes.push(Note::MalformedStructure);
        }
    }
    // Never a blank pane without a word on why.
    if blank(&body) && !notes.contains(&Note::MalformedStructure) {
        notes.push(Note::NoDisplayablePart);
    }
    let view = MessageView {
        part: part.map(str::to_owned),
        subject: headers.subject,
        from: headers.from,
        to: headers.to,
        cc: headers.cc,
        reply_to: headers.reply_to,
        date: headers.date,
        flags,
        size: shown_size,
        parts: layout.parts,
        body,
        alternatives: layout.alternatives,
        notes,
        link: String::new(),
    };
    Ok((view, headers.threading))
}

/// The bytes the leaves of `node` hold, as the structure tells; attached messages
/// count whole.
fn content_size(node: &Node) -> u64 {
    match &node.kind {
        Kind::Multipart(children) => children.iter().map(content_size).sum(),
        Kind::Leaf | Kind::Message(_) => node.size,
    }
}

/// Renders displayable part `part` of the message rooted at `root`.
pub async fn show_part(
    sections: &mut impl Sections,
    root: &Node,
    part: &str,
    links: &Links,
    missing: impl Fn() -> MailError,
) -> Result<Body, MailError> {
    parse_section(part).ok_or(MailError::BadInput("section"))?;
    let node = root.find(part).ok_or_else(&missing)?;
    if !matches!(node.mime.as_str(), "text/plain" | "text/html") {
        return Err(missing());
    }
    // `cid:` links resolve within the message the part belongs to.
    let owner = message_of(root, part).unwrap_or(root);
    render_part(sections, node, owner, links).await
}

/// Describes part `part` (or, for `None`, the raw message of `size` bytes) for
/// download.
pub async fn part_meta(
    sections: &mut impl Sections,
    root: &Node,
    size: u64,
    part: Option<&str>,
    missing: impl Fn() -> MailError,
) -> Result<PartMeta, MailError> {
    let Some(part) = part else {
        return Ok(PartMeta {
            content_type: "message/rfc822".to_owned(),
            name: None,
            encoding: Encoding::Identity,
            size,
            decoded_size: Some(size),
        });
    };
    parse_section(part).ok_or(MailError::BadInput("section"))?;
    let node = root.find(part).ok_or_else(missing)?;
    let decoded_size = match node.encoding {
        Encoding::Identity => Some(node.size),
        Encoding::QuotedPrintable => None,
        Encoding::Base64 => {
            let head_len = node.size.min(4096);
            let tail_len = node.size.min(256);
            let head = sections
                .section(Some(part), 0, head_len.max(1))
                .await?
                .unwrap_or_default();
            let tail = sections
                .section(Some(part), node.size - tail_len, tail_len.max(1))
                .await?
                .unwrap_or_default();
            base64_decoded_size(node.size, &head, &tail)
        }
    };
    Ok(PartMeta {
        content_type: node.mime.clone(),
        name: node.name.clone(),
        encoding: node.encoding,
        size: node.size,
        decoded_size,
    })
}

/// Reads the first bytes of a displayable part and renders them.
async fn render_part(
    sections: &mut impl Sections,
    node: &Node,
    root: &Node,
    links: &Links,
) -> Result<Body, MailError> {
    let len = node.size.clamp(1, MAX_DISPLAY_FETCH);
    let bytes = sections
        .section(Some(&node.id), 0, len)
        .await?
        .unwrap_or_default();
    Ok(render(node, root, &bytes, links))
}

/// The attached message (its inner root) that contains section `part`, if any.
fn message_of<'a>(root: &'a Node, part: &str) -> Option<&'a Node> {
    let mut owner = None;
    let mut prefix = String::new();
    for piece in part.split('.') {
        if !prefix.is_empty() {
            if let Some(Node {
                kind: Kind::Message(Some(inner)),
                ..
            }) = root.find(&prefix)
            {
                owner = Some(&**inner);
            }
            prefix.push('.');
        }
        prefix.push_str(piece);
    }
    owner
}
