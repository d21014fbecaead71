//! The soak: 1,000 sessions signed in with INBOX open and IDLE running, for ten
//! minutes (`POSTERN_SOAK_MINUTES` to change), while 50 of them page, open mail
//! and flag at a steady rate and another client delivers mail. Per minute: the
//! errors, the p99 of the 50's requests and the bridge's resident memory, which
//! should stay flat after the first minute's warm-up.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use protocol::{Flag, Request, Sort};
use tests::{User, WsClient};
use tokio::sync::Mutex;

use crate::report::{Report, Section, stats};
use crate::{BridgeProcess, rss_kib};

const SESSIONS: usize = 1_000;
const ACTIVE: usize = 50;
/// Each active session's pause between requests: 50 sessions make 25 a second.
const PACE: Duration = Duration::from_secs(2);
/// How often the other client delivers a message.
const DELIVERY: Duration = Duration::from_secs(3);
const FOLDER: u32 = 2_000;

/// What one minute saw.
#[derive(Default, Clone)]
struct Minute {
    times: Vec<Duration>,
    errors: usize,
    rss_kib: u64,
}

pub async fn measure(postern: &Path, report: &mut Report) -> Result<()> {
    let minutes: usize = std::env::var("POSTERN_SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(10);
    let user = User::new("soak", "soak-password");
    let dovecot = crate::dovecot_with_inbox(&user, FOLDER, "Soak").await?;
    let bridge = BridgeProcess::start(postern, &dovecot).await?;
    eprintln!("==> soak: signing in {SESSIONS} sessions");
    let mut clients = Vec::new();
    for _ in 0..SESSIONS {
        let mut client = bridge.signed_in(&user).await?;
        client.open("INBOX", 50).await?;
        clients.push(client);
    }
    eprintln!("==> soak: {minutes} minutes, {ACTIVE} sessions busy, mail every {DELIVERY:?}");
    let stop = Arc::new(AtomicBool::new(false));
    let log: Arc<Mutex<Vec<Minute>>> = Arc::new(Mutex::new(vec![Minute::default(); minutes]));
    let start = Instant::now();
    let minute_now = move || (start.elapsed().as_secs() / 60) as usize;
    let mut tasks = tokio::task::JoinSet::new();
    for (n, client) in clients.into_iter().enumerate() {
        let (stop, log) = (stop.clone(), log.clone());
        if n < ACTIVE {
            tasks.spawn(busy(client, n, stop, log, minute_now));
        } else {
            tasks.spawn(idle(client, stop, log, minute_now));
        }
    }
    // The other client delivers.
    let mut direct = dovecot.imap(&user).await?;
    let mut delivered = 0u32;
    let mut sampled = 0;
    while start.elapsed() < Duration::from_secs(60 * minutes as u64) {
        tokio::time::sleep(DELIVERY).await;
        delivered += 1;
        let raw = maildev::sample::plain(
            &maildev::sample::Headers {
                from: "Bob <bob@example.org>",
                to: "soak@example.org",
                subject: &format!("Delivered {delivered}"),
                date: 1_800_000_000 + i64::from(delivered),
            },
            "Mail that arrives during the soak.\n",
        );
        direct
            .append("INBOX", Some("()"), None, &raw)
            .await
            .context("delivering")?;
        let minute = minute_now();
        if minute >= sampled && minute < minutes {
            // The memory at the end of each minute's first delivery after it began.
            log.lock().await[minute].rss_kib = rss_kib(bridge.pid)?;
            sampled = minute + 1;
        }
    }
    stop.store(true, Ordering::SeqCst);
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let log = log.lock().await.clone();
    let s = Section::Soak;
    let errors: usize = log.iter().map(|m| m.errors).sum();
    let requests: usize = log.iter().map(|m| m.times.len()).sum();
    report.text(
        s,
        &format!("{SESSIONS} sessions for {minutes} minutes, {ACTIVE} busy"),
        format!("{errors} errors"),
        format!("{requests} requests, {delivered} messages delivered"),
    );
    for (i, minute) in log.iter().enumerate() {
        let p99 = if minute.times.is_empty() {
            0.0
        } else {
            stats(&minute.times).p99
        };
        report.text(
            s,
            &format!("minute {}", i + 1),
            format!("p99 {p99:.1} ms"),
            format!(
                "{:.1} MiB resident, {} errors",
                minute.rss_kib as f64 / 1024.0,
                minute.errors
            ),
        );
    }
    let grown = log
        .last()
        .zip(log.get(1))
        .map(|(last, second)| last.rss_kib as i64 - second.rss_kib as i64)
        .unwrap_or(0);
    report.text(
        s,
        "memory from minute 2 to the last",
        format!("{:+.1} MiB", grown as f64 / 1024.0),
        "after the first minute's warm-up".to_owned(),
    );
    report.raw("soak_errors", errors.into());
    report.raw(
        "soak_p99_ms_per_minute",
        log.iter()
            .map(|m| {
                if m.times.is_empty() {
                    0.0
                } else {
                    stats(&m.times).p99
                }
            })
            .collect::<Vec<_>>()
            .into(),
    );
    report.raw(
        "soak_rss_kib_per_minute",
        log.iter().map(|m| m.rss_kib).collect::<Vec<_>>().into(),
    );
    Ok(())
}

/// One of the 50: pages, opens and flags, in turn, at [`PACE`].
async fn busy(
    mut client: WsClient,
    n: usize,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Minute>>>,
    minute_now: impl Fn() -> usize,
) -> Result<()> {
    let mut step = n;
    // Spread the 50 over the pace.
    tokio::time::sleep(PACE * n as u32 / ACTIVE as u32).await;
    while !stop.load(Ordering::SeqCst) {
        step += 1;
        let uid = 1 + (step as u32 * 37) % FOLDER;
        let request = match step % 3 {
            0 => Request::ListMessages {
                folder: "INBOX".into(),
                offset: (step as u32 * 50) % FOLDER,
                limit: 50,
                sort: Sort::default(),
            },
            1 => Request::OpenMessage {
                folder: "INBOX".into(),
                uid,
                part: None,
                mark_seen: true,
                remote_content: false,
            },
            _ => Request::SetFlags {
                folder: "INBOX".into(),
                uids: vec![uid],
                add: if step.is_multiple_of(2) {
                    vec![Flag::Flagged]
                } else {
                    vec![]
                },
                remove: if step.is_multiple_of(2) {
                    vec![]
                } else {
                    vec![Flag::Flagged]
                },
            },
        };
        let began = Instant::now();
        let answer = client.request(request).await;
        let took = began.elapsed();
        client.events.clear();
        let minute = minute_now();
        if let Some(entry) = log.lock().await.get_mut(minute) {
            match answer {
                Ok(Ok(_)) => entry.times.push(took),
                _ => entry.errors += 1,
            }
        }
        tokio::time::sleep(PACE.saturating_sub(took)).await;
    }
    Ok(())
}

/// One of the 950: reads what the bridge pushes, as an open tab does.
async fn idle(
    mut client: WsClient,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Minute>>>,
    minute_now: impl Fn() -> usize,
) -> Result<()> {
    while !stop.load(Ordering::SeqCst) {
        if client.pump(Duration::from_secs(1)).await.is_err() {
            if let Some(entry) = log.lock().await.get_mut(minute_now()) {
                entry.errors += 1;
            }
            return Ok(());
        }
        client.events.clear();
    }
    Ok(())
}
