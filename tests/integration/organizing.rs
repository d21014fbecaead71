//! Organizing mail through the bridge: moves, copies, removal and folder changes,
//! each checked from a second, independent IMAP client.

use std::collections::BTreeSet;

use anyhow::Result;
use futures::TryStreamExt;
use protocol::{ErrorCode, Reply, Request};
use tests::{AccountSpec, Bridge, Dovecot, User, WsClient};

use crate::seed::{INBOX_NEWEST_FIRST, seeded_server};

async fn signed_in() -> Result<(Dovecot, User, Bridge, WsClient)> {
    let (dovecot, user) = seeded_server().await?;
    let bridge = Bridge::start(&[AccountSpec::trusting("Example", &dovecot)], None).await?;
    let mut client = bridge.connect().await?;
    client.sign_in(None, &user).await??;
    Ok((dovecot, user, bridge, client))
}

/// The subjects in a folder (raw, not decoded) and whether each is flagged, as an
/// independent client sees them.
pub async fn server_subjects(
    dovecot: &Dovecot,
    user: &User,
    folder: &str,
) -> Result<Vec<(String, bool)>> {
    let mut imap = dovecot.imap(user).await?;
    let mailbox = imap.examine(folder).await?;
    let mut subjects = Vec::new();
    if mailbox.exists > 0 {
        let fetches: Vec<_> = imap
            .fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            .await?
            .try_collect()
            .await?;
        for fetch in &fetches {
            let header = String::from_utf8_lossy(fetch.header().unwrap_or_default()).into_owned();
            let subject = header
                .trim()
                .strip_prefix("Subject:")
                .unwrap_or_default()
                .trim()
                .to_owned();
            let flagged = fetch
                .flags()
                .any(|f| matches!(f, async_imap::types::Flag::Flagged));
            subjects.push((subject, flagged));
        }
    }
    imap.logout().await?;
    Ok(subjects)
}

/// The subjects in a folder, as a set.
async fn subjects(dovecot: &Dovecot, user: &User, folder: &str) -> Result<BTreeSet<String>> {
    Ok(server_subjects(dovecot, user, folder)
        .await?
        .into_iter()
        .map(|(subject, _)| subject)
        .collect())
}

/// Folder names, and subscribed ones, as an independent client sees them.
async fn folders(dovecot: &Dovecot, user: &User) -> Result<(BTreeSet<String>, BTreeSet<String>)> {
    let mut imap = dovecot.imap(user).await?;
    let all = imap
        .list(Some(""), Some("*"))
        .await?
        .map_ok(|n| n.name().to_owned())
        .try_collect()
        .await?;
    let subscribed = imap
        .lsub(Some(""), Some("*"))
        .await?
        .map_ok(|n| n.name().to_owned())
        .try_collect()
        .await?;
    imap.logout().await?;
    Ok((all, subscribed))
}

#[tokio::test]
async fn moves_copies_and_removals_reach_the_server() -> Result<()> {
    let (dovecot, user, _bridge, mut client) = signed_in().await?;
    let inbox = client.open("INBOX", 50).await?;
    let uid_of = |subject: &str| {
        inbox
            .messages
            .iter()
            .find(|m| m.subject == subject)
            .map(|m| m.uid)
            .expect(subject)
    };
    let (newest, second, third) = (
        uid_of(INBOX_NEWEST_FIRST[0]),
        uid_of(INBOX_NEWEST_FIRST[1]),
        uid_of(INBOX_NEWEST_FIRST[2]),
    );

    let reply = client
        .ok(Request::MoveMessages {
            folder: "INBOX".into(),
            uids: vec![newest, second],
            to: "Work".into(),
        })
        .await?;
    assert!(matches!(reply, Reply::MessagesMoved { .. }));
    let work = subjects(&dovecot, &user, "Work").await?;
    assert!(work.contains(INBOX_NEWEST_FIRST[0]));
    let inbox_now = subjects(&dovecot, &user, "INBOX").await?;
    assert!(!inbox_now.contains(INBOX_NEWEST_FIRST[0]));
    assert_eq!(inbox_now.len(), INBOX_NEWEST_FIRST.len() - 2);

    client
        .ok(Request::CopyMessages {
            folder: "INBOX".into(),
            uids: vec![third],
            to: "Work/Reports".into(),
        })
        .await?;
    assert!(
        subjects(&dovecot, &user, "Work/Reports")
            .await?
            .contains(INBOX_NEWEST_FIRST[2])
    );
    assert!(
        subjects(&dovecot, &user, "INBOX")
            .await?
            .contains(INBOX_NEWEST_FIRST[2])
    );

    client
        .ok(Request::ExpungeMessages {
            folder: "INBOX".into(),
            uids: vec![third],
        })
        .await?;
    assert!(
        !subjects(&dovecot, &user, "INBOX")
            .await?
            .contains(INBOX_NEWEST_FIRST[2])
    );

    let missing = client
        .request(Request::MoveMessages {
            folder: "INBOX".into(),
            uids: vec![uid_of(INBOX_NEWEST_FIRST[3])],
            to: "No such folder".into(),
        })
        .await?;
    assert_eq!(missing.map_err(|e| e.code), Err(ErrorCode::FolderNotFound));
    let empty = client
        .request(Request::ExpungeMessages {
            folder: "INBOX".into(),
            uids: vec![],
        })
        .await?;
    assert_eq!(empty.map_err(|e| e.code), Err(ErrorCode::BadRequest));
    // The window after the changes agrees with the server.
    assert_eq!(client.open("INBOX", 50).await?.total, 2);
    Ok(())
}

#[tokio::test]
async fn folders_are_created_renamed_subscribed_and_deleted() -> Result<()> {
    let (dovecot, user, _bridge, mut client) = signed_in().await?;
    let reply = client
        .ok(Request::CreateFolder {
            parent: Some("Work".into()),
            name: "Ünïcode plans".into(),
        })
        .await?;
    let Reply::Folders { folders: listed } = reply else {
        anyhow::bail!("expected the folder list, got {reply:?}");
    };
    let created = listed
        .iter()
        .find(|f| f.name == "Ünïcode plans")
        .expect("the new folder is listed");
    assert_eq!(created.id, "Work/&ANw-n&AO8-code plans");
    assert_eq!(created.parent.as_deref(), Some("Work"));
    assert!(created.subscribed);
    let (all, subscribed) = folders(&dovecot, &user).await?;
    assert!(all.contains("Work/&ANw-n&AO8-code plans"));
    assert!(subscribed.contains("Work/&ANw-n&AO8-code plans"));

    let duplicate = client
        .request(Request::CreateFolder {
            parent: Some("Work".into()),
            name: "Ünïcode plans".into(),
        })
        .await?;
    assert_eq!(duplicate.map_err(|e| e.code), Err(ErrorCode::Refused));
    for bad in ["", "a/b", "star*", "line\nbreak"] {
        let refused = client
            .request(Request::CreateFolder {
                parent: None,
                name: bad.into(),
            })
            .await?;
        assert_eq!(
            refused.map_err(|e| e.code),
            Err(ErrorCode::BadRequest),
            "{bad:?}"
        );
    }

    client
        .ok(Request::RenameFolder {
            folder: "Work/&ANw-n&AO8-code plans".into(),
            parent: None,
            name: "Plans".into(),
        })
        .await?;
    let (all, _) = folders(&dovecot, &user).await?;
    assert!(all.contains("Plans") && !all.contains("Work/&ANw-n&AO8-code plans"));

    client
        .ok(Request::SubscribeFolder {
            folder: "Plans".into(),
            subscribed: false,
        })
        .await?;
    let (_, subscribed) = folders(&dovecot, &user).await?;
    assert!(!subscribed.contains("Plans"));

    client
        .ok(Request::DeleteFolder {
            folder: "Plans".into(),
        })
        .await?;
    let (all, _) = folders(&dovecot, &user).await?;
    assert!(!all.contains("Plans"));

    let inbox = client
        .request(Request::DeleteFolder {
            folder: "INBOX".into(),
        })
        .await?;
    assert_eq!(inbox.map_err(|e| e.code), Err(ErrorCode::BadRequest));
    Ok(())
}
