//! Live updates: what a second, independent IMAP client does on the server reaches
//! the bridge's WebSocket as events; a dropped connection is reconnected without
//! losing or repeating what the person did meanwhile; a folder whose UIDVALIDITY
//! changed is reloaded.

use anyhow::{Context, Result};
use futures::TryStreamExt;
use maildev::sample::{self, Headers};
use protocol::{Connectivity, Event, Flag, Reply, Request};
use tests::{AccountSpec, Bridge, Dovecot, User, WsClient};

use crate::organizing::server_subjects;
use crate::seed::{INBOX_NEWEST_FIRST, T0, seeded_server};

async fn signed_in() -> Result<(Dovecot, User, Bridge, WsClient)> {
    let (dovecot, user) = seeded_server().await?;
    let bridge = Bridge::start(&[AccountSpec::trusting("Example", &dovecot)], None).await?;
    let mut client = bridge.connect().await?;
    client.sign_in(None, &user).await??;
    Ok((dovecot, user, bridge, client))
}

fn note(subject: &str) -> Vec<u8> {
    sample::plain(
        &Headers {
            from: "Dana <dana@example.org>",
            to: "alice@example.org",
            subject,
            date: T0 + 86_400,
        },
        "Delivered while the app was open.\r\n",
    )
}

/// The UID of the INBOX message with this subject, as the bridge listed it.
async fn uid_of(client: &mut WsClient, subject: &str) -> Result<u32> {
    let window = client.open("INBOX", 50).await?;
    window
        .messages
        .iter()
        .find(|m| m.subject == subject)
        .map(|m| m.uid)
        .with_context(|| format!("{subject} is not listed"))
}

/// The parts of an INBOX `folder_changed` event.
struct Changed<'a> {
    added: &'a [protocol::MessageHeader],
    flags: &'a [protocol::MessageFlags],
    removed: &'a [u32],
    total: u32,
    unread: u32,
}

fn changed(event: &Event) -> Option<Changed<'_>> {
    match event {
        Event::FolderChanged {
            folder,
            total,
            unread,
            added,
            flags,
            removed,
            ..
        } if folder == "INBOX" => Some(Changed {
            added,
            flags,
            removed,
            total: *total,
            unread: *unread,
        }),
        _ => None,
    }
}

#[tokio::test]
async fn another_clients_changes_arrive_as_events() -> Result<()> {
    let (dovecot, user, _bridge, mut client) = signed_in().await?;
    let opened = client.open("INBOX", 50).await?;
    let quarterly = uid_of(&mut client, INBOX_NEWEST_FIRST[3]).await?;
    let oldest = uid_of(&mut client, INBOX_NEWEST_FIRST[4]).await?;
    let mut other = dovecot.imap(&user).await?;

    // New mail: its header arrives, with the new counts.
    other
        .append("INBOX", None, None, note("Arrived live"))
        .await?;
    let event = client
        .event("new mail", |e| {
            changed(e).is_some_and(|c| !c.added.is_empty())
        })
        .await?;
    let Changed {
        added,
        total,
        unread,
        ..
    } = changed(&event).context("folder_changed")?;
    assert_eq!(added.len(), 1, "{event:?}");
    assert_eq!(added[0].subject, "Arrived live");
    assert_eq!(added[0].from[0].email, "dana@example.org");
    assert!(added[0].is_unread());
    assert_eq!(total, opened.total + 1);
    assert_eq!(unread, opened.unread + 1);

    // A flag another client sets.
    other.select("INBOX").await?;
    other
        .uid_store(oldest.to_string(), "+FLAGS (\\Flagged)")
        .await?
        .try_collect::<Vec<_>>()
        .await?;
    let event = client
        .event("a flag change", |e| {
            changed(e).is_some_and(|c| c.flags.iter().any(|m| m.uid == oldest))
        })
        .await?;
    let flags = changed(&event).context("folder_changed")?.flags;
    let entry = flags.iter().find(|m| m.uid == oldest).context("flags")?;
    assert!(entry.flags.contains(&Flag::Flagged), "{event:?}");

    // A message another client expunges.
    other
        .uid_store(quarterly.to_string(), "+FLAGS (\\Deleted)")
        .await?
        .try_collect::<Vec<_>>()
        .await?;
    other.expunge().await?.try_collect::<Vec<_>>().await?;
    let event = client
        .event("an expunge", |e| {
            changed(e).is_some_and(|c| c.removed.contains(&quarterly))
        })
        .await?;
    assert_eq!(
        changed(&event).context("folder_changed")?.total,
        opened.total
    );

    // The open folder's next window reflects all of it without reopening.
    let Reply::Messages {
        messages, total, ..
    } = client
        .ok(Request::ListMessages {
            folder: "INBOX".into(),
            offset: 0,
            limit: 50,
            sort: Default::default(),
        })
        .await?
    else {
        anyhow::bail!("expected messages");
    };
    assert_eq!(total, opened.total);
    assert_eq!(messages[0].subject, "Arrived live");
    assert!(!messages.iter().any(|m| m.uid == quarterly));

    // Another folder's counts follow too (refreshed every second in tests).
    other
        .append("Work", None, None, note("Filed elsewhere"))
        .await?;
    client
        .event("Work's new count", |e| match e {
            Event::FolderCounts { folders } => folders
                .iter()
                .any(|f| f.folder == "Work" && f.total == 1 && f.unread == 1),
            _ => false,
        })
        .await?;
    other.logout().await?;
    Ok(())
}

#[tokio::test]
async fn a_dropped_connection_is_resumed_and_queued_actions_apply_once() -> Result<()> {
    let (dovecot, user, _bridge, mut client) = signed_in().await?;
    client.open("INBOX", 50).await?;
    let newest = uid_of(&mut client, INBOX_NEWEST_FIRST[0]).await?;
    let oldest = uid_of(&mut client, INBOX_NEWEST_FIRST[4]).await?;

    dovecot.kick(&user)?;
    client
        .event("reconnecting", |e| {
            *e == Event::ConnectivityChanged {
                state: Connectivity::Reconnecting,
            }
        })
        .await?;
    // Meanwhile: mail arrives, and the person moves a message and flags another.
    let mut other = dovecot.imap(&user).await?;
    other
        .append("INBOX", None, None, note("Arrived while away"))
        .await?;
    other.logout().await?;
    let moved = client
        .send(Request::MoveMessages {
            folder: "INBOX".into(),
            uids: vec![newest],
            to: "Archive".into(),
        })
        .await?;
    let flagged = client
        .send(Request::SetFlags {
            folder: "INBOX".into(),
            uids: vec![oldest],
            add: vec![Flag::Flagged],
            remove: vec![],
        })
        .await?;
    client.answer(moved).await??;
    client.answer(flagged).await??;
    client
        .event("connected again", |e| {
            *e == Event::ConnectivityChanged {
                state: Connectivity::Connected,
            }
        })
        .await?;
    client
        .event("the mail that came meanwhile", |e| {
            changed(e).is_some_and(|c| c.added.iter().any(|m| m.subject == "Arrived while away"))
        })
        .await?;

    // Each action reached the server exactly once.
    let archive = server_subjects(&dovecot, &user, "Archive").await?;
    let copies = archive
        .iter()
        .filter(|(s, _)| s == INBOX_NEWEST_FIRST[0])
        .count();
    assert_eq!(copies, 1, "{archive:?}");
    let inbox = server_subjects(&dovecot, &user, "INBOX").await?;
    assert!(!inbox.iter().any(|(s, _)| s == INBOX_NEWEST_FIRST[0]));
    assert!(
        inbox.contains(&(INBOX_NEWEST_FIRST[4].to_owned(), true)),
        "{inbox:?}"
    );

    // And the session goes on.
    let window = client.open("INBOX", 50).await?;
    assert!(window.subjects().contains(&"Arrived while away"));
    Ok(())
}

#[tokio::test]
async fn a_recreated_folder_is_reloaded() -> Result<()> {
    let (dovecot, user, _bridge, mut client) = signed_in().await?;
    let mut other = dovecot.imap(&user).await?;
    other.create("Projects").await?;
    other.append("Projects", None, None, note("Before")).await?;
    client.open("Projects", 50).await?;

    // Deleted and created again: same name, new UIDVALIDITY.
    other.delete("Projects").await?;
    other.create("Projects").await?;
    other.append("Projects", None, None, note("After")).await?;
    other.logout().await?;
    client
        .event(
            "the folder reset",
            |e| matches!(e, Event::FolderReset { folder } if folder == "Projects"),
        )
        .await?;
    let window = client.open("Projects", 50).await?;
    assert_eq!(window.subjects(), ["After"]);
    assert_eq!(window.total, 1);
    Ok(())
}

async fn row_count(browser: &tests::browser::Browser, xpath: &str) -> Result<usize> {
    Ok(browser
        .client
        .find_all(fantoccini::Locator::XPath(xpath))
        .await?
        .len())
}

#[tokio::test]
async fn the_open_app_follows_another_client_without_reloading() -> Result<()> {
    use fantoccini::Locator;
    use tests::browser::{message_row, signed_in_app};
    use tests::{eventually, screenshot_dir};

    let (dovecot, user) = seeded_server().await?;
    let (_bridge, browser) = signed_in_app(&dovecot, &user).await?;
    browser
        .wait_for(
            Locator::XPath(&message_row(INBOX_NEWEST_FIRST[4])),
            "the inbox",
        )
        .await?;
    // A marker that a reload would wipe.
    browser
        .client
        .execute("window.postern_not_reloaded = true;", vec![])
        .await?;

    let mut other = dovecot.imap(&user).await?;
    other
        .append("INBOX", None, None, note("Arrived live"))
        .await?;
    browser
        .wait_for(Locator::XPath(&message_row("Arrived live")), "the new row")
        .await?;
    let first = "(//ul[@aria-label='Messages']/li)[1][.//*[normalize-space()='Arrived live']]";
    assert_eq!(row_count(&browser, first).await?, 1, "new mail goes on top");

    other.select("INBOX").await?;
    let oldest = other
        .uid_search("SUBJECT \"Oldest note\"")
        .await?
        .into_iter()
        .next()
        .context("the oldest note")?;
    other
        .uid_store(oldest.to_string(), "+FLAGS (\\Flagged)")
        .await?
        .try_collect::<Vec<_>>()
        .await?;
    let flagged = format!(
        "{}[.//*[@role='img'][@aria-label='Flagged']]",
        message_row(INBOX_NEWEST_FIRST[4])
    );
    browser
        .wait_for(Locator::XPath(&flagged), "the flag")
        .await?;
    // Replied to and forwarded elsewhere: the row says so.
    other
        .uid_store(oldest.to_string(), "+FLAGS (\\Answered $Forwarded)")
        .await?
        .try_collect::<Vec<_>>()
        .await?;
    for badge in ["Replied", "Forwarded"] {
        let xpath = format!(
            "{}[.//*[@role='img'][@aria-label='{badge}']]",
            message_row(INBOX_NEWEST_FIRST[4])
        );
        browser
            .wait_for(Locator::XPath(&xpath), &format!("the {badge} badge"))
            .await?;
    }
    browser
        .screenshot(&screenshot_dir()?.join("live-new-mail-desktop.png"))
        .await?;

    other
        .uid_store(oldest.to_string(), "+FLAGS (\\Deleted)")
        .await?
        .try_collect::<Vec<_>>()
        .await?;
    other.expunge().await?.try_collect::<Vec<_>>().await?;
    let gone = message_row(INBOX_NEWEST_FIRST[4]);
    eventually("the expunged row to leave", async || {
        Ok((row_count(&browser, &gone).await? == 0).then_some(()))
    })
    .await?;
    other.logout().await?;

    let marker = browser
        .client
        .execute("return window.postern_not_reloaded === true;", vec![])
        .await?;
    assert_eq!(marker, serde_json::Value::Bool(true), "the page reloaded");
    browser.close().await
}

#[tokio::test]
async fn other_folders_counts_arrive_without_polling_where_the_server_notifies() -> Result<()> {
    let (dovecot, user) = seeded_server().await?;
    // An hour between polls: only NOTIFY can bring the count within the deadline.
    let bridge =
        Bridge::start_counting_every(&[AccountSpec::trusting("Example", &dovecot)], None, 3600)
            .await?;
    let mut client = bridge.connect().await?;
    client.sign_in(None, &user).await??;
    client.open("INBOX", 50).await?;
    let mut other = dovecot.imap(&user).await?;
    other
        .append("Work", None, None, note("Filed elsewhere"))
        .await?;
    client
        .event("Work's new count", |e| match e {
            Event::FolderCounts { folders } => folders
                .iter()
                .any(|f| f.folder == "Work" && f.total == 1 && f.unread == 1),
            _ => false,
        })
        .await?;
    // Read elsewhere: the unread count follows.
    other.select("Work").await?;
    other
        .store("1", "+FLAGS (\\Seen)")
        .await?
        .try_collect::<Vec<_>>()
        .await?;
    client
        .event("Work read", |e| match e {
            Event::FolderCounts { folders } => folders
                .iter()
                .any(|f| f.folder == "Work" && f.total == 1 && f.unread == 0),
            _ => false,
        })
        .await?;
    // The open folder still goes live as before.
    other
        .append("INBOX", None, None, note("Still live"))
        .await?;
    client
        .event("new mail", |e| {
            changed(e).is_some_and(|c| c.added.iter().any(|m| m.subject == "Still live"))
        })
        .await?;
    other.logout().await?;
    Ok(())
}
