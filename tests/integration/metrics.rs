//! `/metrics` on `metrics_listen`, read by a Prometheus text-format parser, counts
//! what the test did; the public listener does not serve it.

use anyhow::{Context, Result, ensure};
use protocol::Request;
use tests::{AccountSpec, Bridge, Settings, User, http_get};

use crate::seed::seeded_server;

/// The value of `name` with these labels, from a scrape.
fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(k).is_some_and(|l| l == *v))
        })
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            prometheus_parse::Value::Summary(_) => f64::NAN,
        })
}

async fn scrape(address: &str) -> Result<prometheus_parse::Scrape> {
    let answer = http_get(&format!("http://{address}/metrics")).await?;
    ensure!(answer.status == 200, "/metrics answered {}", answer.status);
    let text = String::from_utf8(answer.body)?;
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).context("not the Prometheus text format")
}

#[tokio::test]
async fn metrics_count_what_happened_and_stay_off_the_public_listener() -> Result<()> {
    let (dovecot, user) = seeded_server().await?;
    let port = maildev::free_port()?;
    let address = format!("127.0.0.1:{port}");
    let settings = Settings {
        keys: format!("metrics_listen = {address:?}\n"),
        origin: None,
    };
    let bridge = Bridge::start_with(
        &[AccountSpec::trusting("Example", &dovecot)],
        None,
        &settings,
    )
    .await?;

    let mut wrong = bridge.connect().await?;
    let refused = wrong.sign_in(None, &User::new("alice", "wrong")).await?;
    ensure!(refused.is_err(), "{refused:?}");
    let mut client = bridge.connect().await?;
    client.sign_in(None, &user).await??;
    client.folders().await?;
    let window = client.open("INBOX", 10).await?;
    client
        .open_message("INBOX", window.messages[0].uid, None)
        .await?;
    let missing = client
        .request(Request::OpenFolder {
            folder: "No such folder".into(),
            limit: 10,
            sort: Default::default(),
        })
        .await?;
    ensure!(missing.is_err(), "{missing:?}");

    let seen = scrape(&address).await?;
    let at = |name: &str, labels: &[(&str, &str)]| value(&seen, name, labels).unwrap_or(-1.0);
    assert_eq!(at("postern_sign_ins_total", &[("outcome", "ok")]), 1.0);
    assert_eq!(
        at(
            "postern_sign_ins_total",
            &[("outcome", "wrong_credentials")]
        ),
        1.0
    );
    assert_eq!(at("postern_sessions", &[("protocol", "imap")]), 1.0);
    assert_eq!(at("postern_websockets", &[]), 2.0);
    assert_eq!(
        at("postern_requests_total", &[("kind", "list_folders")]),
        1.0
    );
    assert_eq!(
        at("postern_requests_total", &[("kind", "open_folder")]),
        2.0
    );
    assert_eq!(
        at("postern_requests_total", &[("kind", "open_message")]),
        1.0
    );
    assert_eq!(
        at("postern_errors_total", &[("code", "folder_not_found")]),
        1.0
    );
    assert_eq!(
        at("postern_request_seconds_count", &[("kind", "open_message")]),
        1.0
    );
    ensure!(at("postern_websocket_bytes_sent_total", &[]) > 1000.0);
    ensure!(at("postern_process_resident_bytes", &[]) > 1_000_000.0);

    // A session the server drops connects again, and is counted.
    dovecot.kick(&user)?;
    client
        .event("connected again", |e| {
            matches!(
                e,
                protocol::Event::ConnectivityChanged {
                    state: protocol::Connectivity::Connected
                }
            )
        })
        .await?;
    let seen = scrape(&address).await?;
    assert_eq!(
        value(&seen, "postern_upstream_reconnects_total", &[]),
        Some(1.0)
    );

    // Signing out ends the session's count.
    client.ok(Request::SignOut).await?;
    let seen = scrape(&address).await?;
    assert_eq!(
        value(&seen, "postern_sessions", &[("protocol", "imap")]),
        Some(0.0)
    );

    // The public listener has no metrics: it serves the app there.
    let public = http_get(&format!("{}/metrics", bridge.origin())).await?;
    ensure!(
        !String::from_utf8_lossy(&public.body).contains("postern_"),
        "the public listener serves no metrics"
    );
    Ok(())
}
