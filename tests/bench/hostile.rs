//! Hostile servers, all at once: five scripted servers (an endless literal, a
//! 1 GiB line, a BODYSTRUCTURE 100,000 levels deep, a flood of untagged
//! responses, garbage bytes) each keep one session signing in again (one every
//! two seconds, the calm sessions' pace), while 100 sessions on the real Dovecot page through INBOX at a steady rate.
//! Only the hostile sessions end; the others' p99 is measured against a run
//! without the hostile ones, and the bridge must neither panic nor stop.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use tests::hostile::{HostileImap, Misbehaviour};
use tests::{User, WsClient};

use crate::BridgeProcess;
use crate::report::{Report, Section, stats};

const SESSIONS: usize = 100;
const PHASE: Duration = Duration::from_secs(30);
/// Each session's pause between windows: 100 sessions ask 50 times a second.
const PACE: Duration = Duration::from_secs(2);
const FOLDER: u32 = 2_000;

const HOSTILE: [(&str, Misbehaviour); 5] = [
    ("an endless literal", Misbehaviour::EndlessLiteral),
    ("a 1 GiB line", Misbehaviour::GiantLine),
    ("BODYSTRUCTURE 100,000 deep", Misbehaviour::DeepNesting),
    ("a flood of untagged responses", Misbehaviour::Flood),
    ("garbage bytes", Misbehaviour::Garbage),
];

pub async fn measure(postern: &Path, report: &mut Report) -> Result<()> {
    let user = User::new("calm", "calm-password");
    let dovecot = crate::dovecot_with_inbox(&user, FOLDER, "Calm").await?;
    let mut servers = Vec::new();
    let mut accounts = String::new();
    for (i, (_, misbehaviour)) in HOSTILE.iter().enumerate() {
        let server = HostileImap::start(misbehaviour.clone()).await?;
        let account = server.account(&format!("Hostile{i}"));
        accounts += &format!(
            "\n[[account]]\nname = {:?}\nimap = {:?}\nca_file = {:?}\n",
            account.name,
            account.imap,
            account.ca_file.expect("a CA").display().to_string()
        );
        servers.push(server);
    }
    let mut bridge = BridgeProcess::start_with_accounts(postern, &dovecot, &accounts).await?;
    eprintln!("==> hostile: signing in {SESSIONS} sessions on Dovecot");
    let mut clients = Vec::new();
    for _ in 0..SESSIONS {
        let mut client = bridge.signed_in(&user).await?;
        client.open("INBOX", 50).await?;
        clients.push(client);
    }
    eprintln!("==> hostile: {SESSIONS} sessions paging for {PHASE:?}, alone");
    let (calm, clients, errors_alone) = phase(&bridge, clients, false).await?;
    eprintln!("==> hostile: the same beside five hostile servers");
    let (beside, _clients, errors_beside) = phase(&bridge, clients, true).await?;
    let log = bridge.log();
    let panics = log.matches("panicked").count();
    ensure!(bridge.running(), "the bridge stopped:\n{log}");
    ensure!(panics == 0, "the bridge panicked {panics} times:\n{log}");
    ensure!(
        errors_alone.0 + errors_beside.0 == 0,
        "{} errors on Dovecot's sessions",
        errors_alone.0 + errors_beside.0
    );
    let (a, b) = (stats(&calm), stats(&beside));
    let s = Section::Hostile;
    report.times(
        s,
        "100 sessions paging, alone",
        "hostile_alone_ms",
        &calm,
        false,
    );
    report.times(
        s,
        "the same, beside five hostile servers",
        "hostile_beside_ms",
        &beside,
        false,
    );
    report.text(
        s,
        "p99 beside / alone",
        format!("{:.2}", b.p99 / a.p99),
        "within 1.20 is the goal".to_owned(),
    );
    let names: Vec<&str> = HOSTILE.iter().map(|(n, _)| *n).collect();
    report.text(
        s,
        "hostile sessions ended (each with an error, none hung)",
        errors_beside.1.to_string(),
        format!("{}; 0 panics, 0 errors elsewhere", names.join(", ")),
    );
    report.raw("hostile_p99_ratio", (b.p99 / a.p99).into());
    Ok(())
}

/// Every session asks for a window at [`PACE`] for [`PHASE`]; with `hostile`,
/// a task per hostile server signs in to it again and again meanwhile. Returns
/// the times, the clients, and (errors on Dovecot's sessions, hostile sign-ins
/// that ended in an error).
async fn phase(
    bridge: &BridgeProcess,
    clients: Vec<WsClient>,
    hostile: bool,
) -> Result<(Vec<Duration>, Vec<WsClient>, (usize, usize))> {
    let stop = Arc::new(AtomicBool::new(false));
    let ended = Arc::new(AtomicUsize::new(0));
    let mut attackers = tokio::task::JoinSet::new();
    if hostile {
        for i in 0..HOSTILE.len() {
            let (stop, ended) = (stop.clone(), ended.clone());
            let addr = bridge.bridge.addr;
            attackers.spawn(async move {
                let connecting = tests::Bridge::running_at(addr)?;
                while !stop.load(Ordering::SeqCst) {
                    let began = Instant::now();
                    let mut client = connecting.connect().await?;
                    let user = User::new("victim", "password");
                    // An answer must come, and be an error, well within the deadline.
                    match client.sign_in(Some(&format!("Hostile{i}")), &user).await? {
                        Ok(reply) => bail!("signed in to a hostile server: {reply:?}"),
                        Err(_) => {
                            ended.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    // One hostile session at a time, each server, at the calm pace.
                    tokio::time::sleep(PACE.saturating_sub(began.elapsed())).await;
                }
                Ok::<_, anyhow::Error>(())
            });
        }
    }
    let started = Instant::now();
    let mut calm = tokio::task::JoinSet::new();
    for (n, mut client) in clients.into_iter().enumerate() {
        calm.spawn(async move {
            tokio::time::sleep(PACE * n as u32 / SESSIONS as u32).await;
            let mut times = Vec::new();
            let mut errors = 0;
            let mut step = n as u32;
            while started.elapsed() < PHASE {
                step += 1;
                let began = Instant::now();
                match client.window("INBOX", (step * 50) % FOLDER, 50).await {
                    Ok(_) => times.push(began.elapsed()),
                    Err(_) => errors += 1,
                }
                client.events.clear();
                tokio::time::sleep(PACE.saturating_sub(began.elapsed())).await;
            }
            (client, times, errors)
        });
    }
    let mut times = Vec::new();
    let mut clients = Vec::new();
    let mut errors = 0;
    while let Some(done) = calm.join_next().await {
        let (client, mut these, failed) = done?;
        times.append(&mut these);
        clients.push(client);
        errors += failed;
    }
    stop.store(true, Ordering::SeqCst);
    while let Some(done) = attackers.join_next().await {
        done??;
    }
    Ok((times, clients, (errors, ended.load(Ordering::SeqCst))))
}
