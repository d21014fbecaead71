//! Drafts of a POP3 account, which the bridge keeps for it in `data_dir`: saved
//! and replaced (one version left), listed in Drafts by each of the user's
//! sessions as they change, kept across a restart, resumed with their file,
//! sent from there (then gone), and discarded.

use anyhow::{Context, Result, bail, ensure};
use maildev::sample;
use protocol::{Draft, Event, Flag, FolderRole, Reply, Request};
use tests::{AccountSpec, Bridge, User, WsClient, upload};

use crate::attachments::{attached, files};
use crate::sending::{Mail, delivered, parse, send, to};

/// A POP3-only account on the test Dovecot that sends through its Postfix.
pub(crate) fn pop3_account(mail: &Mail) -> AccountSpec {
    AccountSpec {
        extra: mail.account().extra,
        ..AccountSpec::pop3("Example", &mail.dovecot, mail.dovecot.pop3s_url())
    }
}

/// Signs `user` in; the session's upload link too.
async fn signed_in(bridge: &Bridge, user: &User) -> Result<(WsClient, String)> {
    let mut client = bridge.connect().await?;
    let reply = client.sign_in(None, user).await??;
    let Reply::SignedIn {
        protocol: protocol::MailProtocol::Pop3,
        sending: Some(sending),
        ..
    } = reply
    else {
        bail!("not a POP3 session that sends: {reply:?}");
    };
    Ok((client, sending.upload.context("no upload link")?))
}

#[tokio::test]
async fn a_pop3_draft_is_kept_by_the_bridge_replaced_resumed_after_a_restart_and_gone_once_sent()
-> Result<()> {
    let mail = Mail::start()?;
    let data = tempfile::tempdir()?;
    let account = || pop3_account(&mail);
    let bridge = Bridge::start_keeping(&[account()], None, 1, Some(data.path())).await?;
    let (mut client, link) = signed_in(&bridge, &mail.alice).await?;
    let (mut other, _) = signed_in(&bridge, &mail.alice).await?;

    // Drafts is there from the start, empty, for every session.
    let folders = other.folders().await?;
    let drafts = folders
        .iter()
        .find(|f| f.role == Some(FolderRole::Drafts))
        .context("no Drafts folder")?;
    assert_eq!((drafts.id.as_str(), drafts.total), ("Drafts", 0));
    assert_eq!(other.open("Drafts", 50).await?.total, 0);

    let content = sample::noise(120_000);
    let uploaded = upload(
        &bridge,
        &link,
        "plan.bin",
        "application/octet-stream",
        content.clone(),
    )
    .await?
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut draft = Draft {
        to: vec![to("bob@example.test")],
        bcc: vec![to("carol@example.test")],
        subject: "Plans".into(),
        text: "First words.".into(),
        attachments: vec![attached(&uploaded)],
        ..Draft::default()
    };
    let (first, message_id, attachments) = client.save_draft(&draft).await?;
    assert_eq!(first.folder, "Drafts");
    assert_eq!(attachments[0].saved_part.as_deref(), Some("2"));
    // The other session, looking at Drafts, sees it arrive.
    let added = other
        .event("the draft in Drafts", |e| {
            matches!(e, Event::FolderChanged { folder, added, .. }
                if folder == "Drafts" && added.iter().any(|h| h.subject == "Plans"))
        })
        .await?;
    let Event::FolderChanged { added, total, .. } = added else {
        bail!("not a folder change");
    };
    assert_eq!(total, 1);
    assert_eq!(added[0].uid, first.uid);
    assert!(
        added[0].flags.contains(&Flag::Draft) && added[0].flags.contains(&Flag::Seen),
        "{:?}",
        added[0].flags
    );

    // The next version replaces it, under the same Message-ID.
    draft.message_id = Some(message_id.clone());
    draft.saved = Some(first.clone());
    draft.attachments = attachments;
    draft.text.push_str("\n\nSecond thoughts.");
    let (second, again, _) = client.save_draft(&draft).await?;
    assert_eq!(again, message_id);
    assert_ne!(second.uid, first.uid);
    other
        .event("the first version gone", |e| {
            matches!(e, Event::FolderChanged { folder, removed, total, .. }
                if folder == "Drafts" && removed.contains(&first.uid) && *total == 1)
        })
        .await?;
    let window = other.open("Drafts", 50).await?;
    assert_eq!(window.subjects(), ["Plans"], "exactly one version is kept");
    assert_eq!(window.messages[0].uid, second.uid);
    drop((client, other));
    drop(bridge);

    // A restart of the bridge, on the same data_dir: the draft comes back whole.
    let (_bridge, mut client) = tests::eventually("a bridge on the same data_dir", || async {
        let bridge = Bridge::start_keeping(&[account()], None, 1, Some(data.path())).await?;
        match signed_in(&bridge, &mail.alice).await {
            Ok((client, _)) => Ok(Some((bridge, client))),
            Err(_) => Ok(None),
        }
    })
    .await?;
    let resumed = match client
        .ok(Request::ResumeDraft {
            folder: "Drafts".into(),
            uid: second.uid,
        })
        .await?
    {
        Reply::DraftResumed { draft } => *draft,
        other => bail!("expected draft_resumed, got {other:?}"),
    };
    assert_eq!(resumed.to, draft.to);
    assert_eq!(resumed.bcc, draft.bcc);
    assert_eq!(resumed.subject, "Plans");
    assert_eq!(resumed.text, draft.text);
    assert_eq!(resumed.message_id.as_deref(), Some(message_id.as_str()));
    assert_eq!(resumed.saved, Some(second.clone()));
    assert_eq!(resumed.attachments.len(), 1);
    assert_eq!(resumed.attachments[0].name, "plan.bin");

    // Sent from there, its file read from the draft the bridge keeps; then gone.
    send(&mut client, resumed).await??;
    let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
    assert_eq!(
        parse(&inbox[0].0)?.message_id(),
        Some(message_id.trim_matches(['<', '>']))
    );
    assert_eq!(
        files(&inbox[0].0)?,
        [(
            "plan.bin".to_owned(),
            "application/octet-stream".to_owned(),
            content
        )]
    );
    assert!(!String::from_utf8_lossy(&inbox[0].0).contains("X-Postern-Draft"));
    delivered(&mail.dovecot, &mail.carol, "INBOX", 1).await?;
    assert_eq!(
        client.open("Drafts", 50).await?.total,
        0,
        "the draft is gone"
    );

    // "Discard draft" removes one; a draft is a draft whatever flags are asked.
    let (kept, _, _) = client
        .save_draft(&Draft {
            subject: "Never mind".into(),
            ..Draft::default()
        })
        .await?;
    let flags = client
        .ok(Request::SetFlags {
            folder: "Drafts".into(),
            uids: vec![kept.uid],
            add: vec![],
            remove: vec![Flag::Seen],
        })
        .await?;
    ensure!(
        matches!(&flags, Reply::FlagsSet { messages, .. } if messages[0].flags.contains(&Flag::Seen)),
        "{flags:?}"
    );
    client
        .ok(Request::ExpungeMessages {
            folder: "Drafts".into(),
            uids: vec![kept.uid],
        })
        .await?;
    assert_eq!(client.open("Drafts", 50).await?.total, 0);
    Ok(())
}
