//! Probes for operators and load balancers: `GET /healthz` (the process answers)
//! and `GET /readyz` (it serves, and every configured mail server accepts a TCP
//! connection within [`DEADLINE`]). Readiness is checked at most once per
//! [`CACHE_FOR`], however often it is asked, so probes cannot hammer the servers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::Mutex;

use crate::AppState;
use crate::config::{Config, Server};

/// How long a mail server may take to accept a connection.
const DEADLINE: Duration = Duration::from_secs(2);
/// How long one answer to `/readyz` stands.
const CACHE_FOR: Duration = Duration::from_secs(5);

/// The last readiness check: when, and what was unreachable.
#[derive(Default)]
pub struct Readiness {
    last: Mutex<Option<(Instant, Vec<String>)>>,
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/healthz",
            get(|| async { plain(StatusCode::OK, "ok\n".into()) }),
        )
        .route("/readyz", get(ready))
}

async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if *state.stopping.borrow() {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "stopping\n".into());
    }
    let down = {
        // One check at a time; the others wait for its answer.
        let mut last = state.readiness.last.lock().await;
        match &*last {
            Some((at, down)) if at.elapsed() < CACHE_FOR => down.clone(),
            _ => {
                let down = unreachable(&state.config).await;
                *last = Some((Instant::now(), down.clone()));
                down
            }
        }
    };
    if down.is_empty() {
        plain(StatusCode::OK, "ready\n".into())
    } else {
        plain(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: cannot reach {}\n", down.join(", ")),
        )
    }
}

/// The configured mail servers that do not accept a connection in time.
async fn unreachable(config: &Config) -> Vec<String> {
    let mut servers: Vec<(&str, &Server)> = Vec::new();
    for account in &config.accounts {
        let named = [
            ("imap", &account.imap),
            ("pop3", &account.pop3),
            ("smtp", &account.smtp),
        ];
        for (kind, server) in named {
            if let Some(server) = server
                && !servers
                    .iter()
                    .any(|(_, s)| s.host == server.host && s.port == server.port)
            {
                servers.push((kind, server));
            }
        }
    }
    let checks = servers.iter().map(|(kind, server)| async move {
        let address = (server.host.as_str(), server.port);
        let reached = tokio::time::timeout(DEADLINE, tokio::net::TcpStream::connect(address))
            .await
            .is_ok_and(|connected| connected.is_ok());
        (!reached).then(|| format!("{kind} {}:{}", server.host, server.port))
    });
    futures::future::join_all(checks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

fn plain(status: StatusCode, text: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}
