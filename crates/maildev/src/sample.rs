//! Sample mail: a message builder for tests, and the demo's mailbox of a few hundred
//! varied messages (plain, HTML, alternatives, attachments, encoded non-ASCII
//! headers, unread and flagged), generated deterministically.

use anyhow::{Context, Result};

use crate::ImapSession;

/// One message to append, with where it goes and how it is flagged.
#[derive(Debug, Clone)]
pub struct Sample {
    pub folder: String,
    /// IMAP flags, e.g. `["\\Seen", "\\Flagged"]`.
    pub flags: Vec<&'static str>,
    /// Seconds since the Unix epoch; used for `Date:` and the arrival time.
    pub date: i64,
    pub raw: Vec<u8>,
}

/// Appends the samples in order, so that UIDs follow the order given.
pub async fn append_all(session: &mut ImapSession, samples: &[Sample]) -> Result<()> {
    for sample in samples {
        let flags = format!("({})", sample.flags.join(" "));
        let date = format!("\"{}\"", imap_date(sample.date));
        session
            .append(
                mailbox_name(&sample.folder),
                Some(&flags),
                Some(&date),
                &sample.raw,
            )
            .await
            .with_context(|| format!("cannot append to {}", sample.folder))?;
    }
    Ok(())
}

/// Creates folders (parents before children); existing ones are left alone.
pub async fn create_folders(session: &mut ImapSession, names: &[&str]) -> Result<()> {
    for name in names {
        match session.create(mailbox_name(name)).await {
            Ok(()) | Err(async_imap::error::Error::No(_)) => {}
            Err(e) => return Err(e).with_context(|| format!("cannot create {name}")),
        }
    }
    Ok(())
}

/// The IMAP name (modified UTF-7) of a folder named in UTF-8.
pub fn mailbox_name(folder: &str) -> String {
    utf7_imap::encode_utf7_imap(folder.to_owned())
}

/// The headers every sample message has, already encoded as they go on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Headers<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    /// Seconds since the Unix epoch.
    pub date: i64,
}

impl Headers<'_> {
    fn lines(&self) -> String {
        format!(
            "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{}.{}@example.org>\r\nMIME-Version: 1.0\r\n",
            self.from,
            self.to,
            self.subject,
            rfc2822_date(self.date),
            self.date,
            self.subject.len(),
        )
    }
}

/// A file attached to a sample message.
#[derive(Debug, Clone, Copy)]
pub struct Attachment<'a> {
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub content: &'a [u8],
}

fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

/// A plain-text message.
pub fn plain(headers: &Headers, body: &str) -> Vec<u8> {
    format!(
        "{}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n",
        headers.lines(),
        crlf(body)
    )
    .into_bytes()
}

/// A multipart/mixed message with a text part and one base64 attachment.
pub fn with_attachment(headers: &Headers, body: &str, attachment: &Attachment) -> Vec<u8> {
    let boundary = format!("=_postern_{}", headers.date);
    let Attachment {
        file_name,
        content_type,
        content,
    } = attachment;
    format!(
        "{}Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\nThis is a multi-part message in MIME format.\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n--{boundary}\r\nContent-Type: {content_type}; name=\"{file_name}\"\r\nContent-Disposition: attachment; filename=\"{file_name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}--{boundary}--\r\n",
        headers.lines(),
        crlf(body),
        base64_lines(content),
    )
    .into_bytes()
}

/// A multipart/alternative message with a plain and an HTML version.
pub fn alternative(headers: &Headers, text: &str, html: &str) -> Vec<u8> {
    let boundary = format!("=_alt_{}", headers.date);
    format!(
        "{}Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n--{boundary}--\r\n",
        headers.lines(),
        crlf(text),
        crlf(html),
    )
    .into_bytes()
}

/// RFC 2047 `B` encoding of a UTF-8 phrase.
pub fn encoded_word(text: &str) -> String {
    format!("=?UTF-8?B?{}?=", base64(text.as_bytes()))
}

/// Folders of the demo mailbox beyond the special-use ones, parents first.
pub const DEMO_FOLDERS: [&str; 4] = ["Lists", "Lists/Rust", "Lists/Dovecot", "Projects/Ünïcode"];

const PEOPLE: [(&str, &str); 14] = [
    ("Ada Lovelace", "ada@analytical.example"),
    ("Grace Hopper", "grace@navy.example"),
    ("Linus Torvalds", "linus@kernel.example"),
    ("Margaret Hamilton", "margaret@apollo.example"),
    ("Ken Thompson", "ken@bell.example"),
    ("Barbara Liskov", "barbara@mit.example"),
    ("José Núñez", "jose@correo.example"),
    ("Zoë Brontë", "zoe@moors.example"),
    ("Søren Kierkegaard", "soren@copenhagen.example"),
    ("山田 太郎", "taro@yamada.example"),
    ("Дмитрий Иванов", "dmitry@mail.example"),
    ("GitHub", "noreply@github.example"),
    ("Calendar", "calendar@example.org"),
    ("Finance Team", "finance@example.org"),
];

const SUBJECTS: [&str; 24] = [
    "Quarterly report draft",
    "Lunch on Thursday?",
    "Re: Deployment plan for the new mail cluster",
    "Invitation: Architecture review",
    "Your invoice #2026-1142",
    "Photos from the offsite",
    "Re: Re: Naming the project",
    "Weekly digest",
    "Can you review my pull request?",
    "Flight confirmation",
    "Minutes of today's meeting",
    "Fwd: Conference talk accepted",
    "Reminder: expense reports due Friday",
    "Über die neue Datenschutzerklärung",
    "Café menu for next week ☕",
    "Résumé and cover letter",
    "会議の議事録",
    "Отчёт за месяц",
    "Release notes 1.4.0",
    "Security advisory: please update",
    "Happy birthday! 🎉",
    "Budget spreadsheet",
    "Question about IMAP IDLE",
    "Build failed on main",
];

const PARAGRAPHS: [&str; 6] = [
    "Thanks for the update. I had a look and it all seems reasonable to me; let's talk it through tomorrow.",
    "Attached is the latest version. The numbers in section 3 changed since last week, so please check them again.",
    "Quick reminder that we meet at 10:00 in the small room. Bring your laptop if you want to demo anything.",
    "I pushed a fix for the flaky test. The root cause was a race between the listener and the first connection.",
    "Could you send me the slides from yesterday? I would like to share them with the team.",
    "Here is the summary you asked for. Nothing urgent, read it whenever you have a minute.",
];

/// A tiny but valid PNG (1×1, grey), for image attachments.
const PNG: [u8; 67] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x3a, 0x7e, 0x9b,
    0x55, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x68, 0x00, 0x00, 0x00,
    0x82, 0x00, 0x81, 0x77, 0xcd, 0x72, 0xb6, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

/// The demo mailbox for `user@example.org`, with `now` as the newest date.
pub fn demo_mailbox(now: i64) -> Vec<Sample> {
    let me = "Demo User <demo@example.org>";
    let mut rng = Lcg(0x5eed);
    let mut samples = Vec::new();
    let plan: [(&str, usize); 8] = [
        ("INBOX", 240),
        ("Sent", 40),
        ("Archive", 60),
        ("Lists/Rust", 30),
        ("Lists/Dovecot", 20),
        ("Projects/Ünïcode", 8),
        ("Junk", 5),
        ("Drafts", 2),
    ];
    for (folder, count) in plan {
        // Oldest first, so that the newest message gets the highest UID.
        for i in (0..count).rev() {
            let date = now - (i as i64) * 3_600 * 7 - rng.below(3_000) as i64;
            let (name, email) = PEOPLE[rng.below(PEOPLE.len())];
            let subject = SUBJECTS[rng.below(SUBJECTS.len())];
            let body = PARAGRAPHS[rng.below(PARAGRAPHS.len())];
            let from = if folder == "Sent" || folder == "Drafts" {
                me.to_owned()
            } else {
                format!("{} <{email}>", phrase(name))
            };
            let to = if folder == "Sent" || folder == "Drafts" {
                format!("{} <{email}>", phrase(name))
            } else {
                me.to_owned()
            };
            let subject = if subject.is_ascii() {
                subject.to_owned()
            } else {
                encoded_word(subject)
            };
            let greeting = format!("Hello,\n\n{body}\n\nBest,\n{name}");
            let headers = Headers {
                from: &from,
                to: &to,
                subject: &subject,
                date,
            };
            let raw = match rng.below(6) {
                0 => with_attachment(
                    &headers,
                    &greeting,
                    &Attachment {
                        file_name: "report.pdf",
                        content_type: "application/pdf",
                        content: b"%PDF-1.4\n% a tiny placeholder document\n%%EOF\n",
                    },
                ),
                1 => with_attachment(
                    &headers,
                    &greeting,
                    &Attachment {
                        file_name: "photo.png",
                        content_type: "image/png",
                        content: &PNG,
                    },
                ),
                2 | 3 => alternative(
                    &headers,
                    &greeting,
                    &format!(
                        "<html><body><p>Hello,</p><p><b>{body}</b></p><p>Best,<br>{name}</p></body></html>"
                    ),
                ),
                _ => plain(&headers, &greeting),
            };
            let mut flags = Vec::new();
            // The newest few in each folder stay unread, and some older ones too.
            if folder == "Sent" || folder == "Drafts" || (i >= 6 && rng.below(8) != 0) {
                flags.push("\\Seen");
            }
            if rng.below(9) == 0 {
                flags.push("\\Flagged");
            }
            if folder == "Drafts" {
                flags.push("\\Draft");
            }
            samples.push(Sample {
                folder: folder.to_owned(),
                flags,
                date,
                raw,
            });
        }
    }
    samples.extend(demo_conversation(now));
    samples.sort_by_key(|s| s.date);
    samples
}

/// A discussion in the demo's Inbox with the demo user's own reply in Sent, for
/// conversations; its first message's body has a word no other message has
/// ("lighthouse"), for search.
fn demo_conversation(now: i64) -> Vec<Sample> {
    let me = "Demo User <demo@example.org>";
    let maria = "=?UTF-8?Q?Mar=C3=ADa_S=C3=A1nchez?= <maria@venues.example>";
    let tom = "\"Tom Reed\" <tom@venues.example>";
    let hour = 3_600;
    // (folder, from, to, seconds before now, seen, body); each answers the ones before.
    let thread: [(&str, &str, &str, i64, bool, &str); 4] = [
        (
            "INBOX",
            maria,
            me,
            72 * hour,
            true,
            "Hello,\n\nFor the offsite, the old lighthouse on the bay has a room for thirty.\nShall I book it for the 14th?\n\nMaría",
        ),
        (
            "Sent",
            me,
            maria,
            60 * hour,
            true,
            "Hi María,\n\nThe lighthouse sounds lovely. Please book it, and ask about lunch.\n\nDemo",
        ),
        (
            "INBOX",
            tom,
            me,
            48 * hour,
            true,
            "Hello,\n\nLunch for thirty is fine; I will send the menu.\n\nTom",
        ),
        (
            "INBOX",
            maria,
            me,
            hour,
            false,
            "Hello,\n\nIt is booked for the 14th. The menu is attached to Tom's note.\n\nMaría",
        ),
    ];
    let ids: Vec<String> = (0..thread.len())
        .map(|i| format!("<offsite-{i}@venues.example>"))
        .collect();
    thread
        .iter()
        .enumerate()
        .map(|(i, (folder, from, to, before, seen, body))| {
            let date = now - before;
            let subject = if i == 0 {
                "Offsite venue"
            } else {
                "Re: Offsite venue"
            };
            let raw = plain(
                &Headers {
                    from,
                    to,
                    subject,
                    date,
                },
                body,
            );
            Sample {
                folder: (*folder).to_owned(),
                flags: if *seen { vec!["\\Seen"] } else { vec![] },
                date,
                raw: with_ids(&raw, &ids[i], &ids[..i]),
            }
        })
        .collect()
}

/// `raw` with `id` as its Message-ID, answering `parents` (oldest first) by
/// `References` and `In-Reply-To`.
pub fn with_ids(raw: &[u8], id: &str, parents: &[String]) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len() + 200);
    for line in text.split_inclusive("\r\n") {
        if line.starts_with("Message-ID: ") {
            out.push_str(&format!("Message-ID: {id}\r\n"));
            if let Some(parent) = parents.last() {
                out.push_str(&format!(
                    "References: {}\r\nIn-Reply-To: {parent}\r\n",
                    parents.join(" ")
                ));
            }
        } else {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

/// A display name as it goes in a header: encoded when not ASCII.
fn phrase(name: &str) -> String {
    if name.is_ascii() {
        format!("\"{name}\"")
    } else {
        encoded_word(name)
    }
}

/// A small deterministic generator, so that every demo run shows the same mail.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// (year, month 1-12, day) of a day count since 1970-01-01, after Howard Hinnant's
/// `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, usize, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month as usize, day)
}

fn split(t: i64) -> (i64, usize, i64, i64, i64, i64, usize) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    (
        y,
        m,
        d,
        secs / 3_600,
        secs / 60 % 60,
        secs % 60,
        days.rem_euclid(7) as usize,
    )
}

/// `Sat, 21 Nov 2026 10:00:00 +0000`
pub fn rfc2822_date(t: i64) -> String {
    let (y, m, d, h, min, s, wd) = split(t);
    format!(
        "{}, {d} {} {y} {h:02}:{min:02}:{s:02} +0000",
        WEEKDAYS[wd],
        MONTHS[m - 1]
    )
}

/// `21-Nov-2026 10:00:00 +0000`, as IMAP's APPEND wants it.
pub fn imap_date(t: i64) -> String {
    let (y, m, d, h, min, s, _) = split(t);
    format!("{d:02}-{}-{y} {h:02}:{min:02}:{s:02} +0000", MONTHS[m - 1])
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Base64 in lines of 76 characters, each ending in CRLF.
fn base64_lines(bytes: &[u8]) -> String {
    base64(bytes)
        .as_bytes()
        .chunks(76)
        .map(|line| format!("{}\r\n", String::from_utf8_lossy(line)))
        .collect()
}

/// `len` bytes that look like compressed media: deterministic, and nothing a
/// transfer encoding or a diff would shorten. For large test attachments.
pub fn noise(len: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// The `.eml` files in `dir`, in name order.
pub fn eml_files(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_like_the_rfcs_say() {
        assert_eq!(rfc2822_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc2822_date(1_795_255_200),
            "Sat, 21 Nov 2026 10:00:00 +0000"
        );
        assert_eq!(imap_date(951_782_400), "29-Feb-2000 00:00:00 +0000");
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn demo_mailbox_is_varied_and_deterministic() {
        let a = demo_mailbox(1_800_000_000);
        let b = demo_mailbox(1_800_000_000);
        assert!(a.len() >= 300);
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(&b).all(|(x, y)| x.raw == y.raw));
        let inbox: Vec<_> = a.iter().filter(|s| s.folder == "INBOX").collect();
        assert!(inbox.iter().any(|s| !s.flags.contains(&"\\Seen")));
        assert!(inbox.iter().any(|s| s.flags.contains(&"\\Flagged")));
        assert!(inbox.windows(2).all(|w| w[0].date <= w[1].date));
        let raw = |s: &&Sample| String::from_utf8_lossy(&s.raw).into_owned();
        assert!(inbox.iter().map(raw).any(|r| r.contains("multipart/mixed")));
        assert!(inbox.iter().map(raw).any(|r| r.contains("text/html")));
        assert!(inbox.iter().map(raw).any(|r| r.contains("=?UTF-8?B?")));
        // A conversation with the demo user's own reply in Sent.
        let sent: Vec<_> = a.iter().filter(|s| s.folder == "Sent").collect();
        let reply = sent
            .iter()
            .map(raw)
            .find(|r| r.contains("Message-ID: <offsite-1@venues.example>"))
            .expect("the reply in Sent");
        assert!(reply.contains("In-Reply-To: <offsite-0@venues.example>\r\n"));
        assert!(inbox.iter().map(raw).any(|r| {
            r.contains("References: <offsite-0@venues.example> <offsite-1@venues.example> <offsite-2@venues.example>")
        }));
    }
}
