//! Transfer decoding (base64, quoted-printable) that works chunk by chunk, so a large
//! attachment is decoded as it streams, and charset decoding of text parts to UTF-8.

use base64::Engine;

use super::structure::Encoding;

/// Which bytes are base64 symbols (`A`–`Z`, `a`–`z`, `0`–`9`, `+`, `/`).
const BASE64_SYMBOL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/');
        b += 1;
    }
    table
};

/// Decodes a part's transfer encoding over consecutive chunks of its encoded bytes.
/// Damaged input is decoded as far as it goes; [`StreamDecoder::damaged`] says so.
#[derive(Debug)]
pub struct StreamDecoder {
    encoding: Encoding,
    /// Bytes held back until the next chunk completes them: up to three base64
    /// characters, or the start of a quoted-printable escape or soft line break.
    pending: Vec<u8>,
    damaged: bool,
}

impl StreamDecoder {
    pub fn new(encoding: Encoding) -> Self {
        StreamDecoder {
            encoding,
            pending: Vec::new(),
            damaged: false,
        }
    }

    /// Decodes `chunk`, returning what is complete.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        match self.encoding {
            Encoding::Identity => chunk.to_vec(),
            Encoding::Base64 => self.base64(chunk, false),
            Encoding::QuotedPrintable => self.quoted_printable(chunk, false),
        }
    }

    /// Decodes whatever was held back, at the end of the part.
    pub fn finish(&mut self) -> Vec<u8> {
        match self.encoding {
            Encoding::Identity => Vec::new(),
            Encoding::Base64 => self.base64(&[], true),
            Encoding::QuotedPrintable => self.quoted_printable(&[], true),
        }
    }

    /// True when some input could not be decoded.
    pub fn damaged(&self) -> bool {
        self.damaged
    }

    fn base64(&mut self, chunk: &[u8], last: bool) -> Vec<u8> {
        let mut symbols = std::mem::take(&mut self.pending);
        symbols.reserve(chunk.len());
        // Encoded lines are runs of symbols between line breaks: copied a run at a
        // time, which is several times faster than byte by byte on large parts.
        let mut rest = chunk;
        while !rest.is_empty() {
            let run = rest
                .iter()
                .position(|&b| !BASE64_SYMBOL[usize::from(b)])
                .unwrap_or(rest.len());
            symbols.extend_from_slice(&rest[..run]);
            let Some((&other, after)) = rest[run..].split_first() else {
                break;
            };
            match other {
                // Padding ends a quantum; anything after it starts afresh (some
                // senders concatenate encoded blocks).
                b'=' => {}
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ => self.damaged = true,
            }
            rest = after;
        }
        let whole = if last {
            symbols.len()
        } else {
            symbols.len() / 4 * 4
        };
        self.pending = symbols.split_off(whole);
        if last && symbols.len() % 4 == 1 {
            // A lone final symbol carries no whole byte.
            symbols.pop();
            self.damaged = true;
        }
        match BASE64.decode(&symbols) {
            Ok(bytes) => bytes,
            Err(_) => {
                self.damaged = true;
                Vec::new()
            }
        }
    }

    fn quoted_printable(&mut self, chunk: &[u8], last: bool) -> Vec<u8> {
        let mut input = std::mem::take(&mut self.pending);
        input.extend_from_slice(chunk);
        let mut out = Vec::with_capacity(input.len());
        let mut i = 0;
        while i < input.len() {
            let byte = input[i];
            if byte != b'=' {
                out.push(byte);
                i += 1;
                continue;
            }
            let rest = &input[i + 1..];
            // An escape or soft break may be split across chunks: wait for more.
            if !last && rest.len() < 2 {
                break;
            }
            match rest {
                [b'\r', b'\n', ..] => i += 3,
                [b'\n', ..] => i += 2,
                [high, low, ..] if hex(*high).is_some() && hex(*low).is_some() => {
                    out.push(hex(*high).unwrap_or(0) << 4 | hex(*low).unwrap_or(0));
                    i += 3;
                }
                _ => {
                    // Whitespace between `=` and the line break is allowed (RFC 2045
                    // 6.7 rule 3); the break may not have arrived yet.
                    let blanks = rest
                        .iter()
                        .take_while(|&&b| b == b' ' || b == b'\t')
                        .count();
                    let after = &rest[blanks..];
                    let incomplete = after.is_empty() || after == b"\r";
                    if incomplete && !last {
                        break;
                    }
                    if after.starts_with(b"\r\n") {
                        i += 1 + blanks + 2;
                    } else if after.starts_with(b"\n") {
                        i += 1 + blanks + 1;
                    } else {
                        self.damaged = true;
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
        }
        self.pending = input.split_off(i.min(input.len()));
        out
    }
}

const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

fn hex(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

/// Decodes a whole (bounded) part: transfer encoding, then charset to UTF-8.
/// HTML without a charset in its MIME header is read in the one its `<meta>` names.
/// Returns the text and whether anything was damaged or the charset unknown.
pub fn text(bytes: &[u8], encoding: Encoding, charset: Option<&str>, html: bool) -> DecodedText {
    let mut decoder = StreamDecoder::new(encoding);
    let mut raw = decoder.feed(bytes);
    raw.extend(decoder.finish());
    let sniffed = match charset {
        None if html => meta_charset(&raw[..raw.len().min(4096)]),
        _ => None,
    };
    let (text, unknown_charset) = to_utf8(&raw, charset.or(sniffed.as_deref()));
    DecodedText {
        text,
        damaged: decoder.damaged(),
        unknown_charset,
    }
}

/// The charset an HTML document declares near its start (`<meta charset=...>` or
/// `content="text/html; charset=..."`).
fn meta_charset(head: &[u8]) -> Option<String> {
    let lower = head.to_ascii_lowercase();
    let at = lower.windows(8).position(|w| w == b"charset=")? + 8;
    let name: String = lower[at..]
        .iter()
        .skip_while(|&&b| b == b'"' || b == b'\'' || b == b' ')
        .take_while(|&&b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        .map(|&b| b as char)
        .collect();
    (!name.is_empty()).then_some(name)
}

#[derive(Debug, PartialEq, Eq)]
pub struct DecodedText {
    pub text: String,
    pub damaged: bool,
    /// The charset named by the part, when the bridge could not decode it.
    pub unknown_charset: Option<String>,
}

/// Converts text in `charset` to UTF-8. Unknown charsets are read as UTF-8 where
/// valid, else as Windows-1252, which maps every byte and is what mislabeled mail
/// most often is.
fn to_utf8(bytes: &[u8], charset: Option<&str>) -> (String, Option<String>) {
    let charset = charset.map(str::trim).filter(|c| !c.is_empty());
    match charset {
        None => (utf8_or_windows_1252(bytes), None),
        Some(name)
            if name.eq_ignore_ascii_case("utf-8")
                || name.eq_ignore_ascii_case("utf8")
                || name.eq_ignore_ascii_case("us-ascii") =>
        {
            (utf8_or_windows_1252(bytes), None)
        }
        Some(name) => {
            match mail_parser::decoders::charsets::map::charset_decoder(name.as_bytes()) {
                Some(decode) => (decode(bytes), None),
                None => (
                    utf8_or_windows_1252(bytes),
                    Some(name.chars().take(40).collect()),
                ),
            }
        }
    }
}

fn utf8_or_windows_1252(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => match mail_parser::decoders::charsets::map::charset_decoder(b"windows-1252") {
            Some(decode) => decode(bytes),
            None => String::from_utf8_lossy(bytes).into_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_chunks(encoding: Encoding, input: &[u8], size: usize) -> (Vec<u8>, bool) {
        let mut decoder = StreamDecoder::new(encoding);
        let mut out = Vec::new();
        for chunk in input.chunks(size) {
            out.extend(decoder.feed(chunk));
        }
        out.extend(decoder.finish());
        (out, decoder.damaged())
    }

    #[test]
    fn base64_decodes_the_same_in_any_chunking() {
        let original: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&original);
        let wrapped: Vec<u8> = encoded
            .as_bytes()
            .chunks(76)
            .flat_map(|line| line.iter().copied().chain(*b"\r\n"))
            .collect();
        for size in [1, 3, 4, 7, 77, 78, 1000, wrapped.len()] {
            assert_eq!(
                in_chunks(Encoding::Base64, &wrapped, size),
                (original.clone(), false),
                "{size}"
            );
        }
    }

    #[test]
    fn damaged_base64_decodes_what_it_can() {
        let (out, damaged) = in_chunks(Encoding::Base64, b"SGVsbG8*gd29ybGQ", 5);
        assert!(damaged);
        assert!(out.starts_with(b"Hello"));
    }

    #[test]
    fn quoted_printable_decodes_the_same_in_any_chunking() {
        let input = b"caf=C3=A9 au lait=\r\n, s'il vous pla=C3=AEt =  \r\nend=3D\r\nnext=\nline";
        let expected = "café au lait, s'il vous plaît end=\r\nnextline".as_bytes();
        for size in 1..input.len() {
            assert_eq!(
                in_chunks(Encoding::QuotedPrintable, input, size),
                (expected.to_vec(), false),
                "{size}"
            );
        }
    }

    #[test]
    fn stray_equals_signs_are_kept() {
        let (out, damaged) = in_chunks(Encoding::QuotedPrintable, b"a=zb=", 2);
        assert_eq!(out, b"a=zb=");
        assert!(damaged);
    }

    #[test]
    fn html_without_a_mime_charset_uses_its_meta() {
        let html = b"<html><head><meta charset=\"ISO-8859-1\"></head><body>caf\xe9</body>";
        assert!(
            text(html, Encoding::Identity, None, true)
                .text
                .contains("café")
        );
        let old = b"<meta http-equiv=Content-Type content='text/html; charset=windows-1252'>\x80";
        assert!(
            text(old, Encoding::Identity, None, true)
                .text
                .ends_with('€')
        );
        // The MIME header wins.
        let utf8 = "<meta charset=iso-8859-1>é".as_bytes();
        assert!(
            text(utf8, Encoding::Identity, Some("utf-8"), true)
                .text
                .ends_with('é')
        );
    }

    #[test]
    fn charsets_become_utf8() {
        assert_eq!(
            text(b"caf\xe9", Encoding::Identity, Some("ISO-8859-1"), false).text,
            "café"
        );
        assert_eq!(
            text(
                b"\x93quoted\x94 \x80",
                Encoding::Identity,
                Some("windows-1252"),
                false
            )
            .text,
            "\u{201c}quoted\u{201d} €"
        );
        assert_eq!(
            text(
                b"\x1b$B$3$s$K$A$O\x1b(B",
                Encoding::Identity,
                Some("iso-2022-jp"),
                false
            )
            .text,
            "こんにちは"
        );
        let unknown = text(b"plain \xe9", Encoding::Identity, Some("x-klingon"), false);
        assert_eq!(unknown.text, "plain é");
        assert_eq!(unknown.unknown_charset.as_deref(), Some("x-klingon"));
    }
}
