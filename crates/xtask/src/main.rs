//! Postern's developer commands, run as `cargo xtask <command>`:
//! `demo` (a private Dovecot with sample mail plus the bridge), `test` (every check
//! and test), `bench` (measurements) and `fuzz` (the parsers' fuzz targets). All first install what is missing,
//! idempotently.

mod compress;
mod fuzz;
mod minify;
mod setup;
mod split;

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Postern's developer commands")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install what is missing, build, and run a demo: a local Dovecot with sample
    /// mail and the bridge. Prints the URL and a login; Ctrl-C stops it all.
    Demo {
        /// The port the bridge listens on (default 8080, or a free one if taken).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Install what is missing, then run formatting, clippy (native and wasm32),
    /// the frontend build, and every test.
    Test,
    /// Only install the tools the other commands need.
    Setup,
    /// Build the fuzz targets of `fuzz/` and run each (or those named) for a while,
    /// from its seed corpus; new inputs and crashes go under `target/fuzz/`.
    Fuzz {
        /// How long each target runs.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// The targets to run (default: all).
        targets: Vec<String>,
    },
    /// Build the release bridge and measure it against a private Dovecot; prints a
    /// table and writes the raw figures under `target/bench/`.
    Bench,
    /// Write Brotli and gzip copies beside each file of the built app (the bridge
    /// serves the copies).
    Compress {
        /// The built app (default: Trunk's staging folder, when run as its hook).
        dir: Option<PathBuf>,
    },
    /// What Trunk runs after each build: splits the wasm, then, in a release
    /// build, minifies the JavaScript and compresses the app.
    #[command(hide = true)]
    TrunkHook,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root()?;
    std::env::set_current_dir(&root)?;
    match cli.command {
        Task::Setup => setup::ensure_tools(&root).map(drop),
        Task::Test => test(&root),
        Task::Fuzz { seconds, targets } => {
            let tools = setup::ensure_tools(&root)?;
            fuzz::run_all(&root, &tools, seconds, &targets).map(drop)
        }
        Task::Demo { port } => demo(&root, port),
        Task::Bench => bench(&root),
        Task::Compress { dir: Some(dir) } => compress::compress(&dir),
        Task::Compress { dir: None } | Task::TrunkHook => compress::trunk_hook(),
    }
}

fn workspace_root() -> Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_owned)
        .context("cannot find the workspace root")
}

/// Runs a command, failing with its description if it fails.
fn run(description: &str, command: &mut Command) -> Result<()> {
    eprintln!("==> {description}");
    let status = command
        .status()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !status.success() {
        bail!("{description} failed ({status})");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn build_frontend(tools: &setup::Tools) -> Result<()> {
    // Trunk builds offline (see Trunk.toml), so the crates must be here first.
    run("fetching crates", cargo().arg("fetch"))?;
    run(
        "building the frontend (trunk build --release)",
        tools.command("trunk").args(["build", "--release"]),
    )
}

/// How long `test` runs each fuzz target: enough to replay its corpus and try
/// mutations near it.
const FUZZ_SMOKE_SECONDS: u64 = 5;

fn test(root: &Path) -> Result<()> {
    let tools = setup::ensure_tools(root)?;
    run(
        "checking formatting",
        cargo().args(["fmt", "--all", "--check"]),
    )?;
    run(
        "clippy (native)",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    run(
        "clippy (wasm32)",
        cargo().args([
            "clippy",
            "-p",
            "frontend",
            "-p",
            "protocol",
            "--target",
            "wasm32-unknown-unknown",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    build_frontend(&tools)?;
    run(
        "building the bridge, which some tests run as processes",
        cargo().args(["build", "-p", "bridge", "--bin", "postern"]),
    )?;
    run(
        "tests (unit, against Dovecot, and in Chromium)",
        tools
            .command("cargo")
            .args(["test", "--workspace"])
            .env("POSTERN_DIST", root.join("dist")),
    )?;
    fuzz::run_all(root, &tools, FUZZ_SMOKE_SECONDS, &[])?;
    eprintln!(
        "==> all checks passed; screenshots are in {}",
        root.join("target/screenshots").display()
    );
    Ok(())
}

fn bench(root: &Path) -> Result<()> {
    // The app is built too: the benchmark weighs what a browser downloads.
    let tools = setup::ensure_tools(root)?;
    build_frontend(&tools)?;
    run(
        "building the bridge and the benchmark (release)",
        cargo().args([
            "build",
            "--release",
            "-p",
            "bridge",
            "-p",
            "tests",
            "--bin",
            "postern",
            "--bin",
            "bench",
        ]),
    )?;
    run(
        "measuring",
        Command::new(root.join("target/release/bench"))
            .arg(root.join("target/release/postern"))
            .arg(root.join("dist")),
    )
}

fn demo(root: &Path, port: Option<u16>) -> Result<()> {
    let tools = setup::ensure_tools(root)?;
    build_frontend(&tools)?;
    run(
        "building the bridge",
        cargo().args(["build", "--release", "-p", "bridge"]),
    )?;
    let port = match port {
        Some(port) => port,
        None => TcpListener::bind((Ipv4Addr::LOCALHOST, 8080))
            .map(|_| 8080)
            .or_else(|_| maildev::free_port())?,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run_demo(root, port))
}

/// The MIME fixtures the tests read (every kind of structure, charset and damage),
/// and a large attachment to watch download, in a "Samples" folder.
fn reading_samples(root: &Path, now: i64) -> Result<Vec<maildev::sample::Sample>> {
    let files = maildev::sample::eml_files(&root.join("tests/fixtures/mime"))?;
    let mut samples = Vec::new();
    for (i, path) in files.iter().enumerate() {
        samples.push(maildev::sample::Sample {
            folder: "Samples".into(),
            flags: vec![],
            date: now - 3600 * (files.len() - i) as i64,
            raw: std::fs::read(path)?,
        });
    }
    let video = maildev::sample::noise(24 * 1024 * 1024);
    let raw = maildev::sample::with_attachment(
        &maildev::sample::Headers {
            from: "\"Sam Rivera\" <sam@example.org>",
            to: "demo@example.org",
            subject: "A 24 MB video, to watch it download",
            date: now - 60,
        },
        "Opening this note moves a few kilobytes; the video comes only when you ask.",
        &maildev::sample::Attachment {
            file_name: "clip.mp4",
            content_type: "video/mp4",
            content: &video,
        },
    );
    samples.push(maildev::sample::Sample {
        folder: "Samples".into(),
        flags: vec![],
        date: now - 60,
        raw,
    });
    Ok(samples)
}

async fn run_demo(root: &Path, port: u16) -> Result<()> {
    let user = maildev::User::new("demo", "postern-demo");
    // A second person to write to, and to answer from.
    let friend = maildev::User::new("sam", "postern-sam");
    eprintln!("==> starting a private Dovecot with sample mail (and a full-text index)");
    let users = [user.clone(), friend.clone()];
    let dovecot = maildev::Dovecot::start_with(&users, maildev::FULL_TEXT)?;
    eprintln!("==> starting a private Postfix for sending");
    let postfix = maildev::Postfix::start(&dovecot, &users, &[])?;
    let mut imap = dovecot.imap(&user).await?;
    maildev::sample::create_folders(&mut imap, &maildev::sample::DEMO_FOLDERS).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let mut samples = maildev::sample::demo_mailbox(now);
    samples.extend(reading_samples(root, now)?);
    maildev::sample::create_folders(&mut imap, &["Samples"]).await?;
    dovecot.append_samples(&user, &samples).await?;
    // A mailing-list folder big enough to show the list scrolling through
    // thousands of messages.
    maildev::sample::create_folders(&mut imap, &["Lists"]).await?;
    let list_size = 10_000;
    dovecot.seed_maildir(&user, "Lists", list_size, |i| {
        maildev::sample::plain(
            &maildev::sample::Headers {
                from: "\"Rust users\" <users@lists.example.org>",
                to: "demo@example.org",
                subject: &format!("[rust-users] Thread {}: question {}", i / 7 + 1, i % 7 + 1),
                date: now - i64::from(list_size - i) * 600,
            },
            "A message from a busy list, one of ten thousand.\n",
        )
    })?;
    imap.logout().await?;

    let dir = tempfile::tempdir()?;
    let config = dir.path().join("postern.toml");
    let origin = format!("http://127.0.0.1:{port}");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\npublic_origin = \"{origin}\"\nstatic_dir = {:?}\ndata_dir = {:?}\n\n[[account]]\nname = \"Demo\"\nimap = \"{}\"\nca_file = {ca:?}\n{sending}\n[[account]]\nname = \"Demo over POP3\"\npop3 = \"{}\"\nca_file = {ca:?}\n{sending}",
            root.join("dist").display().to_string(),
            dir.path().join("data").display().to_string(),
            dovecot.imaps_url(),
            dovecot.pop3s_url(),
            ca = dovecot.ca_file().display().to_string(),
            sending = format!(
                "smtp = \"{}\"\ndomain = \"{}\"\n",
                postfix.smtp_starttls_url(),
                maildev::DOMAIN
            ),
        ),
    )?;
    let mut bridge = tokio::process::Command::new(root.join("target/release/postern"))
        .arg("--config")
        .arg(&config)
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the bridge")?;
    println!();
    println!(
        "  Postern demo is running with {} messages.",
        samples.len() + list_size as usize
    );
    println!("  Open      {origin}");
    println!("  Accounts  Demo (IMAP), Demo over POP3 (the same inbox)");
    println!(
        "  Sign in   {} / {}   (sends as {}@{})",
        user.name,
        user.password,
        user.name,
        maildev::DOMAIN
    );
    println!(
        "  or        {} / {}   (sends as {}@{}: write to each other)",
        friend.name,
        friend.password,
        friend.name,
        maildev::DOMAIN
    );
    println!("  Press Ctrl-C to stop.");
    println!();
    tokio::select! {
        status = bridge.wait() => bail!("the bridge stopped: {}", status?),
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\n==> stopping");
            let _ = bridge.kill().await;
        }
    }
    drop(postfix);
    drop(dovecot);
    Ok(())
}
