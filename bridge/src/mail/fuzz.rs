//! Entry points for fuzzing every parser that reads what a mail server or a browser
//! sends, one function a target. Each takes arbitrary bytes, must not panic, and
//! checks the property its parser promises where it has one. The `fuzz/` crate
//! drives them with libFuzzer (`cargo xtask fuzz`); the unit tests below replay the
//! seed corpora and the inputs of crashes once found.
//!
//! Built only for tests and with the `fuzzing` feature.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::imap_proto::{AttributeValue, Response};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use super::structure::{self, Encoding, Kind, Node};
use super::transport::{Bounded, Budget};
use super::{decode, headers, message, mime_scan, namespace, pop3, sanitize, search};

/// A fuzz target: arbitrary bytes in, a panic when a property breaks.
pub type Target = fn(&[u8]);

/// The targets by name, as the `fuzz/` crate and its corpora name them.
pub const TARGETS: &[(&str, Target)] = &[
    ("imap_framing", imap_framing),
    ("bodystructure", bodystructure),
    ("imap_answers", imap_answers),
    ("mime_scan", mime_scan),
    ("decode", decode),
    ("headers", headers),
    ("sanitize", sanitize),
    ("pop3_reader", pop3_reader),
    ("config", config),
    ("search_query", search_query),
    ("client_message", client_message),
];

/// The byte stream under an IMAP session, read in pieces of every size: the
/// line-length and nesting caps give the same verdict however the bytes arrive.
pub fn imap_framing(data: &[u8]) {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let whole = read_bounded(data, data.len().max(1));
    let pieces = read_bounded(data, usize::from(split % 61) + 1);
    assert_eq!(whole, pieces, "the caps depend on how the bytes were cut");
}

fn read_bounded(data: &[u8], piece: usize) -> bool {
    let reader = Pieces { data, piece };
    let mut stream = Bounded::new(reader, Budget::new());
    let mut sink = Vec::new();
    futures::executor::block_on(stream.read_to_end(&mut sink)).is_ok()
}

/// A reader that hands out at most `piece` bytes a read.
struct Pieces<'a> {
    data: &'a [u8],
    piece: usize,
}

impl AsyncRead for Pieces<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.piece.min(self.data.len()).min(buf.remaining());
        let (now, rest) = self.data.split_at(n);
        buf.put_slice(now);
        self.data = rest;
        Poll::Ready(Ok(()))
    }
}

/// A `BODYSTRUCTURE` as a server writes it, through the transport's caps (as the
/// session reads it) and imap-proto, to the part tree and its layout.
pub fn bodystructure(data: &[u8]) {
    let mut line = b"* 1 FETCH (UID 7 BODYSTRUCTURE ".to_vec();
    line.extend_from_slice(data);
    line.extend_from_slice(b")\r\n");
    if !read_bounded(&line, line.len()) {
        return;
    }
    let Ok((_, Response::Fetch(_, attributes))) = Response::parse(&line) else {
        return;
    };
    for attribute in &attributes {
        if let AttributeValue::BodyStructure(parsed) = attribute {
            let (root, _notes) = structure::from_imap(parsed);
            check_tree(&root);
            let _ = structure::layout(&root);
        }
    }
}

/// Every leaf and attached message of a tree can be found by its own id.
fn check_tree(root: &Node) {
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        let _ = node.decoded_size_estimate();
        match &node.kind {
            Kind::Multipart(children) => stack.extend(children),
            Kind::Leaf | Kind::Message(_) => {
                assert!(
                    root.find(&node.id).is_some(),
                    "part {:?} not found",
                    node.id
                );
            }
        }
    }
}

/// Single lines of a server's answers that the bridge reads by hand: `NAMESPACE`,
/// `SEARCH` and `ESEARCH`, and the section numbers in `BODY[...]`.
pub fn imap_answers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = namespace::parse(&text);
    if let Some(Ok(uids)) = search::answer_uids(&text, "A1") {
        let compact = search::compact(&uids);
        assert!(
            compact
                .bytes()
                .all(|b| b.is_ascii_digit() || b":,".contains(&b))
        );
    }
    let _ = message::parse_section(&text);
}

/// A whole message, scanned for its parts as POP3 and the spool read it: every
/// range it gives lies inside the message.
pub fn mime_scan(data: &[u8]) {
    let Ok(scanned) = mime_scan::scan(data) else {
        return;
    };
    assert_eq!(scanned.size, data.len() as u64);
    let within = |range: Option<std::ops::Range<u64>>| {
        if let Some(range) = range {
            assert!(
                range.start <= range.end && range.end <= scanned.size,
                "{range:?}"
            );
        }
    };
    within(scanned.header(None));
    within(scanned.text(None));
    let mut stack = vec![&scanned.root];
    while let Some(node) = stack.pop() {
        within(scanned.body(&node.id));
        within(scanned.mime(&node.id));
        match &node.kind {
            Kind::Leaf => {}
            Kind::Multipart(children) => stack.extend(children),
            Kind::Message(inner) => {
                within(scanned.header(Some(&node.id)));
                within(scanned.text(Some(&node.id)));
                stack.extend(inner.as_deref());
            }
        }
    }
    let _ = structure::layout(&scanned.root);
}

/// Transfer decoding and charsets: a part decoded in pieces of any size gives the
/// same bytes as decoded whole.
pub fn decode(data: &[u8]) {
    let [how, piece, data @ ..] = data else {
        return;
    };
    let encoding = match how % 3 {
        0 => Encoding::Identity,
        1 => Encoding::Base64,
        _ => Encoding::QuotedPrintable,
    };
    let mut whole = decode::StreamDecoder::new(encoding);
    let mut at_once = whole.feed(data);
    at_once.extend(whole.finish());
    let mut pieces = decode::StreamDecoder::new(encoding);
    let mut streamed = Vec::new();
    for chunk in data.chunks(usize::from(piece % 97) + 1) {
        streamed.extend(pieces.feed(chunk));
    }
    streamed.extend(pieces.finish());
    assert_eq!(
        at_once, streamed,
        "decoding depends on how the part was cut"
    );
    assert_eq!(whole.damaged(), pieces.damaged());
    const CHARSETS: &[Option<&str>] = &[
        None,
        Some("utf-8"),
        Some("iso-8859-1"),
        Some("windows-1252"),
        Some("iso-2022-jp"),
        Some("shift_jis"),
        Some("koi8-r"),
        Some("utf-16"),
        Some("x-unknown"),
    ];
    let charset = CHARSETS[usize::from(how / 3) % CHARSETS.len()];
    let _ = decode::text(data, encoding, charset, how & 0x80 != 0);
}

/// A header block, as the list, the reader and conversations read it.
pub fn headers(data: &[u8]) {
    let _ = headers::header_from_raw(1, data, Vec::new(), data.len() as u32, None);
    let _ = headers::view_headers(data);
    let _ = headers::threaded_from_raw(1, data);
}

/// A message's HTML, sanitized: read again as a browser would, the result holds no
/// script, no event handler, no link but to the web or mail (so no `javascript:`)
/// and nothing that loads from anywhere but the bridge's own `/mail/` path.
pub fn sanitize(data: &[u8]) {
    let html = String::from_utf8_lossy(data);
    let links = sanitize::Links {
        origin: "https://mail.example.org".to_owned(),
        path: "/mail/token".to_owned(),
        remote: data.first().is_some_and(|b| b & 1 == 1),
    };
    let inline = HashMap::from([("logo@example".to_owned(), "2".to_owned())]);
    let sanitized = sanitize::html(&html, &links, &inline);
    harmless::check(&sanitized.document, "https://mail.example.org/mail/token/");
}

/// The POP3 client's reader, fed `data` as everything the server says to a whole
/// session: greeting, capabilities, sign-in, listings and messages.
pub fn pop3_reader(data: &[u8]) {
    let stream = tokio::io::join(data, tokio::io::sink());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut pop3 = pop3::Pop3::new(stream, Duration::from_secs(1));
        if pop3.greeting().await.is_err() {
            return;
        }
        let _ = pop3.capa().await;
        if pop3.user_pass("user", "password").await.is_err() {
            return;
        }
        let _ = pop3.uidl().await;
        let _ = pop3.list().await;
        let _ = pop3.top(1, 64 << 10).await;
        let mut size = 0usize;
        let _ = pop3
            .retr(1, 1 << 20, |chunk| {
                size += chunk.len();
                Ok(())
            })
            .await;
        assert!(size <= 1 << 20, "RETR gave more than its cap");
        let _ = pop3.dele(1).await;
        let _ = pop3.quit().await;
    });
}

/// The configuration file. `session_key_file` is the one key whose reading writes
/// (it creates a missing key), so inputs naming it are left out.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.contains("session_key_file") {
        return;
    }
    let _ = crate::config::Config::parse(text, std::path::Path::new("/nonexistent"));
}

/// What a person types into search: no value of the IMAP program it becomes can
/// carry a control character onto the wire.
pub fn search_query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(query) = protocol::search::parse(&text) else {
        return;
    };
    let (kept, subtracted) = search::programs(&query);
    for arg in kept.iter().chain(subtracted.iter().flatten()) {
        if let search::Arg::Text(value) = arg {
            assert!(!value.chars().any(char::is_control), "{value:?}");
        }
    }
}

/// A message from the browser, decoded as the bridge's WebSocket does: what
/// decodes, encoded again, decodes to the same request.
pub fn client_message(data: &[u8]) {
    let Ok(message) = serde_json::from_slice::<protocol::ClientMessage>(data) else {
        return;
    };
    let again = serde_json::to_string(&message).expect("encodes");
    let back: protocol::ClientMessage = serde_json::from_str(&again).expect("decodes again");
    assert_eq!(back, message);
    let _ = message.request.may_repeat();
}

/// The property of sanitized HTML, checked on the document as html5ever (a
/// browser's parser) reads it back.
mod harmless {
    use html5ever::tendril::TendrilSink;
    use markup5ever_rcdom::{Handle, NodeData, RcDom};

    /// Elements that run, embed, submit or restyle, which sanitized mail never has.
    const FORBIDDEN: &[&str] = &[
        "script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input",
        "button", "textarea", "select", "base", "link", "svg", "math", "template", "video",
        "audio", "source", "track", "picture", "portal",
    ];

    pub fn check(document: &str, own: &str) {
        let dom = html5ever::parse_document(RcDom::default(), Default::default())
            .from_utf8()
            .one(document.as_bytes());
        let mut styles = 0;
        let mut metas = 0;
        walk(&dom.document, &mut |name, attributes| {
            assert!(!FORBIDDEN.contains(&name), "a <{name}> element survived");
            match name {
                // The wrapper's own: one style sheet and three meta elements.
                "style" => styles += 1,
                "meta" => metas += 1,
                _ => {}
            }
            for (attribute, value) in attributes {
                let lower: String = value
                    .chars()
                    .filter(|c| !c.is_whitespace() && !c.is_control())
                    .collect::<String>()
                    .to_ascii_lowercase();
                assert!(
                    !attribute.starts_with("on"),
                    "an {attribute} handler survived"
                );
                assert!(
                    !matches!(
                        attribute.as_str(),
                        "srcset" | "action" | "formaction" | "xmlns"
                    ),
                    "{attribute} survived"
                );
                match attribute.as_str() {
                    // What a browser loads by itself: only from the bridge.
                    "src" | "background" | "poster" | "lowsrc" | "dynsrc" | "data" | "codebase" => {
                        assert!(
                            value.starts_with(own),
                            "{name} {attribute}={value:?} loads elsewhere"
                        );
                    }
                    // What a click follows: the web and mail, never a script.
                    "href" | "cite" | "longdesc" | "xlink:href" => {
                        let safe = ["http://", "https://", "mailto:", "cid:"];
                        assert!(
                            safe.iter().any(|s| lower.starts_with(s)),
                            "{attribute}={value:?}"
                        );
                    }
                    "style" => {
                        // Functions that load or compute from elsewhere; a bare
                        // word is only a word.
                        for bad in [
                            "url(",
                            "expression(",
                            "@import",
                            "image-set(",
                            "image(",
                            "var(",
                            "env(",
                        ] {
                            assert!(!lower.contains(bad), "style {value:?}");
                        }
                    }
                    // Other attributes are inert text.
                    _ => {}
                }
            }
        });
        assert_eq!(styles, 1, "a <style> element survived");
        assert_eq!(metas, 3, "a <meta> element survived");
    }

    fn walk(node: &Handle, visit: &mut impl FnMut(&str, Vec<(String, String)>)) {
        if let NodeData::Element { name, attrs, .. } = &node.data {
            let attributes = attrs
                .borrow()
                .iter()
                .map(|a| {
                    (
                        a.name.local.to_ascii_lowercase().to_string(),
                        a.value.to_string(),
                    )
                })
                .collect();
            visit(&name.local.to_ascii_lowercase(), attributes);
        }
        if let NodeData::Element {
            template_contents, ..
        } = &node.data
            && let Some(contents) = template_contents.borrow().as_ref()
        {
            walk(contents, visit);
        }
        for child in node.children.borrow().iter() {
            walk(child, visit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The seed corpora and the crashes once found, under `fuzz/corpus/<target>`,
    /// and the MIME fixtures for the targets that read messages.
    fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut dirs = vec![root.join("fuzz/corpus").join(target)];
        if matches!(target, "mime_scan" | "headers") {
            dirs.push(root.join("tests/fixtures/mime"));
        }
        let mut found = Vec::new();
        for dir in dirs {
            let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}"));
            for entry in entries {
                let path = entry.expect("an entry").path();
                let bytes = std::fs::read(&path).expect("readable");
                found.push((path, bytes));
            }
        }
        found
    }

    #[test]
    fn every_target_passes_its_corpus() {
        for (target, run) in TARGETS {
            let inputs = inputs(target);
            assert!(!inputs.is_empty(), "{target} has no seeds");
            for (path, bytes) in inputs {
                let caught = std::panic::catch_unwind(|| run(&bytes));
                assert!(caught.is_ok(), "{target} fails on {}", path.display());
            }
        }
    }

    #[test]
    fn the_sanitizer_property_catches_what_it_should() {
        let own = "https://mail.example.org/mail/token/";
        let wrap = |body: &str| {
            format!(
                "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta name=a><meta name=b>\
                 <style>p{{}}</style></head><body>{body}</body></html>"
            )
        };
        harmless::check(
            &wrap("<p>fine <img src=\"https://mail.example.org/mail/token/inline/2\"></p>"),
            own,
        );
        for bad in [
            "<script>x</script>",
            "<p onclick=x>",
            "<a href=\" java\tscript:x\">",
            "<img src=\"https://evil.example/x\">",
            "<p style=\"background:url(x)\">",
            "<style>p{}</style>",
        ] {
            let caught = std::panic::catch_unwind(|| harmless::check(&wrap(bad), own));
            assert!(caught.is_err(), "{bad} passed");
        }
    }
}
