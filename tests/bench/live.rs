//! Organizing, live: push latency (another client's APPEND to the event at the
//! WebSocket, beside a direct IMAP client idling on the same folder), the first
//! window of a 100,000-message folder through the bridge against a direct client's
//! same commands (in arrival order, and by date with SORT) and a window from its
//! middle, the bridge's memory per idle signed-in session (IDLE running) at 1, 100
//! and 1,000 sessions, and with 1,000 signed in, the wait for a header window that
//! 100 of them ask for at once.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{MailboxDatum, Response};
use futures::TryStreamExt;
use maildev::sample::{self, Headers};
use protocol::Event;
use tests::{Dovecot, User, WsClient};

use crate::{BridgeProcess, Stats, rss_kib, stats};

/// Push latency trials.
const PUSHES: usize = 100;
/// Messages in the big folder.
const BIG: u32 = 100_000;
/// Runs of the first-window comparison.
const WINDOW_RUNS: usize = 15;
/// The first window's size, as the app asks for it.
const WINDOW: u32 = 50;
/// Sessions asking for a window at once, of the 1,000 signed in.
const LOADED: usize = 100;

pub struct Figures {
    pub push_bridge: Stats,
    pub push_direct: Stats,
    pub push_bridge_p99: f64,
    pub push_direct_p99: f64,
    pub window_bridge: Stats,
    pub window_direct: Stats,
    pub by_date_bridge: Stats,
    pub by_date_direct: Stats,
    pub middle_bridge: Stats,
    pub middle_direct: Stats,
    /// From opening the WebSocket through sign-in to the first window of the big
    /// folder; and a direct client's connect, TLS, LOGIN, SELECT and FETCH.
    pub first_screen_bridge: Stats,
    pub first_screen_direct: Stats,
    /// A header window asked for by 100 of 1,000 signed-in sessions at once.
    pub under_load: Stats,
    pub under_load_p99: f64,
    /// (sessions, RSS in KiB, KiB per session over the bridge with none).
    pub sessions: Vec<(usize, u64, f64)>,
    pub json: serde_json::Value,
}

pub async fn measure(postern: &Path, dovecot: &Dovecot, user: &User) -> Result<Figures> {
    let bridge = BridgeProcess::start(postern, dovecot).await?;
    let (push_bridge, push_direct) = push_latency(&bridge, dovecot, user).await?;
    let [
        window_bridge,
        window_direct,
        by_date_bridge,
        by_date_direct,
        middle_bridge,
        middle_direct,
        first_screen_bridge,
        first_screen_direct,
    ] = first_window(&bridge, dovecot, user).await?;
    drop(bridge);
    let (sessions, under_load) = memory_per_session(postern, dovecot, user).await?;

    let ms = |times: &[Duration]| {
        times
            .iter()
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect::<Vec<_>>()
    };
    let json = serde_json::json!({
        "push_latency_bridge_ms": ms(&push_bridge),
        "push_latency_direct_idle_ms": ms(&push_direct),
        "first_window_100k_bridge_ms": ms(&window_bridge),
        "first_window_100k_direct_ms": ms(&window_direct),
        "first_window_100k_by_date_bridge_ms": ms(&by_date_bridge),
        "first_window_100k_by_date_direct_ms": ms(&by_date_direct),
        "middle_window_100k_bridge_ms": ms(&middle_bridge),
        "middle_window_100k_direct_ms": ms(&middle_direct),
        "first_screen_100k_bridge_ms": ms(&first_screen_bridge),
        "first_screen_100k_direct_ms": ms(&first_screen_direct),
        "window_with_1000_sessions_100_at_once_ms": ms(&under_load),
        "idle_sessions_rss_kib": sessions.iter().map(|(n, rss, per)| serde_json::json!({
            "sessions": n, "rss_kib": rss, "kib_per_session": per,
        })).collect::<Vec<_>>(),
    });
    Ok(Figures {
        push_bridge_p99: p99(&push_bridge),
        push_direct_p99: p99(&push_direct),
        push_bridge: stats(&push_bridge),
        push_direct: stats(&push_direct),
        window_bridge: stats(&window_bridge),
        window_direct: stats(&window_direct),
        by_date_bridge: stats(&by_date_bridge),
        by_date_direct: stats(&by_date_direct),
        middle_bridge: stats(&middle_bridge),
        middle_direct: stats(&middle_direct),
        first_screen_bridge: stats(&first_screen_bridge),
        first_screen_direct: stats(&first_screen_direct),
        under_load_p99: p99(&under_load),
        under_load: stats(&under_load),
        sessions,
        json,
    })
}

fn p99(times: &[Duration]) -> f64 {
    let mut ms: Vec<f64> = times.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    ms[((ms.len() - 1) as f64 * 0.99).round() as usize]
}

fn note(subject: &str) -> Vec<u8> {
    dated_note(subject, 1_793_523_600)
}

fn dated_note(subject: &str, date: i64) -> Vec<u8> {
    sample::plain(
        &Headers {
            from: "Dana <dana@example.org>",
            to: "bench@example.org",
            subject,
            date,
        },
        "Pushed.\r\n",
    )
}

/// Another client appends to INBOX; the time until the bridge's event names the new
/// message, and until a direct client idling on INBOX hears EXISTS.
async fn push_latency(
    bridge: &BridgeProcess,
    dovecot: &Dovecot,
    user: &User,
) -> Result<(Vec<Duration>, Vec<Duration>)> {
    eprintln!("==> push latency: {PUSHES} appends by another client");
    let mut client = bridge.signed_in(user).await?;
    client.open("INBOX", WINDOW).await?;
    let (heard, mut exists) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let mut idler = dovecot.imap(user).await?;
    idler.select("INBOX").await?;
    let watcher = tokio::spawn(async move {
        let mut handle = idler.idle();
        handle.init().await?;
        loop {
            let (wait, _stop) = handle.wait_with_timeout(Duration::from_secs(600));
            match wait.await? {
                IdleResponse::NewData(data) => {
                    if matches!(
                        data.parsed(),
                        Response::MailboxData(MailboxDatum::Exists(_))
                    ) && heard.send(Instant::now()).is_err()
                    {
                        break;
                    }
                }
                IdleResponse::Timeout | IdleResponse::ManualInterrupt => break,
            }
        }
        anyhow::Ok(())
    });
    let mut appender = dovecot.imap(user).await?;
    let mut through_bridge = Vec::new();
    let mut direct = Vec::new();
    for trial in 0..PUSHES {
        let subject = format!("Push {trial}");
        let raw = note(&subject);
        let sent = Instant::now();
        appender.append("INBOX", None, None, &raw).await?;
        client
            .event("the pushed message", |e| match e {
                Event::FolderChanged { added, .. } => added.iter().any(|m| m.subject == subject),
                _ => false,
            })
            .await?;
        through_bridge.push(sent.elapsed());
        let at = tokio::time::timeout(Duration::from_secs(20), exists.recv())
            .await
            .context("the direct client heard nothing")?
            .context("the direct client stopped")?;
        direct.push(at.saturating_duration_since(sent));
        client.events.clear();
    }
    watcher.abort();
    appender.logout().await?;
    Ok((through_bridge, direct))
}

/// Seeds a folder of [`BIG`] messages straight into Dovecot's maildir (appending
/// them one by one would take minutes), sent on dates in no order, then times
/// opening it: the bridge's `open_folder` against a direct client sending the same
/// STATUS, SELECT and FETCH; and by date, newest first, with the direct client
/// sending STATUS, SELECT, UID SORT and a UID FETCH of the first window.
async fn first_window(
    bridge: &BridgeProcess,
    dovecot: &Dovecot,
    user: &User,
) -> Result<[Vec<Duration>; 8]> {
    eprintln!("==> seeding a folder of {BIG} messages");
    let mut direct = dovecot.imap(user).await?;
    direct.create("Big").await?;
    dovecot.seed_maildir(user, "Big", BIG, |i| {
        // A minute apart, shuffled (7919 is prime, so every minute is used once).
        let minute = i64::from(i) * 7919 % i64::from(BIG);
        dated_note(
            &format!("Message {i} of the big folder"),
            1_700_000_000 + minute * 60,
        )
    })?;
    let started = Instant::now();
    let mailbox = direct.select("Big").await?;
    if mailbox.exists != BIG {
        bail!("the big folder has {} messages", mailbox.exists);
    }
    eprintln!(
        "    Dovecot indexed it in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    direct.select("INBOX").await?;
    let mut client = bridge.signed_in(user).await?;
    // Once each, so that both read a warm index and cache.
    client.open("Big", WINDOW).await?;
    eprintln!("==> first window of the big folder: bridge against direct, {WINDOW_RUNS} runs each");
    let query = "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE CONTENT-TYPE)])";
    let mut through_bridge = Vec::new();
    let mut straight = Vec::new();
    let mut sorted_bridge = Vec::new();
    let mut sorted_straight = Vec::new();
    for _ in 0..=WINDOW_RUNS {
        client.open("INBOX", 1).await?;
        let start = Instant::now();
        let window = client.open("Big", WINDOW).await?;
        through_bridge.push(start.elapsed());
        if window.messages.len() != WINDOW as usize {
            bail!("the bridge's window has {} messages", window.messages.len());
        }
        direct.select("INBOX").await?;
        let start = Instant::now();
        direct.status("Big", "(UNSEEN)").await?;
        let mailbox = direct.select("Big").await?;
        let low = mailbox.exists - WINDOW + 1;
        let fetched: Vec<_> = direct
            .fetch(format!("{low}:{}", mailbox.exists), query)
            .await?
            .try_collect()
            .await?;
        straight.push(start.elapsed());
        if fetched.len() != WINDOW as usize {
            bail!("the direct window has {} messages", fetched.len());
        }
    }
    // Scrolling: a window from the middle of the open folder.
    eprintln!("==> a window from the middle of the big folder: bridge against direct");
    let mut middle_bridge = Vec::new();
    let mut middle_straight = Vec::new();
    client.open("Big", WINDOW).await?;
    direct.select("Big").await?;
    let offset = BIG / 2;
    for _ in 0..=WINDOW_RUNS {
        let start = Instant::now();
        let window = client.window("Big", offset, WINDOW).await?;
        middle_bridge.push(start.elapsed());
        if window.messages.len() != WINDOW as usize {
            bail!(
                "the bridge's middle window has {} messages",
                window.messages.len()
            );
        }
        let start = Instant::now();
        let high = BIG - offset;
        let fetched: Vec<_> = direct
            .fetch(format!("{}:{high}", high - WINDOW + 1), query)
            .await?
            .try_collect()
            .await?;
        middle_straight.push(start.elapsed());
        if fetched.len() != WINDOW as usize {
            bail!("the direct middle window has {} messages", fetched.len());
        }
    }
    // The first screen: a new WebSocket, sign-in and the first window, against a
    // new direct connection doing the same work, alternately.
    eprintln!("==> first screen of the big folder, from a cold connection: bridge against direct");
    let mut screen_bridge = Vec::new();
    let mut screen_straight = Vec::new();
    for _ in 0..=WINDOW_RUNS {
        let start = Instant::now();
        let mut fresh = bridge.signed_in(user).await?;
        let window = fresh.open("Big", WINDOW).await?;
        screen_bridge.push(start.elapsed());
        drop(fresh);
        if window.messages.len() != WINDOW as usize {
            bail!(
                "the bridge's first screen has {} messages",
                window.messages.len()
            );
        }
        let start = Instant::now();
        let mut cold = dovecot.imap(user).await?;
        let mailbox = cold.select("Big").await?;
        let low = mailbox.exists - WINDOW + 1;
        let fetched: Vec<_> = cold
            .fetch(format!("{low}:{}", mailbox.exists), query)
            .await?
            .try_collect()
            .await?;
        screen_straight.push(start.elapsed());
        cold.logout().await?;
        if fetched.len() != WINDOW as usize {
            bail!("the direct first screen has {} messages", fetched.len());
        }
    }
    // By date, after the arrival runs, so that neither order's runs share the
    // other's warm-up.
    for _ in 0..=WINDOW_RUNS {
        client.open("INBOX", 1).await?;
        let start = Instant::now();
        let window = client.open_sorted("Big", WINDOW, by_date()).await?;
        sorted_bridge.push(start.elapsed());
        direct.select("INBOX").await?;
        let start = Instant::now();
        direct.status("Big", "(UNSEEN)").await?;
        direct.select("Big").await?;
        let uids = uid_sort(&mut direct, "UID SORT (REVERSE DATE) UTF-8 ALL").await?;
        let first: Vec<String> = uids[..WINDOW as usize].iter().map(u32::to_string).collect();
        let fetched: Vec<_> = direct
            .uid_fetch(first.join(","), query)
            .await?
            .try_collect()
            .await?;
        sorted_straight.push(start.elapsed());
        let listed: Vec<u32> = window.messages.iter().map(|m| m.uid).collect();
        if listed != uids[..WINDOW as usize] || fetched.len() != WINDOW as usize {
            bail!("the bridge's date order differs from the server's");
        }
    }
    // The first run of each warmed up what the others use.
    for times in [
        &mut through_bridge,
        &mut straight,
        &mut sorted_bridge,
        &mut sorted_straight,
        &mut middle_bridge,
        &mut middle_straight,
        &mut screen_bridge,
        &mut screen_straight,
    ] {
        times.remove(0);
    }
    direct.logout().await?;
    Ok([
        through_bridge,
        straight,
        sorted_bridge,
        sorted_straight,
        middle_bridge,
        middle_straight,
        screen_bridge,
        screen_straight,
    ])
}

fn by_date() -> protocol::Sort {
    protocol::Sort {
        by: protocol::SortKey::Date,
        newest_first: true,
    }
}

/// Runs a `UID SORT` and reads its answer.
async fn uid_sort(session: &mut maildev::ImapSession, command: &str) -> Result<Vec<u32>> {
    let tag = session.run_command(command).await?;
    let mut uids = Vec::new();
    loop {
        let response = session
            .read_response()
            .await?
            .context("the server closed the connection")?;
        match response.parsed() {
            Response::MailboxData(MailboxDatum::Sort(found)) => uids.extend(found.iter().copied()),
            Response::Done { tag: done, .. } if done == &tag => return Ok(uids),
            _ => {}
        }
    }
}

/// The bridge's memory with 0, 1, 100 and 1,000 signed-in sessions, each with
/// INBOX open and IDLE running; per session over the bridge with none. Then, with
/// the 1,000 signed in, 100 of them ask for a header window at once: how long each
/// waits.
async fn memory_per_session(
    postern: &Path,
    dovecot: &Dovecot,
    user: &User,
) -> Result<(Vec<(usize, u64, f64)>, Vec<Duration>)> {
    let bridge = BridgeProcess::start(postern, dovecot).await?;
    settle().await;
    let base = rss_kib(bridge.pid)?;
    let mut clients: Vec<WsClient> = Vec::new();
    let mut figures = Vec::new();
    for level in [1, 100, 1000] {
        eprintln!("==> memory with {level} idle sessions");
        while clients.len() < level {
            let mut client = bridge.signed_in(user).await?;
            client.open("INBOX", WINDOW).await?;
            clients.push(client);
        }
        settle().await;
        let rss = rss_kib(bridge.pid)?;
        figures.push((level, rss, rss.saturating_sub(base) as f64 / level as f64));
    }
    figures.insert(0, (0, base, 0.0));
    eprintln!("==> 100 of the 1,000 sessions asking for a window at once");
    let asking: Vec<WsClient> = clients.drain(..LOADED).collect();
    let gate = std::sync::Arc::new(tokio::sync::Barrier::new(LOADED));
    let tasks: Vec<_> = asking
        .into_iter()
        .map(|mut client| {
            let gate = gate.clone();
            tokio::spawn(async move {
                gate.wait().await;
                let start = Instant::now();
                let window = client.window("INBOX", 0, WINDOW).await?;
                let took = start.elapsed();
                if window.messages.is_empty() {
                    bail!("an empty window under load");
                }
                Ok::<_, anyhow::Error>((took, client))
            })
        })
        .collect();
    let mut under_load = Vec::new();
    for task in tasks {
        let (took, client) = task.await??;
        under_load.push(took);
        clients.push(client);
    }
    drop(clients);
    Ok((figures, under_load))
}

/// Lets sessions reach IDLE and the allocator settle before memory is read.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}
