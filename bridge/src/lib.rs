//! Postern's bridge: serves the webmail app and, per signed-in browser, holds a
//! session with the user's mail server, spoken to in JSON over one WebSocket.
//!
//! Layers, each knowing only the one below: [`http`], [`ws`], [`parts`] and [`upload`]
//! (routes, upgrade, frames, message parts and uploads over HTTP), [`session`] (one actor per signed-in
//! connection, reached from HTTP through [`links`]), [`mail`] (IMAP and POP3).

pub mod config;
mod conversations;
mod database;
mod health;
mod http;
mod links;
mod mail;
mod mbox;
mod metrics;
mod outgoing;
mod parts;
mod profiles;
mod proxies;
mod proxy;
mod resume;
mod search;
mod session;
mod throttle;
mod upload;
mod uploads;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

pub use config::Config;
#[cfg(any(test, feature = "fuzzing"))]
pub use mail::fuzz as fuzzing;

/// What every connection shares.
pub struct AppState {
    config: Config,
    throttle: throttle::Throttle,
    links: Arc<links::LinkRegistry>,
    proxy: proxy::Proxy,
    maildrops: Option<Arc<mail::Maildrops>>,
    size_limits: Arc<outgoing::SizeLimits>,
    profiles: profiles::Profiles,
    sealer: resume::Sealer,
    readiness: health::Readiness,
    /// Set once the bridge is stopping: no new WebSockets, and the open ones
    /// are asked to move to another bridge.
    stopping: tokio::sync::watch::Receiver<bool>,
    /// WebSocket connections and session actors, waited for when stopping.
    tasks: tokio_util::task::TaskTracker,
    metrics: Arc<metrics::Metrics>,
}

impl AppState {
    fn session_context(&self) -> session::Context {
        session::Context {
            links: self.links.clone(),
            origin: self.config.public_origin.clone(),
            folder_counts_every: self.config.folder_counts_every,
            maildrops: self.maildrops.clone(),
            size_limits: self.size_limits.clone(),
            profiles: self.profiles.clone(),
            tasks: self.tasks.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// The log filter for `RUST_LOG` (default `info`). The libraries that log what
/// crosses the wire at their finest levels (WebSocket frames, TLS records, IMAP
/// and SMTP lines: passwords and tokens among them) are held to `info`, whatever
/// is asked: no level of the bridge's log shows a secret.
pub fn log_filter(asked: Option<&str>) -> tracing_subscriber::EnvFilter {
    const WIRE: [&str; 10] = [
        "tungstenite",
        "tokio_tungstenite",
        "rustls",
        "tokio_rustls",
        "hyper",
        "hyper_util",
        "h2",
        "async_imap",
        "imap_proto",
        "mail_send",
    ];
    let mut filter = tracing_subscriber::EnvFilter::try_new(asked.unwrap_or("info"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    for library in WIRE {
        if let Ok(directive) = format!("{library}=info").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Completes once the bridge is stopping.
async fn stopped_metrics(mut stopping: tokio::sync::watch::Receiver<bool>) {
    let _ = stopping.wait_for(|s| *s).await;
}

/// Serves on `listener` until `shutdown` completes, then stops gracefully: new
/// WebSockets are refused, open ones are told to move (close code 1012, at
/// jittered moments), HTTP requests in flight (downloads) and WebSocket requests
/// finish, and sessions log out, all within `shutdown_seconds`.
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // What the bridge keeps lives in one database file, opened once for the
    // process; without `data_dir`, profiles last as long as the process, and
    // POP3 is not offered.
    let fail = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
    let (maildrops, db) = match &config.data_dir {
        Some(dir) => {
            let db = database::open(&dir.join("postern.redb"))
                .map_err(|e| std::io::Error::other(format!("{}: {e}", dir.display())))?;
            let store = mail::Store::new(db.clone()).map_err(|e| fail(&e))?;
            let index = mail::Index::open(&dir.join("pop3-index.sqlite")).map_err(|e| fail(&e))?;
            (
                Some(Arc::new(mail::Maildrops::new(
                    store,
                    dir.join("drafts"),
                    index,
                ))),
                db,
            )
        }
        None => (None, database::in_memory().map_err(|e| fail(&e))?),
    };
    let profiles = profiles::Profiles::new(db).map_err(|e| fail(&e))?;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let shutdown_after = config.shutdown_after;
    let sealer = resume::Sealer::new(
        &config.session_keys.0,
        &config.public_origin,
        config.session_limit,
        config.session_keys.1.clone(),
    );
    let state = Arc::new(AppState {
        sealer,
        readiness: health::Readiness::default(),
        stopping: stopping.clone(),
        tasks: tokio_util::task::TaskTracker::new(),
        metrics: Arc::default(),
        maildrops,
        profiles,
        config,
        throttle: throttle::Throttle::default(),
        links: Arc::default(),
        size_limits: Arc::default(),
        proxy: proxy::Proxy::new(config::web_tls()),
    });
    if let Some(address) = state.config.metrics_listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| std::io::Error::other(format!("metrics_listen {address}: {e}")))?;
        tracing::info!(%address, "metrics at /metrics");
        tokio::spawn(metrics::serve(
            state.metrics.clone(),
            listener,
            stopped_metrics(stopping.clone()),
        ));
    }
    let app = http::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let stopped = |mut stopping: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopping.wait_for(|s| *s).await;
    };
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(stopped(stopping.clone()))
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        () = stopped(stopping) => {}
    }
    tracing::info!(
        seconds = shutdown_after.as_secs(),
        "stopping: no new connections; moving browsers and finishing what is in flight"
    );
    let deadline = tokio::time::Instant::now() + shutdown_after;
    let served = tokio::time::timeout_at(deadline, &mut server).await;
    state.tasks.close();
    let ended = tokio::time::timeout_at(deadline, state.tasks.wait()).await;
    if served.is_err() || ended.is_err() {
        tracing::warn!("stopped at the deadline with connections or sessions still open");
    } else {
        tracing::info!("stopped");
    }
    match served {
        Ok(result) => result,
        Err(_) => Ok(()),
    }
}
