//! Caching: the app's files named by their content are kept for a year, the page is
//! revalidated on each visit, and a second visit in Chromium downloads nothing but
//! that revalidation. (Mail routes are `no-store`: see `reading`.)

use std::collections::HashMap;

use anyhow::{Context, Result};
use tests::browser::{Browser, dist_dir};
use tests::{AccountSpec, Bridge, HttpResponse, http_send};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A bridge serving the built app; its account's server is never reached.
async fn bridge() -> Result<Bridge> {
    Bridge::start(&[AccountSpec::unreachable("X")], Some(&dist_dir()?)).await
}

async fn get(bridge: &Bridge, path: &str, headers: &[(&str, &str)]) -> Result<HttpResponse> {
    let url = format!("{}{path}", bridge.origin());
    http_send("GET", &url, headers, http_body_util::Empty::new()).await
}

/// The built file whose name ends with `suffix`.
fn built(suffix: &str) -> Result<String> {
    all_built(suffix)?
        .into_iter()
        .next()
        .with_context(|| format!("no built *{suffix}"))
}

fn all_built(suffix: &str) -> Result<Vec<String>> {
    Ok(std::fs::read_dir(dist_dir()?)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(suffix))
        .collect())
}

#[tokio::test]
async fn hashed_files_are_kept_for_a_year_and_the_page_is_revalidated() -> Result<()> {
    let bridge = bridge().await?;
    let mut files = all_built(".wasm")?;
    files.extend(all_built(".js")?);
    files.push(built(".css")?);
    // The main module, its glue, the split loader and the split-off parts.
    assert!(files.len() >= 5, "{files:?}");
    for file in files {
        for encoding in ["br", "gzip", "identity"] {
            let response = get(
                &bridge,
                &format!("/{file}"),
                &[("accept-encoding", encoding)],
            )
            .await?;
            assert_eq!(response.status, 200, "{file}");
            assert_eq!(
                response.header("cache-control"),
                Some(IMMUTABLE),
                "{file}, {encoding}"
            );
            // Each encoding is its own copy, for caches in between too.
            let vary = response.header("vary").unwrap_or_default();
            assert!(
                vary.contains("accept-encoding"),
                "{file}, {encoding}: {vary:?}"
            );
        }
    }
    // The page, the app's screens by their paths, and names that only look hashed
    // (a file of an older build, say) are all answered with the page: never kept.
    for path in [
        "/",
        "/index.html",
        "/folder/INBOX",
        "/frontend-0123456789abcdef.js",
    ] {
        let response = get(&bridge, path, &[("accept-encoding", "br")]).await?;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.header("cache-control"), Some("no-cache"), "{path}");
        let modified = response
            .header("last-modified")
            .with_context(|| format!("{path} has no Last-Modified"))?
            .to_owned();
        let again = get(&bridge, path, &[("if-modified-since", &modified)]).await?;
        assert_eq!(again.status, 304, "{path} is not revalidated");
        assert!(again.body.is_empty());
        assert_eq!(again.header("cache-control"), Some("no-cache"), "{path}");
    }
    Ok(())
}

/// What the page fetched, by URL: the HTTP status on the wire (a revalidated file is
/// reported as its cached 200, with the server's 304 in the extra information), and
/// whether it came from the browser's cache.
#[derive(Debug)]
struct Fetched {
    url: String,
    status: u64,
    cached: bool,
}

fn fetched(events: &[serde_json::Value]) -> Vec<Fetched> {
    let from_cache: Vec<&str> = events
        .iter()
        .filter(|e| e["method"] == "Network.requestServedFromCache")
        .filter_map(|e| e["params"]["requestId"].as_str())
        .collect();
    let on_the_wire: HashMap<&str, u64> = events
        .iter()
        .filter(|e| e["method"] == "Network.responseReceivedExtraInfo")
        .filter_map(|e| {
            let params = &e["params"];
            Some((
                params["requestId"].as_str()?,
                params["statusCode"].as_u64()?,
            ))
        })
        .collect();
    let mut by_request = HashMap::new();
    for event in events
        .iter()
        .filter(|e| e["method"] == "Network.responseReceived")
    {
        let params = &event["params"];
        let response = &params["response"];
        let id = params["requestId"].as_str().unwrap_or_default();
        by_request.insert(
            id.to_owned(),
            Fetched {
                url: response["url"].as_str().unwrap_or_default().to_owned(),
                status: on_the_wire
                    .get(id)
                    .copied()
                    .or_else(|| response["status"].as_u64())
                    .unwrap_or_default(),
                cached: response["fromDiskCache"] == true
                    || response["fromPrefetchCache"] == true
                    || from_cache.contains(&id),
            },
        );
    }
    by_request.into_values().collect()
}

#[tokio::test]
async fn a_second_visit_downloads_nothing_but_the_page_revalidated() -> Result<()> {
    let bridge = bridge().await?;
    let browser = Browser::start_recording_network(1280, 860).await?;
    let page = format!("{}/", bridge.origin());
    browser.client.goto(&page).await?;
    browser.button("Sign in").await?;
    let first = fetched(&browser.network_events().await?);
    let wasm = built("_bg.wasm")?;
    assert!(
        first
            .iter()
            .any(|f| f.url.ends_with(&wasm) && f.status == 200 && !f.cached),
        "the first visit did not download the app: {first:?}"
    );

    // A visit later, as a person coming back would make it.
    browser.client.goto("about:blank").await?;
    browser.client.goto(&page).await?;
    browser.button("Sign in").await?;
    let second = fetched(&browser.network_events().await?);
    let downloaded: Vec<(&str, u64)> = second
        .iter()
        .filter(|f| !f.cached)
        .map(|f| (f.url.as_str(), f.status))
        .collect();
    assert_eq!(downloaded, [(page.as_str(), 304)], "{second:?}");
    browser.close().await
}
