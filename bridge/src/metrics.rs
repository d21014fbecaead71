//! What the bridge counts, for Prometheus: `GET /metrics` in the text format, on
//! the separate address `metrics_listen` only (never on the public listener).
//! Each bridge has its own registry (prometheus-client), so several bridges in
//! one process (the tests) count apart.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use protocol::{ErrorCode, MailProtocol, Request};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProtocolLabel {
    protocol: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    /// `ok`, or the error code.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: String,
}

/// The bridge's counters.
pub struct Metrics {
    registry: Registry,
    sessions: Family<ProtocolLabel, Gauge>,
    sign_ins: Family<OutcomeLabel, Counter>,
    resumes: Family<OutcomeLabel, Counter>,
    requests: Family<KindLabel, Counter>,
    request_seconds: Family<KindLabel, Histogram>,
    errors: Family<CodeLabel, Counter>,
    websockets: Gauge,
    events_pushed: Counter,
    bytes_sent: Counter,
    downloads: Counter,
    moved: Counter,
    reconnects: Counter,
    resident: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("postern");
        let sessions = Family::<ProtocolLabel, Gauge>::default();
        registry.register(
            "sessions",
            "Signed-in sessions, each with its mail-server connection",
            sessions.clone(),
        );
        let sign_ins = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "sign_ins",
            "Sign-ins with a password, by outcome",
            sign_ins.clone(),
        );
        let resumes = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "resumes",
            "Sign-ins with a resume token (reloads, reconnects, moves between bridges), by outcome",
            resumes.clone(),
        );
        let requests = Family::<KindLabel, Counter>::default();
        registry.register("requests", "WebSocket requests, by kind", requests.clone());
        let request_seconds = Family::<KindLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        registry.register(
            "request_seconds",
            "Time from a request's arrival to its answer, by kind",
            request_seconds.clone(),
        );
        let errors = Family::<CodeLabel, Counter>::default();
        registry.register(
            "errors",
            "Requests answered with an error, by code",
            errors.clone(),
        );
        let websockets = Gauge::default();
        registry.register(
            "websockets",
            "Open WebSocket connections",
            websockets.clone(),
        );
        let events_pushed = Counter::default();
        registry.register(
            "events_pushed",
            "Events pushed to browsers",
            events_pushed.clone(),
        );
        let bytes_sent = Counter::default();
        registry.register(
            "websocket_bytes_sent",
            "Bytes of WebSocket messages sent to browsers",
            bytes_sent.clone(),
        );
        let downloads = Counter::default();
        registry.register(
            "downloads",
            "Message parts, sources and exports served over HTTP",
            downloads.clone(),
        );
        let moved = Counter::default();
        registry.register(
            "browsers_moved",
            "Browsers asked to move to another bridge while this one stopped",
            moved.clone(),
        );
        let reconnects = Counter::default();
        registry.register(
            "upstream_reconnects",
            "Sessions connected to their mail server again after it dropped them",
            reconnects.clone(),
        );
        let resident = Gauge::default();
        registry.register(
            "process_resident_bytes",
            "The bridge process's resident memory",
            resident.clone(),
        );
        Metrics {
            registry,
            sessions,
            sign_ins,
            resumes,
            requests,
            request_seconds,
            errors,
            websockets,
            events_pushed,
            bytes_sent,
            downloads,
            moved,
            reconnects,
            resident,
        }
    }
}

/// Counts one signed-in session while it lives.
pub struct SessionCount(Gauge);

impl Drop for SessionCount {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Counts one open WebSocket while it lives.
pub struct WebSocketCount(Gauge);

impl Drop for WebSocketCount {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn outcome(result: Result<(), ErrorCode>) -> OutcomeLabel {
    OutcomeLabel {
        outcome: match result {
            Ok(()) => "ok".to_owned(),
            Err(code) => code_name(code),
        },
    }
}

/// An error code as the wire spells it.
fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "internal".to_owned())
}

impl Metrics {
    pub fn session(&self, protocol: MailProtocol) -> SessionCount {
        let gauge = self
            .sessions
            .get_or_create(&ProtocolLabel {
                protocol: match protocol {
                    MailProtocol::Imap => "imap",
                    MailProtocol::Pop3 => "pop3",
                },
            })
            .clone();
        gauge.inc();
        SessionCount(gauge)
    }

    pub fn websocket(&self) -> WebSocketCount {
        self.websockets.inc();
        WebSocketCount(self.websockets.clone())
    }

    pub fn signed_in(&self, result: Result<(), ErrorCode>) {
        self.sign_ins.get_or_create(&outcome(result)).inc();
    }

    pub fn resumed(&self, result: Result<(), ErrorCode>) {
        self.resumes.get_or_create(&outcome(result)).inc();
    }

    /// A request answered after `seconds`, with `error` if it failed.
    pub fn answered(&self, kind: &str, seconds: f64, error: Option<ErrorCode>) {
        let kind = KindLabel {
            kind: kind.to_owned(),
        };
        self.requests.get_or_create(&kind).inc();
        self.request_seconds.get_or_create(&kind).observe(seconds);
        if let Some(code) = error {
            self.errors
                .get_or_create(&CodeLabel {
                    code: code_name(code),
                })
                .inc();
        }
    }

    pub fn sent(&self, bytes: usize, event: bool) {
        self.bytes_sent.inc_by(bytes as u64);
        if event {
            self.events_pushed.inc();
        }
    }

    pub fn downloaded(&self) {
        self.downloads.inc();
    }

    pub fn moved(&self) {
        self.moved.inc();
    }

    pub fn reconnected(&self) {
        self.reconnects.inc();
    }

    fn encode(&self) -> Result<String, std::fmt::Error> {
        self.resident.set(resident_bytes());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// A request's kind as the wire names it (`open_folder`).
pub fn kind_of(request: &Request) -> String {
    match request {
        // Not serialized: it carries the password.
        Request::SignIn { .. } => "sign_in".to_owned(),
        Request::Resume { .. } => "resume".to_owned(),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.get("type")?.as_str().map(str::to_owned))
            .unwrap_or_default(),
    }
}

/// Resident memory, from /proc (0 where there is none).
fn resident_bytes() -> i64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<i64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Serves `/metrics` on `listener` until `stopped` completes.
pub async fn serve(
    metrics: Arc<Metrics>,
    listener: tokio::net::TcpListener,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(metrics);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stopped)
    .await
}

async fn scrape(State(metrics): State<Arc<Metrics>>) -> Response {
    match metrics.encode() {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
