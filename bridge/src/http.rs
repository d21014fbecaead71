//! Routes: the WebSocket at `/ws`, message parts under `/mail/` (see [`crate::parts`]),
//! and the built app for everything else, with security headers on every response.
//!
//! Caching: the app's files whose names carry a content hash (Trunk's build) never
//! change, so browsers keep them for a year without asking again; everything else the
//! app is made of, `index.html` first, is revalidated on each visit (`no-cache`, by its
//! Last-Modified date). Mail routes are `no-store`.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::AppState;

pub fn router(state: Arc<AppState>) -> Router {
    let static_dir = &state.config.static_dir;
    // Unknown paths get the app, which shows its own screens. The release build
    // leaves Brotli and gzip copies beside each file (`cargo xtask compress`): the
    // wasm bundle goes out at under 30% of its size, which matters most on phones.
    // What has no copy is compressed on the fly.
    let index = static_dir.join("index.html");
    let files = ServeDir::new(static_dir)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(
            ServeFile::new(&index)
                .precompressed_br()
                .precompressed_gzip(),
        );
    let files = tower::ServiceBuilder::new()
        .layer(middleware::from_fn_with_state(
            Arc::new(hashed_files(static_dir)),
            cache_control,
        ))
        .layer(CompressionLayer::new())
        .service(files);
    let csp = content_security_policy(&index, &state.config.public_origin);
    let headers: [(HeaderName, HeaderValue); 5] = [
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&csp)
                .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'")),
        ),
    ];
    let mut app = Router::new()
        .route("/ws", get(crate::ws::upgrade))
        .fallback_service(files);
    for (name, value) in headers {
        app = app.layer(SetResponseHeaderLayer::overriding(name, value));
    }
    // Message parts set their own, stricter headers; the app's CSP is not theirs.
    app.merge(crate::parts::router())
        .merge(crate::health::router())
        .merge(crate::upload::router())
        .with_state(state)
}

/// Served for a year without revalidation: a new build has new names.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

async fn cache_control(
    State(hashed): State<Arc<HashSet<String>>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().trim_start_matches('/');
    let immutable = hashed.contains(path);
    let mut response = next.run(request).await;
    let value = if immutable && response.status().is_success() {
        IMMUTABLE
    } else {
        "no-cache"
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    // Brotli, gzip or neither, by the request's Accept-Encoding: a cache in between
    // must keep them apart. (Compression on the fly says so itself.)
    if !headers.contains_key(header::VARY) {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// The names of the built files that carry a content hash, such as
/// `frontend-1a7a397a5988439a_bg.wasm` or `main-9f99bf43850ae6ff.css`. Only files that
/// exist count: an unknown name gets `index.html` (the app's own screens), which must
/// not be kept.
fn hashed_files(dir: &Path) -> HashSet<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return HashSet::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| is_hashed(name))
        .collect()
}

fn is_hashed(name: &str) -> bool {
    let Some((_, tail)) = name.rsplit_once('-') else {
        return false;
    };
    let hash_len = tail.find(['.', '_']).unwrap_or(tail.len());
    let (hash, rest) = tail.split_at(hash_len);
    (8..=16).contains(&hash.len())
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
        && (rest.starts_with('.') || rest.starts_with("_bg."))
}

/// The app's CSP. Trunk starts the app with a small inline module script; it is
/// allowed by its hash, read from the built `index.html`, so no other inline script
/// can run. A message's sandboxed `srcdoc` frame inherits this policy on top of its
/// own: its opaque origin matches no `'self'`, so its images from the bridge are
/// allowed by the bridge's public origin, spelled out, and the inline styles mail
/// depends on need `'unsafe-inline'` for styles (never for scripts). The app itself
/// never inserts message data as markup, so this opens nothing in the app's page.
fn content_security_policy(index: &std::path::Path, origin: &str) -> String {
    let html = std::fs::read_to_string(index).unwrap_or_default();
    let hashes: String = inline_scripts(&html)
        .map(|script| {
            let digest = ring::digest::digest(&ring::digest::SHA256, script.as_bytes());
            format!(" 'sha256-{}'", base64(digest.as_ref()))
        })
        .collect();
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: {origin}/mail/; font-src 'self'; connect-src 'self'; manifest-src 'self'; \
         frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// The bodies of `<script>` elements without a `src`.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (attributes, rest) = rest.split_once('>')?;
        let (body, _) = rest.split_once("</script>")?;
        (!attributes.contains("src=")).then_some(body)
    })
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_named_by_their_content_are_kept_for_a_year() {
        for name in [
            "frontend-1a7a397a5988439a_bg.wasm",
            "frontend-e1b58299e33e480.js",
            "main-9f99bf43850ae6ff.css",
        ] {
            assert!(is_hashed(name), "{name}");
        }
        for name in [
            "index.html",
            "frontend.js",
            "main-style.css",
            "a-1234.css",
            "x-1a7a397a5988439a",
            "x-1a7a397a5988439z.js",
        ] {
            assert!(!is_hashed(name), "{name}");
        }
    }

    #[test]
    fn only_inline_scripts_are_hashed() {
        let html = "<script src=\"/a.js\"></script><script type=\"module\">init()</script>";
        assert_eq!(inline_scripts(html).collect::<Vec<_>>(), ["init()"]);
    }
}
