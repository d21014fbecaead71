//! Search against the real Dovecot: every form of the query language on a folder
//! whose hits are known, several folders at once, a stop, live changes, and
//! queries that cannot be searched.

use anyhow::{Context, Result, bail};
use maildev::sample::{self, Attachment, Headers, Sample};
use protocol::{ErrorCode, Event, Reply, Request};
use tests::{AccountSpec, Bridge, Dovecot, User, WsClient};

use crate::seed::{T0, alice, deliver};

const DAY: i64 = 86_400;

fn headers<'a>(from: &'a str, subject: &'a str, date: i64) -> Headers<'a> {
    Headers {
        from,
        to: "Alice <alice@example.org>",
        subject,
        date,
    }
}

fn with_cc(cc: &str, raw: Vec<u8>) -> Vec<u8> {
    let mut out = format!("Cc: {cc}\r\n").into_bytes();
    out.extend(raw);
    out
}

fn at(folder: &str, flags: Vec<&'static str>, date: i64, raw: Vec<u8>) -> Sample {
    Sample {
        folder: folder.to_owned(),
        flags,
        date,
        raw,
    }
}

/// INBOX, a day apart from T0 (2026-11-01), oldest first.
fn inbox() -> Vec<Sample> {
    let cologne = sample::encoded_word("Grüße aus Köln");
    let jose = format!(
        "{} <jose@correo.example>",
        sample::encoded_word("José Núñez")
    );
    vec![
        at(
            "INBOX",
            vec!["\\Seen"],
            T0,
            sample::plain(
                &headers("Billing <billing@shop.example>", "Invoice 1041", T0),
                "Your invoice total is 40 EUR.",
            ),
        ),
        at(
            "INBOX",
            vec!["\\Seen"],
            T0 + DAY,
            with_cc(
                "Bob <bob@example.org>",
                sample::plain(
                    &headers("Grace <grace@example.org>", "Team lunch", T0 + DAY),
                    "Pizza at noon.",
                ),
            ),
        ),
        at(
            "INBOX",
            vec!["\\Flagged"],
            T0 + 2 * DAY,
            sample::plain(
                &headers(&jose, &cologne, T0 + 2 * DAY),
                "Viele Grüße und Küsse",
            ),
        ),
        at(
            "INBOX",
            vec!["\\Seen"],
            T0 + 3 * DAY,
            sample::with_attachment(
                &headers(
                    "Finance <finance@example.org>",
                    "Quarterly report",
                    T0 + 3 * DAY,
                ),
                "The numbers are attached.",
                &Attachment {
                    file_name: "q3.pdf",
                    content_type: "application/pdf",
                    content: b"%PDF-1.4\n%%EOF\n",
                },
            ),
        ),
        at(
            "INBOX",
            vec!["\\Seen"],
            T0 + 4 * DAY,
            sample::plain(
                &headers("Ken <ken@example.org>", "Big photo", T0 + 4 * DAY),
                &format!("Holiday pictures.\n{}", "x".repeat(8000)),
            ),
        ),
        at(
            "INBOX",
            vec![],
            T0 + 5 * DAY,
            with_cc(
                "Carol <carol@example.org>",
                sample::plain(
                    &headers("Bob <bob@example.org>", "Re: Team lunch", T0 + 5 * DAY),
                    "Count me in for lunch.",
                ),
            ),
        ),
    ]
}

/// Other folders, each with one message about an invoice.
fn elsewhere() -> Vec<Sample> {
    let note = |folder: &str, subject: &str, date: i64| {
        at(
            folder,
            vec![],
            date,
            sample::plain(
                &headers("Billing <billing@shop.example>", subject, date),
                "About your invoice.",
            ),
        )
    };
    vec![
        note("Archive", "Invoice 0999", T0 - DAY),
        note("Work/Reports", "Invoice for Q3", T0 + 9 * DAY),
        note("Trash", "Invoice thrown away", T0 + 8 * DAY),
        at(
            "Work",
            vec![],
            T0 + 7 * DAY,
            sample::plain(
                &headers(
                    "Boss <boss@example.org>",
                    "Nothing to do with it",
                    T0 + 7 * DAY,
                ),
                "Budget.",
            ),
        ),
    ]
}

pub(crate) async fn seeded(folders: &[&str]) -> Result<(Dovecot, User)> {
    seeded_with(folders, "").await
}

/// As [`seeded`], with `extra` lines of Dovecot configuration.
async fn seeded_with(folders: &[&str], extra: &str) -> Result<(Dovecot, User)> {
    let user = alice();
    let dovecot = Dovecot::start_with(std::slice::from_ref(&user), extra)?;
    let mut imap = dovecot.imap(&user).await?;
    sample::create_folders(&mut imap, &["Work", "Work/Reports"]).await?;
    sample::create_folders(&mut imap, folders).await?;
    imap.logout().await?;
    let mut all = inbox();
    all.extend(elsewhere());
    dovecot.append_samples(&user, &all).await?;
    Ok((dovecot, user))
}

async fn signed_in(folders: &[&str]) -> Result<(Dovecot, User, Bridge, WsClient)> {
    let (dovecot, user) = seeded(folders).await?;
    let bridge = Bridge::start(&[AccountSpec::trusting("Example", &dovecot)], None).await?;
    let mut client = bridge.connect().await?;
    client.sign_in(None, &user).await??;
    Ok((dovecot, user, bridge, client))
}

/// The answer to a search of INBOX.
async fn search(client: &mut WsClient, query: &str) -> Result<Result<Reply, protocol::WireError>> {
    client
        .request(Request::Search {
            query: query.to_owned(),
            folder: "INBOX".to_owned(),
            limit: 50,
        })
        .await
}

/// The subjects (with folders) of a `hits` reply.
fn listed(reply: &Reply) -> Result<Vec<(String, String)>> {
    let Reply::Hits { hits, .. } = reply else {
        bail!("not hits: {reply:?}");
    };
    Ok(hits
        .iter()
        .map(|h| (h.folder.clone(), h.message.subject.clone()))
        .collect())
}

/// The first 50 hits of a search.
async fn first_hits(client: &mut WsClient, search: u32) -> Result<Reply> {
    client
        .ok(Request::ListHits {
            search,
            offset: 0,
            limit: 50,
        })
        .await
}

fn id_of(reply: &Reply) -> Result<u32> {
    match reply {
        Reply::Hits { search, .. } => Ok(*search),
        other => bail!("not hits: {other:?}"),
    }
}

#[tokio::test]
async fn every_query_form_finds_what_it_should() -> Result<()> {
    every_query_form(signed_in(&[]).await?, false).await
}

/// The same with Dovecot's full-text index (Xapian): the same hits, faster.
#[tokio::test]
async fn every_query_form_finds_the_same_with_a_full_text_index() -> Result<()> {
    let (dovecot, user) = seeded_with(&[], maildev::FULL_TEXT).await?;
    let bridge = Bridge::start(&[AccountSpec::trusting("Example", &dovecot)], None).await?;
    let mut client = bridge.connect().await?;
    client.sign_in(None, &user).await??;
    every_query_form((dovecot, user, bridge, client), true).await
}

/// Every form against the seeded INBOX; `indexed`: the server has a full-text
/// index, which matches a phrase's words in any order.
async fn every_query_form(
    (_dovecot, _user, _bridge, mut client): (Dovecot, User, Bridge, WsClient),
    indexed: bool,
) -> Result<()> {
    let cases: &[(&str, &[&str])] = &[
        ("invoice", &["Invoice 1041"]),
        ("lunch", &["Re: Team lunch", "Team lunch"]),
        ("LUNCH", &["Re: Team lunch", "Team lunch"]),
        ("from:grace", &["Team lunch"]),
        ("from:bob to:alice", &["Re: Team lunch"]),
        ("cc:bob", &["Team lunch"]),
        ("cc:carol", &["Re: Team lunch"]),
        ("subject:\"team lunch\"", &["Re: Team lunch", "Team lunch"]),
        ("body:pizza", &["Team lunch"]),
        ("\"pizza at noon\"", &["Team lunch"]),
        (
            "\"noon pizza\"",
            if indexed { &["Team lunch"] } else { &[] },
        ),
        ("Grüße", &["Grüße aus Köln"]),
        ("body:KÜSSE", &["Grüße aus Köln"]),
        ("from:josé", &["Grüße aus Köln"]),
        ("has:attachment", &["Quarterly report"]),
        (
            "-has:attachment",
            &[
                "Re: Team lunch",
                "Big photo",
                "Grüße aus Köln",
                "Team lunch",
                "Invoice 1041",
            ],
        ),
        ("is:unread", &["Re: Team lunch", "Grüße aus Köln"]),
        (
            "is:read",
            &[
                "Big photo",
                "Quarterly report",
                "Team lunch",
                "Invoice 1041",
            ],
        ),
        ("is:flagged", &["Grüße aus Köln"]),
        ("before:2026-11-02", &["Invoice 1041"]),
        ("after:2026-11-05", &["Re: Team lunch", "Big photo"]),
        (
            "after:2026-11-02 before:2026-11-04",
            &["Grüße aus Köln", "Team lunch"],
        ),
        ("larger:5K", &["Big photo"]),
        ("smaller:5K holiday", &[]),
        ("-lunch -is:read", &["Grüße aus Köln"]),
        ("-from:grace lunch", &["Re: Team lunch"]),
        ("in:inbox invoice", &["Invoice 1041"]),
        ("nothing-like-this", &[]),
    ];
    let mut wrong = Vec::new();
    for (query, expected) in cases {
        let reply = search(&mut client, query)
            .await?
            .map_err(|e| anyhow::anyhow!("{query}: {e:?}"))?;
        let got: Vec<String> = listed(&reply)?.into_iter().map(|(_, s)| s).collect();
        let Reply::Hits { total, done, .. } = &reply else {
            bail!("{query}: not hits");
        };
        if got != *expected || *total as usize != expected.len() || !done {
            wrong.push(format!("{query}: got {got:?} (total {total}, done {done})"));
        }
    }
    // The Archive holds one invoice of its own.
    let reply = search(&mut client, "in:archive invoice").await??;
    if listed(&reply)? != [("Archive".to_owned(), "Invoice 0999".to_owned())] {
        wrong.push(format!("in:archive invoice: {:?}", listed(&reply)?));
    }
    if !wrong.is_empty() {
        bail!("wrong hits:\n{}", wrong.join("\n"));
    }
    Ok(())
}

#[tokio::test]
async fn windows_page_through_the_hits() -> Result<()> {
    let (_dovecot, _user, _bridge, mut client) = signed_in(&[]).await?;
    let first = client
        .ok(Request::Search {
            query: "-nothing-like-this".into(),
            folder: "INBOX".into(),
            limit: 2,
        })
        .await?;
    let search = id_of(&first)?;
    let Reply::Hits { total, .. } = &first else {
        bail!("not hits");
    };
    assert_eq!(*total, 6);
    let mut subjects: Vec<String> = listed(&first)?.into_iter().map(|(_, s)| s).collect();
    for offset in [2, 4] {
        let window = client
            .ok(Request::ListHits {
                search,
                offset,
                limit: 2,
            })
            .await?;
        subjects.extend(listed(&window)?.into_iter().map(|(_, s)| s));
    }
    let newest_first: Vec<String> = inbox()
        .iter()
        .rev()
        .map(|s| {
            let text = String::from_utf8_lossy(&s.raw).into_owned();
            let line = text
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or_default()
                .to_owned();
            if line.starts_with("=?") {
                "Grüße aus Köln".to_owned()
            } else {
                line
            }
        })
        .collect();
    assert_eq!(subjects, newest_first);
    Ok(())
}

/// Waits until the search has searched every folder; the last update.
async fn finished(client: &mut WsClient, search: u32) -> Result<Event> {
    loop {
        let event = client
            .event(
                "search_updated",
                |e| matches!(e, Event::SearchUpdated { search: s, .. } if *s == search),
            )
            .await?;
        if matches!(event, Event::SearchUpdated { done: true, .. }) {
            return Ok(event);
        }
    }
}

#[tokio::test]
async fn all_folders_stream_their_hits_newest_first() -> Result<()> {
    let (_dovecot, _user, _bridge, mut client) = signed_in(&[]).await?;
    let first = search(&mut client, "invoice in:all").await??;
    let search_id = id_of(&first)?;
    let Reply::Hits { searched, of, .. } = first else {
        bail!("not hits");
    };
    assert_eq!(searched, 1, "the answer comes after the first folder");
    assert!(
        of >= 5,
        "Inbox, Archive, Sent, Drafts, Work, Work/Reports: {of}"
    );
    let Event::SearchUpdated {
        total,
        searched,
        of: of_now,
        ..
    } = finished(&mut client, search_id).await?
    else {
        bail!("not an update");
    };
    assert_eq!((searched, of_now, total), (of, of, 3));
    let window = first_hits(&mut client, search_id).await?;
    let expected = [
        ("Work/Reports", "Invoice for Q3"),
        ("INBOX", "Invoice 1041"),
        ("Archive", "Invoice 0999"),
    ];
    let got = listed(&window)?;
    assert_eq!(
        got,
        expected
            .iter()
            .map(|(f, s)| ((*f).to_owned(), (*s).to_owned()))
            .collect::<Vec<_>>(),
        "by arrival across folders, Trash left out"
    );
    // Anywhere takes Trash in too.
    let first = search(&mut client, "invoice in:anywhere").await??;
    let search_id = id_of(&first)?;
    finished(&mut client, search_id).await?;
    let window = first_hits(&mut client, search_id).await?;
    assert_eq!(
        listed(&window)?.first(),
        Some(&("Work/Reports".to_owned(), "Invoice for Q3".to_owned()))
    );
    assert!(
        listed(&window)?
            .iter()
            .any(|(f, s)| f == "Trash" && s == "Invoice thrown away")
    );
    Ok(())
}

#[tokio::test]
async fn a_long_search_stops_when_asked() -> Result<()> {
    let many: Vec<String> = (0..30).map(|n| format!("Project {n:02}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let (_dovecot, _user, _bridge, mut client) = signed_in(&many).await?;
    let first = search(&mut client, "invoice in:all").await??;
    let search_id = id_of(&first)?;
    let stopped = client
        .ok(Request::StopSearch {
            search: search_id,
            forget: false,
        })
        .await?;
    assert_eq!(stopped, Reply::SearchStopped { search: search_id });
    let window = first_hits(&mut client, search_id).await?;
    let Reply::Hits {
        searched, of, done, ..
    } = window
    else {
        bail!("not hits");
    };
    assert!(done, "a stopped search is done");
    assert!(of > 30 && searched < of, "searched {searched} of {of}");
    // Forgotten, it has no windows any more.
    client
        .ok(Request::StopSearch {
            search: search_id,
            forget: true,
        })
        .await?;
    let gone = client
        .request(Request::ListHits {
            search: search_id,
            offset: 0,
            limit: 50,
        })
        .await?;
    assert_eq!(gone.map_err(|e| e.code), Err(ErrorCode::BadQuery));
    Ok(())
}

#[tokio::test]
async fn new_matching_mail_joins_the_hits() -> Result<()> {
    let (dovecot, user, _bridge, mut client) = signed_in(&[]).await?;
    client.open("INBOX", 50).await?;
    let first = search(&mut client, "invoice").await??;
    let search_id = id_of(&first)?;
    deliver(
        &dovecot,
        &user,
        sample::plain(
            &headers(
                "Billing <billing@shop.example>",
                "Invoice 1042",
                T0 + 6 * DAY,
            ),
            "Another invoice.",
        ),
        T0 + 6 * DAY,
    )
    .await?;
    client
        .event(
            "search_updated with the new hit",
            |e| matches!(e, Event::SearchUpdated { search, total: 2, .. } if *search == search_id),
        )
        .await?;
    let window = first_hits(&mut client, search_id).await?;
    let subjects: Vec<String> = listed(&window)?.into_iter().map(|(_, s)| s).collect();
    assert_eq!(subjects, ["Invoice 1042", "Invoice 1041"]);
    Ok(())
}

#[tokio::test]
async fn hits_can_be_moved_and_leave_the_list() -> Result<()> {
    let (_dovecot, _user, _bridge, mut client) = signed_in(&[]).await?;
    client.open("INBOX", 50).await?;
    let first = search(&mut client, "invoice in:all").await??;
    let search_id = id_of(&first)?;
    finished(&mut client, search_id).await?;
    let window = first_hits(&mut client, search_id).await?;
    let Reply::Hits { hits, .. } = &window else {
        bail!("not hits");
    };
    let archived = hits
        .iter()
        .find(|h| h.folder == "Archive")
        .context("the Archive hit")?;
    client
        .ok(Request::MoveMessages {
            folder: "Archive".into(),
            uids: vec![archived.message.uid],
            to: "Trash".into(),
        })
        .await?;
    client
        .event(
            "search_updated after the move",
            |e| matches!(e, Event::SearchUpdated { search, total: 2, .. } if *search == search_id),
        )
        .await?;
    let window = first_hits(&mut client, search_id).await?;
    assert!(
        listed(&window)?.iter().all(|(f, _)| f != "Archive"),
        "{:?}",
        listed(&window)?
    );
    Ok(())
}

#[tokio::test]
async fn queries_that_cannot_be_searched_say_why() -> Result<()> {
    let (_dovecot, _user, _bridge, mut client) = signed_in(&[]).await?;
    for (query, says) in [
        ("form:bob", "\"form:\" is not something to search by"),
        ("\"annual report", "quotation mark is not closed"),
        ("before:2026-02-30", "is not a date"),
        ("in:Nowhere lunch", "There is no folder called \"Nowhere\""),
        (&"word ".repeat(10_000)[..], "at most"),
    ] {
        let error = search(&mut client, query)
            .await?
            .err()
            .with_context(|| format!("{query} was searched"))?;
        assert_eq!(error.code, ErrorCode::BadQuery, "{query}");
        assert!(error.message.contains(says), "{query}: {}", error.message);
    }
    // The session goes on.
    let reply = search(&mut client, "lunch").await??;
    assert_eq!(listed(&reply)?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_hostile_search_answer_ends_only_that_search() -> Result<()> {
    use tests::hostile::{HostileImap, Misbehaviour, SearchAnswer};
    let message = sample::plain(
        &headers("Billing <billing@shop.example>", "Invoice 1041", T0),
        "An invoice.",
    );
    for (answer, query) in [
        (SearchAnswer::EveryUid, "invoice"),
        (SearchAnswer::BadCharset, "Grüße"),
        (SearchAnswer::Endless, "invoice"),
    ] {
        let hostile =
            HostileImap::start(Misbehaviour::Searching(vec![message.clone()], answer)).await?;
        let bridge = Bridge::start(&[hostile.account("Hostile")], None).await?;
        let mut client = bridge.connect().await?;
        client.sign_in(None, &alice()).await??;
        client.open("INBOX", 50).await?;
        let error = search(&mut client, query)
            .await?
            .err()
            .with_context(|| format!("{answer:?} was searched"))?;
        match answer {
            SearchAnswer::EveryUid => assert_eq!(error.code, ErrorCode::Refused),
            SearchAnswer::BadCharset => {
                assert_eq!(error.code, ErrorCode::Refused);
                assert!(error.message.contains("cannot search for these characters"));
            }
            SearchAnswer::Endless => assert_eq!(error.code, ErrorCode::ServerUnreachable),
        }
        // The session goes on.
        let window = client.open("INBOX", 50).await?;
        assert_eq!(window.total, 1, "{answer:?}");
    }
    Ok(())
}
