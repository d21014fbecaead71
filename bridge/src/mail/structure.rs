//! A message's MIME structure, from IMAP's `BODYSTRUCTURE`: section numbers, decoded
//! names, which part is the body and which are attachments. Nothing here fetches.

use async_imap::imap_proto::{BodyStructure, ContentEncoding};
use mail_parser::{MessageParser, MimeHeaders};
use protocol::{Note, Part, PartRole};

/// Parts deeper than this are left out of the tree, with a note. Real mail rarely
/// nests more than five levels; this bounds the work a hostile message can cause.
pub const MAX_DEPTH: u32 = 32;
/// Parts beyond this many are left out, with a note.
pub const MAX_PARTS: usize = 1000;
/// Bounds on decoded names, so a hostile part cannot bloat the reply.
const MAX_NAME_CHARS: usize = 255;

/// How a part's bytes are encoded for transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 7bit, 8bit, binary, or anything unknown: the bytes as they are.
    Identity,
    Base64,
    QuotedPrintable,
}

/// One part, owned, with what the bridge needs to fetch and decode it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The IMAP section: `1`, `2.1`; empty for a multipart message's top level.
    pub id: String,
    /// Lowercase `type/subtype`.
    pub mime: String,
    pub charset: Option<String>,
    pub name: Option<String>,
    pub disposition: Option<String>,
    pub content_id: Option<String>,
    pub encoding: Encoding,
    pub size: u64,
    pub depth: u32,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Leaf,
    Multipart(Vec<Node>),
    /// An attached message; its own structure, when it could be followed.
    Message(Option<Box<Node>>),
}

/// Builds the tree of a whole message from its `BODYSTRUCTURE`.
pub fn from_imap(structure: &BodyStructure<'_>) -> (Node, Vec<Note>) {
    let mut builder = Builder::default();
    let root_id = match structure {
        BodyStructure::Multipart { .. } => String::new(),
        _ => "1".to_owned(),
    };
    let node = builder.node(structure, root_id, 0);
    let mut notes = Vec::new();
    if builder.too_deep {
        notes.push(Note::NestedTooDeep);
    }
    if builder.count > MAX_PARTS {
        notes.push(Note::TooManyParts {
            shown: MAX_PARTS as u32,
        });
    }
    (node, notes)
}

#[derive(Default)]
struct Builder {
    count: usize,
    too_deep: bool,
}

impl Builder {
    fn node(&mut self, structure: &BodyStructure<'_>, id: String, depth: u32) -> Node {
        self.count += 1;
        let (common, single) = match structure {
            BodyStructure::Basic { common, other, .. }
            | BodyStructure::Text { common, other, .. }
            | BodyStructure::Message { common, other, .. } => (common, Some(other)),
            BodyStructure::Multipart { common, .. } => (common, None),
        };
        let mime = format!("{}/{}", common.ty.ty, common.ty.subtype).to_ascii_lowercase();
        let params = common.ty.params.as_deref().unwrap_or_default();
        let disposition = common.disposition.as_ref();
        let (name, charset) = decode_params(
            &mime,
            params,
            disposition.map(|d| d.ty.as_ref()),
            disposition
                .and_then(|d| d.params.as_deref())
                .unwrap_or_default(),
        );
        let mut node = Node {
            id: id.clone(),
            mime,
            charset,
            name,
            disposition: disposition.map(|d| d.ty.to_ascii_lowercase()),
            content_id: single.and_then(|s| s.id.as_deref()).map(content_id),
            encoding: single.map_or(Encoding::Identity, |s| encoding(&s.transfer_encoding)),
            size: single.map_or(0, |s| u64::from(s.octets)),
            depth,
            kind: Kind::Leaf,
        };
        let child_id = |i: usize| {
            if id.is_empty() {
                (i + 1).to_string()
            } else {
                format!("{id}.{}", i + 1)
            }
        };
        match structure {
            BodyStructure::Multipart { bodies, .. } => {
                let mut children = Vec::new();
                if depth + 1 > MAX_DEPTH {
                    self.too_deep = true;
                } else {
                    for (i, body) in bodies.iter().enumerate() {
                        if self.count >= MAX_PARTS {
                            self.count += bodies.len() - i;
                            break;
                        }
                        children.push(self.node(body, child_id(i), depth + 1));
                    }
                }
                node.kind = Kind::Multipart(children);
            }
            BodyStructure::Message { body, .. } => {
                // An attached message's body is `id.1` when it is a single part, and
                // its parts are `id.1`, `id.2` when it is a multipart (RFC 3501 6.4.5).
                let inner = if depth + 1 > MAX_DEPTH || self.count >= MAX_PARTS {
                    self.too_deep |= depth + 1 > MAX_DEPTH;
                    None
                } else {
                    let inner_id = match **body {
                        BodyStructure::Multipart { .. } => id.clone(),
                        _ => format!("{id}.1"),
                    };
                    Some(Box::new(self.node(body, inner_id, depth + 1)))
                };
                node.kind = Kind::Message(inner);
            }
            _ => {}
        }
        node
    }
}

fn encoding(encoding: &ContentEncoding<'_>) -> Encoding {
    match encoding {
        ContentEncoding::Base64 => Encoding::Base64,
        ContentEncoding::QuotedPrintable => Encoding::QuotedPrintable,
        ContentEncoding::Other(other) => encoding_named(other),
        _ => Encoding::Identity,
    }
}

/// The encoding a `Content-Transfer-Encoding` value names, case-insensitively.
pub(super) fn encoding_named(name: &str) -> Encoding {
    if name.eq_ignore_ascii_case("base64") {
        Encoding::Base64
    } else if name.eq_ignore_ascii_case("quoted-printable") {
        Encoding::QuotedPrintable
    } else {
        Encoding::Identity
    }
}

/// A Content-ID as the reading pane matches it against `cid:` links: without the
/// angle brackets.
pub(super) fn content_id(raw: &str) -> String {
    clip(raw.trim().trim_start_matches('<').trim_end_matches('>'))
}

/// Decodes a part's file name (RFC 2231 parameters, RFC 2047 words) and charset by
/// handing mail-parser the header lines the structure describes. The parameters are
/// as IMAP's `BODYSTRUCTURE` gives them (RFC 2231 continuations already joined).
pub(super) fn decode_params(
    mime: &str,
    params: &[(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)],
    disposition: Option<&str>,
    disposition_params: &[(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)],
) -> (Option<String>, Option<String>) {
    let mut header = format!("Content-Type: {mime}");
    write_params(&mut header, params);
    if let Some(disposition) = disposition {
        header.push_str("\r\nContent-Disposition: ");
        header.push_str(&sanitize_token(disposition));
        write_params(&mut header, disposition_params);
    }
    header.push_str("\r\n\r\n");
    let parsed = MessageParser::new().parse_headers(header.as_bytes());
    let part = parsed.as_ref().and_then(|m| m.parts.first());
    let name = part
        .and_then(|p| p.attachment_name())
        .map(|n| clip(file_name(n)))
        .filter(|n| !n.is_empty());
    let charset = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().to_ascii_lowercase());
    (name, charset)
}

fn write_params(
    header: &mut String,
    params: &[(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)],
) {
    for (key, value) in params.iter().take(32) {
        header.push_str(";\r\n ");
        header.push_str(&sanitize_token(key));
        header.push('=');
        // RFC 2231 extended values (`name*=utf-8''%E2%82%AC`) must stay unquoted.
        if key.ends_with('*') && value.bytes().all(|b| b.is_ascii_graphic() && b != b'"') {
            header.push_str(value);
        } else {
            header.push('"');
            for c in value.chars().filter(|c| !c.is_control()) {
                if c == '"' || c == '\\' {
                    header.push('\\');
                }
                header.push(c);
            }
            header.push('"');
        }
    }
}

fn sanitize_token(token: &str) -> String {
    token
        .chars()
        .filter(|c| c.is_ascii_graphic() && !"\";:".contains(*c))
        .collect()
}

/// The last path component: a name from a message is never a path.
fn file_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name).trim()
}

fn clip(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect()
}

impl Node {
    /// The leaf or attached message with section `id`, searching attached messages
    /// too. (A multipart inside an attached message shares the message's id; the
    /// message is the one found.)
    pub fn find(&self, id: &str) -> Option<&Node> {
        if self.id == id && !matches!(self.kind, Kind::Multipart(_)) {
            return Some(self);
        }
        self.children().find_map(|child| child.find(id))
    }

    fn children(&self) -> Box<dyn Iterator<Item = &Node> + '_> {
        match &self.kind {
            Kind::Leaf => Box::new(std::iter::empty()),
            Kind::Multipart(children) => Box::new(children.iter()),
            Kind::Message(inner) => Box::new(inner.iter().map(|b| &**b)),
        }
    }

    fn is_attachment(&self) -> bool {
        self.disposition.as_deref() == Some("attachment")
    }

    fn is_text(&self) -> bool {
        matches!(self.mime.as_str(), "text/plain" | "text/html") && !self.is_attachment()
    }

    /// What the part will weigh once decoded: base64 lines of 76 characters and a
    /// line break carry 57 bytes.
    pub fn decoded_size_estimate(&self) -> u64 {
        match self.encoding {
            Encoding::Base64 => self.size * 57 / 78,
            Encoding::Identity | Encoding::QuotedPrintable => self.size,
        }
    }

    pub fn is_html(&self) -> bool {
        self.mime == "text/html"
    }
}

/// What the reading pane needs from a message's structure.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Layout {
    pub parts: Vec<Part>,
    /// The part to show first.
    pub body: Option<String>,
    /// Displayable parts the user may switch between, preferred first.
    pub alternatives: Vec<String>,
}

/// Lays out the message rooted at `root` (a whole message, or the body of an
/// attached one): which part is the body, the alternatives, and every part's role.
/// Parts inside attached messages are left for when those are opened.
pub fn layout(root: &Node) -> Layout {
    let mut alternatives = Vec::new();
    choose_body(root, &mut alternatives);
    let body = alternatives.first().cloned();
    let mut parts = Vec::new();
    let mut inline = Vec::new();
    collect_inline(root, false, &mut inline);
    describe(
        root,
        root.depth,
        &alternatives,
        body.as_deref(),
        &inline,
        &mut parts,
    );
    Layout {
        parts,
        body,
        alternatives,
    }
}

/// Finds the displayable parts of the message's main body: for an alternative, its
/// HTML and text versions (HTML first); otherwise the first text part.
fn choose_body(node: &Node, out: &mut Vec<String>) -> bool {
    let mut found = Vec::new();
    find_body(node, &mut found);
    out.extend(found.into_iter().map(|(id, _)| id));
    !out.is_empty()
}

/// Collects `(section, is_html)` of the body's displayable versions.
fn find_body(node: &Node, out: &mut Vec<(String, bool)>) -> bool {
    match &node.kind {
        Kind::Leaf if node.is_text() => {
            out.push((node.id.clone(), node.is_html()));
            true
        }
        Kind::Leaf | Kind::Message(_) => false,
        Kind::Multipart(children) if node.mime == "multipart/alternative" => {
            // Later alternatives are richer (RFC 2046 5.1.4): look from the end.
            let mut html = None;
            let mut text = None;
            for child in children.iter().rev() {
                let mut found = Vec::new();
                find_body(child, &mut found);
                for (id, is_html) in found {
                    let slot = if is_html { &mut html } else { &mut text };
                    slot.get_or_insert((id, is_html));
                }
            }
            out.extend(html);
            out.extend(text);
            !out.is_empty()
        }
        Kind::Multipart(children) => children.iter().any(|child| find_body(child, out)),
    }
}

/// Images referenced from a related body by Content-ID are shown in place.
fn collect_inline(node: &Node, in_related: bool, out: &mut Vec<String>) {
    match &node.kind {
        Kind::Leaf => {
            if in_related && node.content_id.is_some() && node.mime.starts_with("image/") {
                out.push(node.id.clone());
            }
        }
        Kind::Multipart(children) => {
            let related = in_related || node.mime == "multipart/related";
            children
                .iter()
                .for_each(|child| collect_inline(child, related, out));
        }
        Kind::Message(_) => {}
    }
}

fn describe(
    node: &Node,
    base_depth: u32,
    alternatives: &[String],
    body: Option<&str>,
    inline: &[String],
    out: &mut Vec<Part>,
) {
    let role = match &node.kind {
        Kind::Multipart(_) => PartRole::Container,
        Kind::Message(_) => PartRole::Message,
        Kind::Leaf if alternatives.contains(&node.id) => PartRole::Body,
        Kind::Leaf if inline.contains(&node.id) && body.is_some() => PartRole::Inline,
        Kind::Leaf => PartRole::Attachment,
    };
    out.push(Part {
        id: node.id.clone(),
        content_type: node.mime.clone(),
        size: node.decoded_size_estimate(),
        name: node.name.clone(),
        content_id: node.content_id.clone(),
        depth: node.depth - base_depth,
        role,
    });
    if let Kind::Multipart(children) = &node.kind {
        for child in children {
            describe(child, base_depth, alternatives, body, inline, out);
        }
    }
}

/// The tree of a `BODYSTRUCTURE` as a server writes it, for tests here and of the
/// POP3 scan, which must build the same trees.
#[cfg(test)]
pub fn tree(bodystructure: &str) -> (Node, Vec<Note>) {
    use async_imap::imap_proto::{AttributeValue, Response};
    let line = format!("* 1 FETCH (BODYSTRUCTURE {bodystructure})\r\n");
    let (_, response) = Response::parse(line.as_bytes()).expect("parses");
    let Response::Fetch(_, attributes) = response else {
        panic!("not a fetch")
    };
    let Some(AttributeValue::BodyStructure(structure)) = attributes.first() else {
        panic!("no structure")
    };
    from_imap(structure)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        r#"("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 12 1 NIL NIL NIL NIL)"#;
    const HTML: &str = r#"("text" "html" ("charset" "iso-8859-1") NIL NIL "quoted-printable" 40 2 NIL NIL NIL NIL)"#;

    #[test]
    fn a_single_part_message_is_section_one() {
        let (root, notes) = tree(TEXT);
        assert!(notes.is_empty());
        assert_eq!(root.id, "1");
        let layout = layout(&root);
        assert_eq!(layout.body.as_deref(), Some("1"));
        assert_eq!(layout.parts[0].role, PartRole::Body);
    }

    #[test]
    fn html_is_preferred_in_an_alternative_and_attachments_are_listed() {
        let pdf = r#"("application" "pdf" ("name" "=?utf-8?q?R=C3=A9sum=C3=A9.pdf?=") NIL NIL "base64" 1000 NIL ("attachment" ("filename*" "utf-8''R%C3%A9sum%C3%A9.pdf")) NIL NIL)"#;
        let (root, _) = tree(&format!(
            r#"(({TEXT}{HTML} "alternative" ("boundary" "a") NIL NIL NIL){pdf} "mixed" ("boundary" "m") NIL NIL NIL)"#
        ));
        let layout = layout(&root);
        assert_eq!(layout.body.as_deref(), Some("1.2"));
        assert_eq!(layout.alternatives, ["1.2", "1.1"]);
        let pdf = layout.parts.iter().find(|p| p.id == "2").expect("pdf");
        assert_eq!(pdf.role, PartRole::Attachment);
        assert_eq!(pdf.name.as_deref(), Some("Résumé.pdf"));
        assert_eq!(
            root.find("1.2").map(|n| n.encoding),
            Some(Encoding::QuotedPrintable)
        );
        assert_eq!(
            root.find("1.2").and_then(|n| n.charset.as_deref()),
            Some("iso-8859-1")
        );
    }

    #[test]
    fn related_images_with_a_content_id_are_inline() {
        let png = r#"("image" "png" NIL "<logo@x>" NIL "base64" 300 NIL ("inline" NIL) NIL NIL)"#;
        let (root, _) = tree(&format!(
            r#"({HTML}{png} "related" ("boundary" "r") NIL NIL NIL)"#
        ));
        let layout = layout(&root);
        let png = layout.parts.iter().find(|p| p.id == "2").expect("png");
        assert_eq!(png.role, PartRole::Inline);
        assert_eq!(png.content_id.as_deref(), Some("logo@x"));
    }

    #[test]
    fn attached_messages_are_numbered_inside() {
        let envelope = r#"(NIL "Inner" NIL NIL NIL NIL NIL NIL NIL NIL)"#;
        let inner = format!(r#"({TEXT}{HTML} "alternative" ("boundary" "i") NIL NIL NIL)"#);
        let message = format!(
            r#"("message" "rfc822" NIL NIL NIL "7bit" 500 {envelope} {inner} 20 NIL NIL NIL NIL)"#
        );
        let (root, _) = tree(&format!(
            r#"({TEXT}{message} "mixed" ("boundary" "m") NIL NIL NIL)"#
        ));
        let layout = layout(&root);
        assert_eq!(layout.body.as_deref(), Some("1"));
        assert_eq!(
            layout.parts.iter().map(|p| p.role).collect::<Vec<_>>(),
            [PartRole::Container, PartRole::Body, PartRole::Message]
        );
        let attached = root.find("2").expect("attached");
        let Kind::Message(Some(inner)) = &attached.kind else {
            panic!("not a message")
        };
        assert_eq!(inner.id, "2");
        let inner_layout = super::layout(inner);
        assert_eq!(inner_layout.alternatives, ["2.2", "2.1"]);
        assert_eq!(inner_layout.parts[0].depth, 0);
    }

    #[test]
    fn deep_nesting_is_cut_with_a_note() {
        let mut structure = TEXT.to_owned();
        for _ in 0..40 {
            structure = format!(r#"({structure} "mixed" ("boundary" "b") NIL NIL NIL)"#);
        }
        let (root, notes) = tree(&structure);
        assert_eq!(notes, [Note::NestedTooDeep]);
        assert!(layout(&root).body.is_none());
    }

    #[test]
    fn many_parts_are_cut_with_a_note() {
        let parts = TEXT.repeat(MAX_PARTS + 50);
        let (root, notes) = tree(&format!(
            r#"({parts} "mixed" ("boundary" "b") NIL NIL NIL)"#
        ));
        assert_eq!(
            notes,
            [Note::TooManyParts {
                shown: MAX_PARTS as u32
            }]
        );
        assert_eq!(layout(&root).parts.len(), MAX_PARTS);
    }

    #[test]
    fn names_never_carry_paths() {
        let exe = r#"("application" "octet-stream" ("name" "../../etc/passwd") NIL NIL "base64" 10 NIL NIL NIL NIL)"#;
        let (root, _) = tree(exe);
        assert_eq!(root.name.as_deref(), Some("passwd"));
    }
}
