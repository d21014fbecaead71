//! `postern`: the bridge's command line.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// Postern's bridge: serves the webmail app and connects each signed-in user to the
/// mail server of the account they chose.
#[derive(Parser)]
#[command(version, after_long_help = bridge::config::HELP, after_help = "Run with --help for the configuration keys.")]
struct Args {
    /// The TOML configuration file.
    #[arg(long, short, value_name = "FILE")]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = bridge::Config::load(&args.config)?;
    let filter = bridge::log_filter(std::env::var("RUST_LOG").ok().as_deref());
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    if config.json_logs {
        logs.json().flatten_event(true).init();
    } else {
        logs.init();
    }
    if !config.static_dir.join("index.html").is_file() {
        tracing::warn!(dir = %config.static_dir.display(), "static_dir has no index.html: build the frontend with `trunk build --release`");
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    if config.json_logs {
        tracing::info!(%address, "listening");
    } else {
        println!("Postern is listening on http://{address}");
    }
    bridge::serve(config, listener, async {
        // SIGTERM (systemd, a container runtime) or Ctrl-C.
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    })
    .await
    .context("the server stopped")
}
