//! Sending by URL (BURL, RFC 4468) through Dovecot's own submission service: the
//! bridge keeps the Sent copy first (naming the forwarded file by URL), and the
//! submission server fetches the copy's body from IMAP itself, so the file never
//! passes through the bridge. The bytes the IMAP server sends the bridge are
//! counted by a relay between them. Where the server gives no URL, the message
//! goes as DATA, and Sent still holds one copy; a refused recipient leaves none.
//! A scripted SMTP server stands in for faults a real one will not produce: a
//! refused BURL (the message goes as DATA, and so do the session's next ones) and
//! a cut after BURL (the outcome is unknown, and the Sent copy goes again).

use anyhow::{Result, bail, ensure};
use maildev::{Dovecot, Postfix, User};
use protocol::{ComposeKind, Draft, ErrorCode, Reply};
use std::sync::atomic::Ordering;

use tests::hostile_smtp::HostileSmtp;
use tests::{AccountSpec, Bridge, Relay, WsClient};

use crate::attachments::files;
use crate::sending::{count, delivered, parse, send, to};

/// The forwarded file's size: far above what the rest of a send reads back.
const FILE: usize = 2 << 20;

/// Dovecot with its submission service, Postfix behind it, and the bridge
/// reaching IMAP through a counting relay.
struct ByUrl {
    dovecot: Dovecot,
    _postfix: Postfix,
    relay: Relay,
    alice: User,
    bob: User,
    carol: User,
}

impl ByUrl {
    /// `urlauth_port`: the port Dovecot's URLs must name, if not its IMAPS port
    /// (the bridge names that one, by `urlauth_server`: it reaches IMAP through
    /// the relay's).
    async fn start(urlauth_port: Option<u16>) -> Result<Self> {
        let alice = User::new("alice", "alice-secret");
        let bob = User::new("bob", "bob-secret");
        let carol = User::new("carol", "carol-secret");
        let users = [alice.clone(), bob.clone(), carol.clone()];
        let dovecot = Dovecot::start_submitting(&users, urlauth_port)?;
        let relay = Relay::start(dovecot.imaps_port).await?;
        let postfix = Postfix::start(&dovecot, &users, &[])?;
        Ok(ByUrl {
            dovecot,
            _postfix: postfix,
            relay,
            alice,
            bob,
            carol,
        })
    }

    /// Alice, signed in, with a message from Bob holding a file in her INBOX.
    async fn signed_in(&self) -> Result<(Bridge, WsClient, Vec<u8>)> {
        let smtp = self.dovecot.submission_url().expect("submission runs");
        self.signed_in_sending_to(&smtp).await
    }

    /// As [`ByUrl::signed_in`], submitting to the server at `smtp`.
    async fn signed_in_sending_to(&self, smtp: &str) -> Result<(Bridge, WsClient, Vec<u8>)> {
        let content = maildev::sample::noise(FILE as u32);
        let raw = maildev::sample::with_attachment(
            &maildev::sample::Headers {
                from: "Bob <bob@example.test>",
                to: "alice@example.test",
                subject: "The recording",
                date: 1_796_029_200,
            },
            "The recording.",
            &maildev::sample::Attachment {
                file_name: "recording.bin",
                content_type: "application/octet-stream",
                content: &content,
            },
        );
        let mut imap = self.dovecot.imap(&self.alice).await?;
        imap.append("INBOX", None, None, &raw).await?;
        imap.logout().await?;
        let account = AccountSpec {
            imap: format!("imaps://127.0.0.1:{}", self.relay.port),
            extra: format!(
                "smtp = {smtp:?}\ndomain = {:?}\nurlauth_server = \"imap://127.0.0.1:{}\"\n",
                maildev::DOMAIN,
                self.dovecot.imaps_port
            ),
            ..AccountSpec::trusting("Example", &self.dovecot)
        };
        let bridge = Bridge::start(&[account], None).await?;
        let mut client = bridge.connect().await?;
        client.sign_in(None, &self.alice).await??;
        Ok((bridge, client, content))
    }
}

/// Alice's forward of the recording to Carol, with Bob in Bcc.
async fn forward(client: &mut WsClient) -> Result<Draft> {
    let (mut draft, _) = client
        .start_compose("INBOX", 1, ComposeKind::Forward)
        .await?;
    draft.to = vec![to("carol@example.test")];
    draft.bcc = vec![to("bob@example.test")];
    draft.text = "The recording, forwarded.".into();
    Ok(draft)
}

/// Sends `draft` and returns the bytes IMAP sent the bridge meanwhile.
async fn sent_reading(mail: &ByUrl, client: &mut WsClient, draft: Draft) -> Result<u64> {
    let before = mail.relay.down();
    let reply = send(client, draft).await??;
    let Reply::MessageSent { sent_folder, .. } = reply else {
        bail!("expected message_sent, got {reply:?}");
    };
    ensure!(sent_folder.as_deref() == Some("Sent"), "{sent_folder:?}");
    Ok(mail.relay.down() - before)
}

/// Carol and Bob each got the file whole, without the Bcc; Alice's Sent holds
/// one copy, with it.
async fn arrived(mail: &ByUrl, content: &[u8]) -> Result<()> {
    let file = [(
        "recording.bin".to_owned(),
        "application/octet-stream".to_owned(),
        content.to_vec(),
    )];
    for user in [&mail.carol, &mail.bob] {
        let got = delivered(&mail.dovecot, user, "INBOX", 1).await?;
        ensure!(files(&got[0].0)? == file, "{}'s file changed", user.name);
        let message = parse(&got[0].0)?;
        ensure!(message.bcc().is_none(), "{} was told the Bcc", user.name);
        ensure!(
            message
                .body_text(0)
                .is_some_and(|t| t.starts_with("The recording, forwarded.")),
            "{}'s text: {:?}",
            user.name,
            message.body_text(0)
        );
    }
    let sent = delivered(&mail.dovecot, &mail.alice, "Sent", 1).await?;
    ensure!(sent.len() == 1, "Sent holds {} copies", sent.len());
    let copy = parse(&sent[0].0)?;
    ensure!(
        copy.bcc().and_then(|a| a.first()).and_then(|a| a.address()) == Some("bob@example.test"),
        "the Sent copy lost its Bcc"
    );
    ensure!(files(&sent[0].0)? == file, "the Sent copy's file changed");
    Ok(())
}

#[tokio::test]
async fn a_forward_is_sent_by_url_and_its_file_never_passes_through_the_bridge() -> Result<()> {
    let mail = ByUrl::start(None).await?;
    let (_bridge, mut client, content) = mail.signed_in().await?;
    let draft = forward(&mut client).await?;
    let read = sent_reading(&mail, &mut client, draft).await?;
    // Answers to a handful of commands: nowhere near the 2.7 MB the file is.
    assert!(read < 64 * 1024, "the bridge read {read} bytes from IMAP");
    arrived(&mail, &content).await?;
    Ok(())
}

#[tokio::test]
async fn without_an_url_from_the_server_the_message_goes_as_data() -> Result<()> {
    // URLs naming another port than the server's own are refused: GENURLAUTH
    // fails.
    let mail = ByUrl::start(Some(1)).await?;
    let (_bridge, mut client, content) = mail.signed_in().await?;
    let draft = forward(&mut client).await?;
    let read = sent_reading(&mail, &mut client, draft).await?;
    assert!(
        read > FILE as u64,
        "the file was read for DATA: {read} bytes"
    );
    arrived(&mail, &content).await?;
    Ok(())
}

#[tokio::test]
async fn a_refused_recipient_leaves_no_sent_copy() -> Result<()> {
    let mail = ByUrl::start(None).await?;
    let (_bridge, mut client, _) = mail.signed_in().await?;
    let mut draft = forward(&mut client).await?;
    draft.cc = vec![to("nobody@example.test")];
    let Err(error) = send(&mut client, draft).await? else {
        bail!("a send to an unknown recipient succeeded");
    };
    assert_eq!(error.code, ErrorCode::RecipientRefused, "{error:?}");
    assert!(error.message.contains("nobody@example.test"), "{error:?}");
    assert_eq!(
        count(&mail.dovecot, &mail.alice, "Sent").await?,
        0,
        "Sent holds a copy of a message not sent"
    );
    Ok(())
}

#[tokio::test]
async fn a_refused_burl_goes_as_data_and_the_sessions_next_messages_at_once() -> Result<()> {
    let mail = ByUrl::start(None).await?;
    let smtp = HostileSmtp::refusing_burl(mail.dovecot.ca()).await?;
    let (_bridge, mut client, _) = mail.signed_in_sending_to(&smtp.url()).await?;
    for sent in 1..=2 {
        let draft = forward(&mut client).await?;
        let reply = send(&mut client, draft).await??;
        ensure!(matches!(reply, Reply::MessageSent { .. }), "{reply:?}");
        assert_eq!(smtp.data_taken.load(Ordering::SeqCst), sent);
        assert_eq!(
            count(&mail.dovecot, &mail.alice, "Sent").await?,
            sent as u32
        );
    }
    assert_eq!(
        smtp.burl_asked.load(Ordering::SeqCst),
        1,
        "BURL asked again"
    );
    Ok(())
}

#[tokio::test]
async fn a_cut_after_burl_is_an_unknown_outcome_and_leaves_no_sent_copy() -> Result<()> {
    let mail = ByUrl::start(None).await?;
    let smtp = HostileSmtp::cut_at_burl(mail.dovecot.ca()).await?;
    let (_bridge, mut client, _) = mail.signed_in_sending_to(&smtp.url()).await?;
    let draft = forward(&mut client).await?;
    let Err(error) = send(&mut client, draft).await? else {
        bail!("a send cut off after BURL succeeded");
    };
    assert_eq!(error.code, ErrorCode::SendUncertain, "{error:?}");
    assert_eq!(smtp.burl_asked.load(Ordering::SeqCst), 1);
    assert_eq!(
        smtp.data_started.load(Ordering::SeqCst),
        0,
        "sent again as DATA"
    );
    assert_eq!(
        count(&mail.dovecot, &mail.alice, "Sent").await?,
        0,
        "Sent holds a copy of a message not surely sent"
    );
    Ok(())
}
