//! Organizing, live: push latency (another client's APPEND to the event at the
//! WebSocket, beside a direct IMAP client idling on the same folder), the first
//! window of a 100,000-message folder through the bridge against a direct client's
//! same commands (in arrival order, and by date with SORT) and a window from its
//! middle, the bridge's memory per idle signed-in session (IDLE running) at 1, 100
//! and 1,000 sessions, and with 1,000 signed in, the wait for a header window that
//! 100 of them ask for at once, against 100 direct clients doing the same.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{MailboxDatum, Response};
use futures::TryStreamExt;
use maildev::sample::{self, Headers};
use protocol::Event;
use tests::{Dovecot, User, WsClient};

use crate::report::{Report, Section};
use crate::{BridgeProcess, rss_kib};

/// Push latency trials.
const PUSHES: usize = 100;
/// The pause before each, longer than Dovecot's 0.5 s notification delay.
const QUIET: Duration = Duration::from_millis(700);
/// Messages in the big folder.
const BIG: u32 = 100_000;
/// Runs of the first-window comparison.
const WINDOW_RUNS: usize = 15;
/// The first window's size, as the app asks for it.
const WINDOW: u32 = 50;
/// Sessions asking for a window at once, of the 1,000 signed in.
const LOADED: usize = 100;
/// Rounds of those 100 requests, for bridge and direct clients alike.
const BURSTS: usize = 3;
/// Linux reports CPU times in ticks of 1/100 s (USER_HZ) on every architecture.
const TICKS_PER_SECOND: f64 = 100.0;
/// What the bridge asks for a header window.
const HEADER_QUERY: &str = "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE CONTENT-TYPE)])";

pub async fn measure(
    postern: &Path,
    dovecot: &Dovecot,
    user: &User,
    report: &mut Report,
) -> Result<()> {
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

    let s = Section::FirstScreen;
    let bridge = report.times(
        s,
        "new WebSocket, sign-in, first window, bridge",
        "first_screen_100k_bridge_ms",
        &first_screen_bridge,
        false,
    );
    let direct = report.times(
        s,
        "direct IMAP: connect, TLS, LOGIN, SELECT, FETCH",
        "first_screen_100k_direct_ms",
        &first_screen_direct,
        false,
    );
    report.ratio(s, "ratio, bridge / direct", &bridge, &direct);
    let bridge = report.times(
        s,
        "signed in: open the folder, bridge",
        "first_window_100k_bridge_ms",
        &window_bridge,
        false,
    );
    let direct = report.times(
        s,
        "direct IMAP: STATUS, SELECT, FETCH",
        "first_window_100k_direct_ms",
        &window_direct,
        false,
    );
    report.ratio(s, "ratio, bridge / direct", &bridge, &direct);
    let bridge = report.times(
        s,
        "the same by date (newest first), bridge",
        "first_window_100k_by_date_bridge_ms",
        &by_date_bridge,
        false,
    );
    let direct = report.times(
        s,
        "direct IMAP: STATUS, SELECT, UID SORT, UID FETCH",
        "first_window_100k_by_date_direct_ms",
        &by_date_direct,
        false,
    );
    report.ratio(s, "ratio, bridge / direct", &bridge, &direct);
    let s = Section::Scrolling;
    let bridge = report.times(
        s,
        "a window from the middle of the folder, bridge",
        "middle_window_100k_bridge_ms",
        &middle_bridge,
        false,
    );
    let direct = report.times(
        s,
        "direct IMAP: the same FETCH",
        "middle_window_100k_direct_ms",
        &middle_direct,
        false,
    );
    report.ratio(s, "ratio, bridge / direct", &bridge, &direct);
    let s = Section::Memory;
    for (count, rss, per) in &sessions {
        report.text(
            s,
            &format!("bridge with {count} sessions"),
            format!("{:.1} MiB", *rss as f64 / 1024.0),
            match count {
                0 => String::new(),
                // The first also pays for what every session shares (TLS, buffers).
                1 => format!("{per:.0} KiB for the first, with what all share"),
                _ => format!("{per:.0} KiB per session"),
            },
        );
    }
    report.raw(
        "idle_sessions_rss_kib",
        sessions
            .iter()
            .map(|(n, rss, per)| {
                serde_json::json!({
                    "sessions": n, "rss_kib": rss, "kib_per_session": per,
                })
            })
            .collect(),
    );
    let s = Section::UnderLoad;
    report.times(
        s,
        "a header window asked for by 100 at once, bridge",
        "window_with_1000_sessions_100_at_once_ms",
        &under_load.bridge,
        true,
    );
    report.times(
        s,
        "100 direct IMAP clients: SELECT and FETCH at once",
        "window_100_direct_clients_at_once_ms",
        &under_load.direct,
        true,
    );
    report.text(
        s,
        "the bridge's own CPU time per window",
        format!("{:.2} ms", under_load.bridge_cpu_ms),
        String::new(),
    );
    report.raw(
        "window_under_load_bridge_cpu_ms",
        under_load.bridge_cpu_ms.into(),
    );
    let s = Section::Push;
    report.times(
        s,
        "APPEND to the event on the WebSocket",
        "push_latency_bridge_ms",
        &push_bridge,
        true,
    );
    report.times(
        s,
        "direct IMAP client in IDLE: APPEND to EXISTS",
        "push_latency_direct_idle_ms",
        &push_direct,
        true,
    );
    Ok(())
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
        // Dovecot tells a watching session of a change 0.5 s after the first file
        // event, and folds later events into that wait. Back to back, a trial would
        // start inside the wait that the previous one's reads set off, and a client
        // would hear of it early by chance: each starts from a quiet mailbox instead,
        // as new mail usually does.
        tokio::time::sleep(QUIET).await;
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
        "    its first SELECT (after doveadm index) took {:.2} s",
        started.elapsed().as_secs_f64()
    );
    direct.select("INBOX").await?;
    let mut client = bridge.signed_in(user).await?;
    // Once each, so that both read a warm index and cache.
    client.open("Big", WINDOW).await?;
    eprintln!("==> first window of the big folder: bridge against direct, {WINDOW_RUNS} runs each");
    let query = HEADER_QUERY;
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
) -> Result<(Vec<(usize, u64, f64)>, UnderLoad)> {
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
    eprintln!(
        "==> {LOADED} of the 1,000 sessions asking for a window at once, against {LOADED} direct clients, {BURSTS} times each"
    );
    let mut direct = Vec::new();
    for _ in 0..LOADED {
        let mut session = dovecot.imap(user).await?;
        session.select("INBOX").await?;
        direct.push(session);
    }
    let mut load = UnderLoad::default();
    let cpu_before = cpu_ticks(bridge.pid)?;
    for _ in 0..BURSTS {
        let asking: Vec<WsClient> = clients.drain(..LOADED).collect();
        let (times, asked) = at_once(asking, async |mut client: WsClient| {
            let window = client.window("INBOX", 0, WINDOW).await?;
            if window.messages.is_empty() {
                bail!("an empty window under load");
            }
            Ok(client)
        })
        .await?;
        load.bridge.extend(times);
        clients.extend(asked);
        settle().await;
    }
    load.bridge_cpu_ms = (cpu_ticks(bridge.pid)? - cpu_before) as f64 * 1000.0
        / TICKS_PER_SECOND
        / (BURSTS * LOADED) as f64;
    for _ in 0..BURSTS {
        let (times, back) = at_once(direct, async |mut session: maildev::ImapSession| {
            let mailbox = session.select("INBOX").await?;
            let low = mailbox.exists.saturating_sub(WINDOW) + 1;
            let fetched: Vec<_> = session
                .fetch(format!("{low}:*"), HEADER_QUERY)
                .await?
                .try_collect()
                .await?;
            if fetched.is_empty() {
                bail!("an empty direct window under load");
            }
            Ok(session)
        })
        .await?;
        load.direct.extend(times);
        direct = back;
        settle().await;
    }
    drop(direct);
    drop(clients);
    Ok((figures, load))
}

/// A header window asked for by many at once.
#[derive(Default)]
pub struct UnderLoad {
    /// Sessions of the bridge, each with its folder open and IDLE running.
    pub bridge: Vec<Duration>,
    /// Direct IMAP clients: SELECT and FETCH of the same window.
    pub direct: Vec<Duration>,
    /// The bridge's own CPU time per request.
    pub bridge_cpu_ms: f64,
}

/// Runs `ask` on each of `clients` at the same moment; how long each took.
async fn at_once<C, F, Fut>(clients: Vec<C>, ask: F) -> Result<(Vec<Duration>, Vec<C>)>
where
    C: Send + 'static,
    F: Fn(C) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<C>> + Send,
{
    let gate = std::sync::Arc::new(tokio::sync::Barrier::new(clients.len()));
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| {
            let (gate, ask) = (gate.clone(), ask.clone());
            tokio::spawn(async move {
                gate.wait().await;
                let start = Instant::now();
                let client = ask(client).await?;
                Ok::<_, anyhow::Error>((start.elapsed(), client))
            })
        })
        .collect();
    let mut times = Vec::new();
    let mut back = Vec::new();
    for task in tasks {
        let (took, client) = task.await??;
        times.push(took);
        back.push(client);
    }
    Ok((times, back))
}

/// User and system CPU time of process `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which ends at the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("unreadable /proc stat")?
        .1
        .split_whitespace()
        .collect();
    let field = |n: usize| -> Result<u64> {
        fields
            .get(n)
            .and_then(|v| v.parse().ok())
            .context("unreadable /proc stat")
    };
    // utime and stime are fields 14 and 15 of the whole line.
    Ok(field(11)? + field(12)?)
}

/// Lets sessions reach IDLE and the allocator settle before memory is read.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}
