//! `cargo xtask bench`: Postern's measurements, against a private Dovecot and the
//! release bridge running as its own process (so that its memory is its own).
//!
//! Here: the weight of a cold load of the app; opening a note with a 10 MB
//! attachment (bytes over the WebSocket, and the time to its text against a direct
//! fetch of the part); the bridge's memory while four clients download a 50 MB
//! attachment at once; the same message over POP3.
//!
//! In `live`: the first screen and windows of a 100,000-message folder against a
//! direct IMAP client, memory per idle session, a window under load, push latency.
//!
//! In `sending`: a send through Postfix against a direct SMTP client, and a 10 MB
//! file; in `forwarding`: what a forward of a file the server holds uploads, with
//! and without CATENATE; in `search`: searches of a 100,000-message folder against
//! a direct client, without and with a full-text index.
//!
//! In `faults`: 1,000 faults between the bridge and Dovecot, with the app's view
//! checked against the server's after each; in `hostile`: five hostile servers at
//! once beside 100 sessions on Dovecot; in `soak`: 1,000 sessions for ten minutes.
//!
//! `report` gathers them into one table, printed and written with the raw figures
//! to `target/bench/results.json`.

mod faults;
mod forwarding;
mod hostile;
mod live;
mod report;
mod resume;
mod search;
mod sending;
mod soak;
mod startup;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::TryStreamExt;
use maildev::sample::{self, Attachment, Headers, Sample};
use protocol::{Reply, Request};
use report::{Report, Section};
use tests::{Bridge, Dovecot, User, WsClient, workspace_root};

/// Runs of each timed measurement.
const RUNS: usize = 25;
/// Folders added for the folder-list figures inside one more, beside the inbox and
/// the five special folders: 47 in all.
const FOLDERS: usize = 40;

#[tokio::main]
async fn main() -> Result<()> {
    let usage = "usage: bench <path to the postern binary> <the built app (dist)> [startup]";
    let postern: PathBuf = std::env::args().nth(1).context(usage)?.into();
    let dist: PathBuf = std::env::args().nth(2).context(usage)?.into();
    // `bench <postern> <dist> startup` measures only the startup in Chromium.
    if std::env::args().nth(3).as_deref() == Some("startup") {
        let mut report = Report::default();
        startup::measure(&postern, &dist, &mut report).await?;
        return report.finish(&workspace_root().join("target").join("bench-startup"));
    }
    // `bench <postern> <dist> resume` measures only resuming and several bridges.
    if std::env::args().nth(3).as_deref() == Some("resume") {
        let user = User::new("bench", "bench-password");
        let dovecot = Dovecot::start(std::slice::from_ref(&user))?;
        let mut report = Report::default();
        resume::measure(&postern, &dovecot, &user, &mut report).await?;
        return report.finish(&workspace_root().join("target").join("bench-resume"));
    }
    // `bench <postern> <dist> faults|soak|hostile` runs only that section.
    if let Some(only @ ("faults" | "soak" | "hostile")) = std::env::args().nth(3).as_deref() {
        let mut report = Report::default();
        match only {
            "faults" => faults::measure(&mut report).await?,
            "soak" => soak::measure(&postern, &mut report).await?,
            _ => hostile::measure(&postern, &mut report).await?,
        }
        return report.finish(
            &workspace_root()
                .join("target")
                .join(format!("bench-{only}")),
        );
    }
    let user = User::new("bench", "bench-password");
    eprintln!("==> starting Dovecot and seeding a 10 MB and a 50 MB attachment");
    let dovecot = Dovecot::start(std::slice::from_ref(&user))?;
    let mut imap = dovecot.imap(&user).await?;
    let note = with_file("A short note with a 10 MB clip", 10 << 20);
    let big = with_file("The 50 MB file", 50 << 20);
    let samples = [note, big].map(|raw| Sample {
        folder: "INBOX".into(),
        flags: vec![],
        date: 1_793_523_600,
        raw,
    });
    sample::append_all(&mut imap, &samples).await?;
    imap.select("INBOX").await?;

    let process = BridgeProcess::start_serving(&postern, &dovecot, Some(&dist)).await?;
    let pid = process.pid;
    eprintln!("==> weighing a cold load of the app");
    let weight = weigh(&process.bridge.origin()).await?;
    let bridge = &process.bridge;
    let mut client = process.signed_in(&user).await?;
    let window = client.open("INBOX", 10).await?;
    let uid_of = |subject: &str| {
        window
            .messages
            .iter()
            .find(|m| m.subject == subject)
            .map(|m| m.uid)
            .with_context(|| format!("{subject} is not in INBOX"))
    };
    let note_uid = uid_of("A short note with a 10 MB clip")?;
    let big_uid = uid_of("The 50 MB file")?;

    eprintln!("==> opening the 10 MB-attachment note");
    let before = client.bytes_received;
    let view = open(&mut client, note_uid).await?;
    let open_bytes = client.bytes_received - before;

    eprintln!("==> timing opens: bridge against direct IMAP, alternately, {RUNS} runs each");
    let text_part = view
        .body
        .as_ref()
        .map(|b| b.part.clone())
        .context("no body")?;
    let mut bridge_times = Vec::new();
    let mut part_times = Vec::new();
    let mut direct_times = Vec::new();
    let fetch_part = format!("(UID BODY.PEEK[{text_part}]<0.1048576>)");
    for _ in 0..RUNS {
        let start = Instant::now();
        open(&mut client, note_uid).await?;
        bridge_times.push(start.elapsed());
        // The floor: the text part alone, as a client that knew the structure would.
        let start = Instant::now();
        let part = uid_fetch(&mut imap, note_uid, &fetch_part).await?;
        part_times.push(start.elapsed());
        // What a client that knows nothing of the message needs: its structure too.
        let start = Instant::now();
        let structure =
            uid_fetch(&mut imap, note_uid, "(UID FLAGS RFC822.SIZE BODYSTRUCTURE)").await?;
        let again = uid_fetch(&mut imap, note_uid, &fetch_part).await?;
        direct_times.push(start.elapsed());
        if structure.is_empty() || part.is_empty() || again.is_empty() {
            bail!("the direct fetch found nothing");
        }
    }

    eprintln!("==> the folder list with counts: bridge against direct IMAP, {RUNS} runs each");
    // The parent is made a folder of its own, so that every folder has counts.
    imap.create("Projects").await?;
    for i in 0..FOLDERS {
        imap.create(format!("Projects/Folder {i:02}")).await?;
    }
    let mut list_times = Vec::new();
    let mut direct_list_times = Vec::new();
    let mut list_status_times = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let listed = client.folders().await?;
        list_times.push(start.elapsed());
        // A client without LIST-STATUS: LIST, then a STATUS per folder.
        let start = Instant::now();
        let names: Vec<_> = imap.list(Some(""), Some("*")).await?.try_collect().await?;
        for name in &names {
            imap.status(name.name(), "(MESSAGES UNSEEN)").await?;
        }
        direct_list_times.push(start.elapsed());
        // One LIST … RETURN (STATUS …), as the bridge asks.
        let start = Instant::now();
        imap.run_command_and_check_ok(r#"LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))"#)
            .await?;
        list_status_times.push(start.elapsed());
        if listed.len() < FOLDERS || names.len() < FOLDERS {
            bail!("the folder list is short");
        }
    }

    eprintln!("==> four clients downloading the 50 MB attachment at once");
    let big_view = open(&mut client, big_uid).await?;
    let file = big_view
        .parts
        .iter()
        .find(|p| p.name.as_deref() == Some("file.bin"))
        .context("the 50 MB attachment is not listed")?;
    let url = format!("{}{}/part/{}", bridge.origin(), big_view.link, file.id);
    eprintln!("==> one download through the bridge against direct 512 KiB partial fetches");
    let start = Instant::now();
    let single = download(url.clone()).await?;
    let single_time = start.elapsed();
    let start = Instant::now();
    let mut offset = 0u64;
    loop {
        let chunk = uid_fetch(
            &mut imap,
            big_uid,
            &format!("(UID BODY.PEEK[{}]<{offset}.524288>)", file.id),
        )
        .await?;
        let got = chunk
            .iter()
            .find_map(|f| {
                f.section(&async_imap::imap_proto::SectionPath::Part(
                    file.id.split('.').filter_map(|n| n.parse().ok()).collect(),
                    None,
                ))
                .map(<[u8]>::len)
            })
            .unwrap_or(0);
        offset += got as u64;
        if got < 524_288 {
            break;
        }
    }
    let direct_time = start.elapsed();
    if single != 50 << 20 {
        bail!("the single download was incomplete: {single}");
    }
    let idle_rss = rss_kib(pid)?;
    let sampler = PeakRss::start(pid, idle_rss);
    let start = Instant::now();
    let downloads: Vec<_> = (0..4)
        .map(|_| tokio::spawn(download(url.clone())))
        .collect();
    let mut sizes = Vec::new();
    for download in downloads {
        sizes.push(download.await??);
    }
    let download_time = start.elapsed();
    let peak_rss = sampler.stop().await?;
    if sizes.iter().any(|&s| s != 50 << 20) {
        bail!("a download was incomplete: {sizes:?}");
    }
    let high_water = high_water_kib(pid)?;
    drop(client);

    eprintln!(
        "==> POP3: opening the 50 MB message (RETR into the spool) and downloading its attachment"
    );
    let mut pop = process.signed_in_to("BenchPop", &user).await?;
    let pop_window = pop.open("INBOX", 10).await?;
    let pop_uid = pop_window
        .messages
        .iter()
        .find(|m| m.subject == "The 50 MB file")
        .map(|m| m.uid)
        .context("the 50 MB message is not in the POP3 inbox")?;
    let pop_idle = rss_kib(pid)?;
    let sampler = PeakRss::start(pid, pop_idle);
    let start = Instant::now();
    let pop_view = open(&mut pop, pop_uid).await?;
    let pop_open_time = start.elapsed();
    let pop_file = pop_view
        .parts
        .iter()
        .find(|p| p.name.as_deref() == Some("file.bin"))
        .context("the 50 MB attachment is not listed over POP3")?;
    let start = Instant::now();
    let pop_size = download(format!(
        "{}{}/part/{}",
        bridge.origin(),
        pop_view.link,
        pop_file.id
    ))
    .await?;
    let pop_download_time = start.elapsed();
    let pop_peak = sampler.stop().await?;
    if pop_size != 50 << 20 {
        bail!("the POP3 download was incomplete: {pop_size}");
    }
    drop(pop);
    drop(process);

    let mut report = Report::default();
    weight.report(&mut report);
    let s = Section::Opening;
    report.bytes(
        s,
        "bytes over the WebSocket to open it",
        "open_10mb_note_websocket_bytes",
        open_bytes as u64,
        "structure, headers and the text part",
    );
    let bridge_ms = report.times(
        s,
        "open it and show its text, bridge",
        "open_message_bridge_ms",
        &bridge_times,
        false,
    );
    let part_ms = report.times(
        s,
        "direct IMAP: fetch of the text part",
        "open_message_direct_part_ms",
        &part_times,
        false,
    );
    report.ratio(s, "ratio, bridge / direct", &bridge_ms, &part_ms);
    report.times(
        s,
        "direct IMAP: BODYSTRUCTURE, then the part",
        "open_message_direct_structure_and_part_ms",
        &direct_times,
        false,
    );
    let s = Section::Folders;
    let listed_ms = report.times(
        s,
        "the folder list with counts, bridge",
        "folder_list_bridge_ms",
        &list_times,
        false,
    );
    let direct_ms = report.times(
        s,
        "direct IMAP: LIST, then STATUS per folder",
        "folder_list_direct_status_ms",
        &direct_list_times,
        false,
    );
    report.ratio(s, "ratio, bridge / direct", &listed_ms, &direct_ms);
    report.times(
        s,
        "direct IMAP: one LIST … RETURN (STATUS)",
        "folder_list_direct_list_status_ms",
        &list_status_times,
        false,
    );
    let s = Section::BigAttachment;
    report.kib(
        s,
        "bridge memory, idle after sign-in",
        "bridge_rss_idle_kib",
        idle_rss,
        String::new(),
    );
    report.kib(
        s,
        "bridge peak while 4 clients download it at once",
        "bridge_rss_peak_during_4x50mb_kib",
        peak_rss,
        format!(
            "+{:.1} MiB; high-water mark {:.1} MiB",
            peak_rss.saturating_sub(idle_rss) as f64 / 1024.0,
            high_water as f64 / 1024.0
        ),
    );
    report.raw("bridge_vmhwm_kib", high_water.into());
    report.seconds(
        s,
        "4 downloads at once, all done in",
        "download_4x50mb_seconds",
        download_time,
        &format!(
            "{:.0} MB/s in all",
            200.0 * 1.048_576 / download_time.as_secs_f64()
        ),
    );
    report.seconds(
        s,
        "one download through the bridge",
        "download_50mb_bridge_seconds",
        single_time,
        "",
    );
    report.seconds(
        s,
        "direct IMAP: the part in 512 KiB fetches",
        "fetch_50mb_direct_seconds",
        direct_time,
        &format!("{offset} bytes, still base64"),
    );
    let s = Section::Pop3;
    report.seconds(
        s,
        "open it (RETR into the spool, MIME scan)",
        "pop3_open_50mb_seconds",
        pop_open_time,
        "",
    );
    report.seconds(
        s,
        "its attachment, decoded from the spool",
        "pop3_download_50mb_seconds",
        pop_download_time,
        "",
    );
    report.raw("pop3_rss_before_kib", pop_idle.into());
    report.kib(
        s,
        "bridge memory peak during both",
        "pop3_rss_peak_kib",
        pop_peak,
        format!(
            "+{:.1} MiB",
            pop_peak.saturating_sub(pop_idle) as f64 / 1024.0
        ),
    );
    live::measure(&postern, &dovecot, &user, &mut report).await?;
    sending::measure(&postern, &mut report).await?;
    forwarding::measure(&postern, &mut report).await?;
    search::measure(&postern, &mut report).await?;
    resume::measure(&postern, &dovecot, &user, &mut report).await?;
    startup::measure(&postern, &dist, &mut report).await?;
    faults::measure(&mut report).await?;
    hostile::measure(&postern, &mut report).await?;
    soak::measure(&postern, &mut report).await?;
    report.finish(&workspace_root().join("target").join("bench"))
}

/// A private Dovecot whose `user` has `count` short messages in INBOX, written
/// straight into the maildir ("`label` message 1" and on).
async fn dovecot_with_inbox(user: &User, count: u32, label: &str) -> Result<Dovecot> {
    let dovecot = Dovecot::start(std::slice::from_ref(user))?;
    // The first login makes the maildir that the seeding writes into.
    dovecot.imap(user).await?.select("INBOX").await?;
    dovecot.seed_maildir(user, "INBOX", count, |i| {
        sample::plain(
            &sample::Headers {
                from: "Ann <ann@example.org>",
                to: &format!("{}@example.org", user.name),
                subject: &format!("{label} message {i}"),
                date: 1_700_000_000 + i64::from(i) * 60,
            },
            "A message.\n",
        )
    })?;
    Ok(dovecot)
}

/// A short note with one attachment of `size` bytes of noise.
fn with_file(subject: &str, size: u32) -> Vec<u8> {
    let content = sample::noise(size);
    sample::with_attachment(
        &Headers {
            from: "\"Sam Rivera\" <sam@example.org>",
            to: "bench@example.org",
            subject,
            date: 1_793_523_600,
        },
        "A few lines of text.\nThat is all there is to read.",
        &Attachment {
            file_name: if size == 50 << 20 {
                "file.bin"
            } else {
                "clip.mp4"
            },
            content_type: "application/octet-stream",
            content: &content,
        },
    )
}

/// A direct `UID FETCH` of one message, its answers collected.
async fn uid_fetch(
    imap: &mut maildev::ImapSession,
    uid: u32,
    query: &str,
) -> Result<Vec<async_imap::types::Fetch>> {
    Ok(imap
        .uid_fetch(uid.to_string(), query)
        .await?
        .try_collect()
        .await?)
}

async fn open(client: &mut WsClient, uid: u32) -> Result<protocol::MessageView> {
    let reply = client
        .ok(Request::OpenMessage {
            folder: "INBOX".into(),
            uid,
            part: None,
            mark_seen: false,
            remote_content: false,
        })
        .await?;
    match reply {
        Reply::MessageOpened { message, .. } => Ok(*message),
        other => bail!("expected a message, got {other:?}"),
    }
}

/// A cold load of the app: the page and every file it names, each as served to a
/// browser (which accepts Brotli and gzip), as served to one that accepts only gzip,
/// and uncompressed.
struct Weight {
    /// (path, served, gzip, uncompressed) in bytes: the files of the first screen.
    files: Vec<(String, u64, u64, u64)>,
    /// The same for the parts of the app split off (fetched after the first screen).
    later: Vec<(String, u64, u64, u64)>,
}

impl Weight {
    fn report(&self, report: &mut Report) {
        let s = Section::Weight;
        let mut all = (0, 0, 0);
        for file in &self.files {
            file_row(report, &file.0, file);
            all = (all.0 + file.1, all.1 + file.2, all.2 + file.3);
        }
        report.bytes(
            s,
            "the first screen (the files the page names), as served",
            "cold_load_served_bytes",
            all.0,
            "",
        );
        report.bytes(s, "in all, gzip", "cold_load_gzip_bytes", all.1, "");
        report.bytes(
            s,
            "in all, uncompressed",
            "cold_load_uncompressed_bytes",
            all.2,
            "",
        );
        // The mailbox and what it needs are fetched while the person signs in; the
        // reading pane and compose once it shows.
        let mut to_rows = all.0;
        for file in &self.later {
            file_row(report, &format!("later: {}", file.0), file);
            if needed_by(&file.0, "mailbox") {
                to_rows += file.1;
            }
        }
        report.bytes(
            s,
            "to the first rows (the first screen and the mailbox), as served",
            "first_rows_served_bytes",
            to_rows,
            "",
        );
        report.raw("later_parts", files_json(&self.later));
        report.raw("cold_load", files_json(&self.files));
    }
}

/// Whether a split-off file is needed by the split point `point`: its own code
/// (`/split-<point>-<hash>.wasm`) or a chunk it shares (`/shared-<a>-<b>-<hash>.wasm`).
fn needed_by(path: &str, point: &str) -> bool {
    let Some(name) = path
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix(".wasm"))
        .and_then(|p| p.rsplit_once('-'))
        .map(|(name, _hash)| name)
    else {
        return false;
    };
    match name.split_once('-') {
        Some(("split", own)) => own == point,
        Some(("shared", users)) => users.split('-').any(|user| user == point),
        _ => false,
    }
}

/// One file's row: its size as served, with gzip and uncompressed beside it.
fn file_row(report: &mut Report, label: &str, (_, served, gzip, raw): &(String, u64, u64, u64)) {
    report.text(
        Section::Weight,
        label,
        format!("{:.1} KB", *served as f64 / 1000.0),
        format!(
            "gzip {:.1} KB, uncompressed {:.1} KB",
            *gzip as f64 / 1000.0,
            *raw as f64 / 1000.0
        ),
    );
}

fn files_json(files: &[(String, u64, u64, u64)]) -> serde_json::Value {
    files
        .iter()
        .map(|(path, served, gzip, raw)| {
            serde_json::json!({
                "path": path, "served_bytes": served, "gzip_bytes": gzip,
                "uncompressed_bytes": raw,
            })
        })
        .collect()
}

/// A file's (path, served, gzip, uncompressed) sizes, and its uncompressed body.
async fn sizes(origin: &str, path: String) -> Result<((String, u64, u64, u64), Vec<u8>)> {
    let url = format!("{origin}{path}");
    let served = get(&url, BROWSER_ENCODINGS).await?.len() as u64;
    let gzip = get(&url, "gzip").await?.len() as u64;
    let body = get(&url, "identity").await?;
    let raw = body.len() as u64;
    Ok(((path, served, gzip, raw), body))
}

/// What Chromium says it accepts.
const BROWSER_ENCODINGS: &str = "gzip, deflate, br, zstd";

async fn weigh(origin: &str) -> Result<Weight> {
    let page = get(&format!("{origin}/"), "identity").await?;
    let text = String::from_utf8_lossy(&page);
    let mut paths = vec!["/".to_owned()];
    // The release build's page is minified: attribute values may go unquoted.
    for attribute in ["href=", "src="] {
        for piece in text.split(attribute).skip(1) {
            let path = match piece.chars().next() {
                Some(quote @ ('"' | '\'')) => piece[1..].split(quote).next(),
                _ => piece.split([' ', '>']).next(),
            };
            let Some(path) = path else {
                continue;
            };
            if path.starts_with('/') && !path.starts_with("//") && !paths.iter().any(|p| p == path)
            {
                paths.push(path.to_owned());
            }
        }
    }
    let mut files = Vec::new();
    let mut later = Vec::new();
    for path in paths {
        let loads_parts = path.starts_with("/split-") && path.ends_with(".js");
        let (file, body) = sizes(origin, path).await?;
        if loads_parts {
            // The split loader names the parts it fetches ("./<name>.wasm").
            let loader = String::from_utf8_lossy(&body).into_owned();
            for piece in loader.split("./").skip(1) {
                let name = piece.split_once(".wasm").map(|(name, _)| name);
                if let Some(name) = name.filter(|n| {
                    n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                }) {
                    later.push(sizes(origin, format!("/{name}.wasm")).await?.0);
                }
            }
        }
        files.push(file);
    }
    if files.len() < 3 {
        bail!("the page names too few files to be the app: {files:?}");
    }
    Ok(Weight { files, later })
}

/// The body of a GET as it crossed the wire, asking for `encodings`.
async fn get(url: &str, encodings: &str) -> Result<Vec<u8>> {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let request = hyper::Request::get(url)
        .header("accept-encoding", encodings)
        .body(http_body_util::Empty::new())?;
    let response = client.request(request).await?;
    if !response.status().is_success() {
        bail!("GET {url}: {}", response.status());
    }
    Ok(response.into_body().collect().await?.to_bytes().to_vec())
}

/// Streams a download, counting its bytes without keeping them.
async fn download(url: String) -> Result<u64> {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let mut body = client.get(url.parse()?).await?.into_body();
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            total += data.len() as u64;
        }
    }
    Ok(total)
}

/// The highest resident memory of process `pid` while it runs, read every 5 ms.
struct PeakRss {
    peak: Arc<AtomicU64>,
    running: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl PeakRss {
    fn start(pid: u32, now_kib: u64) -> Self {
        let peak = Arc::new(AtomicU64::new(now_kib));
        let running = Arc::new(AtomicBool::new(true));
        let task = {
            let (peak, running) = (peak.clone(), running.clone());
            tokio::spawn(async move {
                while running.load(Ordering::Relaxed) {
                    if let Ok(rss) = rss_kib(pid) {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };
        PeakRss {
            peak,
            running,
            task,
        }
    }

    /// Stops sampling; the peak in KiB.
    async fn stop(self) -> Result<u64> {
        self.running.store(false, Ordering::Relaxed);
        self.task.await?;
        Ok(self.peak.load(Ordering::Relaxed))
    }
}

fn status_field(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} for {pid}"))
}

pub fn rss_kib(pid: u32) -> Result<u64> {
    status_field(pid, "VmRSS:")
}

fn high_water_kib(pid: u32) -> Result<u64> {
    status_field(pid, "VmHWM:")
}

/// A release bridge running as its own process, stopped on drop.
pub struct BridgeProcess {
    process: tokio::process::Child,
    dir: tempfile::TempDir,
    pub pid: u32,
    pub bridge: Bridge,
}

impl BridgeProcess {
    pub async fn start(postern: &Path, dovecot: &Dovecot) -> Result<Self> {
        Self::start_serving(postern, dovecot, None).await
    }

    /// As `start`, serving the built app from `dist` (else an empty folder).
    pub async fn start_serving(
        postern: &Path,
        dovecot: &Dovecot,
        dist: Option<&Path>,
    ) -> Result<Self> {
        Self::start_with(postern, dovecot, dist, &dovecot.imaps_url(), "").await
    }

    /// As `start`, with `sending` (`smtp = …` and such) added to the IMAP account.
    pub async fn start_sending(postern: &Path, dovecot: &Dovecot, sending: &str) -> Result<Self> {
        Self::start_with(postern, dovecot, None, &dovecot.imaps_url(), sending).await
    }

    /// As `start_sending`, reaching the IMAP server at `imap` (a relay in front
    /// of Dovecot's IMAPS port).
    pub async fn start_sending_via(
        postern: &Path,
        dovecot: &Dovecot,
        imap: &str,
        sending: &str,
    ) -> Result<Self> {
        Self::start_with(postern, dovecot, None, imap, sending).await
    }

    /// As `start`, serving `origin` with the resume key in `key`, as one of
    /// several bridges behind one address.
    pub async fn start_keyed(
        postern: &Path,
        dovecot: &Dovecot,
        key: &Path,
        origin: &str,
    ) -> Result<Self> {
        let settings = format!("session_key_file = {:?}\n", key.display().to_string());
        let mut process = Self::start_full(
            postern,
            dovecot,
            None,
            &dovecot.imaps_url(),
            "",
            &settings,
            Some(origin),
        )
        .await?;
        process.bridge = Bridge::running_for(process.bridge.addr, origin)?;
        Ok(process)
    }

    async fn start_with(
        postern: &Path,
        dovecot: &Dovecot,
        dist: Option<&Path>,
        imap: &str,
        sending: &str,
    ) -> Result<Self> {
        Self::start_full(postern, dovecot, dist, imap, sending, "", None).await
    }

    async fn start_full(
        postern: &Path,
        dovecot: &Dovecot,
        dist: Option<&Path>,
        imap: &str,
        sending: &str,
        settings: &str,
        origin: Option<&str>,
    ) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = maildev::free_port()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let origin = origin.map_or_else(|| format!("http://{addr}"), str::to_owned);
        let config = dir.path().join("postern.toml");
        std::fs::create_dir(dir.path().join("static"))?;
        std::fs::write(
            &config,
            format!(
                "listen = \"{addr}\"\npublic_origin = {origin:?}\nstatic_dir = {:?}\ndata_dir = {:?}\n{settings}\n[[account]]\nname = \"Bench\"\nimap = {:?}\nca_file = {ca:?}\n{sending}\n[[account]]\nname = \"BenchPop\"\npop3 = {:?}\nca_file = {ca:?}\n",
                dist.map_or_else(|| dir.path().join("static"), Path::to_owned)
                    .display()
                    .to_string(),
                dir.path().join("data").display().to_string(),
                imap,
                dovecot.pop3s_url(),
                ca = dovecot.ca_file().display().to_string()
            ),
        )?;
        // Its log goes to a file, where panics are counted.
        let log = std::fs::File::create(dir.path().join("stderr.log"))?;
        let process = tokio::process::Command::new(postern)
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", postern.display()))?;
        let pid = process.id().context("the bridge has no pid")?;
        tests::eventually("the bridge to listen", async || {
            Ok(tokio::net::TcpStream::connect(addr).await.ok().map(drop))
        })
        .await?;
        Ok(BridgeProcess {
            process,
            dir,
            pid,
            bridge: Bridge::running_at(addr)?,
        })
    }

    /// As `start`, with more `[[account]]` tables (TOML) after the bench's own.
    pub async fn start_with_accounts(
        postern: &Path,
        dovecot: &Dovecot,
        accounts: &str,
    ) -> Result<Self> {
        // The IMAP account's table ends where `accounts` begins.
        Self::start_with(postern, dovecot, None, &dovecot.imaps_url(), accounts).await
    }

    /// What the bridge logged so far (warnings and worse).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Whether the bridge process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.process.try_wait(), Ok(None))
    }

    /// A client signed in to the IMAP account.
    pub async fn signed_in(&self, user: &User) -> Result<WsClient> {
        self.signed_in_to("Bench", user).await
    }

    pub async fn signed_in_to(&self, account: &str, user: &User) -> Result<WsClient> {
        let mut client = self.bridge.connect().await?;
        client.sign_in(Some(account), user).await??;
        Ok(client)
    }
}

#[cfg(test)]
mod part_names {
    use super::needed_by;

    #[test]
    fn the_files_a_part_needs_are_told_by_their_names() {
        assert!(needed_by("/split-mailbox-0123456789abcdef.wasm", "mailbox"));
        assert!(needed_by(
            "/shared-compose-mailbox-0123456789abcdef.wasm",
            "mailbox"
        ));
        assert!(!needed_by(
            "/shared-compose-reader-0123456789abcdef.wasm",
            "mailbox"
        ));
        assert!(!needed_by("/split-reader-0123456789abcdef.wasm", "mailbox"));
        assert!(!needed_by("/frontend-0123456789abcdef_bg.wasm", "mailbox"));
    }
}
