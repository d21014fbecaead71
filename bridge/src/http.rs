//! Routes: the WebSocket at `/ws`, message parts under `/mail/` (see [`crate::parts`]),
//! and the built app for everything else, with security headers on every response.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
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
        .merge(crate::upload::router())
        .with_state(state)
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
    fn only_inline_scripts_are_hashed() {
        let html = "<script src=\"/a.js\"></script><script type=\"module\">init()</script>";
        assert_eq!(inline_scripts(html).collect::<Vec<_>>(), ["init()"]);
    }
}
