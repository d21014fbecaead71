//! Sending through the bridge to a real Postfix, which delivers into the real
//! Dovecot: what recipients find in their INBOX, what Sent keeps, and what refusals
//! and faults say.

use anyhow::{Context, Result, bail, ensure};
use futures::TryStreamExt;
use protocol::{Address, ComposeKind, Draft, DraftSource, ErrorCode, Reply, Request};
use tests::hostile_smtp::HostileSmtp;
use tests::{AccountSpec, Bridge, Dovecot, User, WsClient, eventually};

/// Alice, Bob and Carol on one Dovecot, with a Postfix for them.
pub struct Mail {
    pub dovecot: Dovecot,
    pub postfix: maildev::Postfix,
    pub alice: User,
    pub bob: User,
    pub carol: User,
}

impl Mail {
    pub fn start() -> Result<Self> {
        Self::start_with("")
    }

    /// Like [`Mail::start`], with `extra` lines for Dovecot's configuration.
    pub fn start_with(extra: &str) -> Result<Self> {
        let alice = User::new("alice", "alice-secret");
        let bob = User::new("bob", "bob-secret");
        let carol = User::new("carol", "carol-secret");
        let users = [alice.clone(), bob.clone(), carol.clone()];
        let dovecot = Dovecot::start_with(&users, extra)?;
        let postfix = maildev::Postfix::start(&dovecot, &users, &[])?;
        Ok(Mail {
            dovecot,
            postfix,
            alice,
            bob,
            carol,
        })
    }

    /// Puts `raw` into `user`'s `folder`, as an independent client.
    pub async fn append(&self, user: &User, folder: &str, raw: &str) -> Result<()> {
        let mut imap = self.dovecot.imap(user).await?;
        imap.append(folder, None, None, raw).await?;
        imap.logout().await?;
        Ok(())
    }

    /// A bridge whose account's SMTP server is a closed port, and `user`
    /// signed in to it.
    pub async fn signed_in_without_smtp(&self, user: &User) -> Result<(Bridge, WsClient)> {
        let closed = maildev::free_port()?;
        let mut account = self.account();
        account.extra =
            format!("smtp = \"smtps://127.0.0.1:{closed}\"\ndomain = \"example.test\"\n");
        let bridge = Bridge::start(&[account], None).await?;
        let mut client = bridge.connect().await?;
        client.sign_in(None, user).await??;
        Ok((bridge, client))
    }

    pub fn account(&self) -> AccountSpec {
        AccountSpec::sending("Example", &self.dovecot, &self.postfix)
    }

    /// A bridge with the sending account, and `user` signed in to it.
    pub async fn signed_in(&self, user: &User) -> Result<(Bridge, WsClient)> {
        let bridge = Bridge::start(&[self.account()], None).await?;
        let mut client = bridge.connect().await?;
        client.sign_in(None, user).await??;
        Ok((bridge, client))
    }
}

pub fn to(email: &str) -> Address {
    Address {
        name: None,
        email: email.to_owned(),
    }
}

/// The messages in `user`'s `folder` once there are at least `count`, raw, with
/// their flags, oldest first.
pub async fn delivered(
    dovecot: &Dovecot,
    user: &User,
    folder: &str,
    count: u32,
) -> Result<Vec<(Vec<u8>, Vec<String>)>> {
    eventually(
        &format!("{count} message(s) in {}'s {folder}", user.name),
        || async {
            // The observer's own session can lose a race with a delivery that
            // creates the user's INBOX (Dovecot answers ALREADYEXISTS to one):
            // that is not the bridge's doing, so look again.
            match look(dovecot, user, folder, count).await {
                Ok(found) => Ok(found),
                Err(e) => {
                    eprintln!(
                        "looking at {}'s {folder} failed, trying again: {e:#}",
                        user.name
                    );
                    Ok(None)
                }
            }
        },
    )
    .await
}

async fn look(
    dovecot: &Dovecot,
    user: &User,
    folder: &str,
    count: u32,
) -> Result<Option<Vec<(Vec<u8>, Vec<String>)>>> {
    let mut imap = dovecot.imap(user).await?;
    let mailbox = imap.examine(folder).await?;
    if mailbox.exists < count {
        imap.logout().await?;
        return Ok(None);
    }
    let fetches: Vec<_> = imap
        .fetch("1:*", "(FLAGS BODY.PEEK[])")
        .await?
        .try_collect()
        .await?;
    imap.logout().await?;
    Ok(Some(
        fetches
            .iter()
            .map(|f| {
                let flags = f.flags().map(|flag| format!("{flag:?}")).collect();
                (f.body().unwrap_or_default().to_vec(), flags)
            })
            .collect(),
    ))
}

/// How many messages `user`'s `folder` holds now.
pub async fn count(dovecot: &Dovecot, user: &User, folder: &str) -> Result<u32> {
    let mut imap = dovecot.imap(user).await?;
    let exists = imap.examine(folder).await?.exists;
    imap.logout().await?;
    Ok(exists)
}

pub fn parse(raw: &[u8]) -> Result<mail_parser::Message<'_>> {
    mail_parser::MessageParser::new()
        .parse(raw)
        .ok_or_else(|| anyhow::anyhow!("unparsable message"))
}

fn header_block(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

pub async fn send(
    client: &mut WsClient,
    draft: Draft,
) -> Result<Result<Reply, protocol::WireError>> {
    client
        .request(Request::SendMessage {
            draft: Box::new(draft),
            hold_seconds: 0,
        })
        .await
}

#[tokio::test]
async fn a_message_reaches_everyone_and_sent_keeps_one_copy_with_its_bcc() -> Result<()> {
    let mail = Mail::start()?;
    let (_bridge, mut client) = mail.signed_in(&mail.alice).await?;
    let draft = Draft {
        to: vec![Address {
            name: Some("Böb Müller".into()),
            email: "bob@example.test".into(),
        }],
        bcc: vec![to("carol@example.test")],
        subject: "Grüße — Ünïcode subject that is long enough to need folding in the header".into(),
        text: format!(
            "Hello Bob,\n\n{}\n\nAlice",
            "a long line of words ".repeat(10)
        ),
        ..Draft::default()
    };
    let reply = send(&mut client, draft.clone()).await??;
    let Reply::MessageSent {
        message_id,
        recipients,
        sent_folder,
    } = reply
    else {
        bail!("expected message_sent, got {reply:?}");
    };
    assert_eq!(recipients, ["bob@example.test", "carol@example.test"]);
    assert_eq!(sent_folder.as_deref(), Some("Sent"));
    assert!(message_id.ends_with("@example.test>"), "{message_id}");

    let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
    let (raw, _) = &inbox[0];
    let message = parse(raw)?;
    assert_eq!(message.subject(), Some(draft.subject.as_str()));
    assert_eq!(
        message.message_id(),
        Some(message_id.trim_matches(['<', '>']))
    );
    assert_eq!(
        message.to().and_then(|a| a.first()).and_then(|a| a.name()),
        Some("Böb Müller")
    );
    assert_eq!(
        message
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some("alice@example.test")
    );
    assert!(message.date().is_some());
    let text = message
        .body_text(0)
        .unwrap_or_default()
        .replace("\r\n", "\n");
    assert!(text.starts_with("Hello Bob,\n\n"), "{text}");
    // format=flowed: the long line arrives wrapped with soft breaks, and reads back whole.
    assert!(
        String::from_utf8_lossy(raw).contains("format=\"flowed\""),
        "{}",
        header_block(raw)
    );
    let headers = header_block(raw).to_ascii_lowercase();
    assert!(
        !headers.contains("bcc") && !headers.contains("carol"),
        "{headers}"
    );

    // Carol got it too, without being named in it.
    let carol = delivered(&mail.dovecot, &mail.carol, "INBOX", 1).await?;
    assert!(
        !header_block(&carol[0].0)
            .to_ascii_lowercase()
            .contains("carol")
    );

    // Alice's Sent has it once, read, with the Bcc she wrote.
    let sent = delivered(&mail.dovecot, &mail.alice, "Sent", 1).await?;
    assert_eq!(sent.len(), 1);
    let (copy, flags) = &sent[0];
    assert!(flags.iter().any(|f| f == "Seen"), "{flags:?}");
    let copy = parse(copy)?;
    assert_eq!(copy.message_id(), message.message_id());
    assert_eq!(copy.body_text(0), message.body_text(0));
    assert_eq!(
        copy.bcc().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("carol@example.test")
    );
    Ok(())
}

#[tokio::test]
async fn a_reply_all_threads_leaves_out_oneself_and_marks_the_original() -> Result<()> {
    let mail = Mail::start()?;
    mail.append(
        &mail.alice,
        "INBOX",
        "From: Bob <bob@example.test>\r\nTo: alice@example.test, Carol <carol@example.test>\r\n\
         Cc: ALICE@example.test\r\nSubject: Plans\r\nDate: Tue, 01 Dec 2026 09:30:00 +0100\r\n\
         Message-ID: <plans-2@example.test>\r\nReferences: <plans-1@example.test>\r\n\r\n\
         Shall we meet on Friday?\r\n",
    )
    .await?;
    let (_bridge, mut client) = mail.signed_in(&mail.alice).await?;
    client.open("INBOX", 10).await?;
    let (mut draft, quote) = client
        .start_compose("INBOX", 1, ComposeKind::ReplyAll)
        .await?;
    let emails = |list: &[Address]| list.iter().map(|a| a.email.clone()).collect::<Vec<_>>();
    assert_eq!(
        emails(&draft.to),
        ["bob@example.test", "carol@example.test"]
    );
    assert!(draft.cc.is_empty(), "{:?}", draft.cc);
    assert_eq!(draft.subject, "Re: Plans");
    assert_eq!(quote.text.trim(), "Shall we meet on Friday?");
    assert_eq!(quote.date, Some(1_796_113_800));
    draft.text = format!("Friday works.\n\n> {}", quote.text.trim());
    send(&mut client, draft.clone()).await??;

    let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
    let reply = parse(&inbox[0].0)?;
    assert_eq!(reply.subject(), Some("Re: Plans"));
    assert_eq!(reply.in_reply_to().as_text(), Some("plans-2@example.test"));
    let references: Vec<String> = reply
        .references()
        .as_text_list()
        .unwrap_or_default()
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(references, ["plans-1@example.test", "plans-2@example.test"]);
    delivered(&mail.dovecot, &mail.carol, "INBOX", 1).await?;
    assert_eq!(
        count(&mail.dovecot, &mail.alice, "INBOX").await?,
        1,
        "no copy to oneself"
    );

    let original = delivered(&mail.dovecot, &mail.alice, "INBOX", 1).await?;
    assert!(
        original[0].1.iter().any(|f| f == "Answered"),
        "{:?}",
        original[0].1
    );

    // A forward goes to new recipients and marks the original $Forwarded.
    let (mut draft, _) = client
        .start_compose("INBOX", 1, ComposeKind::Forward)
        .await?;
    assert!(draft.to.is_empty() && draft.cc.is_empty());
    assert_eq!(draft.subject, "Fwd: Plans");
    draft.to = vec![to("carol@example.test")];
    draft.text = "FYI\n\n---------- Forwarded message ----------\nShall we meet on Friday?".into();
    send(&mut client, draft.clone()).await??;
    let carol = delivered(&mail.dovecot, &mail.carol, "INBOX", 2).await?;
    let forwarded = parse(&carol[1].0)?;
    assert_eq!(forwarded.subject(), Some("Fwd: Plans"));
    assert!(forwarded.in_reply_to().as_text().is_none());
    eventually("the original marked $Forwarded", || async {
        let original = delivered(&mail.dovecot, &mail.alice, "INBOX", 1).await?;
        Ok(original[0]
            .1
            .iter()
            .any(|f| f.contains("$Forwarded"))
            .then_some(()))
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_refused_recipient_is_named_and_nothing_is_sent() -> Result<()> {
    let mail = Mail::start()?;
    let (_bridge, mut client) = mail.signed_in(&mail.alice).await?;
    let draft = Draft {
        to: vec![to("bob@example.test"), to("nobody@example.test")],
        subject: "First".into(),
        text: "Hi".into(),
        ..Draft::default()
    };
    let error = send(&mut client, draft)
        .await?
        .expect_err("a refused recipient");
    assert_eq!(error.code, ErrorCode::RecipientRefused);
    assert_eq!(error.refused, ["nobody@example.test"]);
    assert!(
        error.message.contains("nobody@example.test")
            && error.message.contains("User unknown")
            && error.message.contains("Nothing was sent")
            && error.message.contains("bob@example.test was accepted"),
        "{}",
        error.message
    );
    // The next message is the only one Bob gets, and Sent has only it.
    let draft = Draft {
        to: vec![to("bob@example.test")],
        subject: "Second".into(),
        text: "Hi again".into(),
        ..Draft::default()
    };
    send(&mut client, draft).await??;
    let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
    assert_eq!(inbox.len(), 1);
    assert_eq!(parse(&inbox[0].0)?.subject(), Some("Second"));
    assert_eq!(count(&mail.dovecot, &mail.alice, "Sent").await?, 1);
    Ok(())
}

#[tokio::test]
async fn a_refused_sender_shows_the_servers_reason() -> Result<()> {
    let mail = Mail::start()?;
    // With this domain Alice would send as alice@elsewhere.test, which Postfix
    // does not let her use.
    let mut account = mail.account();
    account.extra = account.extra.replace("example.test", "elsewhere.test");
    let bridge = Bridge::start(&[account], None).await?;
    let mut client = bridge.connect().await?;
    let signed_in = client.sign_in(None, &mail.alice).await??;
    let Reply::SignedIn {
        sending: Some(sending),
        ..
    } = signed_in
    else {
        bail!("expected sending, got {signed_in:?}");
    };
    assert_eq!(sending.identities[0].email, "alice@elsewhere.test");
    // Learned from Postfix's EHLO SIZE, since the configuration sets none.
    assert_eq!(sending.max_message_bytes, 50 << 20);
    let draft = Draft {
        to: vec![to("bob@example.test")],
        subject: "From elsewhere".into(),
        text: "Hi".into(),
        ..Draft::default()
    };
    let error = send(&mut client, draft)
        .await?
        .expect_err("a refused sender");
    assert_eq!(error.code, ErrorCode::SendRefused);
    assert!(
        error.message.contains("not owned by user alice"),
        "{}",
        error.message
    );
    assert_eq!(count(&mail.dovecot, &mail.alice, "Sent").await?, 0);
    Ok(())
}

#[tokio::test]
async fn unsafe_fields_are_refused_before_anything_is_sent() -> Result<()> {
    let mail = Mail::start()?;
    let (_bridge, mut client) = mail.signed_in(&mail.alice).await?;
    let good = Draft {
        to: vec![to("bob@example.test")],
        subject: "Fine".into(),
        text: "Hi".into(),
        ..Draft::default()
    };
    let mut cases = Vec::new();
    for subject in [
        "Hi\r\nBcc: carol@example.test",
        "Hi\nX-Evil: 1",
        "Hi\0there",
    ] {
        cases.push(Draft {
            subject: subject.into(),
            ..good.clone()
        });
    }
    for email in [
        "bob@example.test\r\nRCPT TO:<carol@example.test>",
        "bob@example.test>, <carol@example.test",
        "bob",
    ] {
        cases.push(Draft {
            to: vec![to(email)],
            ..good.clone()
        });
    }
    cases.push(Draft {
        cc: vec![Address {
            name: Some("Carol\r\nBcc: carol@example.test".into()),
            email: "carol@example.test".into(),
        }],
        ..good.clone()
    });
    cases.push(Draft {
        to: vec![],
        ..good.clone()
    });
    for draft in cases {
        let error = send(&mut client, draft.clone())
            .await?
            .expect_err("refused");
        assert_eq!(error.code, ErrorCode::BadRequest, "{draft:?}: {error:?}");
    }
    // Only the good one arrives, with one recipient.
    send(&mut client, good).await??;
    let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
    assert_eq!(inbox.len(), 1);
    assert_eq!(count(&mail.dovecot, &mail.carol, "INBOX").await?, 0);
    Ok(())
}

#[tokio::test]
async fn an_unreachable_or_cut_smtp_server_says_what_became_of_the_message() -> Result<()> {
    let mail = Mail::start()?;
    let (_bridge, mut client) = mail.signed_in_without_smtp(&mail.alice).await?;
    let draft = Draft {
        to: vec![to("bob@example.test")],
        subject: "Hello".into(),
        text: "Hi".into(),
        ..Draft::default()
    };
    let error = send(&mut client, draft.clone())
        .await?
        .expect_err("unreachable");
    assert_eq!(error.code, ErrorCode::ServerUnreachable);
    assert!(
        error.message.contains("Nothing was sent"),
        "{}",
        error.message
    );
    // The session itself is fine.
    client.open("INBOX", 10).await?;

    // A server that hangs up during DATA: the outcome is unknown, and the bridge
    // does not try again by itself.
    let hostile = HostileSmtp::cut_during_data(mail.dovecot.ca()).await?;
    let mut account = mail.account();
    account.extra = format!("smtp = {:?}\ndomain = \"example.test\"\n", hostile.url());
    let bridge = Bridge::start(&[account], None).await?;
    let mut client = bridge.connect().await?;
    client.sign_in(None, &mail.alice).await??;
    let error = send(&mut client, draft).await?.expect_err("cut");
    assert_eq!(error.code, ErrorCode::SendUncertain);
    assert!(
        error.message.contains("may have gone out"),
        "{}",
        error.message
    );
    assert_eq!(
        hostile
            .data_started
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(count(&mail.dovecot, &mail.alice, "Sent").await?, 0);
    Ok(())
}

#[tokio::test]
async fn an_account_without_smtp_is_for_reading_only() -> Result<()> {
    let mail = Mail::start()?;
    let bridge = Bridge::start(&[AccountSpec::trusting("Example", &mail.dovecot)], None).await?;
    let mut client = bridge.connect().await?;
    let signed_in = client.sign_in(None, &mail.alice).await??;
    ensure!(
        matches!(signed_in, Reply::SignedIn { sending: None, .. }),
        "{signed_in:?}"
    );
    let error = send(
        &mut client,
        Draft {
            to: vec![to("bob@example.test")],
            source: Some(DraftSource {
                folder: "INBOX".into(),
                uid: 1,
                kind: ComposeKind::Reply,
                uid_validity: None,
            }),
            ..Draft::default()
        },
    )
    .await?
    .expect_err("no smtp");
    assert_eq!(error.code, ErrorCode::Refused);
    assert!(error.message.contains("reading only"), "{}", error.message);
    Ok(())
}

#[tokio::test]
async fn the_listed_folder_stays_live_after_a_send_marks_an_original_elsewhere() -> Result<()> {
    let mail = Mail::start()?;
    mail.append(
        &mail.alice,
        "INBOX",
        "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: Question\r\n\
         Message-ID: <question@example.test>\r\n\r\nAre you there?\r\n",
    )
    .await?;
    let mut imap = mail.dovecot.imap(&mail.alice).await?;
    imap.create("Work").await?;
    imap.logout().await?;
    let (_bridge, mut client) = mail.signed_in(&mail.alice).await?;
    client.open("INBOX", 10).await?;
    let (mut draft, _) = client.start_compose("INBOX", 1, ComposeKind::Reply).await?;
    // The person moves on to another folder before sending.
    client.open("Work", 10).await?;
    draft.text = "Yes.".into();
    send(&mut client, draft.clone()).await??;
    let original = delivered(&mail.dovecot, &mail.alice, "INBOX", 1).await?;
    assert!(original[0].1.iter().any(|f| f == "Answered"));
    // Marking the original selected the INBOX; the browser still lists Work, and
    // what arrives there reaches it.
    mail.append(
        &mail.alice,
        "Work",
        "From: Carol <carol@example.test>\r\nSubject: Into Work\r\n\r\nHello\r\n",
    )
    .await?;
    client
        .event("the arrival in Work", |event| {
            matches!(event, protocol::Event::FolderChanged { folder, added, .. }
                if folder == "Work" && added.iter().any(|m| m.subject == "Into Work"))
        })
        .await?;
    Ok(())
}

/// A Sent folder that already holds the message's Message-ID (the server filed
/// it, or an earlier try did) gets no second copy.
#[tokio::test]
async fn sent_gets_no_second_copy_of_a_message_id() -> Result<()> {
    let mail = Mail::start()?;
    mail.append(
        &mail.alice,
        "Sent",
        "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: Filed\r\n\
         Message-ID: <once.only@example.test>\r\n\r\nFiled by the server.\r\n",
    )
    .await?;
    let (_bridge, mut client) = mail.signed_in(&mail.alice).await?;
    let draft = Draft {
        to: vec![to("bob@example.test")],
        subject: "Filed".into(),
        text: "Filed by the server.".into(),
        message_id: Some("<once.only@example.test>".into()),
        ..Draft::default()
    };
    send(&mut client, draft).await??;
    let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
    assert_eq!(
        parse(&inbox[0].0)?.message_id(),
        Some("once.only@example.test")
    );
    assert_eq!(count(&mail.dovecot, &mail.alice, "Sent").await?, 1);
    Ok(())
}

async fn queue(client: &mut WsClient, draft: Draft, hold_seconds: u32) -> Result<u32> {
    match client
        .ok(Request::SendMessage {
            draft: Box::new(draft),
            hold_seconds,
        })
        .await?
    {
        Reply::MessageQueued { outbox, .. } => Ok(outbox),
        other => bail!("expected message_queued, got {other:?}"),
    }
}

fn note(subject: &str) -> Draft {
    Draft {
        to: vec![to("bob@example.test")],
        subject: subject.into(),
        text: "Held a moment.".into(),
        ..Draft::default()
    }
}

/// Undone within its window, a message never goes; the next one, left alone,
/// goes once its window is over.
#[tokio::test]
async fn a_held_message_can_be_undone_and_otherwise_goes_once() -> Result<()> {
    let mail = Mail::start()?;
    let (_bridge, mut client) = mail.signed_in(&mail.alice).await?;
    // What cannot go is said at once, before any hold.
    let mut bad = note("Bad");
    bad.to = vec![to("bob at example")];
    let refused = client
        .request(Request::SendMessage {
            draft: Box::new(bad),
            hold_seconds: 5,
        })
        .await?
        .expect_err("an invalid address");
    assert_eq!(refused.code, ErrorCode::BadRequest);

    let undone = queue(&mut client, note("Undone"), 1).await?;
    assert_eq!(
        client.ok(Request::CancelSend { outbox: undone }).await?,
        Reply::SendCancelled { outbox: undone }
    );
    let kept = queue(&mut client, note("Kept"), 1).await?;
    client
        .event(
            "the held message sent",
            |e| matches!(e, protocol::Event::OutboxSent { outbox, .. } if *outbox == kept),
        )
        .await?;
    // The undone one was due first: had it gone, it would be there by now.
    let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
    assert_eq!(inbox.len(), 1);
    assert_eq!(parse(&inbox[0].0)?.subject(), Some("Kept"));
    let late = client
        .request(Request::CancelSend { outbox: kept })
        .await?
        .expect_err("too late");
    assert!(late.message.contains("too late"), "{}", late.message);
    Ok(())
}

/// The hold lives in the bridge: a page closed inside the window still sends,
/// once.
#[tokio::test]
async fn closing_the_page_inside_the_window_still_sends_once() -> Result<()> {
    let mail = Mail::start()?;
    let (_bridge, mut client) = mail.signed_in(&mail.alice).await?;
    queue(&mut client, note("Sent anyway"), 60).await?;
    drop(client);
    let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
    assert_eq!(parse(&inbox[0].0)?.subject(), Some("Sent anyway"));
    delivered(&mail.dovecot, &mail.alice, "Sent", 1).await?;
    assert_eq!(count(&mail.dovecot, &mail.bob, "INBOX").await?, 1);
    Ok(())
}

/// A held message the SMTP server does not take is kept as a draft, and the page
/// hears why.
#[tokio::test]
async fn a_held_message_that_cannot_go_is_kept_as_a_draft() -> Result<()> {
    let mail = Mail::start()?;
    let (_bridge, mut client) = mail.signed_in_without_smtp(&mail.alice).await?;
    let outbox = queue(&mut client, note("Not yet"), 1).await?;
    let event = client
        .event("the held message failed", |e| {
            matches!(e, protocol::Event::OutboxFailed { .. })
        })
        .await?;
    let protocol::Event::OutboxFailed {
        outbox: failed,
        error,
        draft,
    } = event
    else {
        bail!("not outbox_failed");
    };
    assert_eq!(failed, outbox);
    assert_eq!(error.code, ErrorCode::ServerUnreachable);
    let saved = draft.saved.context("kept as a draft")?;
    assert_eq!(saved.folder, "Drafts");
    let drafts = delivered(&mail.dovecot, &mail.alice, "Drafts", 1).await?;
    assert_eq!(parse(&drafts[0].0)?.subject(), Some("Not yet"));
    Ok(())
}

/// "Formatting": the Markdown goes as typed, and as sanitized HTML beside it.
#[tokio::test]
async fn a_formatted_message_goes_as_text_and_sanitized_html() -> Result<()> {
    let mail = Mail::start()?;
    let (_bridge, mut client) = mail.signed_in(&mail.alice).await?;
    let draft = Draft {
        to: vec![to("bob@example.test")],
        subject: "Formatted".into(),
        text: "**Bold** move\n\n- one\n- two\n\n<script>alert(1)</script>\n\n[x](javascript:alert(2)) <b onclick=\"y()\">b</b>"
            .into(),
        formatted: true,
        ..Draft::default()
    };
    send(&mut client, draft).await??;
    let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
    let message = parse(&inbox[0].0)?;
    let html = message.body_html(0).context("no HTML part")?.into_owned();
    assert!(html.contains("<strong>Bold</strong>"), "{html}");
    assert!(html.contains("<li>two</li>"), "{html}");
    for bad in ["<script", "href=\"javascript", "onclick"] {
        assert!(!html.contains(bad), "{bad} in {html}");
    }
    let text = message.body_text(0).context("no text part")?.into_owned();
    assert!(text.contains("**Bold** move"), "{text}");
    let raw = String::from_utf8_lossy(&inbox[0].0).to_ascii_lowercase();
    assert!(raw.contains("multipart/alternative"), "{raw}");
    Ok(())
}
