//! Search in a POP3 mailbox, which has no SEARCH: the bridge's own index of every
//! listed message's headers and of the bodies it has retrieved, against the real
//! Dovecot's POP3, kept across a restart.

use anyhow::{Result, bail};
use protocol::{Reply, Request};
use tests::{AccountSpec, Bridge, WsClient};

use crate::pop3::pop3_session;
use crate::seed::inbox_with;

fn message(from: &str, subject: &str, date: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: alice@example.org\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{}@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        subject.replace(' ', ".")
    )
    .into_bytes()
}

/// The inbox, oldest first.
fn mail() -> Vec<Vec<u8>> {
    vec![
        message(
            "Bob <bob@example.org>",
            "Invoice 1041",
            "Mon, 5 Oct 2026 10:00:00 +0000",
            "Please pay by Friday.",
        ),
        message(
            "=?UTF-8?Q?Mar=C3=ADa_S=C3=A1nchez?= <maria@venues.example>",
            "Offsite",
            "Fri, 20 Nov 2026 10:00:00 +0000",
            "The old lighthouse is booked.",
        ),
        message(
            "Carol <carol@example.org>",
            "Lunch",
            "Wed, 25 Nov 2026 10:00:00 +0000",
            "Pizza at noon.",
        ),
    ]
}

/// The subjects a search finds, newest first, and how many bodies it could not
/// look in.
async fn found(client: &mut WsClient, query: &str) -> Result<(Vec<String>, u32)> {
    let reply = client
        .ok(Request::Search {
            query: query.to_owned(),
            folder: "INBOX".to_owned(),
            limit: 50,
        })
        .await?;
    let Reply::Hits {
        hits,
        bodies_unsearched,
        ..
    } = reply
    else {
        bail!("not hits: {reply:?}");
    };
    Ok((
        hits.into_iter().map(|h| h.message.subject).collect(),
        bodies_unsearched,
    ))
}

#[tokio::test]
async fn pop3_search_covers_every_header_and_the_bodies_retrieved() -> Result<()> {
    let (dovecot, user) = inbox_with(&mail(), "").await?;
    let data = tempfile::tempdir()?;
    let account = || AccountSpec::pop3("Example", &dovecot, dovecot.pop3s_url());
    let bridge = Bridge::start_keeping(&[account()], None, 1, Some(data.path())).await?;
    let mut client = pop3_session(&bridge, &user, "Example").await?;
    // Before anything is listed: every message's headers are read for the search.
    assert_eq!(
        found(&mut client, "from:maría").await?,
        (vec!["Offsite".to_owned()], 0)
    );
    assert_eq!(
        found(&mut client, "after:2026-11-01 -from:carol").await?,
        (vec!["Offsite".to_owned()], 0)
    );
    assert_eq!(
        found(&mut client, "subject:invoice before:2026-11-01").await?,
        (vec!["Invoice 1041".to_owned()], 0)
    );
    assert_eq!(
        found(&mut client, "larger:1M").await?,
        (Vec::<String>::new(), 0)
    );
    // A body word: not found until the message is retrieved, and the answer says
    // how many bodies were not looked in.
    assert_eq!(
        found(&mut client, "lighthouse").await?,
        (Vec::<String>::new(), 3)
    );
    let window = client.open("INBOX", 10).await?;
    let offsite = window
        .messages
        .iter()
        .find(|m| m.subject == "Offsite")
        .map(|m| m.uid)
        .expect("listed");
    client.open_message("INBOX", offsite, None).await?;
    assert_eq!(
        found(&mut client, "lighthouse").await?,
        (vec!["Offsite".to_owned()], 2)
    );
    assert_eq!(
        found(&mut client, "is:unread").await?,
        (vec!["Lunch".to_owned(), "Invoice 1041".to_owned()], 0)
    );
    // What is typed is only ever words to the index.
    assert_eq!(
        found(&mut client, "\"NEAR(lighthouse) OR *\" body:{x}*")
            .await?
            .0,
        Vec::<String>::new()
    );
    drop(client);
    drop(bridge);

    // The index outlives the bridge.
    let (_bridge, mut again) = tests::eventually("a bridge on the same data", || async {
        let bridge = Bridge::start_keeping(&[account()], None, 1, Some(data.path())).await?;
        match pop3_session(&bridge, &user, "Example").await {
            Ok(client) => Ok(Some((bridge, client))),
            Err(_) => Ok(None),
        }
    })
    .await?;
    assert_eq!(
        found(&mut again, "lighthouse in:all").await?,
        (vec!["Offsite".to_owned()], 2)
    );
    Ok(())
}
