//! What the bridge keeps per user: the identities set in Settings, and the
//! people one wrote to and read from, suggested as one types a recipient.

use anyhow::{Result, bail, ensure};
use protocol::{Address, Draft, ErrorCode, Identity, Reply, Request, Sending};
use tests::{Bridge, User, WsClient};

use crate::sending::{Mail, delivered, parse, send, to};

/// A bridge keeping its data in `data_dir`.
async fn bridge_on(mail: &Mail, data_dir: &std::path::Path) -> Result<Bridge> {
    Bridge::start_keeping(&[mail.account()], None, 1, Some(data_dir)).await
}

/// A bridge on `data_dir` once the one before has let go of its file (until then
/// a new one does not serve at all), and `user` signed in to it.
async fn later_bridge(
    mail: &Mail,
    data_dir: &std::path::Path,
    user: &User,
) -> Result<(Bridge, WsClient, Sending)> {
    tests::eventually("a bridge on the same data", || async {
        let bridge = bridge_on(mail, data_dir).await?;
        match signed_in(&bridge, user).await {
            Ok((client, sending)) => Ok(Some((bridge, client, sending))),
            Err(_) => Ok(None),
        }
    })
    .await
}

/// Signs `user` in on a new connection, with what they may send as.
async fn signed_in(bridge: &Bridge, user: &User) -> Result<(WsClient, Sending)> {
    let mut client = bridge.connect().await?;
    match client.sign_in(None, user).await?? {
        Reply::SignedIn {
            sending: Some(sending),
            ..
        } => Ok((client, sending)),
        other => bail!("expected sending, got {other:?}"),
    }
}

async fn save(
    client: &mut WsClient,
    identities: Vec<Identity>,
) -> Result<Result<Vec<Identity>, protocol::WireError>> {
    Ok(
        match client
            .request(Request::SaveIdentities { identities })
            .await?
        {
            Ok(Reply::IdentitiesSaved { identities }) => Ok(identities),
            Ok(other) => bail!("expected identities_saved, got {other:?}"),
            Err(error) => Err(error),
        },
    )
}

async fn suggestions(client: &mut WsClient, text: &str) -> Result<Vec<Address>> {
    match client
        .ok(Request::SuggestRecipients { text: text.into() })
        .await?
    {
        Reply::RecipientSuggestions {
            text: echoed,
            people,
        } => {
            ensure!(echoed == text, "answered for {echoed:?}, asked {text:?}");
            Ok(people)
        }
        other => bail!("expected recipient_suggestions, got {other:?}"),
    }
}

/// The suggestions for `text` once they are `want`, by address: people are
/// noted in the background, just after a send or a read.
async fn suggested(client: &mut WsClient, text: &str, want: &[&str]) -> Result<Vec<Address>> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let found = suggestions(client, text).await?;
        if emails(&found) == want {
            return Ok(found);
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "suggested for {text:?}: {:?}, not {want:?}",
            emails(&found)
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn emails(people: &[Address]) -> Vec<&str> {
    people.iter().map(|p| p.email.as_str()).collect()
}

fn identity(name: Option<&str>, email: &str, signature: Option<&str>) -> Identity {
    Identity {
        name: name.map(str::to_owned),
        email: email.to_owned(),
        signature: signature.map(str::to_owned),
    }
}

#[tokio::test]
async fn identities_are_kept_per_user_across_sign_ins_and_bridges() -> Result<()> {
    let mail = Mail::start()?;
    let data = tempfile::tempdir()?;
    let bridge = bridge_on(&mail, data.path()).await?;
    let (mut alice, sending) = signed_in(&bridge, &mail.alice).await?;
    assert_eq!(
        sending.identities,
        [identity(None, "alice@example.test", None)]
    );

    // Refused whole, with the reason, and nothing kept.
    let twice = vec![
        identity(None, "alice@example.test", None),
        identity(Some("Alice"), "ALICE@example.test", None),
    ];
    let error = save(&mut alice, twice).await?.expect_err("a duplicate");
    assert_eq!(error.code, ErrorCode::BadRequest);
    assert!(error.message.contains("listed twice"), "{}", error.message);
    let broken = vec![identity(
        Some("Alice\r\nBcc: eve@evil.test"),
        "alice@example.test",
        None,
    )];
    let error = save(&mut alice, broken)
        .await?
        .expect_err("a header in a name");
    assert_eq!(error.code, ErrorCode::BadRequest);
    let error = save(&mut alice, vec![identity(None, "alice at example", None)])
        .await?
        .expect_err("not an address");
    assert!(
        error.message.contains("not a valid address"),
        "{}",
        error.message
    );

    // Cleaned as kept: trimmed, line breaks as LF, an empty signature dropped.
    let saved = save(
        &mut alice,
        vec![
            identity(
                Some("  Alice Liddell "),
                "alice@example.test",
                Some("-- \r\nAlice Liddell\r\nWonderland Ltd"),
            ),
            identity(None, "alice@elsewhere.test", Some("   ")),
        ],
    )
    .await??;
    let expected = vec![
        identity(
            Some("Alice Liddell"),
            "alice@example.test",
            Some("-- \nAlice Liddell\nWonderland Ltd"),
        ),
        identity(None, "alice@elsewhere.test", None),
    ];
    assert_eq!(saved, expected);

    // Every browser of Alice's gets them; Bob keeps his own.
    let (again, sending) = signed_in(&bridge, &mail.alice).await?;
    assert_eq!(sending.identities, expected);
    let (bob, sending) = signed_in(&bridge, &mail.bob).await?;
    assert_eq!(
        sending.identities,
        [identity(None, "bob@example.test", None)]
    );

    // The name goes out with the address.
    let draft = Draft {
        from: Some("alice@example.test".into()),
        to: vec![to("bob@example.test")],
        subject: "As Alice Liddell".into(),
        text: "Hello".into(),
        ..Draft::default()
    };
    send(&mut alice, draft).await??;
    let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
    let message = parse(&inbox[0].0)?;
    let from = message.from().and_then(|a| a.first());
    assert_eq!(from.and_then(|a| a.name()), Some("Alice Liddell"));
    assert_eq!(from.and_then(|a| a.address()), Some("alice@example.test"));

    // The server has the last word on an address it does not let her use.
    let draft = Draft {
        from: Some("alice@elsewhere.test".into()),
        to: vec![to("bob@example.test")],
        subject: "From elsewhere".into(),
        text: "Hello".into(),
        ..Draft::default()
    };
    let error = send(&mut alice, draft)
        .await?
        .expect_err("refused by Postfix");
    assert_eq!(error.code, ErrorCode::SendRefused);

    // A bridge started later on the same data finds them (the first lets go of
    // it once its connections are closed).
    drop((alice, again, bob));
    drop(bridge);
    let (bridge, mut alice, sending) = later_bridge(&mail, data.path(), &mail.alice).await?;
    assert_eq!(sending.identities, expected);

    // Saving none goes back to the sign-in address, and stays so.
    let saved = save(&mut alice, Vec::new()).await??;
    assert_eq!(saved, [identity(None, "alice@example.test", None)]);
    let (_again, sending) = signed_in(&bridge, &mail.alice).await?;
    assert_eq!(sending.identities, saved);
    Ok(())
}

#[tokio::test]
async fn suggestions_come_from_whom_one_wrote_to_and_read_and_no_one_else_sees_them() -> Result<()>
{
    let mail = Mail::start()?;
    let data = tempfile::tempdir()?;
    let bridge = bridge_on(&mail, data.path()).await?;
    let (mut alice, _) = signed_in(&bridge, &mail.alice).await?;
    assert!(suggestions(&mut alice, "b").await?.is_empty());

    let draft = Draft {
        to: vec![Address {
            name: Some("Böb Müller".into()),
            email: "Bob@example.test".into(),
        }],
        cc: vec![to("carol@example.test")],
        subject: "Lunch".into(),
        text: "Tomorrow?".into(),
        ..Draft::default()
    };
    send(&mut alice, draft).await??;

    // By the address, by a word of the name, whatever the case.
    let bob = Address {
        name: Some("Böb Müller".into()),
        email: "bob@example.test".into(),
    };
    let found = suggested(&mut alice, "bo", &["bob@example.test"]).await?;
    assert_eq!(found, std::slice::from_ref(&bob));
    assert_eq!(
        suggestions(&mut alice, "MÜL").await?,
        std::slice::from_ref(&bob)
    );
    assert_eq!(
        emails(&suggestions(&mut alice, "carol@").await?),
        ["carol@example.test"]
    );
    assert!(suggestions(&mut alice, "example").await?.is_empty());
    assert!(suggestions(&mut alice, "zed").await?.is_empty());
    // Too long to be an address: nothing, rather than an error.
    assert!(suggestions(&mut alice, &"a".repeat(400)).await?.is_empty());

    // Bob has none of Alice's people; once he reads her message, he has her.
    let (mut bob_client, _) = signed_in(&bridge, &mail.bob).await?;
    assert!(suggestions(&mut bob_client, "c").await?.is_empty());
    assert!(suggestions(&mut bob_client, "al").await?.is_empty());
    delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
    let window = bob_client.open("INBOX", 10).await?;
    let uid = window.messages[0].uid;
    bob_client.open_message("INBOX", uid, None).await?;
    suggested(&mut bob_client, "al", &["alice@example.test"]).await?;
    // Carol, named in the same message, was not read from.
    assert!(suggestions(&mut bob_client, "c").await?.is_empty());

    // Suggestions need a signed-in person.
    let mut stranger = bridge.connect().await?;
    let error = stranger
        .request(Request::SuggestRecipients { text: "b".into() })
        .await?
        .expect_err("not signed in");
    assert_eq!(error.code, ErrorCode::NotSignedIn);

    // They outlast the bridge.
    drop((alice, bob_client, stranger));
    drop(bridge);
    let (_bridge, mut alice, _) = later_bridge(&mail, data.path(), &mail.alice).await?;
    assert_eq!(suggestions(&mut alice, "bo").await?, [bob]);
    Ok(())
}
