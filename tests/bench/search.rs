//! Search on a 100,000-message folder: the time to the first window of hits for a
//! subject word (10,000 hits), a sender (1,000) and a body word (100) through the
//! bridge, against a direct client's `UID SEARCH` and `UID FETCH` of the same
//! window, on a Dovecot without and with its full-text index (Xapian); the
//! bytes over the WebSocket for the search with 10,000 hits; the first window of
//! conversations and opening one with a reply in a 10,000-message Sent; and a
//! POP3 mailbox's search, which the bridge answers from its own index.

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};
use futures::TryStreamExt;
use maildev::sample::{self, Headers};
use protocol::{Reply, Request};
use tests::{Dovecot, User};

use crate::BridgeProcess;
use crate::report::{Report, Section};

/// Messages in the folder.
const BIG: u32 = 100_000;
/// Runs of each search, bridge and direct alternately.
const RUNS: usize = 7;
/// The window the app asks for.
const WINDOW: u32 = 50;
/// What the bridge asks for a header window.
const HEADER_QUERY: &str = "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE CONTENT-TYPE)])";

/// The searches: what is typed, the direct client's keys, and the hits.
const SEARCHES: [(&str, &str, &str, u32); 3] = [
    (
        "a subject word",
        "subject:invoice",
        "SUBJECT invoice",
        BIG / 10,
    ),
    ("a sender", "from:ada", "FROM ada", BIG / 100),
    ("a body word", "body:zeppelin", "BODY zeppelin", BIG / 1000),
];

/// Message `i`: every tenth an invoice, every hundredth from Ada, every
/// thousandth mentions a zeppelin.
fn message(i: u32) -> Vec<u8> {
    let subject = if i.is_multiple_of(10) {
        format!("Invoice {i}")
    } else {
        format!("Message {i} of the big folder")
    };
    let from = if i.is_multiple_of(100) {
        "Ada <ada@example.org>".to_owned()
    } else {
        format!("Ken <ken{}@example.org>", i % 50)
    };
    let body = if i.is_multiple_of(1000) {
        format!("Message {i}: the zeppelin lands at noon.\r\n")
    } else {
        format!("Message {i}: nothing to report today.\r\n")
    };
    sample::plain(
        &Headers {
            from: &from,
            to: "bench@example.org",
            subject: &subject,
            date: 1_700_000_000 + i64::from(i) * 60,
        },
        &body,
    )
}

pub async fn measure(postern: &Path, report: &mut Report) -> Result<()> {
    let user = User::new("bench", "bench-password");
    for (indexed, config) in [(false, ""), (true, maildev::FULL_TEXT)] {
        let label = if indexed {
            "with Xapian's index"
        } else {
            "no index"
        };
        eprintln!("==> search: seeding a folder of {BIG} messages ({label})");
        let dovecot = Dovecot::start_with(std::slice::from_ref(&user), config)?;
        let mut direct = dovecot.imap(&user).await?;
        direct.create("Big").await?;
        let seeding = Instant::now();
        dovecot.seed_maildir(&user, "Big", BIG, message)?;
        eprintln!(
            "    seeded and indexed in {:.1} s",
            seeding.elapsed().as_secs_f64()
        );
        let bridge = BridgeProcess::start(postern, &dovecot).await?;
        let mut client = bridge.signed_in(&user).await?;
        client.open("Big", WINDOW).await?;
        for (what, typed, keys, hits) in SEARCHES {
            eprintln!("==> search for {what} ({label}): bridge against direct, {RUNS} runs");
            let mut through_bridge = Vec::new();
            let mut straight = Vec::new();
            let mut bytes = 0;
            // One more run than counted: the first warms both.
            for run in 0..=RUNS {
                let before = client.bytes_received;
                let start = Instant::now();
                let reply = client
                    .ok(Request::Search {
                        query: typed.to_owned(),
                        folder: "Big".to_owned(),
                        limit: WINDOW,
                    })
                    .await?;
                let took = start.elapsed();
                let Reply::Hits {
                    total, hits: got, ..
                } = reply
                else {
                    bail!("not hits");
                };
                if total != hits || got.len() != (hits.min(WINDOW)) as usize {
                    bail!("{typed}: {total} hits, {} listed", got.len());
                }
                bytes = client.bytes_received - before;
                direct.select("Big").await?;
                let start = Instant::now();
                let mut found = direct_search(&mut direct, keys).await?;
                found.sort_unstable();
                let newest = &found[found.len().saturating_sub(WINDOW as usize)..];
                let set: Vec<String> = newest.iter().map(u32::to_string).collect();
                let fetched: Vec<_> = direct
                    .uid_fetch(set.join(","), HEADER_QUERY)
                    .await?
                    .try_collect()
                    .await?;
                let direct_took = start.elapsed();
                if fetched.len() != newest.len() || found.len() != hits as usize {
                    bail!(
                        "direct {keys}: {} hits, {} fetched",
                        found.len(),
                        fetched.len()
                    );
                }
                if run > 0 {
                    through_bridge.push(took);
                    straight.push(direct_took);
                }
            }
            let key = typed.replace(':', "_");
            let index_key = if indexed { "fts" } else { "noindex" };
            let b = report.times(
                Section::Search,
                &format!("{what} ({hits} hits, {label}), bridge"),
                &format!("search_{key}_{index_key}_bridge_ms"),
                &through_bridge,
                false,
            );
            let d = report.times(
                Section::Search,
                "direct: UID SEARCH, UID FETCH of the newest 50",
                &format!("search_{key}_{index_key}_direct_ms"),
                &straight,
                false,
            );
            report.ratio(Section::Search, "ratio, bridge / direct", &b, &d);
            if hits == BIG / 10 && !indexed {
                report.bytes(
                    Section::Search,
                    "bytes over the WebSocket, 10,000 hits (first window)",
                    "search_10000_hits_websocket_bytes",
                    bytes as u64,
                    "50 headers and the count, no UID list",
                );
            }
        }
        if !indexed {
            conversations(&mut client, &dovecot, &user, report).await?;
            opening(&mut client, &mut direct, &dovecot, &user, report).await?;
            pop3_search(&bridge, &mut direct, &user, report).await?;
        }
        drop(bridge);
        direct.logout().await?;
    }
    Ok(())
}

/// The first window of the folder's conversations through the bridge, against a
/// direct client's `UID THREAD REFS` and `UID FETCH` of the newest 50 (imap-proto
/// cannot read THREAD, so the direct client writes and reads lines itself).
async fn conversations(
    client: &mut tests::WsClient,
    dovecot: &Dovecot,
    user: &User,
    report: &mut Report,
) -> Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    eprintln!("==> conversations of the big folder: bridge against direct, {RUNS} runs");
    let mut stream = BufReader::new(dovecot.tls_to(dovecot.imaps_port).await?);
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    // Sends a command and reads to its tagged answer; the bytes read.
    async fn command<S: tokio::io::AsyncBufRead + tokio::io::AsyncWrite + Unpin>(
        stream: &mut S,
        tag: &str,
        text: &str,
    ) -> Result<Vec<String>> {
        stream
            .write_all(format!("{tag} {text}\r\n").as_bytes())
            .await?;
        stream.flush().await?;
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if stream.read_line(&mut line).await? == 0 {
                bail!("the server closed the connection");
            }
            if line.starts_with(&format!("{tag} ")) {
                if !line[tag.len() + 1..].starts_with("OK") {
                    bail!("{text}: {line}");
                }
                return Ok(lines);
            }
            lines.push(line);
        }
    }
    command(
        &mut stream,
        "a",
        &format!("LOGIN {} {}", user.name, user.password),
    )
    .await?;
    command(&mut stream, "b", "SELECT Big").await?;
    let mut through_bridge = Vec::new();
    let mut straight = Vec::new();
    for run in 0..=RUNS {
        let start = Instant::now();
        let reply = client
            .ok(Request::ListConversations {
                folder: "Big".into(),
                offset: 0,
                limit: WINDOW,
            })
            .await?;
        let took = start.elapsed();
        let Reply::Conversations {
            total,
            conversations,
            ..
        } = reply
        else {
            bail!("not conversations");
        };
        if total != BIG || conversations.len() != WINDOW as usize {
            bail!("{total} conversations, {} listed", conversations.len());
        }
        let start = Instant::now();
        let answer = command(&mut stream, "c", "UID THREAD REFS UTF-8 ALL").await?;
        let newest: Vec<String> = (BIG - WINDOW + 1..=BIG).map(|u| u.to_string()).collect();
        command(
            &mut stream,
            "d",
            &format!("UID FETCH {} {HEADER_QUERY}", newest.join(",")),
        )
        .await?;
        let direct_took = start.elapsed();
        if !answer.iter().any(|l| l.starts_with("* THREAD")) {
            bail!("no THREAD answer");
        }
        if run > 0 {
            through_bridge.push(took);
            straight.push(direct_took);
        }
    }
    let b = report.times(
        Section::Search,
        "first window of conversations (100,000 of one message each), bridge",
        "conversations_100k_bridge_ms",
        &through_bridge,
        false,
    );
    let d = report.times(
        Section::Search,
        "direct: UID THREAD REFS, UID FETCH of the newest 50",
        "conversations_100k_direct_ms",
        &straight,
        false,
    );
    report.ratio(Section::Search, "ratio, bridge / direct", &b, &d);
    Ok(())
}

/// Messages in Sent when a conversation is opened.
const SENT: u32 = 10_000;
/// Messages in the POP3 mailbox searched.
const POP3_MESSAGES: u32 = 1_000;

/// A message of the discussion opened: `id` answering `parents`.
fn discussion(id: &str, parents: &[&str], from: &str, date: i64) -> Vec<u8> {
    let subject = if parents.is_empty() {
        "Bench plans"
    } else {
        "Re: Bench plans"
    };
    let raw = sample::plain(
        &Headers {
            from,
            to: "bench@example.org",
            subject,
            date,
        },
        "About the plans.",
    );
    let parents: Vec<String> = parents.iter().map(|p| (*p).to_owned()).collect();
    sample::with_ids(&raw, id, &parents)
}

/// Opening a conversation of the big folder whose reply is in a 10,000-message
/// Sent: the first opening (Sent's threading fields read whole) and later ones
/// (only what arrived since), against a direct client's header FETCH in the
/// folder and `UID SEARCH HEADER References` and FETCH in Sent.
async fn opening(
    client: &mut tests::WsClient,
    direct: &mut maildev::ImapSession,
    dovecot: &Dovecot,
    user: &User,
    report: &mut Report,
) -> Result<()> {
    eprintln!(
        "==> opening a conversation with a reply in a {SENT}-message Sent: bridge against direct, {RUNS} runs"
    );
    // Made at first use where the server does not make it; there already, fine.
    let _ = direct.create("Sent").await;
    dovecot.seed_maildir(user, "Sent", SENT, |i| {
        let raw = sample::plain(
            &Headers {
                from: "Bench <bench@example.org>",
                to: "Ken <ken@example.org>",
                subject: "Re: something else",
                date: 1_700_000_000 + i64::from(i) * 60,
            },
            "Another discussion.",
        );
        sample::with_ids(
            &raw,
            &format!("<sent-{i}@bench>"),
            &[format!("<other-{i}@bench>")],
        )
    })?;
    let at = 1_800_000_000;
    let mail = [
        (
            "Big",
            discussion("<t0@bench>", &[], "Ada <ada@example.org>", at),
        ),
        (
            "Sent",
            discussion(
                "<t1@bench>",
                &["<t0@bench>"],
                "Bench <bench@example.org>",
                at + 60,
            ),
        ),
        (
            "Big",
            discussion(
                "<t2@bench>",
                &["<t0@bench>", "<t1@bench>"],
                "Ada <ada@example.org>",
                at + 120,
            ),
        ),
    ];
    let samples: Vec<sample::Sample> = mail
        .into_iter()
        .map(|(folder, raw)| sample::Sample {
            folder: folder.to_owned(),
            flags: vec!["\\Seen"],
            date: at,
            raw,
        })
        .collect();
    sample::append_all(direct, &samples).await?;
    // Listed once the bridge has heard of the new messages, as the app does.
    client
        .event("the discussion's arrival", |e| {
            matches!(e, protocol::Event::FolderChanged { folder, total, .. }
                if folder == "Big" && *total == BIG + 2)
        })
        .await?;
    let reply = client
        .ok(Request::ListConversations {
            folder: "Big".into(),
            offset: 0,
            limit: WINDOW,
        })
        .await?;
    let Reply::Conversations { conversations, .. } = reply else {
        bail!("not conversations");
    };
    let uids = conversations
        .iter()
        .find(|c| c.count == 2)
        .map(|c| c.uids.clone())
        .ok_or_else(|| anyhow::anyhow!("the discussion is not one conversation"))?;
    let mut open = async || -> Result<std::time::Duration> {
        let start = Instant::now();
        let reply = client
            .ok(Request::OpenConversation {
                folder: "Big".into(),
                uids: uids.clone(),
            })
            .await?;
        let took = start.elapsed();
        match reply {
            Reply::ConversationOpened { messages, .. } if messages.len() == 3 => Ok(took),
            other => bail!("not the whole conversation: {other:?}"),
        }
    };
    let first = open().await?;
    let mut through_bridge = Vec::new();
    let mut straight = Vec::new();
    let set: Vec<String> = uids.iter().map(u32::to_string).collect();
    for _ in 0..RUNS {
        through_bridge.push(open().await?);
        let start = Instant::now();
        direct.examine("Big").await?;
        let fetched: Vec<_> = direct
            .uid_fetch(set.join(","), HEADER_QUERY)
            .await?
            .try_collect()
            .await?;
        direct.examine("Sent").await?;
        let found = direct_search(direct, "HEADER References \"<t0@bench>\"").await?;
        let set: Vec<String> = found.iter().map(u32::to_string).collect();
        let replies: Vec<_> = direct
            .uid_fetch(set.join(","), HEADER_QUERY)
            .await?
            .try_collect()
            .await?;
        straight.push(start.elapsed());
        if fetched.len() != 2 || replies.len() != 1 {
            bail!("direct: {} and {} messages", fetched.len(), replies.len());
        }
    }
    report.times(
        Section::Search,
        "opening a conversation, reply in a 10,000-message Sent: first, bridge",
        "open_conversation_first_ms",
        &[first],
        false,
    );
    let b = report.times(
        Section::Search,
        "opening it again, bridge",
        "open_conversation_again_ms",
        &through_bridge,
        false,
    );
    let d = report.times(
        Section::Search,
        "direct: UID FETCH in the folder, UID SEARCH HEADER and FETCH in Sent",
        "open_conversation_direct_ms",
        &straight,
        false,
    );
    report.ratio(Section::Search, "ratio, bridge / direct", &b, &d);
    direct.select("Big").await?;
    Ok(())
}

/// A POP3 mailbox of 1,000 messages searched by sender: the first search reads
/// every message's headers (`TOP n 0`) into the bridge's index, later ones ask
/// only the index.
async fn pop3_search(
    bridge: &BridgeProcess,
    direct: &mut maildev::ImapSession,
    user: &User,
    report: &mut Report,
) -> Result<()> {
    eprintln!("==> POP3 search over {POP3_MESSAGES} messages, {RUNS} runs");
    let samples: Vec<sample::Sample> = (0..POP3_MESSAGES)
        .map(|i| sample::Sample {
            folder: "INBOX".into(),
            flags: vec![],
            date: 1_700_000_000 + i64::from(i),
            raw: message(i),
        })
        .collect();
    sample::append_all(direct, &samples).await?;
    let mut client = bridge.signed_in_to("BenchPop", user).await?;
    let mut search = async |query: &str| -> Result<std::time::Duration> {
        let start = Instant::now();
        let reply = client
            .ok(Request::Search {
                query: query.to_owned(),
                folder: "INBOX".into(),
                limit: WINDOW,
            })
            .await?;
        let took = start.elapsed();
        match reply {
            Reply::Hits { total, .. } if total == POP3_MESSAGES / 100 => Ok(took),
            other => bail!("{query}: {other:?}"),
        }
    };
    let first = search("from:ada").await?;
    let mut again = Vec::new();
    for _ in 0..RUNS {
        again.push(search("from:ada").await?);
    }
    report.times(
        Section::Search,
        "POP3, 1,000 messages, by sender: first search (reads every header), bridge",
        "pop3_search_first_ms",
        &[first],
        false,
    );
    report.times(
        Section::Search,
        "POP3: the same search again (the bridge's index only)",
        "pop3_search_again_ms",
        &again,
        false,
    );
    Ok(())
}

/// A direct client's `UID SEARCH`: the UIDs.
async fn direct_search(direct: &mut maildev::ImapSession, keys: &str) -> Result<Vec<u32>> {
    let found = direct.uid_search(keys).await?;
    Ok(found.into_iter().collect())
}
