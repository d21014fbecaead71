//! One message's list entry, from a FETCH of its flags, size and a few header fields.
//! mail-parser decodes RFC 2047 words, charsets and 8-bit headers.

use async_imap::types::{Fetch, Flag as ImapFlag};
use mail_parser::{Addr, Address as ParsedAddress, MessageParser, MimeHeaders};
use protocol::{Address, Flag, MessageHeader};

/// Bounds on what one list entry carries, so that a hostile message cannot bloat a
/// header window past the WebSocket frame limit.
const MAX_SUBJECT_CHARS: usize = 500;
const MAX_NAME_CHARS: usize = 200;
const MAX_EMAIL_CHARS: usize = 320;
const MAX_RECIPIENTS: usize = 10;
const MAX_KEYWORDS: usize = 20;

/// The list entry for one FETCH response; `None` without a UID.
pub fn header_from_fetch(fetch: &Fetch) -> Option<MessageHeader> {
    Some(header_from_raw(
        fetch.uid?,
        fetch.header().unwrap_or_default(),
        flags(fetch),
        fetch.size.unwrap_or(0),
        fetch.internal_date().map(|d| d.timestamp()),
    ))
}

/// What grouping into conversations needs of a message, from its raw
/// `Message-ID`, `References` and `In-Reply-To` fields.
pub fn threaded_from_raw(uid: u32, raw: &[u8]) -> super::thread::Threaded {
    use super::thread::message_ids;
    let text = String::from_utf8_lossy(raw);
    // Unfolded: a line that starts with white space goes on the one before.
    let mut fields: Vec<String> = Vec::new();
    for line in text.split("\r\n").flat_map(|l| l.split('\n')) {
        match fields.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => last.push_str(line),
            _ => fields.push(line.to_owned()),
        }
    }
    let field = |name: &str| {
        fields.iter().find_map(|f| {
            let (key, value) = f.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.to_owned())
        })
    };
    let mut references = field("References")
        .map(|v| message_ids(&v))
        .unwrap_or_default();
    if references.is_empty() {
        references = field("In-Reply-To")
            .map(|v| message_ids(&v))
            .unwrap_or_default()
            .into_iter()
            .take(1)
            .collect();
    }
    super::thread::Threaded {
        uid,
        message_id: field("Message-ID").and_then(|v| message_ids(&v).into_iter().next()),
        references,
    }
}

/// The list entry for a message from its raw header block, whatever protocol read
/// it; `arrived` stands in for a missing or unreadable `Date`.
pub fn header_from_raw(
    uid: u32,
    raw: &[u8],
    flags: Vec<Flag>,
    size: u32,
    arrived: Option<i64>,
) -> MessageHeader {
    let parsed = MessageParser::new().parse_headers(raw);
    let (from, to, subject, date, has_attachments) = match &parsed {
        Some(message) => (
            addresses(message.from()),
            addresses(message.to()),
            message.subject().unwrap_or_default().to_owned(),
            message.date().map(|d| d.to_timestamp()),
            message
                .parts
                .first()
                .and_then(|part| part.content_type())
                .is_some_and(|ct| suggests_attachments(ct.ctype(), ct.subtype())),
        ),
        None => (Vec::new(), Vec::new(), String::new(), None, false),
    };
    MessageHeader {
        uid,
        from,
        to,
        subject: clip(subject.trim(), MAX_SUBJECT_CHARS),
        date: date.or(arrived).unwrap_or(0),
        flags,
        size,
        has_attachments,
    }
}

/// Whether a message's top-level type suggests attachments. A mixed multipart almost
/// always carries them; a top-level non-text part is one. Opening the message gives
/// the exact answer from its structure.
fn suggests_attachments(ctype: &str, subtype: Option<&str>) -> bool {
    match ctype.to_ascii_lowercase().as_str() {
        "multipart" => subtype.is_some_and(|s| s.eq_ignore_ascii_case("mixed")),
        "text" => false,
        _ => true,
    }
}

/// The headers the reading pane shows, decoded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ViewHeaders {
    pub subject: String,
    pub from: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub date: Option<i64>,
    pub threading: super::compose::Threading,
}

/// Recipients shown when a message is opened; the list shows fewer.
const MAX_VIEW_RECIPIENTS: usize = 200;

/// Decodes a message's header block for the reading pane.
pub fn view_headers(raw: &[u8]) -> ViewHeaders {
    let Some(message) = MessageParser::new().parse_headers(raw) else {
        return ViewHeaders::default();
    };
    let list = |parsed| {
        let mut all = addresses_up_to(parsed, MAX_VIEW_RECIPIENTS);
        all.dedup();
        all
    };
    ViewHeaders {
        subject: clip(
            message.subject().unwrap_or_default().trim(),
            MAX_SUBJECT_CHARS * 4,
        ),
        from: list(message.from()),
        to: list(message.to()),
        cc: list(message.cc()),
        reply_to: list(message.reply_to()),
        date: message.date().map(|d| d.to_timestamp()),
        threading: super::compose::Threading {
            bcc: list(message.bcc()),
            draft_note: message
                .header_raw("X-Postern-Draft")
                .map(|v| clip(v.trim(), 1000)),
            ..threading(&message)
        },
    }
}

/// The most References kept for a reply: the first and the latest ones matter
/// (RFC 5322 3.6.4); a longer chain is cut in the middle.
const MAX_REFERENCES: usize = 30;

/// A message's Message-ID and References, where they are well-formed ids.
fn threading(message: &mail_parser::Message<'_>) -> super::compose::Threading {
    let id_ok = |id: &&str| {
        !id.is_empty()
            && id.len() <= 250
            && id.contains('@')
            && id
                .chars()
                .all(|c| c.is_ascii_graphic() && !"<>\\\"()[],;".contains(c))
    };
    let message_id = message.message_id().filter(id_ok).map(str::to_owned);
    let mut references: Vec<String> = message
        .references()
        .as_text_list()
        .unwrap_or_default()
        .iter()
        .map(|id| id.as_ref())
        .filter(id_ok)
        .map(str::to_owned)
        .collect();
    if references.len() > MAX_REFERENCES {
        references.drain(1..references.len() - (MAX_REFERENCES - 1));
    }
    super::compose::Threading {
        message_id,
        references,
        ..Default::default()
    }
}

fn addresses(parsed: Option<&ParsedAddress<'_>>) -> Vec<Address> {
    addresses_up_to(parsed, MAX_RECIPIENTS)
}

fn addresses_up_to(parsed: Option<&ParsedAddress<'_>>, max: usize) -> Vec<Address> {
    let Some(parsed) = parsed else {
        return Vec::new();
    };
    let all: Box<dyn Iterator<Item = &Addr<'_>>> = match parsed {
        ParsedAddress::List(list) => Box::new(list.iter()),
        ParsedAddress::Group(groups) => Box::new(groups.iter().flat_map(|g| g.addresses.iter())),
    };
    all.filter_map(|addr| {
        let name = addr
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| clip(n, MAX_NAME_CHARS));
        let email = clip(
            addr.address.as_deref().unwrap_or_default().trim(),
            MAX_EMAIL_CHARS,
        );
        (name.is_some() || !email.is_empty()).then_some(Address { name, email })
    })
    .take(max)
    .collect()
}

pub fn flags(fetch: &Fetch) -> Vec<Flag> {
    flags_from(fetch.flags())
}

/// The wire flags for IMAP flags: system flags, `$Forwarded`, and a bounded number
/// of keywords; `\Recent` and other backslash flags are left out.
pub fn flags_from<'a>(imap: impl Iterator<Item = ImapFlag<'a>>) -> Vec<Flag> {
    let mut keywords = 0;
    imap.filter_map(|flag| match flag {
        ImapFlag::Seen => Some(Flag::Seen),
        ImapFlag::Answered => Some(Flag::Answered),
        ImapFlag::Flagged => Some(Flag::Flagged),
        ImapFlag::Deleted => Some(Flag::Deleted),
        ImapFlag::Draft => Some(Flag::Draft),
        ImapFlag::Custom(name) if name.eq_ignore_ascii_case("$Forwarded") => Some(Flag::Forwarded),
        ImapFlag::Custom(name) if !name.starts_with('\\') && keywords < MAX_KEYWORDS => {
            keywords += 1;
            Some(Flag::Keyword(clip(&name, MAX_NAME_CHARS)))
        }
        _ => None,
    })
    .collect()
}

/// At most `max` characters, cut at a character boundary.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_hints_follow_the_top_level_type() {
        assert!(suggests_attachments("multipart", Some("mixed")));
        assert!(suggests_attachments("application", Some("pdf")));
        assert!(!suggests_attachments("multipart", Some("alternative")));
        assert!(!suggests_attachments("TEXT", Some("plain")));
    }

    #[test]
    fn clipping_respects_character_boundaries() {
        assert_eq!(clip("Grüße", 3), "Grü");
        assert_eq!(clip("ab", 5), "ab");
    }

    #[test]
    fn encoded_headers_are_decoded() {
        let raw = b"From: =?UTF-8?B?Wm/DqyBCcm9udMOr?= <zoe@example.org>\r\nTo: a@example.org, \"B\" <b@example.org>\r\nSubject: =?ISO-8859-1?Q?Caf=E9?= menu\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n\r\n";
        let message = MessageParser::new().parse_headers(raw).expect("parses");
        let from = addresses(message.from());
        assert_eq!(from[0].name.as_deref(), Some("Zoë Brontë"));
        assert_eq!(from[0].email, "zoe@example.org");
        assert_eq!(addresses(message.to()).len(), 2);
        assert_eq!(message.subject(), Some("Café menu"));
        assert_eq!(
            message.date().map(|d| d.to_timestamp()),
            Some(1_795_255_200)
        );
    }
}
