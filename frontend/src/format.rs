//! How values read on screen: senders, dates and sizes. Pure functions, so that they
//! are tested natively; the browser supplies the clock and time zone.

use protocol::Address;

/// The sender (or recipients) as a short label: names when known, else addresses.
pub fn people(addresses: &[Address]) -> String {
    let names: Vec<&str> = addresses
        .iter()
        .map(|a| {
            a.name
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(&a.email)
        })
        .filter(|n| !n.is_empty())
        .collect();
    match names.as_slice() {
        [] => "(unknown sender)".to_owned(),
        [one] => (*one).to_owned(),
        [first, rest @ ..] => format!("{first} +{}", rest.len()),
    }
}

/// A short, readable name for a content type.
pub fn kind_label(content_type: &str) -> String {
    let (kind, subtype) = content_type.split_once('/').unwrap_or((content_type, ""));
    match (kind, subtype) {
        ("application", "pdf") => "PDF".to_owned(),
        ("message", "rfc822") => "Email message".to_owned(),
        ("text", "calendar") => "Calendar invitation".to_owned(),
        ("image", _) => format!("{} image", subtype.to_ascii_uppercase()),
        ("text", _) => "Text".to_owned(),
        ("audio", _) => "Audio".to_owned(),
        ("video", _) => "Video".to_owned(),
        ("application", s) if s.contains("zip") || s.contains("compressed") => "Archive".to_owned(),
        _ => "File".to_owned(),
    }
}

/// One line of a plain-text message, split into text and links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextLine {
    /// How many `>` quote markers the line starts with.
    pub quote: usize,
    pub pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// A link; only `https:`, `http:` and `mailto:` ever become one.
    Link(String),
}

/// Splits plain text into lines with their quote depth and clickable links. The text
/// is never interpreted as markup: the view puts every piece in as text.
pub fn plain_text(text: &str) -> Vec<TextLine> {
    text.lines()
        .map(|line| {
            let quote = line
                .chars()
                .take_while(|c| *c == '>' || *c == ' ')
                .filter(|c| *c == '>')
                .count();
            TextLine {
                quote,
                pieces: linkify(line),
            }
        })
        .collect()
}

const LINK_SCHEMES: [&str; 3] = ["https://", "http://", "mailto:"];

fn linkify(line: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = line;
    while let Some(start) = next_link(rest) {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || "<>\"'`".contains(c))
            .unwrap_or(tail.len());
        // Punctuation that ends a sentence is not part of the link.
        let link = tail[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']']);
        let is_bare_scheme = LINK_SCHEMES.iter().any(|s| link.eq_ignore_ascii_case(s));
        if is_bare_scheme {
            push_text(&mut pieces, &rest[..start + link.len()]);
            rest = &rest[start + link.len()..];
            continue;
        }
        if start > 0 {
            push_text(&mut pieces, &rest[..start]);
        }
        pieces.push(Piece::Link(link.to_owned()));
        rest = &rest[start + link.len()..];
    }
    if !rest.is_empty() || pieces.is_empty() {
        push_text(&mut pieces, rest);
    }
    pieces
}

/// Adds text, joining it to text just before.
fn push_text(pieces: &mut Vec<Piece>, text: &str) {
    match pieces.last_mut() {
        Some(Piece::Text(last)) => last.push_str(text),
        _ => pieces.push(Piece::Text(text.to_owned())),
    }
}

/// Where the next link starts: a scheme at the start or after a non-word character.
fn next_link(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    LINK_SCHEMES
        .iter()
        .filter_map(|scheme| {
            lower.match_indices(scheme).map(|(i, _)| i).find(|&i| {
                i == 0
                    || !lower[..i]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_ascii_alphanumeric())
            })
        })
        .min()
}

/// How a message date is shown, relative to now, both in the viewer's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// Today: just the time.
    Time,
    /// This year: day and month.
    DayMonth,
    /// Earlier: the full date.
    Full,
}

/// Chooses the style from local (year, month, day) triples.
pub fn date_style(now: (i32, u32, u32), date: (i32, u32, u32)) -> DateStyle {
    if now == date {
        DateStyle::Time
    } else if now.0 == date.0 {
        DateStyle::DayMonth
    } else {
        DateStyle::Full
    }
}

/// A size in bytes, as people read it.
pub fn size(bytes: u64) -> String {
    // Integer arithmetic, rounded to nearest: float formatting would add 10 KB of
    // code to the app for this one function.
    const KB: u64 = 1024;
    if bytes < KB {
        format!("{bytes} B")
    } else if bytes < KB * KB {
        format!("{} KB", (bytes + KB / 2) / KB)
    } else {
        let tenths = (bytes * 10 + KB * KB / 2) / (KB * KB);
        format!("{}.{} MB", tenths / 10, tenths % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_finds_links_and_quotes_and_nothing_else() {
        let lines = plain_text(
            "See https://example.org/a?b=1&c=2. Or mailto:x@example.org!\n> > <b>quoted</b> javascript:alert(1)\nhttp:// alone",
        );
        assert_eq!(
            lines[0].pieces,
            [
                Piece::Text("See ".into()),
                Piece::Link("https://example.org/a?b=1&c=2".into()),
                Piece::Text(". Or ".into()),
                Piece::Link("mailto:x@example.org".into()),
                Piece::Text("!".into()),
            ]
        );
        assert_eq!(lines[1].quote, 2);
        assert_eq!(
            lines[1].pieces,
            [Piece::Text("> > <b>quoted</b> javascript:alert(1)".into())]
        );
        assert_eq!(lines[2].pieces, [Piece::Text("http:// alone".into())]);
    }

    fn addr(name: Option<&str>, email: &str) -> Address {
        Address {
            name: name.map(str::to_owned),
            email: email.into(),
        }
    }

    #[test]
    fn people_prefer_names_and_count_the_rest() {
        assert_eq!(people(&[addr(Some("Zoë"), "z@x")]), "Zoë");
        assert_eq!(
            people(&[addr(None, "z@x"), addr(Some("B"), "b@x")]),
            "z@x +1"
        );
        assert_eq!(people(&[]), "(unknown sender)");
    }

    #[test]
    fn dates_get_shorter_the_closer_they_are() {
        assert_eq!(date_style((2026, 11, 21), (2026, 11, 21)), DateStyle::Time);
        assert_eq!(
            date_style((2026, 11, 21), (2026, 1, 2)),
            DateStyle::DayMonth
        );
        assert_eq!(date_style((2026, 11, 21), (2025, 12, 31)), DateStyle::Full);
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(2048), "2 KB");
        assert_eq!(size(3 * 1024 * 1024 + 100_000), "3.1 MB");
    }
}

pub use protocol::is_label;

/// Whether a new label name can be an IMAP keyword: 1 to 100 printable ASCII
/// characters, none of them space or `(){%*"\]`, and not starting with `$`.
pub fn valid_label(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && !name.starts_with('$')
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b))
}

#[cfg(test)]
mod label_tests {
    use super::*;

    #[test]
    fn labels_are_keywords_people_set() {
        assert!(is_label("Work") && is_label("to-do"));
        assert!(!is_label("$Forwarded") && !is_label("NonJunk") && !is_label("\\Seen"));
        assert!(valid_label("Work") && valid_label("to-do_2027"));
        for bad in [
            "",
            "two words",
            "$x",
            "a(b",
            "quo\"te",
            "caf\u{e9}",
            "back\\slash",
        ] {
            assert!(!valid_label(bad), "{bad}");
        }
    }
}
