//! The mailbox the tests check against: a few known messages, and a long folder.

use anyhow::Result;
use maildev::sample::{self, Attachment, Headers, Sample};
use tests::{Dovecot, User};

/// 2026-11-01 09:00 UTC; every seeded date counts from here.
pub const T0: i64 = 1_793_523_600;

/// The INBOX subjects, newest first, as the list must show them.
pub const INBOX_NEWEST_FIRST: [&str; 5] = [
    "Newest: lunch on Friday?",
    "Grüße aus Köln ☕",
    "HTML newsletter",
    "Quarterly numbers",
    "Oldest note",
];

/// Messages in Archive, for paging.
pub const ARCHIVE_COUNT: usize = 120;

pub fn alice() -> User {
    User::new("alice", "correct horse battery staple")
}

/// A server with alice's seeded mailbox.
pub async fn seeded_server() -> Result<(Dovecot, User)> {
    let user = alice();
    let dovecot = Dovecot::start(std::slice::from_ref(&user))?;
    let mut imap = dovecot.imap(&user).await?;
    sample::create_folders(&mut imap, &["Work", "Work/Reports"]).await?;
    sample::append_all(&mut imap, &samples()).await?;
    imap.logout().await?;
    Ok((dovecot, user))
}

/// A server (with `extra_config`) whose INBOX holds `messages` in that order, a
/// second apart from [`T0`].
pub async fn inbox_with(messages: &[Vec<u8>], extra_config: &str) -> Result<(Dovecot, User)> {
    let user = alice();
    let dovecot = Dovecot::start_with(std::slice::from_ref(&user), extra_config)?;
    let mut imap = dovecot.imap(&user).await?;
    let samples: Vec<Sample> = messages
        .iter()
        .enumerate()
        .map(|(i, raw)| Sample {
            folder: "INBOX".into(),
            flags: vec![],
            date: T0 + i as i64,
            raw: raw.clone(),
        })
        .collect();
    sample::append_all(&mut imap, &samples).await?;
    imap.logout().await?;
    Ok((dovecot, user))
}

/// Another client delivers `raw` to `user`'s INBOX, as arriving at `date`.
pub async fn deliver(dovecot: &Dovecot, user: &User, raw: Vec<u8>, date: i64) -> Result<()> {
    let mut imap = dovecot.imap(user).await?;
    sample::append_all(
        &mut imap,
        &[Sample {
            folder: "INBOX".into(),
            flags: vec![],
            date,
            raw,
        }],
    )
    .await?;
    imap.logout().await?;
    Ok(())
}

fn samples() -> Vec<Sample> {
    let at = |folder: &str, flags: Vec<&'static str>, date: i64, raw: Vec<u8>| Sample {
        folder: folder.to_owned(),
        flags,
        date,
        raw,
    };
    let cologne = sample::encoded_word("Grüße aus Köln ☕");
    let jose = format!(
        "{} <jose@correo.example>",
        sample::encoded_word("José Núñez")
    );
    let mut all = vec![
        at(
            "INBOX",
            vec!["\\Seen"],
            T0,
            sample::plain(
                &headers("\"Ada Lovelace\" <ada@example.org>", "Oldest note", T0),
                "First.",
            ),
        ),
        at(
            "INBOX",
            vec!["\\Seen", "\\Flagged"],
            T0 + 60,
            sample::with_attachment(
                &headers(
                    "\"Finance Team\" <finance@example.org>",
                    "Quarterly numbers",
                    T0 + 60,
                ),
                "See the attached report.",
                &Attachment {
                    file_name: "q3.pdf",
                    content_type: "application/pdf",
                    content: b"%PDF-1.4\n%%EOF\n",
                },
            ),
        ),
        at(
            "INBOX",
            vec!["\\Seen"],
            T0 + 120,
            sample::alternative(
                &headers("\"News\" <news@example.org>", "HTML newsletter", T0 + 120),
                "Plain version",
                "<p>HTML version</p>",
            ),
        ),
        at(
            "INBOX",
            vec![],
            T0 + 180,
            sample::plain(&headers(&jose, &cologne, T0 + 180), "Viele Grüße!"),
        ),
        at(
            "INBOX",
            vec!["\\Flagged"],
            T0 + 240,
            sample::plain(
                &headers(
                    "\"Grace Hopper\" <grace@example.org>",
                    "Newest: lunch on Friday?",
                    T0 + 240,
                ),
                "Noon?",
            ),
        ),
        at(
            "Work/Reports",
            vec![],
            T0,
            sample::plain(
                &headers("\"Boss\" <boss@example.org>", "Weekly report", T0),
                "Due Monday.",
            ),
        ),
    ];
    for n in 0..ARCHIVE_COUNT {
        let date = T0 - 86_400 + n as i64 * 60;
        let subject = format!("Archived message {n:03}");
        all.push(at(
            "Archive",
            vec!["\\Seen"],
            date,
            sample::plain(
                &headers("\"Ken\" <ken@example.org>", &subject, date),
                "Old news.",
            ),
        ));
    }
    all
}

fn headers<'a>(from: &'a str, subject: &'a str, date: i64) -> Headers<'a> {
    Headers {
        from,
        to: "Alice <alice@example.org>",
        subject,
        date,
    }
}
