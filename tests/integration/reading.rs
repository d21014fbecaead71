//! Reading mail through the bridge: structure, the chosen part, decoding, and parts
//! downloaded over HTTP, for the MIME fixtures in `tests/fixtures/mime`.

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use maildev::sample::{self, Attachment, Headers};
use protocol::{Body, BodyContent, Flag, MessageView, Note, PartRole, Request};
use tests::{AccountSpec, Bridge, Dovecot, User, WsClient, http_get, workspace_root};

use crate::seed::{T0, inbox_with};

/// The fixtures, in file-name order, appended to INBOX in that order.
fn fixtures() -> Result<Vec<(String, Vec<u8>)>> {
    sample::eml_files(&workspace_root().join("tests/fixtures/mime"))?
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((name, std::fs::read(&path)?))
        })
        .collect()
}

/// A server whose INBOX holds `messages`, with a bridge signed in to it. Returns
/// the UIDs in append order.
async fn reading(messages: &[Vec<u8>]) -> Result<(Dovecot, User, Bridge, WsClient, Vec<u32>)> {
    let (dovecot, user) = inbox_with(messages, "").await?;
    let bridge = Bridge::start(&[AccountSpec::trusting("Example", &dovecot)], None).await?;
    let mut client = bridge.connect().await?;
    client.sign_in(None, &user).await??;
    let window = client.open("INBOX", 100).await?;
    let mut uids: Vec<u32> = window.messages.iter().map(|m| m.uid).collect();
    uids.sort();
    Ok((dovecot, user, bridge, client, uids))
}

fn text(body: &Body) -> &str {
    match &body.content {
        BodyContent::Text { text } => text,
        BodyContent::Html { document } => document,
    }
}

fn is_html(body: &Body) -> bool {
    matches!(body.content, BodyContent::Html { .. })
}

fn attachments(view: &MessageView) -> Vec<&str> {
    view.parts
        .iter()
        .filter(|p| matches!(p.role, PartRole::Attachment | PartRole::Message))
        .map(|p| p.name.as_deref().unwrap_or("(unnamed)"))
        .collect()
}

fn sender(view: &MessageView) -> &str {
    view.from
        .first()
        .and_then(|a| a.name.as_deref())
        .unwrap_or_default()
}

/// What a fixture must look like once opened.
struct Expect {
    subject: &'static str,
    from: &'static str,
    html: bool,
    contains: &'static [&'static str],
    lacks: &'static [&'static str],
    attachments: &'static [&'static str],
    notes: &'static [Note],
}

const PLAIN: Expect = Expect {
    subject: "",
    from: "Nora Field",
    html: false,
    contains: &[],
    lacks: &[],
    attachments: &[],
    notes: &[],
};

fn expectations() -> HashMap<&'static str, Expect> {
    HashMap::from([
        (
            "01-alternative.eml",
            Expect {
                subject: "Café plans",
                html: true,
                contains: &["<b>café</b> at noon"],
                ..PLAIN
            },
        ),
        (
            "02-related-cid.eml",
            Expect {
                subject: "Newsletter with a logo",
                from: "News Desk",
                html: true,
                contains: &["/inline/2\"", "<h1>This week</h1>"],
                lacks: &["tracker.example.net", "images.example.net"],
                ..PLAIN
            },
        ),
        (
            "03-mixed-attachments.eml",
            Expect {
                subject: "Quarterly report",
                from: "Omar Haddad",
                contains: &["Please find the report"],
                attachments: &["Q3 résumé.pdf", "notes.txt"],
                ..PLAIN
            },
        ),
        (
            "04-latin1.eml",
            Expect {
                subject: "Réunion à Zürich",
                from: "François Müller",
                contains: &["La réunion aura lieu à Zürich, ça marche?"],
                ..PLAIN
            },
        ),
        (
            "05-windows-1252.eml",
            Expect {
                subject: "Smart quotes",
                from: "Pat Lee",
                contains: &["\u{201c}It costs €5\u{201d} – she said."],
                ..PLAIN
            },
        ),
        (
            "06-iso-2022-jp.eml",
            Expect {
                subject: "会議の件",
                from: "山田太郎",
                contains: &["明日の会議は十時からです。"],
                ..PLAIN
            },
        ),
        (
            "07-utf8-8bit-headers.eml",
            Expect {
                subject: "Grüße aus Köln – 8-bit",
                from: "Jürgen Weiß",
                contains: &["Schöne Grüße aus Köln!"],
                ..PLAIN
            },
        ),
        (
            "08-forwarded.eml",
            Expect {
                subject: "Fwd: budget figures",
                from: "Ben Ortiz",
                contains: &["See the message below."],
                attachments: &["budget figures.eml"],
                ..PLAIN
            },
        ),
        (
            "09-missing-boundary.eml",
            Expect {
                subject: "Broken: boundary never appears",
                contains: &["There is no boundary line at all."],
                notes: &[Note::MalformedStructure],
                ..PLAIN
            },
        ),
        (
            "10-damaged-base64.eml",
            Expect {
                subject: "Broken: damaged base64",
                contains: &["Hello, this "],
                ..PLAIN
            },
        ),
        (
            "11-unknown-charset.eml",
            Expect {
                subject: "Unknown charset",
                contains: &["Plain ASCII survives any charset."],
                ..PLAIN
            },
        ),
        (
            "12-rfc2231-continuation.eml",
            Expect {
                subject: "Long file name",
                contains: &["A file with a long, encoded name."],
                attachments: &["Jahresabschluß 2026 – final.bin"],
                ..PLAIN
            },
        ),
        (
            "13-plain-links-quotes.eml",
            Expect {
                subject: "Re: links and quotes",
                from: "Dana Kim",
                contains: &[
                    "https://example.org/docs?a=1&b=2",
                    "> Is <b>this</b> escaped?",
                ],
                ..PLAIN
            },
        ),
        (
            "14-html-only.eml",
            Expect {
                subject: "HTML only",
                from: "Shop",
                html: true,
                contains: &["Your order", "https://shop.example.com/o/1", "color: #333"],
                lacks: &["cdn.example.com", "url("],
                ..PLAIN
            },
        ),
        (
            "16-no-boundary-parameter.eml",
            Expect {
                subject: "Broken: no boundary parameter",
                contains: &["The sender forgot to say which line separates the parts."],
                notes: &[Note::MalformedStructure],
                ..PLAIN
            },
        ),
        (
            "17-cut-closing-boundary.eml",
            Expect {
                subject: "Broken: the last boundary is cut off",
                contains: &["Everything after this line was lost in transit."],
                ..PLAIN
            },
        ),
        (
            "15-no-mime-version.eml",
            Expect {
                subject: "No MIME at all",
                from: "",
                contains: &["Just text, as in 1995."],
                ..PLAIN
            },
        ),
    ])
}

#[tokio::test]
async fn every_mime_fixture_renders_its_headers_body_and_attachments() -> Result<()> {
    let fixtures = fixtures()?;
    let raws: Vec<Vec<u8>> = fixtures.iter().map(|(_, raw)| raw.clone()).collect();
    let (_dovecot, _user, _bridge, mut client, uids) = reading(&raws).await?;
    let expectations = expectations();
    assert_eq!(
        fixtures.len(),
        expectations.len(),
        "a fixture without expectations"
    );
    let mut failures = Vec::new();
    for ((name, _), uid) in fixtures.iter().zip(&uids) {
        let expect = &expectations[name.as_str()];
        let view = client.open_message("INBOX", *uid, None).await?;
        let Some(body) = &view.body else {
            failures.push(format!("{name}: no body ({:?})", view.notes));
            continue;
        };
        let shown = text(body);
        let mut problems = Vec::new();
        if view.subject != expect.subject {
            problems.push(format!("subject {:?}", view.subject));
        }
        if sender(&view) != expect.from {
            problems.push(format!("from {:?}", view.from));
        }
        if is_html(body) != expect.html {
            problems.push(format!("html {}", is_html(body)));
        }
        for needle in expect.contains {
            if !shown.contains(needle) {
                problems.push(format!("lacks {needle:?}"));
            }
        }
        for needle in expect.lacks {
            if shown.contains(needle) {
                problems.push(format!("contains {needle:?}"));
            }
        }
        if attachments(&view) != expect.attachments {
            problems.push(format!("attachments {:?}", attachments(&view)));
        }
        if view.notes != expect.notes {
            problems.push(format!("notes {:?}", view.notes));
        }
        if !view.flags.contains(&Flag::Seen) {
            problems.push("not marked seen".into());
        }
        if !problems.is_empty() {
            failures.push(format!("{name}: {}\n{shown}", problems.join("; ")));
        }
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n\n"));
    }
    Ok(())
}

/// UID of the fixture `name` in a server seeded by [`reading`] with all fixtures.
fn uid_of(fixtures: &[(String, Vec<u8>)], uids: &[u32], name: &str) -> u32 {
    let index = fixtures.iter().position(|(n, _)| n == name).expect(name);
    uids[index]
}

#[tokio::test]
async fn alternatives_charsets_and_damage_are_reported() -> Result<()> {
    let fixtures = fixtures()?;
    let raws: Vec<Vec<u8>> = fixtures.iter().map(|(_, raw)| raw.clone()).collect();
    let (_dovecot, _user, _bridge, mut client, uids) = reading(&raws).await?;
    let uid = |name| uid_of(&fixtures, &uids, name);

    let alternative = client
        .open_message("INBOX", uid("01-alternative.eml"), None)
        .await?;
    assert_eq!(alternative.alternatives, ["2", "1"]);
    let plain = client
        .show_part("INBOX", uid("01-alternative.eml"), "1")
        .await?;
    assert_eq!(text(&plain).trim(), "Shall we meet at the café at noon?");

    let related = client
        .open_message("INBOX", uid("02-related-cid.eml"), None)
        .await?;
    let body = related.body.as_ref().context("body")?;
    assert_eq!(body.blocked_remote, 2);
    assert_eq!(
        related
            .parts
            .iter()
            .find(|p| p.id == "2")
            .map(|p| (p.role, p.content_id.as_deref())),
        Some((PartRole::Inline, Some("logo@example.org")))
    );

    let damaged = client
        .open_message("INBOX", uid("10-damaged-base64.eml"), None)
        .await?;
    assert_eq!(damaged.body.context("body")?.notes, [Note::DamagedEncoding]);
    let unknown = client
        .open_message("INBOX", uid("11-unknown-charset.eml"), None)
        .await?;
    assert_eq!(
        unknown.body.context("body")?.notes,
        [Note::UnknownCharset {
            charset: "x-martian".into()
        }]
    );
    Ok(())
}

#[tokio::test]
async fn attached_messages_open_as_messages_with_their_own_parts() -> Result<()> {
    let fixtures = fixtures()?;
    let raws: Vec<Vec<u8>> = fixtures.iter().map(|(_, raw)| raw.clone()).collect();
    let (_dovecot, _user, bridge, mut client, uids) = reading(&raws).await?;
    let uid = uid_of(&fixtures, &uids, "08-forwarded.eml");
    let outer = client.open_message("INBOX", uid, None).await?;
    let attached = outer
        .parts
        .iter()
        .find(|p| p.role == PartRole::Message)
        .context("attached message")?;
    let inner = client
        .open_message("INBOX", uid, Some(&attached.id))
        .await?;
    assert_eq!(inner.subject, "Original: budget figures");
    assert_eq!(sender(&inner), "Carla Diaz");
    let body = inner.body.as_ref().context("body")?;
    assert!(is_html(body) && text(body).contains("<i>budget</i>"));
    assert_eq!(attachments(&inner), ["budget.csv"]);
    let csv = inner
        .parts
        .iter()
        .find(|p| p.name.as_deref() == Some("budget.csv"))
        .context("csv")?;
    let download = http_get(&format!(
        "{}{}/part/{}",
        bridge.origin(),
        inner.link,
        csv.id
    ))
    .await?;
    assert_eq!(download.status, 200);
    assert_eq!(download.body, b"item,amount\r\nrent,1000");
    Ok(())
}

#[tokio::test]
async fn attachments_and_inline_images_download_exactly() -> Result<()> {
    let fixtures = fixtures()?;
    let raws: Vec<Vec<u8>> = fixtures.iter().map(|(_, raw)| raw.clone()).collect();
    let (_dovecot, _user, bridge, mut client, uids) = reading(&raws).await?;
    let uid = |name| uid_of(&fixtures, &uids, name);

    let continued = client
        .open_message("INBOX", uid("12-rfc2231-continuation.eml"), None)
        .await?;
    let url = format!("{}{}/part/2", bridge.origin(), continued.link);
    let download = http_get(&url).await?;
    assert_eq!(download.status, 200);
    assert_eq!(download.body, (0..=255u8).collect::<Vec<_>>());
    assert_eq!(download.header("content-length"), Some("256"));
    assert_eq!(
        download.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        download.header("content-disposition"),
        Some(
            "attachment; filename=\"Jahresabschlu_ 2026 _ final.bin\"; filename*=UTF-8''Jahresabschlu%C3%9F%202026%20%E2%80%93%20final.bin"
        )
    );
    assert_eq!(download.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        download.header("content-security-policy"),
        Some("default-src 'none'; sandbox")
    );

    let related = client
        .open_message("INBOX", uid("02-related-cid.eml"), None)
        .await?;
    let image = http_get(&format!("{}{}/inline/2", bridge.origin(), related.link)).await?;
    assert_eq!(image.status, 200);
    assert_eq!(image.header("content-type"), Some("image/png"));
    // Mail never goes into the browser's cache.
    assert_eq!(download.header("cache-control"), Some("no-store"));
    assert_eq!(image.header("cache-control"), Some("no-store"));
    assert!(image.body.starts_with(b"\x89PNG\r\n\x1a\n"));
    // Only raster images are served inline.
    let text_part = http_get(&format!("{}{}/inline/1", bridge.origin(), related.link)).await?;
    assert_eq!(text_part.status, 404);

    let source = http_get(&format!("{}{}/source", bridge.origin(), related.link)).await?;
    assert_eq!(source.status, 200);
    let original = &fixtures
        .iter()
        .find(|(n, _)| n == "02-related-cid.eml")
        .context("fixture")?
        .1;
    assert_eq!(&source.body, original);

    let forged = http_get(&format!(
        "{}/mail/AAAAAAAAAAAAAAAAAAAAAA/source",
        bridge.origin()
    ))
    .await?;
    assert_eq!(forged.status, 404);
    Ok(())
}

#[tokio::test]
async fn links_die_with_the_session() -> Result<()> {
    let fixtures = fixtures()?;
    let raws: Vec<Vec<u8>> = fixtures
        .iter()
        .take(1)
        .map(|(_, raw)| raw.clone())
        .collect();
    let (_dovecot, _user, bridge, mut client, uids) = reading(&raws).await?;
    let view = client.open_message("INBOX", uids[0], None).await?;
    let url = format!("{}{}/source", bridge.origin(), view.link);
    assert_eq!(http_get(&url).await?.status, 200);
    client.ok(Request::SignOut).await?;
    tests::eventually("the link to stop working", async || {
        Ok((http_get(&url).await?.status == 404).then_some(()))
    })
    .await
}

/// A short note carrying 10 MB: opening it moves the note, not the attachment.
#[tokio::test]
async fn opening_a_note_with_a_10_mb_attachment_sends_under_8_kb() -> Result<()> {
    let video = sample::noise(10 * 1024 * 1024);
    let raw = sample::with_attachment(
        &Headers {
            from: "\"Sam Rivera\" <sam@example.org>",
            to: "alice@example.org",
            subject: "The clip from Saturday",
            date: T0,
        },
        "Here is the clip.\nEnjoy!",
        &Attachment {
            file_name: "clip.mp4",
            content_type: "video/mp4",
            content: &video,
        },
    );
    let (_dovecot, _user, bridge, mut client, uids) = reading(&[raw]).await?;
    let before = client.bytes_received;
    let view = client.open_message("INBOX", uids[0], None).await?;
    let sent = client.bytes_received - before;
    eprintln!("opening the 10 MB-attachment message sent {sent} bytes");
    assert!(sent < 8 * 1024, "opening sent {sent} bytes");
    assert!(text(view.body.as_ref().context("body")?).contains("Here is the clip."));
    let clip = view
        .parts
        .iter()
        .find(|p| p.name.as_deref() == Some("clip.mp4"))
        .context("the clip is listed")?;
    let download = http_get(&format!(
        "{}{}/part/{}",
        bridge.origin(),
        view.link,
        clip.id
    ))
    .await?;
    assert_eq!(download.status, 200);
    assert_eq!(download.header("content-length"), Some("10485760"));
    assert!(
        download.body == video,
        "the download differs from the original"
    );
    Ok(())
}

/// Opening can leave a message unread; marking it unread again undoes opening.
#[tokio::test]
async fn read_state_follows_the_user() -> Result<()> {
    let fixtures = fixtures()?;
    let raws: Vec<Vec<u8>> = fixtures
        .iter()
        .take(2)
        .map(|(_, raw)| raw.clone())
        .collect();
    let (dovecot, user, _bridge, mut client, uids) = reading(&raws).await?;
    client
        .ok(Request::OpenMessage {
            folder: "INBOX".into(),
            uid: uids[0],
            part: None,
            mark_seen: false,
            remote_content: false,
        })
        .await?;
    client.open_message("INBOX", uids[1], None).await?;
    let seen = server_flags(&dovecot, &user).await?;
    assert_eq!(
        (
            seen[&uids[0]].contains("\\Seen"),
            seen[&uids[1]].contains("\\Seen")
        ),
        (false, true)
    );
    client
        .ok(Request::SetFlags {
            folder: "INBOX".into(),
            uids: vec![uids[1]],
            add: vec![],
            remove: vec![Flag::Seen],
        })
        .await?;
    let seen = server_flags(&dovecot, &user).await?;
    assert!(!seen[&uids[1]].contains("\\Seen"));
    Ok(())
}

/// Each INBOX message's flags, as an independent IMAP client sees them.
async fn server_flags(dovecot: &Dovecot, user: &User) -> Result<HashMap<u32, String>> {
    use futures::TryStreamExt;
    let mut imap = dovecot.imap(user).await?;
    imap.select("INBOX").await?;
    let fetches: Vec<_> = imap
        .uid_fetch("1:*", "(UID FLAGS)")
        .await?
        .try_collect()
        .await?;
    let flags = fetches
        .iter()
        .filter_map(|f| {
            let names: Vec<String> = f.flags().map(|flag| format!("{flag:?}")).collect();
            Some((f.uid?, names.join(" ").replace("Seen", "\\Seen")))
        })
        .collect();
    imap.logout().await?;
    Ok(flags)
}

/// Deep nesting and many parts: what can be shown is shown, the rest is noted, and
/// the session goes on.
#[tokio::test]
async fn extreme_structures_are_shown_in_part_and_the_session_survives() -> Result<()> {
    let mut deep = "Content-Type: text/plain\r\n\r\nAt the bottom.\r\n".to_owned();
    for level in 0..400 {
        deep = format!(
            "Content-Type: multipart/mixed; boundary=\"l{level}\"\r\n\r\n--l{level}\r\n{deep}\r\n--l{level}--\r\n"
        );
    }
    let deep = format!("From: deep@example.org\r\nSubject: Deep\r\nMIME-Version: 1.0\r\n{deep}");
    let mut forwarded = "Subject: Bottom\r\n\r\nThe original.\r\n".to_owned();
    for level in 0..200 {
        forwarded = format!(
            "Subject: Fwd {level}\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n{forwarded}"
        );
    }
    let mut many = String::from(
        "From: many@example.org\r\nSubject: Many\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nFive hundred parts follow.\r\n",
    );
    for i in 0..500 {
        many.push_str(&format!(
            "--m\r\nContent-Type: application/octet-stream; name=\"part{i}.bin\"\r\n\r\n{i}\r\n"
        ));
    }
    many.push_str("--m--\r\n");
    let (_dovecot, _user, _bridge, mut client, uids) =
        reading(&[deep.into_bytes(), many.into_bytes(), forwarded.into_bytes()]).await?;
    let deep = client.open_message("INBOX", uids[0], None).await?;
    assert!(
        deep.notes.contains(&Note::NestedTooDeep),
        "{:?}",
        deep.notes
    );
    let many = client.open_message("INBOX", uids[1], None).await?;
    assert_eq!(attachments(&many).len(), 500);
    assert!(text(many.body.as_ref().context("body")?).contains("Five hundred parts follow."));
    let forwarded = client.open_message("INBOX", uids[2], None).await?;
    assert_eq!(forwarded.subject, "Fwd 199");
    // The session is still there.
    client.open("INBOX", 10).await?;
    Ok(())
}

/// Remote images load, on request, only through the bridge's proxy, which refuses
/// addresses inside the network.
#[tokio::test]
async fn remote_images_go_through_the_proxy_which_refuses_private_addresses() -> Result<()> {
    let fixtures = fixtures()?;
    let raws: Vec<Vec<u8>> = fixtures.iter().map(|(_, raw)| raw.clone()).collect();
    let (_dovecot, _user, bridge, mut client, uids) = reading(&raws).await?;
    let uid = uid_of(&fixtures, &uids, "02-related-cid.eml");
    let view = client.open_message("INBOX", uid, None).await?;
    let body = client
        .ok(Request::ShowPart {
            folder: "INBOX".into(),
            uid,
            part: "1".into(),
            remote_content: true,
        })
        .await?;
    let protocol::Reply::PartShown { body, .. } = body else {
        bail!("expected a part, got {body:?}");
    };
    assert!(body.remote_loaded && body.blocked_remote == 0);
    let proxied = format!(
        "{}{}/remote?url=https%3A%2F%2Ftracker.example.net%2Fopen.gif",
        bridge.origin(),
        view.link
    );
    assert!(text(&body).contains(&proxied), "{}", text(&body));

    let inside = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let knock = format!("http://{}/x.png", inside.local_addr()?);
    for target in [
        knock.as_str(),
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/a.png",
        "http://[::1]/a.png",
    ] {
        let url = format!(
            "{}{}/remote?url={}",
            bridge.origin(),
            view.link,
            target.replace(':', "%3A").replace('/', "%2F")
        );
        assert_eq!(http_get(&url).await?.status, 403, "{target}");
    }
    let nobody = tokio::time::timeout(std::time::Duration::from_millis(1), inside.accept()).await;
    assert!(nobody.is_err(), "the proxy connected inside");
    let forged = format!(
        "{}/mail/AAAAAAAAAAAAAAAAAAAAAA/remote?url=http%3A%2F%2Fexample.org%2F",
        bridge.origin()
    );
    assert_eq!(http_get(&forged).await?.status, 404);
    Ok(())
}

/// A server that describes broken MIME as one empty text part, with an empty
/// `BODY[TEXT]` (as Cyrus does), while `BODY[]` still holds the text: the pane shows
/// that text as sent, with the note, rather than nothing.
#[tokio::test]
async fn broken_mail_described_as_empty_opens_as_sent_with_a_note() -> Result<()> {
    let root = tests::workspace_root().join("tests/fixtures/mime");
    let messages = [
        (
            "16-no-boundary-parameter.eml",
            "The sender forgot to say which line separates the parts.",
        ),
        (
            "17-cut-closing-boundary.eml",
            "Everything after this line was lost in transit.",
        ),
        (
            "09-missing-boundary.eml",
            "There is no boundary line at all.",
        ),
    ];
    let raws = messages
        .iter()
        .map(|(name, _)| std::fs::read(root.join(name)))
        .collect::<std::io::Result<Vec<_>>>()?;
    let server = tests::hostile::HostileImap::start(
        tests::hostile::Misbehaviour::DescribesBrokenMailAsEmpty(raws),
    )
    .await?;
    let bridge = Bridge::start(&[server.account("Scripted")], None).await?;
    let mut client = bridge.connect().await?;
    client
        .sign_in(None, &User::new("alice", "secret"))
        .await??;
    for (uid, (name, text)) in (1..).zip(messages) {
        let view = client.open_message("INBOX", uid, None).await?;
        let Some(Body {
            content: BodyContent::Text { text: shown },
            ..
        }) = &view.body
        else {
            anyhow::bail!("{name}: no text shown ({:?})", view.notes);
        };
        assert!(shown.contains(text), "{name}: {shown:?}");
        assert!(
            !shown.contains("Subject:"),
            "{name}: the header is not body text"
        );
        assert_eq!(view.notes, [Note::MalformedStructure], "{name}");
    }
    Ok(())
}
