//! Sorting: by arrival or by the date messages say they were sent, both ways round;
//! from the server's SORT, and sorted by the bridge for a server without it. Mail
//! that arrives or goes while a folder is listed by date is placed by position.

use anyhow::{Context, Result, ensure};
use fantoccini::Locator;
use futures::TryStreamExt;
use maildev::sample::{self, Headers, Sample};
use protocol::{Event, MessageHeader, Sort, SortKey};
use tests::browser::{message_row, signed_in_app};
use tests::{AccountSpec, Bridge, Dovecot, User, WsClient};

use crate::seed::{T0, alice};

const DAY: i64 = 86_400;

/// Subjects in the order they arrive, each with the day it says it was sent.
const ARRIVALS: [(&str, i64); 6] = [
    ("Alpha", 3),
    ("Bravo", 1),
    ("Charlie", 5),
    ("Delta", 2),
    ("Echo", 6),
    ("Foxtrot", 4),
];

/// Capabilities of a server without SORT (Dovecot's, less SORT, ESORT and THREAD).
const WITHOUT_SORT: &str = "protocol imap {\n  imap_capability = IMAP4rev1 SASL-IR \
     LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ NAMESPACE UIDPLUS MOVE CONDSTORE QRESYNC \
     SPECIAL-USE NOTIFY\n}\n";

fn message(subject: &str, day: i64) -> Vec<u8> {
    sample::plain(
        &Headers {
            from: "Eve <eve@example.org>",
            to: "alice@example.org",
            subject,
            date: T0 + day * DAY,
        },
        "Sorted.\r\n",
    )
}

/// A server whose INBOX got [`ARRIVALS`] in that order.
async fn server(extra_config: &str) -> Result<(Dovecot, User)> {
    let user = alice();
    let dovecot = Dovecot::start_with(std::slice::from_ref(&user), extra_config)?;
    let mut imap = dovecot.imap(&user).await?;
    let samples: Vec<Sample> = ARRIVALS
        .iter()
        .map(|(subject, day)| Sample {
            folder: "INBOX".into(),
            flags: vec!["\\Seen"],
            date: T0 + day * DAY,
            raw: message(subject, *day),
        })
        .collect();
    sample::append_all(&mut imap, &samples).await?;
    imap.logout().await?;
    Ok((dovecot, user))
}

fn sort(by: SortKey, newest_first: bool) -> Sort {
    Sort { by, newest_first }
}

fn subjects(messages: &[MessageHeader]) -> Vec<&str> {
    messages.iter().map(|m| m.subject.as_str()).collect()
}

/// Each order lists the folder as expected, in two windows.
async fn check_orders(client: &mut WsClient) -> Result<()> {
    let orders = [
        (
            sort(SortKey::Arrival, true),
            ["Foxtrot", "Echo", "Delta", "Charlie", "Bravo", "Alpha"],
        ),
        (
            sort(SortKey::Arrival, false),
            ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"],
        ),
        (
            sort(SortKey::Date, true),
            ["Echo", "Charlie", "Foxtrot", "Alpha", "Delta", "Bravo"],
        ),
        (
            sort(SortKey::Date, false),
            ["Bravo", "Delta", "Alpha", "Foxtrot", "Charlie", "Echo"],
        ),
    ];
    for (order, expected) in orders {
        let first = client.open_sorted("INBOX", 4, order).await?;
        assert_eq!(first.total, 6);
        assert_eq!(subjects(&first.messages), expected[..4], "{order:?}");
        let rest = client.window_sorted("INBOX", 4, 4, order).await?;
        assert_eq!(
            (rest.offset, subjects(&rest.messages)),
            (4, expected[4..].to_vec()),
            "{order:?}"
        );
    }
    Ok(())
}

/// Listed by date, newest first: another client's old-dated arrival and its
/// expunge arrive with their positions, and the next window agrees.
async fn check_live_positions(dovecot: &Dovecot, user: &User, client: &mut WsClient) -> Result<()> {
    let by_date = sort(SortKey::Date, true);
    client.open_sorted("INBOX", 10, by_date).await?;
    let mut other = dovecot.imap(user).await?;
    // Sent on day 3.5: between Foxtrot (day 4) and Alpha (day 3).
    let golf = message("Golf", 3).replace_date(T0 + 3 * DAY + DAY / 2);
    assert_eq!(arrives(client, &mut other, golf).await?, ("Golf".into(), 3));

    let window = client.window_sorted("INBOX", 0, 10, by_date).await?;
    let charlie = window
        .messages
        .iter()
        .find(|m| m.subject == "Charlie")
        .context("Charlie")?
        .uid;
    other.select("INBOX").await?;
    other
        .uid_store(charlie.to_string(), "+FLAGS (\\Deleted)")
        .await?
        .try_collect::<Vec<_>>()
        .await?;
    other.expunge().await?.try_collect::<Vec<_>>().await?;
    let event = client
        .event(
            "the expunge",
            |e| matches!(e, Event::FolderChanged { removed, .. } if removed.contains(&charlie)),
        )
        .await?;
    let Event::FolderChanged {
        removed,
        removed_at,
        total,
        ..
    } = &event
    else {
        unreachable!()
    };
    assert_eq!(
        (removed.as_slice(), removed_at.as_slice()),
        (&[charlie][..], &[1][..])
    );
    assert_eq!(*total, 6);

    let expected = ["Echo", "Foxtrot", "Golf", "Alpha", "Delta", "Bravo"];
    let window = client.window_sorted("INBOX", 0, 10, by_date).await?;
    assert_eq!(subjects(&window.messages), expected);
    // The other way round needs no new sort, and agrees.
    let oldest_first = sort(SortKey::Date, false);
    let window = client.window_sorted("INBOX", 0, 10, oldest_first).await?;
    let mut reversed = expected;
    reversed.reverse();
    assert_eq!(subjects(&window.messages), reversed);

    // A request about another folder (here, removing from Trash) selects it; the
    // next one about this folder selects it again, and news is still placed in
    // date order, newest first as listed last.
    client.window_sorted("INBOX", 0, 10, by_date).await?;
    client
        .ok(protocol::Request::ExpungeMessages {
            folder: "Trash".into(),
            uids: vec![999],
        })
        .await?;
    let echo = window.messages.last().context("Echo")?.uid;
    client.open_message("INBOX", echo, None).await?;
    let hotel = message("Hotel", 0);
    assert_eq!(
        arrives(client, &mut other, hotel).await?,
        ("Hotel".into(), 6)
    );
    other.logout().await?;
    Ok(())
}

/// Another client appends `raw` to INBOX; the new message's subject and position,
/// as the bridge's event gives them.
async fn arrives(
    client: &mut WsClient,
    other: &mut maildev::ImapSession,
    raw: Vec<u8>,
) -> Result<(String, u32)> {
    other.append("INBOX", None, None, raw).await?;
    let event = client
        .event(
            "the new message",
            |e| matches!(e, Event::FolderChanged { added, .. } if !added.is_empty()),
        )
        .await?;
    match event {
        Event::FolderChanged {
            added, added_at, ..
        } if added.len() == 1 && added_at.len() == 1 => Ok((added[0].subject.clone(), added_at[0])),
        other => anyhow::bail!("expected one new message, got {other:?}"),
    }
}

trait ReplaceDate {
    fn replace_date(self, at: i64) -> Vec<u8>;
}

impl ReplaceDate for Vec<u8> {
    /// The same message, saying it was sent at `at`.
    fn replace_date(self, at: i64) -> Vec<u8> {
        let text = String::from_utf8(self).expect("samples are UTF-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
        let head: Vec<String> = head
            .split("\r\n")
            .map(|line| match line.strip_prefix("Date: ") {
                Some(_) => format!("Date: {}", sample::rfc2822_date(at)),
                None => line.to_owned(),
            })
            .collect();
        format!("{}\r\n\r\n{body}", head.join("\r\n")).into_bytes()
    }
}

#[tokio::test]
async fn the_server_sorts_and_changes_land_in_place() -> Result<()> {
    let (dovecot, user) = server("").await?;
    let bridge = Bridge::start(&[AccountSpec::trusting("Example", &dovecot)], None).await?;
    let mut client = bridge.connect().await?;
    client.sign_in(None, &user).await??;
    check_orders(&mut client).await?;
    check_live_positions(&dovecot, &user, &mut client).await
}

#[tokio::test]
async fn without_sort_the_bridge_sorts_the_same() -> Result<()> {
    let (dovecot, user) = server(WITHOUT_SORT).await?;
    let mut direct = dovecot.imap(&user).await?;
    let capabilities = direct.capabilities().await?;
    ensure!(
        !capabilities.has_str("SORT") && capabilities.has_str("IDLE"),
        "the server should offer IDLE but not SORT"
    );
    direct.logout().await?;
    let bridge = Bridge::start(&[AccountSpec::trusting("Example", &dovecot)], None).await?;
    let mut client = bridge.connect().await?;
    client.sign_in(None, &user).await??;
    check_orders(&mut client).await?;
    check_live_positions(&dovecot, &user, &mut client).await
}

/// The subjects of the rows in the page, top to bottom.
async fn listed(browser: &tests::browser::Browser) -> Result<Vec<String>> {
    let value = browser
        .client
        .execute(
            "return Array.from(document.querySelectorAll(\"ul[aria-label='Messages'] li .subject\"))
                 .map(e => e.textContent.trim());",
            vec![],
        )
        .await?;
    Ok(serde_json::from_value(value)?)
}

#[tokio::test]
async fn in_the_app_the_chosen_order_holds_as_mail_arrives() -> Result<()> {
    let (dovecot, user) = server("").await?;
    let (bridge, browser) = signed_in_app(&dovecot, &user).await?;
    browser
        .wait_for(Locator::XPath(&message_row("Foxtrot")), "the list")
        .await?;
    let by_arrival = ["Foxtrot", "Echo", "Delta", "Charlie", "Bravo", "Alpha"];
    tests::eventually("arrival order", || async {
        Ok((listed(&browser).await? == by_arrival).then_some(()))
    })
    .await?;

    let menu = browser
        .wait_for(
            Locator::XPath("//select[@aria-label='Sort messages']"),
            "the sort menu",
        )
        .await?;
    menu.select_by_label("Date, newest first").await?;
    let by_date = ["Echo", "Charlie", "Foxtrot", "Alpha", "Delta", "Bravo"];
    tests::eventually("date order", || async {
        Ok((listed(&browser).await? == by_date).then_some(()))
    })
    .await?;

    // Another client delivers a message sent on day 3.5: it shows between
    // Foxtrot and Alpha, not on top.
    let mut other = dovecot.imap(&user).await?;
    other
        .append(
            "INBOX",
            None,
            None,
            message("Golf", 3).replace_date(T0 + 3 * DAY + DAY / 2),
        )
        .await?;
    let with_golf = [
        "Echo", "Charlie", "Foxtrot", "Golf", "Alpha", "Delta", "Bravo",
    ];
    tests::eventually("the new row in date order", || async {
        Ok((listed(&browser).await? == with_golf).then_some(()))
    })
    .await?;
    other.logout().await?;
    browser
        .screenshot(&tests::screenshot_dir()?.join("sorted-by-date-desktop.png"))
        .await?;

    // The choice is kept in this browser: signing in again lists oldest first.
    browser
        .wait_for(
            Locator::XPath("//select[@aria-label='Sort messages']"),
            "the sort menu",
        )
        .await?
        .select_by_label("Date, oldest first")
        .await?;
    let mut oldest_first = with_golf;
    oldest_first.reverse();
    tests::eventually("oldest first", || async {
        Ok((listed(&browser).await? == oldest_first).then_some(()))
    })
    .await?;
    // A reload signs the tab in again by itself.
    browser.client.goto(&bridge.origin()).await?;
    tests::eventually("the order kept after a reload", || async {
        Ok((listed(&browser).await? == oldest_first).then_some(()))
    })
    .await?;
    browser.close().await
}
