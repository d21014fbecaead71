//! Startup in a real browser: headless Chromium over loopback, with the DevTools
//! protocol's network emulation, from navigation to the sign-in form being usable,
//! and from pressing "Sign in" to the first rows of a 100,000-message inbox; on a
//! cold cache and a warm one, unthrottled and at a slow mobile profile (1.6 Mbit/s
//! down, 750 kbit/s up, 150 ms round trip). It also says what a load is made of:
//! bytes and requests, and when the wasm had arrived and the app had started.
//! DevTools' emulation delays HTTP; the WebSocket's frames, once it is open, it
//! leaves alone, so the sign-in figures count the slow profile's latency only for
//! the socket's opening.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use maildev::sample::{self, Headers};
use tests::browser::Browser;
use tests::{Dovecot, User};

use crate::BridgeProcess;
use crate::report::{Report, Section};

/// Messages in the inbox.
const BIG: u32 = 100_000;
/// Runs of each case.
const RUNS: usize = 5;

/// Records, in the page, when things happened (ms since navigation): the sign-in
/// button usable, the press of it, the first message row, the app's start.
const WATCH: &str = r#"
window.__bench = {};
const mark = (name) => { if (window.__bench[name] === undefined) window.__bench[name] = performance.now(); };
new MutationObserver(() => {
  const button = document.querySelector('form button[type=submit]');
  if (button && !button.disabled) mark('form');
  if (document.querySelector('ul[aria-label="Messages"] li')) mark('rows');
}).observe(document, { childList: true, subtree: true, attributes: true });
document.addEventListener('submit', () => mark('submit'), true);
addEventListener('TrunkApplicationStarted', () => mark('started'));
"#;

/// What one load took and was made of.
struct Load {
    form: Duration,
    rows: Duration,
    /// Bytes over the network (headers included) for the page and its files.
    bytes: u64,
    /// Requests that went to the network (not answered from the cache).
    requests: u64,
    /// When the wasm had arrived, and when the app had started (compiled, run).
    wasm_arrived: Duration,
    started: Duration,
    /// When the mailbox's part of the app had arrived (fetched while signing in).
    mailbox_arrived: Duration,
}

struct Profile {
    name: &'static str,
    key: &'static str,
    /// Latency (ms), download and upload throughput (bytes per second); -1: none.
    conditions: (f64, f64, f64),
}

const PROFILES: [Profile; 2] = [
    Profile {
        name: "unthrottled",
        key: "fast",
        conditions: (0.0, -1.0, -1.0),
    },
    Profile {
        name: "slow mobile (1.6 Mbit/s, 150 ms)",
        key: "slow",
        conditions: (150.0, 1_600_000.0 / 8.0, 750_000.0 / 8.0),
    },
];

pub async fn measure(postern: &Path, dist: &Path, report: &mut Report) -> Result<()> {
    let user = User::new("startup", "startup-password");
    let dovecot = Dovecot::start(std::slice::from_ref(&user))?;
    eprintln!("==> startup in Chromium: seeding an inbox of {BIG} messages");
    let mut imap = dovecot.imap(&user).await?;
    imap.select("INBOX").await?;
    dovecot.seed_maildir(&user, "INBOX", BIG, |i| {
        sample::plain(
            &Headers {
                from: "Dana <dana@example.org>",
                to: "startup@example.org",
                subject: &format!("Message {i} of the big inbox"),
                date: 1_700_000_000 + i64::from(i) * 60,
            },
            "Hello.\r\n",
        )
    })?;
    // Dovecot indexes the new files once, before anything is timed.
    let mailbox = imap.select("INBOX").await?;
    if mailbox.exists != BIG {
        bail!("the inbox has {} messages", mailbox.exists);
    }
    imap.logout().await?;
    let process = BridgeProcess::start_serving(postern, &dovecot, Some(dist)).await?;
    let page = format!("{}/", process.bridge.origin());
    let browser = Browser::start(1280, 860).await?;
    browser
        .devtools(
            "Page.addScriptToEvaluateOnNewDocument",
            serde_json::json!({ "source": WATCH }),
        )
        .await?;
    browser
        .devtools("Network.enable", serde_json::json!({}))
        .await?;
    let s = Section::Startup;
    for profile in &PROFILES {
        let (latency, down, up) = profile.conditions;
        browser
            .devtools(
                "Network.emulateNetworkConditions",
                serde_json::json!({
                    "offline": false, "latency": latency,
                    "downloadThroughput": down, "uploadThroughput": up,
                }),
            )
            .await?;
        for warm in [false, true] {
            eprintln!(
                "==> startup in Chromium, {}, {} cache",
                profile.name,
                if warm { "warm" } else { "cold" }
            );
            let mut loads = Vec::new();
            for _ in 0..RUNS {
                if warm {
                    // A visit first, so that the files are in the cache.
                    load(&browser, &page, &user).await?;
                } else {
                    browser
                        .devtools("Network.clearBrowserCache", serde_json::json!({}))
                        .await?;
                }
                loads.push(load(&browser, &page, &user).await?);
            }
            let cache = if warm { "warm" } else { "cold" };
            let key = format!("startup_{}_{cache}", profile.key);
            let median = |f: fn(&Load) -> Duration| {
                let mut all: Vec<Duration> = loads.iter().map(f).collect();
                all.sort();
                all[all.len() / 2]
            };
            let forms: Vec<Duration> = loads.iter().map(|l| l.form).collect();
            let rows: Vec<Duration> = loads.iter().map(|l| l.rows).collect();
            report.times(
                s,
                &format!("{}, {cache}: sign-in form usable", profile.name),
                &format!("{key}_form_ms"),
                &forms,
                false,
            );
            report.times(
                s,
                &format!("{}, {cache}: \"Sign in\" to the first rows", profile.name),
                &format!("{key}_rows_ms"),
                &rows,
                false,
            );
            let last = loads.last().context("no load")?;
            report.text(
                s,
                &format!("{}, {cache}: what a load is made of", profile.name),
                format!("{:.1} KB", last.bytes as f64 / 1000.0),
                format!(
                    "{} requests to the network; wasm in by {:.0} ms, app started at {:.0} ms, \
                     the mailbox's part in by {:.0} ms (medians)",
                    last.requests,
                    median(|l| l.wasm_arrived).as_secs_f64() * 1000.0,
                    median(|l| l.started).as_secs_f64() * 1000.0,
                    median(|l| l.mailbox_arrived).as_secs_f64() * 1000.0,
                ),
            );
            report.raw(&format!("{key}_bytes"), last.bytes.into());
            report.raw(&format!("{key}_requests"), last.requests.into());
        }
    }
    browser.close().await
}

/// Loads the app, signs in, and waits for the first rows.
async fn load(browser: &Browser, page: &str, user: &User) -> Result<Load> {
    browser.client.goto("about:blank").await?;
    browser.client.goto(page).await?;
    browser.type_credentials(user).await?;
    let button = browser.button("Sign in").await?;
    wait_for_mark(browser, "form").await?;
    button.click().await?;
    wait_for_mark(browser, "rows").await?;
    let facts = browser
        .client
        .execute(
            r#"const b = window.__bench;
               const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
               const wasm = entries.find(e => e.name.endsWith('_bg.wasm'));
               // The mailbox's own part and the chunks it shares (see xtask's split.rs).
               const needed = e => {
                 const name = e.name.split('/').pop();
                 return name.startsWith('split-mailbox-')
                   || (name.startsWith('shared-') && name.split('-').includes('mailbox'));
               };
               const mailbox = entries.filter(needed).reduce((a, e) => e.responseEnd > (a ? a.responseEnd : 0) ? e : a, null);
               return {
                 form: b.form, rows: b.rows - b.submit, started: b.started ?? 0,
                 wasm: wasm ? wasm.responseEnd : 0,
                 mailbox: mailbox ? mailbox.responseEnd : 0,
                 bytes: entries.reduce((n, e) => n + e.transferSize, 0),
                 requests: entries.filter(e => e.transferSize > 0).length,
               };"#,
            vec![],
        )
        .await?;
    let ms = |name: &str| -> Result<Duration> {
        let value = facts[name]
            .as_f64()
            .with_context(|| format!("no {name} in {facts}"))?;
        Ok(Duration::from_secs_f64(value.max(0.0) / 1000.0))
    };
    Ok(Load {
        form: ms("form")?,
        rows: ms("rows")?,
        bytes: facts["bytes"].as_u64().unwrap_or_default(),
        requests: facts["requests"].as_u64().unwrap_or_default(),
        wasm_arrived: ms("wasm")?,
        started: ms("started")?,
        mailbox_arrived: ms("mailbox")?,
    })
}

async fn wait_for_mark(browser: &Browser, name: &str) -> Result<()> {
    let script = format!("return window.__bench && window.__bench.{name} !== undefined;");
    // Longer than the tests' deadline: a slow profile's cold load takes seconds.
    let deadline = Instant::now() + Duration::from_secs(60);
    let waited = loop {
        let set = browser.client.execute(&script, vec![]).await?;
        if set == serde_json::Value::Bool(true) {
            break Ok(());
        }
        if Instant::now() > deadline {
            break Err(anyhow::anyhow!(
                "timed out waiting for the page's {name} mark"
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if waited.is_err() {
        let page = browser
            .client
            .execute(
                "return JSON.stringify(window.__bench) + ' ' + document.body.innerText.slice(0, 300);",
                vec![],
            )
            .await?;
        eprintln!("the page, when the wait ended: {page}");
    }
    waited
}
