//! Resuming and several bridges: the time from a dropped WebSocket to the same
//! folder window shown again, over a new socket with the resume token, on the
//! same bridge and on another that shares its key, against a fresh sign-in with
//! the password; and each bridge's memory when three share 1,000 sessions.
//!
//! The times start when the old socket is gone and the new one is asked for: the
//! app waits half a second at most (jittered from a quarter) before asking.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use protocol::{Request, ResumeToken};
use tests::{Dovecot, User, WsClient, token_of};

use crate::report::{Report, Section, stats};
use crate::{BridgeProcess, rss_kib};

/// Runs of each way back.
const RUNS: usize = 25;
/// Sessions the three bridges share.
const SHARED: usize = 1000;
/// The window the app shows first.
const WINDOW: u32 = 50;

/// A new socket on `bridge`, signed in by `token` (else the password), and the
/// inbox's first window: returns the time and the session's fresh token.
async fn back(
    bridge: &BridgeProcess,
    user: &User,
    token: Option<&ResumeToken>,
) -> Result<(Duration, WsClient, ResumeToken)> {
    let start = Instant::now();
    let mut client = bridge.bridge.connect().await?;
    let reply = match token {
        Some(token) => {
            client
                .ok(Request::Resume {
                    token: token.clone(),
                })
                .await?
        }
        None => client.sign_in(Some("Bench"), user).await??,
    };
    let window = client.open("INBOX", WINDOW).await?;
    let took = start.elapsed();
    if window.messages.is_empty() {
        bail!("the inbox window is empty");
    }
    Ok((took, client, token_of(&reply)?))
}

pub async fn measure(
    postern: &Path,
    dovecot: &Dovecot,
    user: &User,
    report: &mut Report,
) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let key = dir.path().join("session.key");
    let origin = "http://mail.bench.test";
    let mut imap = dovecot.imap(user).await?;
    let notes: Vec<maildev::sample::Sample> = (0..WINDOW as i64)
        .map(|i| maildev::sample::Sample {
            folder: "INBOX".into(),
            flags: vec![],
            date: 1_793_523_600 + i * 60,
            raw: maildev::sample::plain(
                &maildev::sample::Headers {
                    from: "\"Ann\" <ann@example.org>",
                    to: "bench@example.org",
                    subject: &format!("Resume note {i}"),
                    date: 1_793_523_600 + i * 60,
                },
                "Hello.",
            ),
        })
        .collect();
    maildev::sample::append_all(&mut imap, &notes).await?;
    imap.logout().await?;

    let one = BridgeProcess::start_keyed(postern, dovecot, &key, origin).await?;
    let two = BridgeProcess::start_keyed(postern, dovecot, &key, origin).await?;
    eprintln!(
        "==> back after a dropped socket: resumed on the same bridge, on another, or signed in afresh, {RUNS} runs each"
    );
    let (_, client, mut token) = back(&one, user, None).await?;
    drop(client);
    let (mut fresh, mut same, mut other) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let (took, client, _) = back(&one, user, None).await?;
        fresh.push(took);
        drop(client);
        let (took, client, renewed) = back(&one, user, Some(&token)).await?;
        same.push(took);
        drop(client);
        let (took, client, renewed) = back(&two, user, Some(&renewed)).await?;
        other.push(took);
        drop(client);
        token = renewed;
    }
    drop((one, two));

    eprintln!("==> three bridges sharing {SHARED} sessions");
    let mut bridges = Vec::new();
    for _ in 0..3 {
        bridges.push(BridgeProcess::start_keyed(postern, dovecot, &key, origin).await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let base: Vec<u64> = bridges
        .iter()
        .map(|b| rss_kib(b.pid))
        .collect::<Result<_>>()?;
    let mut clients = Vec::new();
    for i in 0..SHARED {
        let bridge = &bridges[i % bridges.len()];
        let (_, client, _) = back(bridge, user, Some(&token)).await?;
        clients.push(client);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held: Vec<u64> = bridges
        .iter()
        .map(|b| rss_kib(b.pid))
        .collect::<Result<_>>()?;
    drop(clients);

    let s = Section::Resume;
    report.times(
        s,
        "signed in afresh (password), to the window",
        "resume_fresh_sign_in_ms",
        &fresh,
        false,
    );
    report.times(
        s,
        "resumed on the same bridge, to the window",
        "resume_same_bridge_ms",
        &same,
        false,
    );
    report.times(
        s,
        "resumed on another bridge, to the window",
        "resume_other_bridge_ms",
        &other,
        false,
    );
    report.ratio(
        s,
        "ratio, another bridge / afresh",
        &stats(&other),
        &stats(&fresh),
    );
    for (i, (held, base)) in held.iter().zip(&base).enumerate() {
        report.kib(
            s,
            &format!(
                "bridge {} of 3, holding {} of {SHARED} sessions",
                i + 1,
                SHARED / 3 + usize::from(i < SHARED % 3)
            ),
            &format!("resume_shared_rss_bridge{}_kib", i + 1),
            *held,
            format!(
                "+{:.1} MiB over idle, {:.0} KiB a session",
                held.saturating_sub(*base) as f64 / 1024.0,
                held.saturating_sub(*base) as f64 / (SHARED / 3) as f64
            ),
        );
    }
    Ok(())
}
