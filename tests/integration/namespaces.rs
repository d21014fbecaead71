//! Servers that keep personal folders under a prefix (`INBOX.` with `.`, as Cyrus
//! and Courier do), imitated by Dovecot with a shared, read-only namespace beside
//! it; refusals that keep the server's reason; counts of a folder the bridge
//! changed, on a server without NOTIFY. Each change is checked from an
//! independent client.

use std::collections::BTreeSet;

use anyhow::Result;
use futures::TryStreamExt;
use protocol::{ErrorCode, Event, Folder, FolderNamespace, FolderRole, Reply, Request};
use tests::{AccountSpec, Bridge, Dovecot, User, WsClient};

use crate::seed::{T0, alice, deliver};

/// What Dovecot offers, less NOTIFY: other folders' changes go unreported.
const WITHOUT_NOTIFY: &str = "protocol imap {
  imap_capability = IMAP4rev1 SASL-IR ID ENABLE IDLE SORT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC ESEARCH LIST-STATUS MOVE SPECIAL-USE ACL
}
";

async fn namespaced(extra: &str, counts_every: u32) -> Result<(Dovecot, User, Bridge, WsClient)> {
    let user = alice();
    let dovecot = Dovecot::start_laid_out(
        std::slice::from_ref(&user),
        maildev::Layout::InboxPrefix,
        extra,
    )?;
    let bridge = Bridge::start_counting_every(
        &[AccountSpec::trusting("Cyrus-like", &dovecot)],
        None,
        counts_every,
    )
    .await?;
    let mut client = bridge.connect().await?;
    client.sign_in(None, &user).await??;
    Ok((dovecot, user, bridge, client))
}

/// Every folder's name, as an independent client lists it.
async fn server_folders(dovecot: &Dovecot, user: &User) -> Result<BTreeSet<String>> {
    let mut imap = dovecot.imap(user).await?;
    let names: Vec<_> = imap.list(Some(""), Some("*")).await?.try_collect().await?;
    let all = names.iter().map(|n| n.name().to_owned()).collect();
    imap.logout().await?;
    Ok(all)
}

fn listed(reply: Reply) -> Result<Vec<Folder>> {
    match reply {
        Reply::Folders { folders } => Ok(folders),
        other => anyhow::bail!("expected the folder list, got {other:?}"),
    }
}

fn find<'a>(folders: &'a [Folder], id: &str) -> &'a Folder {
    folders
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("{id} is not listed in {folders:#?}"))
}

#[tokio::test]
async fn the_tree_reads_inside_the_namespaces() -> Result<()> {
    let (_dovecot, _user, _bridge, mut client) = namespaced("", 60).await?;
    let folders = client.folders().await?;
    let tree: Vec<_> = folders
        .iter()
        .filter(|f| f.namespace == FolderNamespace::Personal)
        .map(|f| {
            (
                f.id.as_str(),
                f.name.as_str(),
                f.parent.as_deref(),
                f.depth,
                f.role,
            )
        })
        .collect();
    // The inbox stays the Inbox, and nothing called "INBOX" sits above the rest.
    assert_eq!(
        tree,
        [
            ("INBOX", "Inbox", None, 0, Some(FolderRole::Inbox)),
            ("INBOX.Drafts", "Drafts", None, 0, Some(FolderRole::Drafts)),
            ("INBOX.Sent", "Sent", None, 0, Some(FolderRole::Sent)),
            (
                "INBOX.Archive",
                "Archive",
                None,
                0,
                Some(FolderRole::Archive)
            ),
            ("INBOX.Junk", "Junk", None, 0, Some(FolderRole::Junk)),
            ("INBOX.Trash", "Trash", None, 0, Some(FolderRole::Trash)),
        ]
    );
    // The shared namespace is its own section; its container is not a folder.
    let shared: Vec<&Folder> = folders
        .iter()
        .filter(|f| f.namespace != FolderNamespace::Personal)
        .collect();
    assert_eq!(shared.len(), 1, "{shared:#?}");
    let public = shared[0];
    assert_eq!(public.id, maildev::PUBLIC_FOLDER);
    assert_eq!(public.name, "Announcements");
    assert_eq!(
        (public.namespace, public.depth, public.parent.as_deref()),
        (FolderNamespace::Shared, 0, None)
    );
    assert!(public.read_only, "anyone may only look and read");
    assert_eq!(public.total, 1);
    assert!(!find(&folders, "INBOX.Sent").read_only);
    // The shared message opens like any other.
    let window = client.open(maildev::PUBLIC_FOLDER, 50).await?;
    assert_eq!(window.subjects(), ["The office is closed on Friday"]);
    // Opening it asks to mark it read, which the user has no right to: it opens
    // all the same, and flags stay as they were (Dovecot ignores the change, as
    // RFC 4314 allows, rather than refusing it).
    let uid = window.messages[0].uid;
    let view = client
        .open_message(maildev::PUBLIC_FOLDER, uid, None)
        .await?;
    assert!(view.body.is_some(), "{view:?}");
    let reply = client
        .ok(Request::SetFlags {
            folder: maildev::PUBLIC_FOLDER.into(),
            uids: vec![uid],
            add: vec![protocol::Flag::Flagged],
            remove: vec![],
        })
        .await?;
    let Reply::FlagsSet { messages, .. } = reply else {
        anyhow::bail!("expected flags, got {reply:?}");
    };
    assert!(
        messages
            .iter()
            .all(|m| !m.flags.contains(&protocol::Flag::Flagged)),
        "{messages:?}"
    );
    Ok(())
}

#[tokio::test]
async fn folders_are_created_renamed_and_moved_at_the_top_level_and_inside() -> Result<()> {
    let (dovecot, user, _bridge, mut client) = namespaced("", 60).await?;
    let folders = listed(
        client
            .ok(Request::CreateFolder {
                parent: None,
                name: "Receipts".into(),
            })
            .await?,
    )?;
    let receipts = find(&folders, "INBOX.Receipts");
    assert_eq!(
        (
            receipts.name.as_str(),
            receipts.parent.as_deref(),
            receipts.depth
        ),
        ("Receipts", None, 0)
    );
    assert!(receipts.subscribed);
    assert!(
        server_folders(&dovecot, &user)
            .await?
            .contains("INBOX.Receipts")
    );

    let folders = listed(
        client
            .ok(Request::CreateFolder {
                parent: Some("INBOX.Receipts".into()),
                name: "2026".into(),
            })
            .await?,
    )?;
    let year = find(&folders, "INBOX.Receipts.2026");
    assert_eq!(
        (year.parent.as_deref(), year.depth),
        (Some("INBOX.Receipts"), 1)
    );

    // Out to the top level, under a new name.
    let folders = listed(
        client
            .ok(Request::RenameFolder {
                folder: "INBOX.Receipts.2026".into(),
                parent: None,
                name: "Taxes".into(),
            })
            .await?,
    )?;
    assert_eq!(find(&folders, "INBOX.Taxes").depth, 0);
    // And moved into another folder, keeping its name.
    client
        .ok(Request::RenameFolder {
            folder: "INBOX.Taxes".into(),
            parent: Some("INBOX.Receipts".into()),
            name: "Taxes".into(),
        })
        .await?;
    // A top-level rename carries the folders inside along.
    let folders = listed(
        client
            .ok(Request::RenameFolder {
                folder: "INBOX.Receipts".into(),
                parent: None,
                name: "Bills".into(),
            })
            .await?,
    )?;
    assert_eq!(
        find(&folders, "INBOX.Bills.Taxes").parent.as_deref(),
        Some("INBOX.Bills")
    );
    let on_server = server_folders(&dovecot, &user).await?;
    for id in ["INBOX.Bills", "INBOX.Bills.Taxes"] {
        assert!(on_server.contains(id), "{id} in {on_server:?}");
    }
    for id in [
        "INBOX.Receipts",
        "INBOX.Taxes",
        "INBOX.Receipts.2026",
        "Bills",
        "Taxes",
    ] {
        assert!(!on_server.contains(id), "{id} in {on_server:?}");
    }

    // A folder cannot go inside itself.
    let refused = client
        .request(Request::RenameFolder {
            folder: "INBOX.Bills".into(),
            parent: Some("INBOX.Bills.Taxes".into()),
            name: "Bills".into(),
        })
        .await?;
    assert_eq!(refused.map_err(|e| e.code), Err(ErrorCode::Refused));
    client
        .ok(Request::DeleteFolder {
            folder: "INBOX.Bills.Taxes".into(),
        })
        .await?;
    assert!(
        !server_folders(&dovecot, &user)
            .await?
            .contains("INBOX.Bills.Taxes")
    );
    Ok(())
}

#[tokio::test]
async fn refusals_say_why() -> Result<()> {
    let (_dovecot, _user, _bridge, mut client) = namespaced("", 60).await?;
    client
        .ok(Request::CreateFolder {
            parent: None,
            name: "Receipts".into(),
        })
        .await?;
    let again = client
        .request(Request::CreateFolder {
            parent: None,
            name: "Receipts".into(),
        })
        .await?
        .expect_err("the folder exists");
    assert_eq!(again.code, ErrorCode::Refused);
    assert_eq!(
        again.message,
        "The mail server refused to create the folder: Mailbox already exists"
    );
    let forbidden = client
        .request(Request::CreateFolder {
            parent: Some(maildev::PUBLIC_FOLDER.into()),
            name: "Mine".into(),
        })
        .await?
        .expect_err("the shared namespace is read-only");
    assert_eq!(forbidden.code, ErrorCode::Refused);
    assert_eq!(
        forbidden.message,
        "The mail server refused to create the folder: Permission denied"
    );
    Ok(())
}

#[tokio::test]
async fn a_moves_target_folder_counts_at_once_without_notify() -> Result<()> {
    // Other folders' counts are refreshed only hourly here: what arrives sooner
    // comes from the move itself.
    let (dovecot, user, _bridge, mut client) = namespaced(WITHOUT_NOTIFY, 3600).await?;
    for i in 0..2 {
        let raw = format!("From: a@example.org\r\nSubject: Bill {i}\r\n\r\nPay.\r\n");
        deliver(&dovecot, &user, raw.into_bytes(), T0 + i).await?;
    }
    let window = client.open("INBOX", 50).await?;
    assert_eq!(window.total, 2);
    let uids: Vec<u32> = window.messages.iter().map(|m| m.uid).collect();
    client
        .ok(Request::MoveMessages {
            folder: "INBOX".into(),
            uids,
            to: "INBOX.Archive".into(),
        })
        .await?;
    let counted = client
        .event("the archive's counts", |event| {
            matches!(event, Event::FolderCounts { folders }
                if folders.iter().any(|c| c.folder == "INBOX.Archive"))
        })
        .await?;
    let Event::FolderCounts { folders } = counted else {
        unreachable!()
    };
    let archive = folders
        .iter()
        .find(|c| c.folder == "INBOX.Archive")
        .expect("the archive's counts");
    assert_eq!((archive.total, archive.unread), (2, 2));
    Ok(())
}
