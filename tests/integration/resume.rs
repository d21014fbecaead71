//! Sessions that survive: resume tokens after a dropped socket, on a restarted
//! bridge and on another bridge with the same key; the tokens a bridge must
//! refuse; and the probes operators point a load balancer at.

use std::path::Path;

use anyhow::{Result, bail};
use protocol::{ErrorCode, Reply, Request, ResumeToken, WireError};
use tests::{AccountSpec, Bridge, Settings, WsClient, http_get, token_of};

use crate::seed::seeded_server;

/// One origin for bridges that stand in for each other behind one address.
const ORIGIN: &str = "http://mail.postern.test";

fn keyed(key: &Path, origin: &str) -> Settings {
    Settings {
        keys: format!("session_key_file = {:?}\n", key.display().to_string()),
        origin: Some(origin.to_owned()),
    }
}

async fn resume(client: &mut WsClient, token: &ResumeToken) -> Result<Result<Reply, WireError>> {
    client
        .request(Request::Resume {
            token: token.clone(),
        })
        .await
}

fn expired(answer: Result<Reply, WireError>, what: &str) -> Result<WireError> {
    match answer {
        Err(error) if error.code == ErrorCode::SessionExpired => Ok(error),
        other => bail!("{what}: expected session_expired, got {other:?}"),
    }
}

#[tokio::test]
async fn a_token_resumes_after_the_socket_drops_and_on_another_bridge() -> Result<()> {
    let (dovecot, user) = seeded_server().await?;
    let keys = tempfile::tempdir()?;
    let key = keys.path().join("session.key");
    let accounts = [AccountSpec::trusting("Example", &dovecot)];
    let first = Bridge::start_with(&accounts, None, &keyed(&key, ORIGIN)).await?;

    // The missing key file was made, readable by its owner only.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key)?.permissions().mode() & 0o777, 0o600);

    let mut client = first.connect().await?;
    let token = token_of(&client.sign_in(None, &user).await??)?;
    assert!(
        !token.0.contains(&user.password) && !token.0.contains("alice"),
        "the token shows nothing of what it holds"
    );
    client.open("INBOX", 10).await?;
    drop(client);

    // A new socket, no password: the same mailbox, and a fresh token.
    let mut client = first.connect().await?;
    let reply = resume(&mut client, &token).await??;
    let Reply::SignedIn {
        account,
        user: name,
        ..
    } = &reply
    else {
        bail!("{reply:?}");
    };
    assert_eq!((account.as_str(), name.as_str()), ("Example", "alice"));
    let renewed = token_of(&reply)?;
    assert_ne!(renewed, token);
    assert_eq!(client.open("INBOX", 10).await?.total, 5);
    drop(client);

    // The bridge stops; another starts with the same key and takes the tokens.
    drop(first);
    let second = Bridge::start_with(&accounts, None, &keyed(&key, ORIGIN)).await?;
    let mut client = second.connect().await?;
    let reply = resume(&mut client, &renewed).await??;
    let latest = token_of(&reply)?;
    assert_eq!(client.folders().await?.len(), 8);

    // Signing out revokes every token of the session.
    client.ok(Request::SignOut).await?;
    let mut again = second.connect().await?;
    for old in [&token, &renewed, &latest] {
        expired(
            resume(&mut again, old).await?,
            "a token of a signed-out session",
        )?;
    }
    // The socket that was refused can still sign in.
    token_of(&again.sign_in(None, &user).await??)?;
    // A bridge sharing the key file shares its revocations too.
    let third = Bridge::start_with(&accounts, None, &keyed(&key, ORIGIN)).await?;
    let mut there = third.connect().await?;
    expired(
        resume(&mut there, &latest).await?,
        "a token signed out on another bridge",
    )?;
    Ok(())
}

#[tokio::test]
async fn tokens_that_must_not_open_are_refused() -> Result<()> {
    let (dovecot, user) = seeded_server().await?;
    let keys = tempfile::tempdir()?;
    let key = keys.path().join("session.key");
    let accounts = [AccountSpec::trusting("Example", &dovecot)];
    let bridge = Bridge::start_with(&accounts, None, &keyed(&key, ORIGIN)).await?;
    let mut client = bridge.connect().await?;
    let token = token_of(&client.sign_in(None, &user).await??)?;

    // Damaged: one character changed, cut short, or not a token at all.
    let mut changed = token.0.clone().into_bytes();
    let middle = changed.len() / 2;
    changed[middle] = if changed[middle] == b'A' { b'B' } else { b'A' };
    let damaged = [
        String::from_utf8(changed)?,
        token.0[..token.0.len() - 4].to_owned(),
        "not a token".to_owned(),
        String::new(),
        "A".repeat(10_000),
    ];
    let mut other = bridge.connect().await?;
    for text in damaged {
        let error = expired(
            resume(&mut other, &ResumeToken(text.clone())).await?,
            "a damaged token",
        )?;
        assert_eq!(
            error.message,
            "Your session has ended. Please sign in again."
        );
    }

    // Sealed with a key this bridge does not have.
    let stranger_key = keys.path().join("stranger.key");
    let stranger = Bridge::start_with(&accounts, None, &keyed(&stranger_key, ORIGIN)).await?;
    let mut there = stranger.connect().await?;
    expired(resume(&mut there, &token).await?, "another key's token")?;

    // The same key, but for another origin.
    let elsewhere =
        Bridge::start_with(&accounts, None, &keyed(&key, "http://other.postern.test")).await?;
    let mut there = elsewhere.connect().await?;
    expired(resume(&mut there, &token).await?, "another origin's token")?;

    // A rotated key: the new one seals, the old one still opens.
    let rotated = Settings {
        keys: format!(
            "session_key_file = [{:?}, {:?}]\n",
            keys.path().join("new.key").display().to_string(),
            key.display().to_string()
        ),
        origin: Some(ORIGIN.to_owned()),
    };
    let next = Bridge::start_with(&accounts, None, &rotated).await?;
    let mut there = next.connect().await?;
    let sealed_by_new = token_of(&resume(&mut there, &token).await??)?;
    expired(
        resume(&mut other, &sealed_by_new).await?,
        "a token sealed with a key the old bridge lacks",
    )?;

    // Nothing worked without a session: the refused socket is not signed in.
    let answer = other.request(Request::ListFolders).await?;
    assert!(
        matches!(&answer, Err(e) if e.code == ErrorCode::NotSignedIn),
        "{answer:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_changed_password_ends_the_session_with_a_sentence() -> Result<()> {
    let (dovecot, user) = seeded_server().await?;
    let bridge = Bridge::start(&[AccountSpec::trusting("Example", &dovecot)], None).await?;
    let mut client = bridge.connect().await?;
    let token = token_of(&client.sign_in(None, &user).await??)?;
    drop(client);
    dovecot.set_password(&user, "a new password entirely")?;
    let mut client = bridge.connect().await?;
    let error = expired(resume(&mut client, &token).await?, "an old password")?;
    assert!(
        error.message.contains("no longer accepts"),
        "{}",
        error.message
    );
    Ok(())
}

#[tokio::test]
async fn readiness_follows_the_mail_servers() -> Result<()> {
    let (dovecot, _user) = seeded_server().await?;
    let up = Bridge::start(&[AccountSpec::trusting("Example", &dovecot)], None).await?;
    let health = http_get(&format!("{}/healthz", up.origin())).await?;
    assert_eq!(health.status, 200);
    let ready = http_get(&format!("{}/readyz", up.origin())).await?;
    assert_eq!(
        ready.status,
        200,
        "{}",
        String::from_utf8_lossy(&ready.body)
    );
    assert_eq!(ready.header("cache-control"), Some("no-store"));

    // A mail server that is down makes the bridge alive but not ready, and says which.
    let down = Bridge::start(&[AccountSpec::unreachable("Down")], None).await?;
    assert_eq!(
        http_get(&format!("{}/healthz", down.origin()))
            .await?
            .status,
        200
    );
    let ready = http_get(&format!("{}/readyz", down.origin())).await?;
    assert_eq!(ready.status, 503);
    let said = String::from_utf8_lossy(&ready.body);
    assert!(said.contains("imap 127.0.0.1:1"), "{said}");
    Ok(())
}
