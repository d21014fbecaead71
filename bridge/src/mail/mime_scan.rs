//! A spooled message's MIME structure, found in one streaming pass: the same part tree
//! IMAP's `BODYSTRUCTURE` gives (as Dovecot parses it), and where each section lies in
//! the file, so that POP3 can serve IMAP-like section reads without holding the
//! message in memory.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::ops::Range;

use protocol::Note;

use super::structure::{self, Encoding, Kind, MAX_DEPTH, MAX_PARTS, Node};

/// Lines longer than this are read in pieces. A piece that does not start a line is
/// never a boundary or a header's end; boundaries are at most 70 characters.
const LINE_CAP: usize = 8 * 1024;
/// Boundaries longer than this never match (RFC 2046 allows 70 characters).
const MAX_BOUNDARY: usize = 1024;
/// At most this many bytes of `Content-*` header lines are kept per header block;
/// the rest of the block is skipped, not buffered.
const HEADER_CAP: usize = 256 * 1024;
/// Entities nested deeper than this are read as opaque leaves, so the scan's own
/// state stays bounded whatever the input. Parts this deep are never shown anyway
/// ([`MAX_DEPTH`]); Dovecot has a similar limit of its own.
const TRACK_DEPTH: usize = 100;

/// Where a part lies in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The header block, including the blank line that ends it.
    pub header: Range<u64>,
    /// What follows the header block, up to the part's end.
    pub body: Range<u64>,
}

/// A scanned message: its tree and where its sections are.
#[derive(Debug)]
pub struct Scanned {
    /// What [`structure::from_imap`] gives for the server's `BODYSTRUCTURE`.
    pub root: Node,
    pub notes: Vec<Note>,
    /// The whole message, in bytes.
    pub size: u64,
    /// Shown parts by section id: their MIME header and their body.
    parts: HashMap<String, Section>,
    /// The message (`""`) and attached messages by part id: header and text.
    messages: HashMap<String, Section>,
}

impl Scanned {
    /// The encoded bytes of part `id` as IMAP's `BODY[id]` gives them; for a
    /// message/rfc822 part, the whole attached message.
    pub fn body(&self, id: &str) -> Option<Range<u64>> {
        self.parts.get(id).map(|s| s.body.clone())
    }

    /// The MIME header of part `id` (`BODY[id.MIME]`); only the tests and the fuzz
    /// target need it yet.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn mime(&self, id: &str) -> Option<Range<u64>> {
        self.parts.get(id).map(|s| s.header.clone())
    }

    /// The header block of the message (`None`) or of the message attached at part
    /// `message` (`BODY[HEADER]`, `BODY[id.HEADER]`), including the blank line.
    pub fn header(&self, message: Option<&str>) -> Option<Range<u64>> {
        self.messages
            .get(message.unwrap_or_default())
            .map(|s| s.header.clone())
    }

    /// What follows that header block (`BODY[TEXT]`, `BODY[id.TEXT]`), which the
    /// tests check against Dovecot's answers.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn text(&self, message: Option<&str>) -> Option<Range<u64>> {
        self.messages
            .get(message.unwrap_or_default())
            .map(|s| s.body.clone())
    }
}

/// Scans a whole message (CRLF or bare LF line ends) once, keeping only bounded
/// state: the open parts, their boundaries, and one header block's `Content-*` lines.
pub fn scan(reader: impl Read) -> std::io::Result<Scanned> {
    let mut reader = BufReader::new(reader);
    let mut scanner = Scanner::new();
    let mut piece = Vec::with_capacity(LINE_CAP);
    loop {
        piece.clear();
        let n = (&mut reader)
            .take(LINE_CAP as u64)
            .read_until(b'\n', &mut piece)?;
        if n == 0 {
            break;
        }
        scanner.piece(&piece);
    }
    Ok(scanner.finish())
}

/// What an open entity (a message, or a part of a multipart) is reading.
#[derive(Debug)]
enum State {
    /// Its header block.
    Header(Box<HeaderLines>),
    /// A body that ends at a boundary of an enclosing multipart, or at the end.
    Leaf,
    /// A multipart body: preamble, parts, epilogue. `boundary` is `None` when it is
    /// missing or already closed.
    Multipart {
        boundary: Option<Vec<u8>>,
        digest: bool,
        children: usize,
    },
    /// A message/rfc822 part: the entity above it on the stack is the message.
    Message,
}

/// An entity whose end has not been found yet.
#[derive(Debug)]
struct Frame {
    state: State,
    header_start: u64,
    body_start: u64,
    /// A boundary takes the line end before it, but nothing before this: the start
    /// of the body, or the end of a multipart's closing boundary line.
    floor: u64,
    /// The part's node, when it is shown (within [`MAX_DEPTH`] and [`MAX_PARTS`]).
    node: Option<Node>,
    /// The id this entity has if it is shown; decided when it starts.
    id: Option<String>,
    depth: u32,
    /// Set for a message (the whole one, or one attached): its header and text are
    /// sections of their own, under this key (`""`, or the attached part's id).
    message_key: Option<String>,
    /// Whether its node shares the id of the message/rfc822 part it is the body of
    /// (an attached multipart), so that only the part's section is kept under it.
    shares_id: bool,
    /// Inside a multipart/digest, a part without Content-Type is message/rfc822.
    default_message: bool,
}

struct Scanner {
    stack: Vec<Frame>,
    /// Bytes read so far.
    pos: u64,
    /// Whether the next piece starts a line.
    at_line_start: bool,
    /// Length of the line end before the current line (CRLF belongs to a boundary).
    prev_eol: u64,
    prev_ended_cr: bool,
    /// The rest of a boundary line longer than [`LINE_CAP`] is being skipped; when
    /// it opened a part (`Some(true)`), the part starts after it.
    skipping_boundary_line: Option<bool>,
    count: usize,
    too_deep: bool,
    root: Option<Node>,
    parts: HashMap<String, Section>,
    messages: HashMap<String, Section>,
}

impl Scanner {
    fn new() -> Self {
        Scanner {
            stack: vec![Frame {
                state: State::Header(Box::default()),
                header_start: 0,
                body_start: 0,
                floor: 0,
                node: None,
                id: Some(String::new()),
                depth: 0,
                message_key: Some(String::new()),
                shares_id: false,
                default_message: false,
            }],
            pos: 0,
            at_line_start: true,
            prev_eol: 0,
            prev_ended_cr: false,
            skipping_boundary_line: None,
            count: 0,
            too_deep: false,
            root: None,
            parts: HashMap::new(),
            messages: HashMap::new(),
        }
    }

    fn piece(&mut self, piece: &[u8]) {
        let start = self.pos;
        self.pos += piece.len() as u64;
        let at_line_start = std::mem::replace(&mut self.at_line_start, piece.ends_with(b"\n"));
        let eol = match piece {
            [.., b'\r', b'\n'] => 2,
            [b'\n'] if self.prev_ended_cr => 2,
            [.., b'\n'] => 1,
            _ => 0,
        };
        self.prev_ended_cr = piece.ends_with(b"\r");
        let prev_eol = std::mem::replace(&mut self.prev_eol, eol);
        if let Some(moves_child) = self.skipping_boundary_line {
            self.skipping_boundary_line = (eol == 0).then_some(moves_child);
            if let Some(top) = self.stack.last_mut().filter(|_| moves_child) {
                top.header_start = self.pos;
                top.body_start = self.pos;
                top.floor = self.pos;
            }
            return;
        }
        if at_line_start && piece.starts_with(b"--") {
            let line = piece[2..].strip_suffix(b"\n").unwrap_or(&piece[2..]);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some((level, close)) = self.boundary(line) {
                self.at_boundary(level, close, start, prev_eol);
                if eol == 0 {
                    self.skipping_boundary_line = Some(!close);
                }
                return;
            }
        }
        let blank = at_line_start && (piece == b"\r\n" || piece == b"\n");
        let Some(top) = self.stack.last_mut() else {
            return;
        };
        if let State::Header(lines) = &mut top.state {
            if blank {
                self.end_header(self.pos);
            } else {
                lines.push(piece, at_line_start);
            }
        }
    }

    /// The multipart (by stack level) whose boundary `line` (after `--`) starts,
    /// and whether it is the closing one. As Dovecot does, the longest matching
    /// boundary wins, and of equal ones the innermost.
    fn boundary(&self, line: &[u8]) -> Option<(usize, bool)> {
        let mut best: Option<(usize, usize)> = None;
        for (level, frame) in self.stack.iter().enumerate().rev() {
            if let State::Multipart {
                boundary: Some(boundary),
                ..
            } = &frame.state
                && line.starts_with(boundary)
                && best.is_none_or(|(_, len)| len < boundary.len())
            {
                best = Some((level, boundary.len()));
            }
        }
        // Dovecot only sees the closing `--` after boundaries of up to 80 characters;
        // after a longer one, the line opens another part.
        best.map(|(level, len)| (level, len <= 80 && line[len..].starts_with(b"--")))
    }

    /// A boundary line of the multipart at stack `level` starts at `start`.
    fn at_boundary(&mut self, level: usize, close: bool, start: u64, prev_eol: u64) {
        // The line end before a boundary belongs to it (RFC 2046), unless the part
        // is still in its header: then, as Dovecot counts, the header keeps it.
        let end = match self.stack.last() {
            Some(top) if matches!(top.state, State::Header(_)) => start,
            Some(top) => top.floor.max(start.saturating_sub(prev_eol)),
            None => start,
        };
        while self.stack.len() > level + 1 {
            self.close_top(end);
        }
        let line_end = self.pos;
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        let State::Multipart {
            boundary,
            digest,
            children,
        } = &mut frame.state
        else {
            return;
        };
        if close {
            *boundary = None;
            frame.floor = line_end;
            return;
        }
        *children += 1;
        let index = *children;
        let default_message = *digest;
        // A child is shown when its multipart is, is not too deep, and the count
        // allows; a child left out still counts, as in `structure::from_imap`.
        let shown = frame.node.is_some() && frame.depth < MAX_DEPTH;
        let id = if shown {
            self.count += 1;
            (self.count <= MAX_PARTS).then(|| child_id(frame.id.as_deref(), index))
        } else {
            None
        };
        let depth = frame.depth + 1;
        self.stack.push(Frame {
            state: State::Header(Box::default()),
            header_start: line_end,
            body_start: line_end,
            floor: line_end,
            node: None,
            id,
            depth,
            message_key: None,
            shares_id: false,
            default_message,
        });
    }

    /// The header block of the top entity ended; its body starts at `body_start`.
    fn end_header(&mut self, body_start: u64) {
        let tracked = self.stack.len() < TRACK_DEPTH;
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        let State::Header(lines) = std::mem::replace(&mut frame.state, State::Leaf) else {
            return;
        };
        frame.body_start = body_start;
        frame.floor = body_start;
        let fields = Fields::parse(&lines.kept);
        let content = fields.content_type(frame.default_message);
        let is_multipart = content.ty.eq_ignore_ascii_case("multipart") && content.valid;
        let is_message = content.ty.eq_ignore_ascii_case("message")
            && content.subtype.eq_ignore_ascii_case("rfc822")
            && content.valid;
        // The whole message's id depends on its type: `1`, or empty for a multipart.
        if frame.depth == 0 {
            self.count += 1;
            frame.id = Some(if is_multipart {
                String::new()
            } else {
                "1".to_owned()
            });
        }
        if let Some(id) = &frame.id {
            let mut id = id.clone();
            if frame.shares_id && !is_multipart {
                // An attached single part is `id.1`; an attached multipart keeps `id`.
                id.push_str(".1");
                frame.shares_id = false;
            }
            frame.id = Some(id.clone());
            frame.node = Some(node(&fields, &content, id, frame.depth, is_multipart));
        }
        if tracked && is_multipart {
            if frame.node.is_some() && frame.depth >= MAX_DEPTH {
                self.too_deep = true;
            }
            frame.state = State::Multipart {
                boundary: content
                    .boundary()
                    .filter(|b| b.len() <= MAX_BOUNDARY)
                    .map(|b| b.as_bytes().to_vec()),
                digest: content.subtype.eq_ignore_ascii_case("digest"),
                children: 0,
            };
        } else if tracked && is_message {
            frame.state = State::Message;
            let depth = frame.depth + 1;
            let message_key = frame.id.clone();
            let id = match (&frame.node, &frame.id) {
                (Some(_), Some(id)) if depth <= MAX_DEPTH && self.count < MAX_PARTS => {
                    self.count += 1;
                    Some(id.clone())
                }
                (Some(_), _) => {
                    self.too_deep |= depth > MAX_DEPTH;
                    None
                }
                _ => None,
            };
            self.stack.push(Frame {
                state: State::Header(Box::default()),
                header_start: body_start,
                body_start,
                floor: body_start,
                node: None,
                shares_id: id.is_some(),
                id,
                depth,
                message_key,
                default_message: false,
            });
        }
    }

    /// The top entity ends at `end`: its node goes to its parent, its sections are
    /// kept.
    fn close_top(&mut self, end: u64) {
        if matches!(self.stack.last().map(|f| &f.state), Some(State::Header(_))) {
            // Ended inside its header (by a boundary or the end of the file): all of
            // it is header, and the body is empty.
            self.end_header(end);
            if matches!(self.stack.last().map(|f| &f.state), Some(State::Header(_))) {
                // `end_header` opened an attached message's header: it is empty.
                self.close_top(end);
            }
        }
        let Some(mut frame) = self.stack.pop() else {
            return;
        };
        let body = frame.body_start..end.max(frame.body_start);
        // Dovecot describes a multipart without parts as having one empty text/plain
        // part; it counts like any other.
        if let (State::Multipart { children: 0, .. }, Some(node)) = (&frame.state, &mut frame.node)
            && frame.depth < MAX_DEPTH
        {
            self.count += 1;
            if self.count <= MAX_PARTS
                && let Kind::Multipart(children) = &mut node.kind
            {
                let id = child_id(Some(&node.id), 1);
                children.push(empty_part(id.clone(), frame.depth + 1));
                self.parts.insert(
                    id,
                    Section {
                        header: end..end,
                        body: end..end,
                    },
                );
            }
        }
        if let Some(node) = &mut frame.node {
            node.size = match node.kind {
                Kind::Multipart(_) => 0,
                Kind::Leaf | Kind::Message(_) => body.end - body.start,
            };
        }
        let section = Section {
            header: frame.header_start..frame.body_start,
            body,
        };
        // The whole multipart message has no part of its own; a multipart that is
        // an attached message's body shares the attached part's id.
        let is_multipart = matches!(frame.state, State::Multipart { .. });
        if let Some(id) = frame
            .id
            .filter(|_| !(is_multipart && frame.message_key.is_some()))
        {
            self.parts.insert(id, section.clone());
        }
        if let Some(key) = frame.message_key {
            self.messages.insert(key, section);
        }
        let Some(node) = frame.node else {
            return;
        };
        match self
            .stack
            .last_mut()
            .and_then(|parent| parent.node.as_mut())
        {
            Some(Node {
                kind: Kind::Multipart(children),
                ..
            }) => children.push(node),
            Some(Node {
                kind: Kind::Message(inner),
                ..
            }) => *inner = Some(Box::new(node)),
            Some(_) => {}
            None => self.root = Some(node),
        }
    }

    fn finish(mut self) -> Scanned {
        let end = self.pos;
        while !self.stack.is_empty() {
            self.close_top(end);
        }
        let mut notes = Vec::new();
        if self.too_deep {
            notes.push(Note::NestedTooDeep);
        }
        if self.count > MAX_PARTS {
            notes.push(Note::TooManyParts {
                shown: MAX_PARTS as u32,
            });
        }
        Scanned {
            root: self.root.unwrap_or_else(|| empty_part("1".to_owned(), 0)),
            notes,
            size: end,
            parts: self.parts,
            messages: self.messages,
        }
    }
}

fn child_id(parent: Option<&str>, index: usize) -> String {
    match parent {
        None | Some("") => index.to_string(),
        Some(parent) => format!("{parent}.{index}"),
    }
}

/// What Dovecot gives for a multipart without parts: an empty text/plain.
fn empty_part(id: String, depth: u32) -> Node {
    Node {
        id,
        mime: "text/plain".to_owned(),
        charset: Some("us-ascii".to_owned()),
        name: None,
        disposition: None,
        content_id: None,
        encoding: Encoding::Identity,
        size: 0,
        depth,
        kind: Kind::Leaf,
    }
}

fn node(fields: &Fields, content: &ContentType, id: String, depth: u32, multipart: bool) -> Node {
    let mime = format!("{}/{}", content.ty, content.subtype).to_ascii_lowercase();
    let (disposition, disposition_params) = match &fields.disposition {
        Some(value) => {
            let (ty, params) = parse_disposition(value);
            (Some(ty), params)
        }
        None => (None, Vec::new()),
    };
    let (name, charset) = structure::decode_params(
        &mime,
        &content.params,
        disposition.as_deref(),
        &disposition_params,
    );
    let is_message = content.ty.eq_ignore_ascii_case("message")
        && content.subtype.eq_ignore_ascii_case("rfc822");
    Node {
        id,
        mime,
        charset,
        name,
        disposition: disposition.map(|d| d.to_ascii_lowercase()),
        content_id: if multipart {
            None
        } else {
            fields
                .content_id
                .as_deref()
                .map(|raw| structure::content_id(&as_imap_reads(text(raw))))
        },
        encoding: if multipart {
            Encoding::Identity
        } else {
            fields
                .encoding
                .as_deref()
                .map_or(Encoding::Identity, |raw| {
                    structure::encoding_named(&token_text(raw))
                })
        },
        size: 0,
        depth,
        kind: if multipart {
            Kind::Multipart(Vec::new())
        } else if is_message && content.valid {
            Kind::Message(None)
        } else {
            Kind::Leaf
        },
    }
}

/// The `Content-*` lines of one header block, unfolded lines kept as they came.
#[derive(Debug, Default)]
struct HeaderLines {
    /// Each kept field: its lines, joined.
    kept: Vec<Vec<u8>>,
    /// Whether the field being read is kept.
    keeping: bool,
    bytes: usize,
}

impl HeaderLines {
    fn push(&mut self, piece: &[u8], at_line_start: bool) {
        let continues = !at_line_start || matches!(piece.first(), Some(b' ' | b'\t'));
        if !continues {
            self.keeping = piece.len() >= 8 && piece[..8].eq_ignore_ascii_case(b"content-");
            if self.keeping && self.bytes + piece.len() <= HEADER_CAP {
                self.kept.push(Vec::new());
            } else {
                self.keeping = false;
            }
        }
        if self.keeping && self.bytes + piece.len() <= HEADER_CAP {
            self.bytes += piece.len();
            if let Some(field) = self.kept.last_mut() {
                field.extend_from_slice(piece);
            }
        } else {
            self.keeping = false;
        }
    }
}

/// The header fields the structure needs, chosen as Dovecot chooses among repeated
/// ones: the first Content-Type, Content-Transfer-Encoding and Content-ID, the last
/// Content-Disposition.
#[derive(Debug, Default)]
struct Fields {
    content_type: Option<Vec<u8>>,
    encoding: Option<Vec<u8>>,
    disposition: Option<Vec<u8>>,
    content_id: Option<Vec<u8>>,
}

impl Fields {
    fn parse(kept: &[Vec<u8>]) -> Self {
        let mut fields = Fields::default();
        for field in kept {
            let Some(colon) = field.iter().position(|&b| b == b':') else {
                continue;
            };
            let name = field[..colon].trim_ascii_end();
            let value = field[colon + 1..].to_vec();
            let slot = if name.eq_ignore_ascii_case(b"content-type") {
                &mut fields.content_type
            } else if name.eq_ignore_ascii_case(b"content-transfer-encoding") {
                &mut fields.encoding
            } else if name.eq_ignore_ascii_case(b"content-id") {
                &mut fields.content_id
            } else if name.eq_ignore_ascii_case(b"content-disposition") {
                fields.disposition = Some(value);
                continue;
            } else {
                continue;
            };
            slot.get_or_insert(value);
        }
        fields
    }

    fn content_type(&self, default_message: bool) -> ContentType {
        let mut content = match &self.content_type {
            Some(value) => parse_content_type(value),
            None if default_message => ContentType {
                ty: "message".to_owned(),
                subtype: "rfc822".to_owned(),
                params: Vec::new(),
                valid: true,
            },
            None => ContentType {
                ty: "text".to_owned(),
                subtype: "plain".to_owned(),
                params: Vec::new(),
                valid: true,
            },
        };
        // Dovecot names the default charset of text parts.
        if content.ty.eq_ignore_ascii_case("text")
            && !content
                .params
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("charset"))
        {
            content
                .params
                .push((Cow::Borrowed("charset"), Cow::Borrowed("us-ascii")));
        }
        content
    }
}

type Params = Vec<(Cow<'static, str>, Cow<'static, str>)>;

#[derive(Debug)]
struct ContentType {
    ty: String,
    subtype: String,
    params: Params,
    /// Whether it parsed; Dovecot reads a broken one as neither multipart nor
    /// message, and keeps none of its parameters.
    valid: bool,
}

impl ContentType {
    fn boundary(&self) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
            .map(|(_, v)| v.as_ref())
    }
}

/// Reads `type/subtype; params` as Dovecot's RFC 822 parser does, including what it
/// makes of broken values (`foo` is type `foo` with an empty subtype; anything else
/// broken is empty).
fn parse_content_type(value: &[u8]) -> ContentType {
    let broken = |ty: String| ContentType {
        ty,
        subtype: String::new(),
        params: Vec::new(),
        valid: false,
    };
    let mut p = Parser {
        data: value,
        pos: 0,
    };
    p.skip_lwsp();
    let ty = p.token();
    if ty.is_empty() {
        return broken(String::new());
    }
    p.skip_lwsp();
    if p.at_end() {
        return broken(text(&ty));
    }
    if p.peek() != Some(b'/') {
        return broken(String::new());
    }
    p.pos += 1;
    p.skip_lwsp();
    let subtype = p.token();
    p.skip_lwsp();
    if subtype.is_empty() || !(p.at_end() || p.peek() == Some(b';')) {
        return broken(String::new());
    }
    ContentType {
        ty: text(&ty),
        subtype: text(&subtype),
        params: p.params(),
        valid: true,
    }
}

fn parse_disposition(value: &[u8]) -> (String, Params) {
    let mut p = Parser {
        data: value,
        pos: 0,
    };
    p.skip_lwsp();
    let ty = text(&p.token());
    p.skip_lwsp();
    (ty, p.params())
}

/// Bytes from a header as text; invalid UTF-8 is replaced, line breaks dropped.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .collect()
}

/// A string as `structure::from_imap` receives it: Dovecot sends an ASCII string
/// as a quoted string, escaping `"` and `\`, and imap-proto keeps the escapes.
/// (Strings with 8-bit text come as literals, unescaped.)
fn as_imap_reads(value: String) -> String {
    if !value.is_ascii() || !value.contains(['"', '\\']) {
        return value;
    }
    let mut escaped = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        if c == '"' || c == '\\' {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The first token of a value such as a transfer encoding.
fn token_text(value: &[u8]) -> String {
    let mut p = Parser {
        data: value,
        pos: 0,
    };
    p.skip_lwsp();
    text(&p.token())
}

/// A cursor over a structured header value (RFC 2045 tokens, quoted strings,
/// comments), after Dovecot's `rfc822-parser`.
struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Skips white space, line breaks and (nested) comments.
    fn skip_lwsp(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'(' => {
                    let mut level = 0usize;
                    while let Some(b) = self.peek() {
                        self.pos += 1;
                        match b {
                            // An escape at the very end escapes nothing.
                            b'\\' => self.pos = (self.pos + 1).min(self.data.len()),
                            b'(' => level += 1,
                            b')' => {
                                level -= 1;
                                if level == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => break,
            }
        }
    }

    fn token(&mut self) -> Vec<u8> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b <= b' ' || b == 0x7f || b"()<>@,;:\\\"/[]?=".contains(&b) {
                break;
            }
            self.pos += 1;
        }
        self.data[start..self.pos].to_vec()
    }

    fn quoted(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.pos += 1;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(b) = self.peek() {
                        out.push(b);
                        self.pos += 1;
                    }
                }
                b'\r' | b'\n' => {}
                _ => out.push(b),
            }
        }
        out
    }

    /// One `; key=value`, or `None` where it is broken.
    fn param(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        if self.peek() != Some(b';') {
            return None;
        }
        self.pos += 1;
        self.skip_lwsp();
        let key = self.token();
        self.skip_lwsp();
        if key.is_empty() || self.peek() != Some(b'=') {
            return None;
        }
        self.pos += 1;
        self.skip_lwsp();
        let value = match self.peek() {
            None => Vec::new(),
            Some(b'"') => self.quoted(),
            // Dovecot takes `name==?utf-8?b?...?=` as it comes.
            Some(b'=') => {
                let start = self.pos;
                while let Some(b) = self.peek() {
                    if matches!(b, b';' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    self.pos += 1;
                }
                self.data[start..self.pos].to_vec()
            }
            Some(_) => self.token(),
        };
        self.skip_lwsp();
        Some((key, value))
    }

    /// The parameters, with RFC 2231 continuations joined (`name*0*`, `name*1`
    /// become one `name*`), as Dovecot gives them in `BODYSTRUCTURE`. A broken
    /// parameter is skipped one character at a time, as Dovecot does.
    fn params(&mut self) -> Params {
        let mut plain: Params = Vec::new();
        // (name, index, extended, value), in order of appearance.
        let mut continued: Vec<(String, u32, bool, String)> = Vec::new();
        while !self.at_end() {
            let Some((key, value)) = self.param() else {
                self.pos += 1;
                continue;
            };
            let key = text(&key);
            let value = as_imap_reads(text(&value));
            if plain.len() + continued.len() >= 64 {
                continue;
            }
            match continuation(&key) {
                Some((name, index, extended)) => {
                    continued.push((name.to_owned(), index, extended, value));
                }
                None => plain.push((Cow::Owned(key), Cow::Owned(value))),
            }
        }
        let mut names: Vec<&str> = Vec::new();
        for (name, ..) in &continued {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        for name in names {
            let mut segments: Vec<_> = continued.iter().filter(|c| c.0 == name).collect();
            segments.sort_by_key(|c| c.1);
            let extended = segments.first().is_some_and(|c| c.2);
            let value: String = segments.iter().map(|c| c.3.as_str()).collect();
            let key = if extended {
                format!("{name}*")
            } else {
                name.to_owned()
            };
            plain.push((Cow::Owned(key), Cow::Owned(value)));
        }
        plain
    }
}

/// `name*3*` is `(name, 3, true)`, `name*3` is `(name, 3, false)`; `name*` alone
/// is no continuation.
fn continuation(key: &str) -> Option<(&str, u32, bool)> {
    let (name, rest) = key.split_once('*')?;
    let (index, extended) = match rest.strip_suffix('*') {
        Some(index) => (index, true),
        None => (rest, false),
    };
    let index = index.parse().ok()?;
    Some((name, index, extended))
}

#[cfg(test)]
mod tests;
