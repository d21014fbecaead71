//! HTML mail made safe to show: ammonia with an email allowlist, and every URL rewrite
//! (inline `cid:` images, remote images through the proxy) done inside ammonia's own
//! attribute filter, so that nothing touches the HTML after it is sanitized.
//!
//! The result is a whole document for a sandboxed iframe's `srcdoc`, with a CSP that
//! allows images only from this message's bridge routes.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Where a message's parts are served, and whether remote images may load.
#[derive(Debug, Clone)]
pub struct Links {
    /// The bridge's public origin, such as `https://mail.example.org`.
    pub origin: String,
    /// The message's path, such as `/mail/<token>`.
    pub path: String,
    /// Load remote images through the bridge's image proxy instead of blocking them.
    pub remote: bool,
}

impl Links {
    fn base(&self) -> String {
        format!("{}{}", self.origin, self.path)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Sanitized {
    pub document: String,
    /// Remote images and styles that were left out.
    pub blocked_remote: u32,
}

/// CSS properties allowed in `style` attributes: layout and typography only.
/// Anything positioned, animated or loading a resource is absent on purpose.
const STYLE_PROPERTIES: &[&str] = &[
    "background-color",
    "border",
    "border-bottom",
    "border-collapse",
    "border-color",
    "border-left",
    "border-radius",
    "border-right",
    "border-spacing",
    "border-style",
    "border-top",
    "border-width",
    "color",
    "direction",
    "display",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-variant",
    "font-weight",
    "height",
    "letter-spacing",
    "line-height",
    "list-style-type",
    "margin",
    "margin-bottom",
    "margin-left",
    "margin-right",
    "margin-top",
    "max-width",
    "min-width",
    "padding",
    "padding-bottom",
    "padding-left",
    "padding-right",
    "padding-top",
    "table-layout",
    "text-align",
    "text-decoration",
    "text-indent",
    "text-transform",
    "vertical-align",
    "white-space",
    "width",
    "word-break",
    "word-spacing",
];

/// CSS functions a style value may call: colors and arithmetic. Everything else
/// (`url`, `image-set`, `var`, `expression`, `env`, ...) drops the declaration.
const STYLE_FUNCTIONS: &[&str] = &["rgb(", "rgba(", "hsl(", "hsla(", "calc("];

/// Sanitizes `html` and wraps it in the iframe document. `inline` maps Content-IDs to
/// the section of the image they name.
pub fn html(html: &str, links: &Links, inline: &HashMap<String, String>) -> Sanitized {
    let blocked = Arc::new(AtomicU32::new(0));
    let filter = AttributeFilter {
        base: links.base(),
        remote: links.remote,
        inline: inline.clone(),
        blocked: blocked.clone(),
    };
    let mut builder = ammonia::Builder::default();
    builder
        .add_tags(["font", "center"])
        .add_clean_content_tags(["title", "noscript"])
        .add_generic_attributes([
            "style",
            "align",
            "valign",
            "dir",
            "width",
            "height",
            "bgcolor",
            "color",
            "border",
            "cellpadding",
            "cellspacing",
            "face",
            "size",
        ])
        .url_schemes(HashSet::from(["http", "https", "mailto", "cid"]))
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank")
        .attribute_filter(move |element, attribute, value| filter.apply(element, attribute, value));
    let body = builder.clean(html).to_string();
    Sanitized {
        document: document(&links.origin, &body),
        blocked_remote: blocked.load(Ordering::Relaxed),
    }
}

struct AttributeFilter {
    base: String,
    remote: bool,
    inline: HashMap<String, String>,
    blocked: Arc<AtomicU32>,
}

impl AttributeFilter {
    fn apply<'u>(&self, element: &str, attribute: &str, value: &'u str) -> Option<Cow<'u, str>> {
        match (element, attribute) {
            ("img", "src") => self.image(value).map(Cow::Owned),
            ("a", "href") => is_link(value).then_some(Cow::Borrowed(value)),
            (_, "style") => {
                let (style, blocked) = filter_style(value);
                if blocked {
                    self.blocked.fetch_add(1, Ordering::Relaxed);
                }
                (!style.is_empty()).then_some(Cow::Owned(style))
            }
            _ => Some(Cow::Borrowed(value)),
        }
    }

    /// `cid:` images point at the bridge; remote ones at the proxy, or nowhere.
    fn image(&self, src: &str) -> Option<String> {
        let src = src.trim();
        if let Some(cid) = strip_prefix_ignore_case(src, "cid:") {
            let cid = percent_decode(cid);
            let section = self.inline.get(cid.trim_matches(['<', '>']))?;
            return Some(format!("{}/inline/{section}", self.base));
        }
        let lower = src.get(..8).unwrap_or(src).to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            if self.remote {
                return Some(format!("{}/remote?url={}", self.base, percent_encode(src)));
            }
            self.blocked.fetch_add(1, Ordering::Relaxed);
        }
        None
    }
}

fn is_link(href: &str) -> bool {
    let lower = href.trim().get(..8).unwrap_or(href).to_ascii_lowercase();
    ["https://", "http://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .map(|_| &text[prefix.len()..])
}

/// Keeps the allowed declarations of a `style` attribute. Returns the filtered style
/// and whether a remote resource was dropped.
fn filter_style(style: &str) -> (String, bool) {
    let mut kept = Vec::new();
    let mut blocked = false;
    for declaration in style.split(';') {
        let Some((property, value)) = declaration.split_once(':') else {
            continue;
        };
        let property = property.trim().to_ascii_lowercase();
        let value = value.trim();
        let lower = value.to_ascii_lowercase();
        if lower.contains("url(") {
            blocked |= lower.contains("http");
            continue;
        }
        if !STYLE_PROPERTIES.contains(&property.as_str()) || !safe_style_value(&lower) {
            continue;
        }
        kept.push(format!("{property}: {value}"));
    }
    (kept.join("; "), blocked)
}

/// A value is safe when it has no escapes, comments, quotes that could unbalance the
/// attribute's CSS, or functions beyond colors and arithmetic.
fn safe_style_value(value: &str) -> bool {
    if value.contains(['\\', '<', '>', '{', '}', '@']) || value.contains("/*") {
        return false;
    }
    if value.contains("fixed") || value.contains("sticky") {
        return false;
    }
    let mut rest = value;
    while let Some(open) = rest.find('(') {
        let head = &rest[..=open];
        if !STYLE_FUNCTIONS.iter().any(|f| head.ends_with(f)) {
            return false;
        }
        rest = &rest[open + 1..];
    }
    true
}

/// The iframe document: a CSP that permits inline styles and this bridge's message
/// routes only, then the sanitized body, unchanged.
fn document(origin: &str, body: &str) -> String {
    let origin: String = origin
        .chars()
        .filter(|c| c.is_ascii_graphic() && !"\"<>'&".contains(*c))
        .collect();
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data: {origin}/mail/; form-action 'none'; \
         base-uri 'none'\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <style>{FRAME_STYLE}</style></head><body>{body}</body></html>"
    )
}

/// The iframe's own base style: mail is designed for a light page.
const FRAME_STYLE: &str = "html{color-scheme:light}\
body{margin:0;padding:16px 20px;font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;\
color:#1d2433;background:#fff;overflow-wrap:anywhere}\
img{max-width:100%;height:auto}table{max-width:100%}\
blockquote{margin:0 0 0 4px;padding-left:12px;border-left:3px solid #c9d1dc;color:#4a5568}\
a{color:#2456c8}pre{white-space:pre-wrap}";

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (a `cid:` URL is percent-encoded, RFC 2392).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(remote: bool) -> Links {
        Links {
            origin: "https://mail.example.org".into(),
            path: "/mail/TOKEN".into(),
            remote,
        }
    }

    fn clean(html: &str) -> Sanitized {
        let inline = HashMap::from([("logo@x".to_owned(), "2".to_owned())]);
        super::html(html, &links(false), &inline)
    }

    fn body(html: &str) -> String {
        let document = clean(html).document;
        let start = document.find("<body>").expect("body") + 6;
        document[start..document.len() - "</body></html>".len()].to_owned()
    }

    #[test]
    fn scripts_handlers_and_dangerous_elements_go() {
        let out = body(
            "<p onclick=alert(1)>hi<script>alert(2)</script></p><svg><use href=data:x /></svg>\
             <form action=https://evil><input name=q><button>go</button></form>\
             <iframe src=https://evil></iframe><object data=x></object><meta http-equiv=refresh content=0>\
             <base href=https://evil/><link rel=stylesheet href=https://evil/s.css><style>p{}</style>\
             <math><mi>x</mi></math>",
        );
        for needle in [
            "onclick", "script", "alert", "svg", "form", "input", "button", "iframe", "object",
            "meta", "base", "link", "style", "math",
        ] {
            assert!(!out.contains(needle), "{needle} in {out}");
        }
    }

    #[test]
    fn links_keep_only_safe_schemes_and_open_outside() {
        let out = body(
            "<a href=\"javascript:alert(1)\">a</a><a href=\"JaVaScRiPt:x\">b</a>\
             <a href=\"data:text/html,x\">c</a><a href=\"https://example.org/\">d</a>\
             <a href=\"mailto:x@example.org\">e</a><a href=\"/relative\">f</a>",
        );
        assert_eq!(
            out,
            "<a target=\"_blank\" rel=\"noopener noreferrer\">a</a>\
             <a target=\"_blank\" rel=\"noopener noreferrer\">b</a>\
             <a target=\"_blank\" rel=\"noopener noreferrer\">c</a>\
             <a href=\"https://example.org/\" target=\"_blank\" rel=\"noopener noreferrer\">d</a>\
             <a href=\"mailto:x@example.org\" target=\"_blank\" rel=\"noopener noreferrer\">e</a>\
             <a target=\"_blank\" rel=\"noopener noreferrer\">f</a>"
        );
    }

    #[test]
    fn images_are_inline_blocked_or_proxied() {
        let out = clean(
            "<img src=\"cid:logo@x\"><img src=\"cid:unknown\"><img src=\"https://t.example/p.gif\">\
             <img src=\"data:image/png;base64,AAAA\"><img src=\"http://t.example/q.gif\">",
        );
        assert_eq!(out.blocked_remote, 2);
        assert!(out.document.contains(
            "<img src=\"https://mail.example.org/mail/TOKEN/inline/2\"><img><img><img><img>"
        ));
        let inline = HashMap::new();
        let proxied = html(
            "<img src=\"https://t.example/p.gif?a=1&b=2\">",
            &links(true),
            &inline,
        );
        assert_eq!(proxied.blocked_remote, 0);
        assert!(proxied.document.contains(
            "src=\"https://mail.example.org/mail/TOKEN/remote?url=https%3A%2F%2Ft.example%2Fp.gif%3Fa%3D1%26b%3D2\""
        ));
    }

    #[test]
    fn styles_keep_only_harmless_declarations() {
        assert_eq!(
            filter_style(
                "color: red; background-image: url(https://t/x.png); position: fixed; top: 0"
            ),
            ("color: red".to_owned(), true)
        );
        assert_eq!(
            filter_style("color: rgb(1,2,3); width: expression(alert(1)); font-size: var(--x)"),
            ("color: rgb(1,2,3)".to_owned(), false)
        );
        assert_eq!(
            filter_style("color: re\\64; background: u\\72l(x); display: block"),
            ("display: block".to_owned(), false)
        );
        assert_eq!(
            filter_style("background: image-set(\"x.png\" 1x); margin: 0 /* x */ 1px"),
            (String::new(), false)
        );
    }

    #[test]
    fn the_document_carries_the_csp_first() {
        let document = clean("<p>x</p>").document;
        let csp = document.find("Content-Security-Policy").expect("csp");
        assert!(csp < document.find("<body>").expect("body"));
        assert!(document.contains("img-src data: https://mail.example.org/mail/;"));
        assert!(document.contains("default-src 'none'"));
    }
}
