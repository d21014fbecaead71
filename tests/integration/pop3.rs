//! POP3 accounts through the bridge, against Dovecot's POP3 service: sign-in over
//! implicit TLS and STLS, the list, reading every MIME fixture exactly as IMAP shows
//! it, state the bridge keeps (read, flagged) across sessions and restarts, delete,
//! new mail, and a locked maildrop.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use futures::TryStreamExt;
use maildev::sample;
use protocol::{ErrorCode, Event, Flag, MailProtocol, Reply, Request};
use tests::{AccountSpec, Bridge, Dovecot, User, WsClient, workspace_root};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::seed::{T0, deliver, inbox_with};

pub(crate) fn note(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: {subject}\r\nDate: Mon, 6 Nov 2023 10:00:00 +0000\r\nMessage-ID: <{subject}@example.org>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// Signs in to the POP3 account `name`.
pub(crate) async fn pop3_session(bridge: &Bridge, user: &User, name: &str) -> Result<WsClient> {
    let mut client = bridge.connect().await?;
    match client.sign_in(Some(name), user).await? {
        Ok(Reply::SignedIn { protocol, .. }) => {
            ensure!(
                protocol == MailProtocol::Pop3,
                "signed in over {protocol:?}"
            );
        }
        other => bail!("sign-in: {other:?}"),
    }
    Ok(client)
}

/// The subjects and sizes of INBOX as an independent IMAP client sees them, newest
/// first.
pub(crate) async fn on_server(dovecot: &Dovecot, user: &User) -> Result<Vec<(String, u32)>> {
    let mut imap = dovecot.imap(user).await?;
    imap.select("INBOX").await?;
    let fetches: Vec<_> = imap
        .fetch("1:*", "(RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .await?
        .try_collect()
        .await
        .unwrap_or_default();
    imap.logout().await?;
    let mut out: Vec<(String, u32)> = fetches
        .iter()
        .map(|f| {
            let header = String::from_utf8_lossy(f.header().unwrap_or_default()).into_owned();
            let subject = header
                .trim()
                .strip_prefix("Subject: ")
                .unwrap_or_default()
                .to_owned();
            (subject, f.size.unwrap_or(0))
        })
        .collect();
    out.reverse();
    Ok(out)
}

#[tokio::test]
async fn over_pop3s_and_stls_the_list_matches_the_server() -> Result<()> {
    let messages: Vec<Vec<u8>> = (1..=7)
        .map(|i| note(&format!("Note {i}"), &"text. ".repeat(i * 10)))
        .collect();
    let (dovecot, user) = inbox_with(&messages, "").await?;
    let bridge = Bridge::start(
        &[
            AccountSpec::pop3("Implicit", &dovecot, dovecot.pop3s_url()),
            AccountSpec::pop3("Stls", &dovecot, dovecot.pop3_stls_url()),
        ],
        None,
    )
    .await?;
    let expected = on_server(&dovecot, &user).await?;
    for account in ["Implicit", "Stls"] {
        let mut client = pop3_session(&bridge, &user, account).await?;
        let folders = client.folders().await?;
        ensure!(
            folders.len() == 1 && folders[0].id == "INBOX",
            "{folders:?}"
        );
        ensure!(
            folders[0].total == 7 && folders[0].unread == 7,
            "{folders:?}"
        );
        // Two windows, newest first, as an IMAP folder would give them.
        let first = client.open("INBOX", 4).await?;
        let rest = client.window("INBOX", 4, 4).await?;
        let listed: Vec<(String, u32)> = first
            .messages
            .iter()
            .chain(&rest.messages)
            .map(|m| (m.subject.clone(), m.size))
            .collect();
        assert_eq!(listed, expected, "{account}");
        assert_eq!(first.messages[0].from[0].email, "bob@example.org");
        // Folders are IMAP's: POP3 says so rather than failing oddly.
        let moved = client
            .request(Request::MoveMessages {
                folder: "INBOX".into(),
                uids: vec![first.messages[0].uid],
                to: "Archive".into(),
            })
            .await?;
        ensure!(
            moved.as_ref().is_err_and(|e| e.code == ErrorCode::Refused),
            "{moved:?}"
        );
    }
    // Dovecot logged both sessions in over TLS, with the SASL mechanism it offered.
    let logs = dovecot.logs();
    let logins: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("pop3-login") && l.contains("Login: user="))
        .collect();
    ensure!(logins.len() >= 2, "{logs}");
    for login in logins {
        ensure!(
            login.contains("method=PLAIN") && login.contains("TLS"),
            "{login}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() -> Result<()> {
    let (dovecot, user) = inbox_with(&[], "").await?;
    let account = AccountSpec {
        ca_file: None,
        ..AccountSpec::pop3("Example", &dovecot, dovecot.pop3s_url())
    };
    let bridge = Bridge::start(&[account], None).await?;
    let mut client = bridge.connect().await?;
    let error = client.sign_in(None, &user).await?.expect_err("untrusted");
    assert_eq!(error.code, ErrorCode::TlsFailure);
    Ok(())
}

/// A plain POP3 listener that refuses STLS, recording every line it gets.
async fn refusing_listener() -> Result<(u16, tokio::task::JoinHandle<Vec<String>>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    let task = tokio::spawn(async move {
        let mut seen = Vec::new();
        let Ok((socket, _)) = listener.accept().await else {
            return seen;
        };
        let (read, mut write) = socket.into_split();
        let mut read = BufReader::new(read);
        let _ = write.write_all(b"+OK POP3 ready\r\n").await;
        loop {
            let mut line = String::new();
            match read.read_line(&mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            seen.push(line.trim_end().to_owned());
            let reply: &[u8] = if line.to_ascii_uppercase().starts_with("CAPA") {
                b"+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"
            } else if line.to_ascii_uppercase().starts_with("STLS") {
                b"-ERR TLS not available here\r\n"
            } else {
                b"+OK\r\n"
            };
            let _ = write.write_all(reply).await;
        }
        seen
    });
    Ok((port, task))
}

#[tokio::test]
async fn credentials_never_cross_before_tls() -> Result<()> {
    let (port, listener) = refusing_listener().await?;
    let account = AccountSpec {
        name: "Plain".into(),
        imap: String::new(),
        pop3: Some(format!("pop3://127.0.0.1:{port}")),
        ca_file: None,
        extra: String::new(),
    };
    let bridge = Bridge::start(&[account], None).await?;
    let mut client = bridge.connect().await?;
    let error = client
        .sign_in(None, &User::new("alice", "hunter2"))
        .await?
        .expect_err("STLS refused");
    assert_eq!(error.code, ErrorCode::TlsFailure);
    let seen = tokio::time::timeout(Duration::from_secs(10), listener).await??;
    assert_eq!(seen, ["STLS"], "only STLS may be sent in the clear");
    Ok(())
}

/// The view with its session-bound link token taken out, wherever it appears.
fn same_links(mut view: protocol::MessageView) -> protocol::MessageView {
    let link = std::mem::take(&mut view.link);
    if let Some(protocol::Body {
        content: protocol::BodyContent::Html { document },
        ..
    }) = &mut view.body
    {
        *document = document.replace(&link, "/mail/TOKEN");
    }
    view
}

/// Every MIME fixture opens through POP3 exactly as through IMAP: headers, part
/// tree, chosen body, alternatives and notes.
#[tokio::test]
async fn every_fixture_reads_as_it_does_over_imap() -> Result<()> {
    let fixtures: Vec<Vec<u8>> = sample::eml_files(&workspace_root().join("tests/fixtures/mime"))?
        .iter()
        .map(std::fs::read)
        .collect::<Result<_, _>>()?;
    let (dovecot, user) = inbox_with(&fixtures, "").await?;
    let mut imap_account = AccountSpec::trusting("Imap", &dovecot);
    imap_account.pop3 = None;
    let bridge = Bridge::start(
        &[
            imap_account,
            AccountSpec::pop3("Pop", &dovecot, dovecot.pop3s_url()),
        ],
        None,
    )
    .await?;
    let mut imap = bridge.connect().await?;
    imap.sign_in(Some("Imap"), &user).await??;
    let mut pop = pop3_session(&bridge, &user, "Pop").await?;
    let by_imap = imap.open("INBOX", 100).await?;
    let by_pop = pop.open("INBOX", 100).await?;
    assert_eq!(by_imap.subjects(), by_pop.subjects());
    for (a, b) in by_imap.messages.iter().zip(&by_pop.messages) {
        let over_imap = same_links(imap.open_message("INBOX", a.uid, None).await?);
        let over_pop = same_links(pop.open_message("INBOX", b.uid, None).await?);
        assert_eq!(over_pop, over_imap, "{}", a.subject);
        // Attached messages open too, with their own parts.
        for part in over_imap
            .parts
            .iter()
            .filter(|p| p.role == protocol::PartRole::Message)
        {
            let inner_imap = same_links(imap.open_message("INBOX", a.uid, Some(&part.id)).await?);
            let inner_pop = same_links(pop.open_message("INBOX", b.uid, Some(&part.id)).await?);
            assert_eq!(inner_pop, inner_imap, "{} part {}", a.subject, part.id);
        }
    }
    Ok(())
}

/// Read and flagged state is the bridge's: another browser of the same user sees
/// it change, and it survives a restart of the bridge.
#[tokio::test]
async fn read_and_flagged_state_is_shared_and_kept() -> Result<()> {
    let messages: Vec<Vec<u8>> = (1..=3)
        .map(|i| note(&format!("Kept {i}"), "hello"))
        .collect();
    let (dovecot, user) = inbox_with(&messages, "").await?;
    let data = tempfile::tempdir()?;
    let account = || AccountSpec::pop3("Example", &dovecot, dovecot.pop3s_url());
    let bridge = Bridge::start_keeping(&[account()], None, 1, Some(data.path())).await?;
    let mut first = pop3_session(&bridge, &user, "Example").await?;
    let mut second = pop3_session(&bridge, &user, "Example").await?;
    let window = first.open("INBOX", 10).await?;
    second.open("INBOX", 10).await?;
    let newest = window.messages[0].uid;
    let oldest = window.messages[2].uid;
    let opened = first.open_message("INBOX", newest, None).await?;
    ensure!(opened.flags.contains(&Flag::Seen), "{:?}", opened.flags);
    first
        .ok(Request::SetFlags {
            folder: "INBOX".into(),
            uids: vec![oldest],
            add: vec![Flag::Flagged],
            remove: vec![],
        })
        .await?;
    // The other browser hears of both.
    second
        .event("the flag change", |e| match e {
            Event::FolderChanged { flags, unread, .. } => {
                *unread == 2
                    && flags
                        .iter()
                        .any(|m| m.uid == oldest && m.flags.contains(&Flag::Flagged))
            }
            _ => false,
        })
        .await?;
    drop((first, second));
    drop(bridge);

    // The store file is locked until the first bridge has let go of it; a bridge
    // that cannot open it does not serve at all.
    let (_bridge, mut again) = tests::eventually("a bridge on the same store", || async {
        let bridge = Bridge::start_keeping(&[account()], None, 1, Some(data.path())).await?;
        match pop3_session(&bridge, &user, "Example").await {
            Ok(client) => Ok(Some((bridge, client))),
            Err(_) => Ok(None),
        }
    })
    .await?;
    let window = again.open("INBOX", 10).await?;
    assert_eq!(window.unread, 2);
    let flags = |uid| {
        window
            .messages
            .iter()
            .find(|m| m.uid == uid)
            .map(|m| m.flags.clone())
            .unwrap_or_default()
    };
    assert_eq!(flags(newest), [Flag::Seen], "same ids after the restart");
    assert_eq!(flags(oldest), [Flag::Flagged]);
    Ok(())
}

#[tokio::test]
async fn delete_removes_from_the_server_and_new_mail_appears() -> Result<()> {
    let messages: Vec<Vec<u8>> = (1..=3)
        .map(|i| note(&format!("Mail {i}"), "hello"))
        .collect();
    let (dovecot, user) = inbox_with(&messages, "").await?;
    let bridge = Bridge::start(
        &[AccountSpec::pop3("Example", &dovecot, dovecot.pop3s_url())],
        None,
    )
    .await?;
    let mut client = pop3_session(&bridge, &user, "Example").await?;
    let mut other = pop3_session(&bridge, &user, "Example").await?;
    let window = client.open("INBOX", 10).await?;
    other.open("INBOX", 10).await?;
    let doomed = window.messages[1].uid;
    client
        .ok(Request::ExpungeMessages {
            folder: "INBOX".into(),
            uids: vec![doomed],
        })
        .await?;
    let left: Vec<String> = on_server(&dovecot, &user)
        .await?
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(left, ["Mail 3", "Mail 1"]);
    other
        .event(
            "the removal",
            |e| matches!(e, Event::FolderChanged { removed, total: 2, .. } if *removed == [doomed]),
        )
        .await?;

    // POP3 cannot tell of new mail: the bridge looks again (every second here).
    deliver(&dovecot, &user, note("Mail 4", "new"), T0 + 100).await?;
    for session in [&mut client, &mut other] {
        let event = session
            .event(
                "the new message",
                |e| matches!(e, Event::FolderChanged { added, .. } if !added.is_empty()),
            )
            .await?;
        let Event::FolderChanged {
            added,
            added_at,
            total,
            ..
        } = event
        else {
            unreachable!()
        };
        assert_eq!(added[0].subject, "Mail 4");
        assert_eq!(added_at, [0], "on top, newest first");
        assert_eq!(total, 3);
    }
    Ok(())
}

/// A raw POP3 session over TLS that holds the maildrop until dropped.
async fn hold_maildrop(dovecot: &Dovecot, user: &User) -> Result<impl Drop> {
    let mut stream = BufReader::new(dovecot.tls_to(dovecot.pop3s_port).await?);
    let mut line = String::new();
    for command in [
        "",
        &format!("USER {}", user.name),
        &format!("PASS {}", user.password),
    ] {
        if !command.is_empty() {
            stream
                .get_mut()
                .write_all(format!("{command}\r\n").as_bytes())
                .await?;
        }
        line.clear();
        stream.read_line(&mut line).await?;
        ensure!(line.starts_with("+OK"), "{command}: {line}");
    }
    struct Held(
        #[allow(dead_code)] BufReader<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
    );
    impl Drop for Held {
        fn drop(&mut self) {}
    }
    Ok(Held(stream))
}

#[tokio::test]
async fn a_locked_maildrop_says_so_and_works_once_free() -> Result<()> {
    let (dovecot, user) = inbox_with(&[note("Locked", "x")], "pop3_lock_session = yes\n").await?;
    let bridge = Bridge::start(
        &[AccountSpec::pop3("Example", &dovecot, dovecot.pop3s_url())],
        None,
    )
    .await?;
    let held = hold_maildrop(&dovecot, &user).await?;
    let mut client = bridge.connect().await?;
    let error = client.sign_in(None, &user).await?.expect_err("in use");
    assert_eq!(error.code, ErrorCode::MailboxInUse, "{error:?}");
    drop(held);
    let mut client = pop3_session(&bridge, &user, "Example").await?;
    let window = client.open("INBOX", 10).await.context("after the lock")?;
    assert_eq!(window.subjects(), ["Locked"]);
    Ok(())
}

/// The messages of an mboxrd file, unquoted.
fn mbox_messages(mbox: &[u8]) -> Vec<Vec<u8>> {
    let mut messages: Vec<Vec<u8>> = Vec::new();
    for line in mbox.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b"From ") {
            messages.push(Vec::new());
            continue;
        }
        let Some(message) = messages.last_mut() else {
            continue;
        };
        let quotes = line.iter().take_while(|b| **b == b'>').count();
        if quotes > 0 && line[quotes..].starts_with(b"From ") {
            message.extend_from_slice(&line[1..]);
        } else {
            message.extend_from_slice(line);
        }
    }
    // Each message ends with the blank line that separates it from the next.
    for message in &mut messages {
        message.pop();
    }
    messages
}

async fn export(
    client: &mut WsClient,
    bridge: &Bridge,
    delete_after: bool,
) -> Result<Vec<Vec<u8>>> {
    let link = match client
        .ok(Request::ExportMailbox {
            folder: "INBOX".into(),
            delete_after,
        })
        .await?
    {
        Reply::ExportReady { link, .. } => link,
        other => bail!("expected an export link, got {other:?}"),
    };
    let url = format!("{}{link}", bridge.origin());
    let response = tests::http_get(&url).await?;
    ensure!(response.status == 200, "status {}", response.status);
    // The link works once: asking again must not export (or delete) again.
    let again = tests::http_get(&url).await?;
    ensure!(again.status == 404, "a second GET gave {}", again.status);
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    ensure!(
        header("content-type") == "application/mbox",
        "{:?}",
        response.headers
    );
    ensure!(
        header("content-disposition").contains("Inbox.mbox"),
        "{:?}",
        response.headers
    );
    Ok(mbox_messages(&response.body))
}

#[tokio::test]
async fn download_all_gives_the_originals_and_can_delete_exactly_those() -> Result<()> {
    let mut originals: Vec<Vec<u8>> = (1..=3)
        .map(|i| note(&format!("Export {i}"), "hello"))
        .collect();
    // Lines an mbox must quote, and one it must leave alone.
    originals.push(note(
        "Tricky lines",
        "From the start of a line\r\n>From a quoted one\r\n>>From twice\r\nFrom\r\n.\r\n..dots\r\nend",
    ));
    let (dovecot, user) = inbox_with(&originals, "").await?;
    let bridge = Bridge::start(
        &[AccountSpec::pop3("Example", &dovecot, dovecot.pop3s_url())],
        None,
    )
    .await?;
    let mut client = pop3_session(&bridge, &user, "Example").await?;
    client.open("INBOX", 10).await?;

    // Oldest first, each byte for byte as it was delivered.
    assert_eq!(export(&mut client, &bridge, false).await?, originals);
    ensure!(
        on_server(&dovecot, &user).await?.len() == 4,
        "nothing deleted"
    );

    // With "delete after download", exactly the messages in the file leave the
    // server; one that arrives meanwhile may or may not be in it, and stays if not.
    let late = note("Late", "arrived during the download");
    deliver(&dovecot, &user, late.clone(), T0 + 50).await?;
    let exported = export(&mut client, &bridge, true).await?;
    ensure!(
        exported[..4] == originals[..],
        "the first four are the originals"
    );
    let left: Vec<String> = on_server(&dovecot, &user)
        .await?
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    if exported.len() == 5 {
        assert_eq!(exported[4], late);
        ensure!(left.is_empty(), "{left:?}");
    } else {
        assert_eq!(left, ["Late"]);
    }
    // The browser that downloaded hears of the removals like any other.
    let sent = exported.len();
    client
        .event(
            "the removals",
            |e| matches!(e, Event::FolderChanged { removed, .. } if removed.len() == sent),
        )
        .await?;
    Ok(())
}

/// An account with both servers lets people choose; IMAP is the default.
#[tokio::test]
async fn an_account_with_both_protocols_signs_in_over_either() -> Result<()> {
    let (dovecot, user) = inbox_with(&[note("Both ways", "x")], "").await?;
    let account = AccountSpec {
        pop3: Some(dovecot.pop3s_url()),
        ..AccountSpec::trusting("Example", &dovecot)
    };
    let bridge = Bridge::start(&[account], None).await?;
    for (asked, got) in [
        (None, MailProtocol::Imap),
        (Some(MailProtocol::Imap), MailProtocol::Imap),
        (Some(MailProtocol::Pop3), MailProtocol::Pop3),
    ] {
        let mut client = bridge.connect().await?;
        match client.sign_in_over(None, &user, asked).await?? {
            Reply::SignedIn { protocol, .. } => assert_eq!(protocol, got, "{asked:?}"),
            other => bail!("{other:?}"),
        }
        assert_eq!(client.open("INBOX", 10).await?.subjects(), ["Both ways"]);
    }
    // An IMAP-only account refuses POP3.
    let imap_only = Bridge::start(&[AccountSpec::trusting("Imap", &dovecot)], None).await?;
    let mut client = imap_only.connect().await?;
    let refused = client
        .sign_in_over(None, &user, Some(MailProtocol::Pop3))
        .await?
        .expect_err("no POP3 here");
    assert_eq!(refused.code, ErrorCode::BadRequest);
    Ok(())
}

/// A 30 MB message: retrieved only when opened, with one RETR into the spool file,
/// and its attachment downloads byte for byte, with its exact length, while the
/// bridge's memory stays far below the message's size. The bridge runs in a test
/// process of its own (this binary, run again for one ignored test), so that the
/// process's peak memory is the bridge's and not other tests'.
#[tokio::test]
async fn a_30_mb_message_opens_and_its_attachment_downloads() -> Result<()> {
    let raw = sample::with_attachment(
        &sample::Headers {
            from: "\"Sam Rivera\" <sam@example.org>",
            to: "alice@example.org",
            subject: "The 30 MB file",
            date: T0,
        },
        "The file is attached.",
        &sample::Attachment {
            file_name: "big.bin",
            content_type: "application/octet-stream",
            content: &sample::noise(BIG),
        },
    );
    let (dovecot, user) = inbox_with(&[note("Small", "x"), raw], "").await?;
    let grew = tests::bridge_growth_in_own_process(
        "pop3::a_big_message_in_a_process_of_its_own",
        BIG_MESSAGE_SERVER,
        format!(
            "{}\n{}\n{}\n{}",
            dovecot.pop3s_url(),
            dovecot.ca_file().display(),
            user.name,
            user.password
        ),
    )
    .await?;
    // Holding the message whole would take over 40 MB encoded and 30 MB decoded.
    ensure!(grew < 16 << 10, "the bridge grew by {grew} KiB");
    // Dovecot served it once, through one RETR: the download read the spool file
    // rather than retrieving it again (each POP3 session logs its count).
    let logs = tests::eventually("the POP3 session to end", async || {
        let logs = dovecot.logs();
        Ok(logs.contains("retr=1/").then_some(logs))
    })
    .await?;
    let retrievals: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("retr=") && !l.contains("retr=0/"))
        .collect();
    assert_eq!(retrievals.len(), 1, "{retrievals:?}");
    Ok(())
}

/// The size of the big message's attachment.
const BIG: u32 = 30 << 20;
/// Tells the child process where the big message is: the server's URL, its CA file,
/// the user name and the password, one a line.
const BIG_MESSAGE_SERVER: &str = "POSTERN_TEST_BIG_MESSAGE_SERVER";

/// The child of the test above: a bridge, one session opening the big message
/// and downloading its attachment, checked byte by byte as it streams (nothing
/// here holds it whole), and the process's peak memory over its start.
#[tokio::test]
#[ignore = "run by a_30_mb_message_opens_and_its_attachment_downloads, in a process of its own"]
async fn a_big_message_in_a_process_of_its_own() -> Result<()> {
    use http_body_util::BodyExt;
    let Ok(server) = std::env::var(BIG_MESSAGE_SERVER) else {
        eprintln!("skipped: run by a_30_mb_message_opens_and_its_attachment_downloads");
        return Ok(());
    };
    let [url, ca_file, name, password] = server.split('\n').collect::<Vec<_>>()[..] else {
        bail!("{BIG_MESSAGE_SERVER} is not the URL, CA file, user and password, one a line");
    };
    let account = AccountSpec {
        name: "Example".into(),
        imap: String::new(),
        pop3: Some(url.to_owned()),
        ca_file: Some(ca_file.into()),
        extra: String::new(),
    };
    let bridge = Bridge::start(&[account], None).await?;
    let mut client = pop3_session(&bridge, &User::new(name, password), "Example").await?;
    let window = client.open("INBOX", 10).await?;
    assert_eq!(window.subjects(), ["The 30 MB file", "Small"]);
    ensure!(
        window.messages[0].size > 40 << 20,
        "listed at its encoded size"
    );
    let before = tests::memory_kib("VmRSS:")?;

    let view = client
        .open_message("INBOX", window.messages[0].uid, None)
        .await?;
    let body = view.body.as_ref().context("no body")?;
    ensure!(
        matches!(&body.content, protocol::BodyContent::Text { text } if text.contains("The file is attached.")),
        "{body:?}"
    );
    let part = view
        .parts
        .iter()
        .find(|p| p.name.as_deref() == Some("big.bin"))
        .context("the attachment is not listed")?;
    let url = format!("{}{}/part/{}", bridge.origin(), view.link, part.id);
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let response = http.get(url.parse()?).await?;
    ensure!(response.status() == 200, "status {}", response.status());
    let length = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(length, Some(BIG.to_string()));
    let mut body = response.into_body();
    let mut at = 0u32;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            for byte in data {
                // `sample::noise`, one byte at a time.
                let expected = (at.wrapping_mul(2_654_435_761) >> 13) as u8;
                ensure!(byte == expected, "byte {at} differs");
                at += 1;
            }
        }
    }
    assert_eq!(at, BIG, "the whole attachment");
    let peak = tests::memory_kib("VmHWM:")?;
    println!("bridge memory grew by KiB: {}", peak.saturating_sub(before));
    Ok(())
}

/// With the regular look for new mail an hour away, asking for the folder list (as
/// the app does when it comes back into view) looks at once.
#[tokio::test]
async fn asking_for_folders_looks_for_new_mail() -> Result<()> {
    let (dovecot, user) = inbox_with(&[note("First", "x")], "").await?;
    let bridge = Bridge::start_counting_every(
        &[AccountSpec::pop3("Example", &dovecot, dovecot.pop3s_url())],
        None,
        3600,
    )
    .await?;
    let mut client = pop3_session(&bridge, &user, "Example").await?;
    client.open("INBOX", 10).await?;
    deliver(&dovecot, &user, note("Second", "y"), T0 + 10).await?;
    // The last look may be just younger than the five seconds between looks.
    let deadline = tokio::time::Instant::now() + tests::DEADLINE;
    let folders = loop {
        let folders = client.folders().await?;
        if folders[0].total == 2 {
            break folders;
        }
        ensure!(tokio::time::Instant::now() < deadline, "{folders:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(folders[0].unread, 2);
    client
        .event("the new message", |e| {
            matches!(e, Event::FolderChanged { added, .. } if added.iter().any(|m| m.subject == "Second"))
        })
        .await?;
    Ok(())
}
