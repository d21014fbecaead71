//! Conversations against the real Dovecot: its `THREAD=REFS` and the bridge's own
//! grouping agree on mail with broken and missing references, reordered arrivals
//! and a subject shared by two discussions; opening one brings in the person's
//! own replies from Sent.

use anyhow::{Result, bail};
use maildev::sample::{self, Headers, Sample};
use protocol::{Reply, Request};
use tests::{AccountSpec, Bridge, Dovecot, User, WsClient};

use crate::seed::{T0, alice};

/// INBOX in arrival order: (subject, Message-ID, References, In-Reply-To).
const MAIL: [(&str, &str, &str, &str); 13] = [
    ("Plans", "<a1@x>", "", ""),
    ("Re: Plans", "<b1@x>", "", "<a1@x>"),
    ("Lunch", "<c1@x>", "", ""),
    ("Re: Plans again", "<d1@x>", "<a1@x> <b1@x>", "<b1@x>"),
    ("Re: Lunch", "<e1@x>", "", "<c1@x>"),
    (
        "Re: Plans, a gap",
        "<f1@x>",
        "<a1@x> <missing@x>",
        "<missing@x>",
    ),
    // The same subject as the first, and no references: a discussion of its own.
    ("Plans", "<g1@x>", "", ""),
    // A reply that arrives before what it answers.
    ("Re: Re: Budget", "<h2@x>", "<h0@x> <h1@x>", "<h1@x>"),
    ("Re: Budget", "<h1@x>", "<h0@x>", "<h0@x>"),
    ("Budget", "<h0@x>", "", ""),
    // Broken References: In-Reply-To still says what it answers.
    ("Re: Lunch, broken", "<k1@x>", "<garbage", "<c1@x>"),
    // No Message-ID at all.
    ("Re: Plans, no id", "", "", "<a1@x>"),
    // An answer to a message Alice sent.
    ("Re: Quarterly", "<m1@x>", "<s0@me>", "<s0@me>"),
];

/// Alice's Sent, with each message's date after `T0`:
/// (subject, Message-ID, References, In-Reply-To, seconds).
const SENT: [(&str, &str, &str, &str, i64); 4] = [
    ("Quarterly", "<s0@me>", "", "", -600),
    ("Re: Plans", "<s1@me>", "<a1@x>", "<a1@x>", 90),
    ("Re: Lunch", "<s2@me>", "<c1@x> <e1@x>", "<e1@x>", 330),
    // Its subject alone is the same as a conversation's: it stays out.
    ("Lunch", "<s3@me>", "", "", 400),
];

pub fn raw(
    from: &str,
    subject: &str,
    id: &str,
    references: &str,
    in_reply_to: &str,
    date: i64,
) -> Vec<u8> {
    let mut extra = String::new();
    for (name, value) in [("References", references), ("In-Reply-To", in_reply_to)] {
        if !value.is_empty() {
            extra.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    let body = sample::plain(
        &Headers {
            from,
            to: "Alice <alice@example.org>",
            subject,
            date,
        },
        "Text.",
    );
    let mut text = String::from_utf8_lossy(&body).into_owned();
    // The sample's own Message-ID gives way to the one given (or to none).
    let start = text.find("Message-ID: ").unwrap_or(0);
    let end = start + text[start..].find("\r\n").unwrap_or(0) + 2;
    let own = if id.is_empty() {
        String::new()
    } else {
        format!("Message-ID: {id}\r\n")
    };
    text.replace_range(start..end, &format!("{own}{extra}"));
    text.into_bytes()
}

pub const BOB: &str = "Bob <bob@example.org>";
const ALICE: &str = "Alice <alice@example.org>";

/// A server (with `extra` config) holding [`MAIL`] in INBOX and [`SENT`] in Sent.
pub async fn seeded(extra: &str) -> Result<(Dovecot, User)> {
    let user = alice();
    let dovecot = Dovecot::start_with(std::slice::from_ref(&user), extra)?;
    let mut imap = dovecot.imap(&user).await?;
    let mut samples: Vec<Sample> = MAIL
        .iter()
        .enumerate()
        .map(|(i, (subject, id, refs, reply))| {
            let date = T0 + i as i64 * 60;
            Sample {
                folder: "INBOX".into(),
                flags: if i == 4 { vec![] } else { vec!["\\Seen"] },
                date,
                raw: raw(BOB, subject, id, refs, reply, date),
            }
        })
        .collect();
    samples.extend(SENT.iter().map(|(subject, id, refs, reply, after)| {
        let date = T0 + after;
        Sample {
            folder: "Sent".into(),
            flags: vec!["\\Seen"],
            date,
            raw: raw(ALICE, subject, id, refs, reply, date),
        }
    }));
    sample::append_all(&mut imap, &samples).await?;
    imap.logout().await?;
    Ok((dovecot, user))
}

async fn signed_in(extra: &str) -> Result<(Dovecot, Bridge, WsClient)> {
    let (dovecot, user) = seeded(extra).await?;
    let (bridge, client) = bridge_for(&dovecot, &user).await?;
    Ok((dovecot, bridge, client))
}

/// A bridge for `dovecot`, and `user` signed in to it.
async fn bridge_for(dovecot: &Dovecot, user: &User) -> Result<(Bridge, WsClient)> {
    let bridge = Bridge::start(&[AccountSpec::trusting("Example", dovecot)], None).await?;
    let mut client = bridge.connect().await?;
    client.sign_in(None, user).await??;
    Ok((bridge, client))
}

/// A window of INBOX's conversations, and how many there are.
async fn window(
    client: &mut WsClient,
    offset: u32,
    limit: u32,
) -> Result<(u32, Vec<protocol::Conversation>)> {
    let reply = client
        .ok(Request::ListConversations {
            folder: "INBOX".into(),
            offset,
            limit,
        })
        .await?;
    let Reply::Conversations {
        conversations,
        total,
        ..
    } = reply
    else {
        bail!("not conversations: {reply:?}");
    };
    Ok((total, conversations))
}

/// The conversations the bridge lists, each as its subjects by arrival.
async fn listed(client: &mut WsClient) -> Result<Vec<Vec<&'static str>>> {
    let (total, conversations) = window(client, 0, 50).await?;
    assert_eq!(total as usize, conversations.len());
    Ok(conversations
        .iter()
        .map(|c| {
            assert_eq!(c.count as usize, c.uids.len());
            c.uids.iter().map(|uid| MAIL[*uid as usize - 1].0).collect()
        })
        .collect())
}

#[tokio::test]
async fn the_servers_grouping_and_the_bridges_own_agree() -> Result<()> {
    let expected = vec![
        vec!["Re: Re: Budget", "Re: Budget", "Budget"],
        vec![
            "Plans",
            "Re: Plans",
            "Re: Plans again",
            "Re: Plans, a gap",
            "Re: Plans, no id",
        ],
        vec!["Lunch", "Re: Lunch", "Re: Lunch, broken"],
        vec!["Plans"],
        vec!["Re: Quarterly"],
    ];
    let (server, _bridge, mut client) = signed_in("").await?;
    let mut direct = server.imap(&alice()).await?;
    assert!(
        direct.capabilities().await?.has_str("THREAD=REFS"),
        "the server's own grouping is what is compared"
    );
    direct.logout().await?;
    let by_server = listed(&mut client).await?;
    let (_own, _bridge2, mut client2) = signed_in(maildev::WITHOUT_THREAD).await?;
    let by_bridge = listed(&mut client2).await?;
    assert_eq!(by_server, by_bridge, "THREAD=REFS and the bridge disagree");
    // Newest first: the conversation with the latest arrival leads.
    let firsts: Vec<&str> = by_server.iter().map(|g| g[0]).collect();
    assert_eq!(
        firsts,
        ["Re: Quarterly", "Plans", "Lunch", "Re: Re: Budget", "Plans"]
    );
    for group in &expected {
        assert!(
            by_server.iter().any(|g| {
                let mut a = g.clone();
                let mut b = group.clone();
                a.sort_unstable();
                b.sort_unstable();
                a == b
            }),
            "{group:?} is not one conversation in {by_server:?}"
        );
    }
    // A row counts its unread messages and names its senders.
    let (_, conversations) = window(&mut client, 2, 1).await?;
    let [lunch] = conversations.as_slice() else {
        bail!("one conversation: {conversations:?}");
    };
    assert_eq!((lunch.count, lunch.unread, lunch.flagged), (3, 1, false));
    assert_eq!(lunch.newest.subject, "Re: Lunch, broken");
    assert_eq!(lunch.participants.len(), 1);
    assert_eq!(lunch.participants[0].email, "bob@example.org");
    Ok(())
}

/// The conversation whose row lists `uids`, opened: each message as its folder
/// and subject, in the order given.
async fn opened(client: &mut WsClient, uids: &[u32]) -> Result<Vec<(String, String)>> {
    let reply = client
        .ok(Request::OpenConversation {
            folder: "INBOX".into(),
            uids: uids.to_vec(),
        })
        .await?;
    let Reply::ConversationOpened { messages, .. } = reply else {
        bail!("not a conversation: {reply:?}");
    };
    Ok(messages
        .into_iter()
        .map(|hit| (hit.folder, hit.message.subject))
        .collect())
}

#[tokio::test]
async fn a_conversation_opens_with_the_persons_own_replies_from_sent() -> Result<()> {
    let inbox = |s: &str| ("INBOX".to_owned(), s.to_owned());
    let sent = |s: &str| ("Sent".to_owned(), s.to_owned());
    for extra in ["", maildev::WITHOUT_THREAD] {
        let (_server, _bridge, mut client) = signed_in(extra).await?;
        // Plans: UIDs 1, 2, 4, 6, 12; Alice answered the first.
        assert_eq!(
            opened(&mut client, &[1, 2, 4, 6, 12]).await?,
            [
                inbox("Plans"),
                inbox("Re: Plans"),
                sent("Re: Plans"),
                inbox("Re: Plans again"),
                inbox("Re: Plans, a gap"),
                inbox("Re: Plans, no id"),
            ]
        );
        // Lunch: Alice's reply to the reply; her own "Lunch" stays out.
        assert_eq!(
            opened(&mut client, &[3, 5, 11]).await?,
            [
                inbox("Lunch"),
                inbox("Re: Lunch"),
                sent("Re: Lunch"),
                inbox("Re: Lunch, broken"),
            ]
        );
        // What Alice sent first, then its answer.
        assert_eq!(
            opened(&mut client, &[13]).await?,
            [sent("Quarterly"), inbox("Re: Quarterly")]
        );
        // The other "Plans" has no reply anywhere.
        assert_eq!(opened(&mut client, &[7]).await?, [inbox("Plans")]);
        // A reply sent meanwhile joins the next opening (what is kept of Sent
        // is brought up to date).
        let user = alice();
        let mut direct = _server.imap(&user).await?;
        let date = T0 + 800;
        sample::append_all(
            &mut direct,
            &[Sample {
                folder: "Sent".into(),
                flags: vec!["\\Seen"],
                date,
                raw: raw(ALICE, "Re: Plans", "<s4@me>", "<g1@x>", "<g1@x>", date),
            }],
        )
        .await?;
        direct.logout().await?;
        assert_eq!(
            opened(&mut client, &[7]).await?,
            [inbox("Plans"), sent("Re: Plans")]
        );
        // Nothing, or too much, to open.
        let error = client
            .request(Request::OpenConversation {
                folder: "INBOX".into(),
                uids: vec![],
            })
            .await?;
        assert!(error.is_err(), "{error:?}");
    }
    Ok(())
}

#[tokio::test]
async fn the_conversations_setting_follows_the_user_to_another_browser() -> Result<()> {
    let (_server, bridge, mut client) = signed_in(maildev::WITHOUT_THREAD).await?;
    let on = protocol::Preferences {
        conversations: true,
    };
    let reply = client
        .ok(Request::SavePreferences {
            preferences: on.clone(),
        })
        .await?;
    assert_eq!(
        reply,
        Reply::PreferencesSaved {
            preferences: on.clone()
        }
    );
    let mut other = bridge.connect().await?;
    let Reply::SignedIn { preferences, .. } = other.sign_in(None, &alice()).await?? else {
        bail!("not signed in");
    };
    assert_eq!(preferences, on);
    // Not signed in: nothing to keep it for.
    let mut stranger = bridge.connect().await?;
    let refused = stranger
        .request(Request::SavePreferences { preferences: on })
        .await?;
    assert!(refused.is_err(), "{refused:?}");
    Ok(())
}

#[tokio::test]
async fn a_long_conversation_opens_with_its_newest_messages() -> Result<()> {
    const LONG: usize = protocol::MAX_OPENED + 50;
    let user = alice();
    let dovecot = Dovecot::start_with(std::slice::from_ref(&user), "")?;
    let mut imap = dovecot.imap(&user).await?;
    // A chain: each answers the one before.
    let ids: Vec<String> = (0..LONG).map(|i| format!("<l{i}@x>")).collect();
    let samples: Vec<Sample> = (0..LONG)
        .map(|i| {
            let date = T0 + i as i64 * 60;
            let references = ids[i.saturating_sub(20)..i].join(" ");
            let parent = if i == 0 { "" } else { ids[i - 1].as_str() };
            Sample {
                folder: "INBOX".into(),
                flags: vec!["\\Seen"],
                date,
                raw: raw(
                    BOB,
                    &format!("Long {i}"),
                    &ids[i],
                    &references,
                    parent,
                    date,
                ),
            }
        })
        .collect();
    sample::append_all(&mut imap, &samples).await?;
    imap.logout().await?;
    let (_bridge, mut client) = bridge_for(&dovecot, &user).await?;
    let (_, conversations) = window(&mut client, 0, 50).await?;
    let [long] = conversations.as_slice() else {
        bail!("one conversation: {conversations:?}");
    };
    assert_eq!(long.count as usize, LONG);
    let reply = client
        .ok(Request::OpenConversation {
            folder: "INBOX".into(),
            uids: long.uids.clone(),
        })
        .await?;
    let Reply::ConversationOpened {
        messages, earlier, ..
    } = reply
    else {
        bail!("not a conversation");
    };
    assert_eq!(messages.len(), protocol::MAX_OPENED);
    assert_eq!(earlier, 50);
    assert_eq!(messages[0].message.subject, "Long 50");
    assert_eq!(
        messages[messages.len() - 1].message.subject,
        format!("Long {}", LONG - 1)
    );
    Ok(())
}
