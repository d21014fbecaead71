//! Turning a fetched part into what the reading pane shows, whatever protocol it came
//! over: decoding, sanitizing HTML, bounding the size of the reply.

use std::collections::HashMap;

use protocol::{Body, BodyContent, Note};

use super::decode;
use super::sanitize::{self, Links};
use super::structure::{Kind, Node};

/// How much of a displayed part is fetched, encoded. Longer parts are cut, with a note.
pub const MAX_DISPLAY_FETCH: u64 = 1 << 20;
/// The largest body sent to the browser, as JSON, leaving room in a frame for the
/// headers and part list.
const MAX_BODY_BYTES: usize = 640 * 1024;

/// Decodes and, for HTML, sanitizes the first bytes of `node`. `root` is the message
/// the part belongs to, whose related images `cid:` links may name.
pub fn render(node: &Node, root: &Node, bytes: &[u8], links: &Links) -> Body {
    let truncated = node.size > bytes.len() as u64;
    let decoded = decode::text(
        bytes,
        node.encoding,
        node.charset.as_deref(),
        node.is_html(),
    );
    let mut notes = Vec::new();
    if decoded.damaged {
        notes.push(Note::DamagedEncoding);
    }
    if let Some(charset) = decoded.unknown_charset {
        notes.push(Note::UnknownCharset { charset });
    }
    let mut body = Body {
        part: node.id.clone(),
        content: BodyContent::Text {
            text: String::new(),
        },
        blocked_remote: 0,
        remote_loaded: false,
        truncated,
        notes,
    };
    if node.is_html() {
        let inline = content_ids(root);
        let mut source = decoded.text.as_str();
        loop {
            let sanitized = sanitize::html(source, links, &inline);
            if json_len(&sanitized.document) <= MAX_BODY_BYTES || source.is_empty() {
                body.content = BodyContent::Html {
                    document: sanitized.document,
                };
                body.blocked_remote = sanitized.blocked_remote;
                body.remote_loaded = links.remote;
                break;
            }
            source = cut(source, source.len() / 2);
            body.truncated = true;
        }
    } else {
        let mut text = cut(&decoded.text, MAX_BODY_BYTES);
        while json_len(text) > MAX_BODY_BYTES {
            text = cut(text, text.len() * 3 / 4);
        }
        body.truncated |= text.len() < decoded.text.len();
        body.content = BodyContent::Text {
            text: text.to_owned(),
        };
    }
    body
}

/// The length of `text` as a JSON string, escapes included.
fn json_len(text: &str) -> usize {
    serde_json::to_string(text).map_or(usize::MAX, |json| json.len())
}

/// Content-IDs of every part in the message (not in attached messages), by section.
fn content_ids(root: &Node) -> HashMap<String, String> {
    fn walk(node: &Node, out: &mut HashMap<String, String>) {
        match &node.kind {
            Kind::Leaf => {
                if let Some(cid) = &node.content_id {
                    out.entry(cid.clone()).or_insert_with(|| node.id.clone());
                }
            }
            Kind::Multipart(children) => children.iter().for_each(|c| walk(c, out)),
            Kind::Message(_) => {}
        }
    }
    let mut out = HashMap::new();
    walk(root, &mut out);
    out
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Checks a section number from the browser: digits separated by dots, nothing else,
/// so it can go into a command line as it is.
pub fn parse_section(section: &str) -> Option<Vec<u32>> {
    if section.is_empty() || section.len() > 200 {
        return None;
    }
    section
        .split('.')
        .map(|n| {
            (!n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit()))
                .then(|| n.parse().ok())
                .flatten()
                .filter(|&n| n > 0)
        })
        .collect()
}

/// The exact decoded size of a base64 part from its encoded size and a sample of
/// its first and last bytes, assuming the even line lengths every mail program
/// writes. `None` when the sample does not fit that pattern.
pub fn base64_decoded_size(size: u64, head: &[u8], tail: &[u8]) -> Option<u64> {
    let is_symbol = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    if size == head.len() as u64 {
        let symbols = head.iter().filter(|b| is_symbol(b)).count() as u64;
        let padding = head
            .iter()
            .rev()
            .filter(|b| !b.is_ascii_whitespace())
            .take_while(|&&b| b == b'=')
            .count() as u64;
        return symbols.is_multiple_of(4).then(|| symbols / 4 * 3 - padding);
    }
    // Line length and terminator, from the first line; every full line in the head
    // must match them.
    let first_break = head.iter().position(|&b| b == b'\n')?;
    let crlf = first_break > 0 && head[first_break - 1] == b'\r';
    let line = if crlf { first_break - 1 } else { first_break } as u64;
    let stride = line + if crlf { 2 } else { 1 };
    let terminator: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let full_lines = head.len() as u64 / stride;
    for i in 0..full_lines as usize {
        let start = i * stride as usize;
        let row = &head[start..start + stride as usize];
        if !row[..line as usize].iter().all(is_symbol) || &row[line as usize..] != terminator {
            return None;
        }
    }
    // The last line: its symbols, what follows it, and its padding.
    let trimmed_len = tail.iter().rposition(|b| !b.is_ascii_whitespace())? + 1;
    let trailing = (tail.len() - trimmed_len) as u64;
    let last_start = tail[..trimmed_len]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    if last_start == 0 && (tail.len() as u64) < size {
        return None;
    }
    let last = &tail[last_start..trimmed_len];
    if last.is_empty() || last.len() as u64 > line || !last.iter().all(is_symbol) {
        return None;
    }
    let padding = last.iter().rev().take_while(|&&b| b == b'=').count() as u64;
    let before = size.checked_sub(trailing + last.len() as u64)?;
    if before % stride != 0 {
        return None;
    }
    let symbols = before / stride * line + last.len() as u64;
    symbols.is_multiple_of(4).then(|| symbols / 4 * 3 - padding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn sections_from_the_browser_are_digits_and_dots() {
        assert_eq!(parse_section("1.2.10"), Some(vec![1, 2, 10]));
        for bad in [
            "",
            "1..2",
            "1.",
            "0",
            "1 BODY[]",
            "1\r\n",
            "a",
            "99999999999",
        ] {
            assert_eq!(parse_section(bad), None, "{bad:?}");
        }
    }

    fn wrapped(data: &[u8], width: usize, newline: &str, trailing: bool) -> Vec<u8> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        let mut out = encoded
            .as_bytes()
            .chunks(width)
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect::<Vec<_>>()
            .join(newline);
        if trailing {
            out.push_str(newline);
        }
        out.into_bytes()
    }

    #[test]
    fn base64_sizes_are_exact_for_regular_lines() {
        for len in [0usize, 1, 2, 3, 56, 57, 58, 1000, 5000, 100_001] {
            for (width, newline, trailing) in [
                (76, "\r\n", true),
                (76, "\r\n", false),
                (64, "\n", true),
                (72, "\n", false),
            ] {
                let data = vec![7u8; len];
                let encoded = wrapped(&data, width, newline, trailing);
                let head = &encoded[..encoded.len().min(4096)];
                let tail = &encoded[encoded.len().saturating_sub(200)..];
                let expected = if encoded.is_empty() {
                    Some(0)
                } else {
                    Some(len as u64)
                };
                assert_eq!(
                    base64_decoded_size(encoded.len() as u64, head, tail),
                    expected,
                    "{len} {width} {trailing}"
                );
            }
        }
    }

    #[test]
    fn irregular_base64_has_no_size() {
        let mut encoded = wrapped(&[1u8; 10_000], 76, "\r\n", true);
        encoded.splice(100..100, *b"AAAA\r\n");
        let head = &encoded[..4096];
        let tail = &encoded[encoded.len() - 200..];
        assert_eq!(base64_decoded_size(encoded.len() as u64, head, tail), None);
    }
}
