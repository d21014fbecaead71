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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = bridge::Config::load(&args.config)?;
    if !config.static_dir.join("index.html").is_file() {
        tracing::warn!(dir = %config.static_dir.display(), "static_dir has no index.html: build the frontend with `trunk build --release`");
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    println!("Postern is listening on http://{}", listener.local_addr()?);
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
