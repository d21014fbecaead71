//! 200 faults between the bridge and Dovecot while a person works and another
//! client changes the same mailbox: after each, the app's view equals the
//! server's, and at the end nothing is lost or done twice (`tests::faults`).

use anyhow::Result;

#[tokio::test]
async fn the_apps_view_stays_the_servers_through_200_faults() -> Result<()> {
    let report = tests::faults::run(0x5eed_0019, 200, 1).await?;
    eprintln!("{report:#?}");
    Ok(())
}

/// Found by the fault run: a request sent as Dovecot said `* BYE` and closed was
/// answered "no longer on the server", as often as it was made again, because
/// async-imap ends an answer at the end of the stream as if it were complete.
#[tokio::test]
async fn a_request_right_after_the_servers_bye_is_answered() -> Result<()> {
    use protocol::{Reply, Request};
    let user = tests::User::new("ann", "ann-password");
    let dovecot = tests::Dovecot::start(std::slice::from_ref(&user))?;
    let note = maildev::sample::plain(
        &maildev::sample::Headers {
            from: "Ann <ann@example.org>",
            to: "me@example.org",
            subject: "Still here",
            date: 1_700_000_000,
        },
        "Hello.\n",
    );
    let sample = maildev::sample::Sample {
        folder: "INBOX".into(),
        flags: vec![],
        date: 1_700_000_000,
        raw: note,
    };
    dovecot.append_samples(&user, &[sample]).await?;
    let bridge =
        tests::Bridge::start(&[tests::AccountSpec::trusting("Example", &dovecot)], None).await?;
    let mut client = bridge.connect().await?;
    client.sign_in(None, &user).await??;
    client.open("INBOX", 10).await?;
    for round in 0..20 {
        dovecot.kick(&user)?;
        let reply = client
            .request(Request::OpenMessage {
                folder: "INBOX".into(),
                uid: 1,
                part: None,
                mark_seen: false,
                remote_content: false,
            })
            .await?;
        anyhow::ensure!(
            matches!(reply, Ok(Reply::MessageOpened { .. })),
            "round {round}: {reply:?}"
        );
    }
    Ok(())
}
