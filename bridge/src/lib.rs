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
mod outgoing;
mod parts;
mod profiles;
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
        }
    }
}

/// Serves on `listener` until `shutdown` completes.
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
    let sealer = resume::Sealer::new(
        &config.session_keys.0,
        &config.public_origin,
        config.session_limit,
    );
    let state = Arc::new(AppState {
        sealer,
        readiness: health::Readiness::default(),
        maildrops,
        profiles,
        config,
        throttle: throttle::Throttle::default(),
        links: Arc::default(),
        size_limits: Arc::default(),
        proxy: proxy::Proxy::new(config::web_tls()),
    });
    let app = http::router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
