//! The mail server's limit on one user's connections is not a wrong password:
//! the sign-in says so, the throttle does not count it, a resume is not ended by
//! it, and the sign-in goes through once a connection is free.

use anyhow::{Result, bail, ensure};
use protocol::{ErrorCode, Reply, Request};
use tests::{AccountSpec, Bridge, DEADLINE, Dovecot};

use crate::seed::alice;

#[tokio::test]
async fn the_servers_connection_limit_gets_its_own_answer() -> Result<()> {
    let user = alice();
    let dovecot = Dovecot::start_with(
        std::slice::from_ref(&user),
        "protocol imap {\n  mail_max_userip_connections = 1\n}\n",
    )?;
    let bridge = Bridge::start(&[AccountSpec::trusting("Example", &dovecot)], None).await?;
    let mut first = bridge.connect().await?;
    let Reply::SignedIn {
        resume: Some(token),
        ..
    } = first.sign_in(None, &user).await??
    else {
        bail!("no resume token");
    };
    let mut second = bridge.connect().await?;
    // More tries than the throttle gives a wrong password.
    for _ in 0..5 {
        let error = second
            .sign_in(None, &user)
            .await?
            .expect_err("a second connection over the limit");
        assert_eq!(error.code, ErrorCode::TooManyConnections, "{error:?}");
        assert!(
            error.message.contains("no more connections"),
            "{}",
            error.message
        );
    }
    // A resume over the limit has not ended the session: the app tries again.
    let error = second
        .request(Request::Resume { token })
        .await?
        .expect_err("a resume over the limit");
    assert_eq!(error.code, ErrorCode::TooManyConnections, "{error:?}");

    // The first lets go, and the second gets in: nothing was held against it.
    drop(first);
    let deadline = std::time::Instant::now() + DEADLINE;
    while second.sign_in(None, &user).await?.is_err() {
        ensure!(
            std::time::Instant::now() < deadline,
            "the second sign-in never got in"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Ok(())
}
