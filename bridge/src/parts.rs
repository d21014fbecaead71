//! Message parts over plain HTTP, for what does not belong in a WebSocket frame:
//! attachment downloads, inline images, the raw message, and a whole folder as mbox. Each URL carries a
//! short-lived token from [`crate::links`]; the bytes are read from the mail server in
//! ranges and decoded as they stream, so no part is ever held whole in memory.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::links::Target;
use crate::mail::{Listing, MailError, MessageRef, PartMeta, StreamDecoder};
use crate::session::{ErrorChain, SessionHandle};

/// Encoded bytes read from the mail server per step of a download.
const CHUNK: u32 = 512 * 1024;

/// Image types a browser may show inline from a message; anything else is only
/// ever downloaded, as opaque bytes.
const RASTER_IMAGES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/bmp",
];

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/mail/{token}/part/{section}", get(attachment))
        .route("/mail/{token}/inline/{section}", get(inline))
        .route("/mail/{token}/source", get(source))
        .route("/mail/{token}/remote", get(remote))
        .route("/mail/{token}/mbox", get(export))
}

/// A whole folder as one mbox file, message after message, each read in ranges like
/// any download. With `delete_after`, the messages sent are then deleted, once the
/// file has gone out to its end; a download cut short deletes nothing.
async fn export(State(state): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    state.metrics.downloaded();
    // An export link works once: a repeated request (a retry, the history) must
    // not export, and delete, again.
    let Some((
        session,
        Target::Export {
            folder,
            delete_after,
        },
    )) = state.links.take_export(&token)
    else {
        return plain(
            StatusCode::NOT_FOUND,
            "This link has expired. Ask for the download again.",
        );
    };
    let listing = match session.listing(folder.clone()).await {
        Ok(listing) => listing,
        Err(error) => return failure(&error),
    };
    let name = if folder == "INBOX" { "Inbox" } else { &folder };
    let mut response = Response::new(Body::from_stream(mbox(
        session,
        folder.clone(),
        listing,
        delete_after,
    )));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/mbox"),
    );
    if let Ok(value) =
        HeaderValue::from_str(&content_disposition("attachment", &format!("{name}.mbox")))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    security_headers(headers, false);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The folder's messages as mbox, read through the session.
fn mbox(
    session: SessionHandle,
    folder: String,
    listing: Listing,
    delete_after: bool,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + use<> {
    struct Current {
        message: MessageRef,
        offset: u64,
        size: u64,
        quoter: crate::mbox::Quoter,
    }
    struct Progress {
        session: SessionHandle,
        turn: Option<tokio::sync::OwnedSemaphorePermit>,
        folder: String,
        uid_validity: u32,
        waiting: std::collections::VecDeque<(u32, Option<i64>)>,
        current: Option<Current>,
        sent: Vec<u32>,
        delete_after: bool,
        done: bool,
    }
    let start = Progress {
        session,
        turn: None,
        folder,
        uid_validity: listing.uid_validity,
        waiting: listing.messages.into(),
        current: None,
        sent: Vec::new(),
        delete_after,
        done: false,
    };
    let fail = |error: MailError| {
        tracing::warn!(error = %ErrorChain(&error), "export failed");
        std::io::Error::other(error.to_string())
    };
    futures::stream::unfold(start, move |mut at| async move {
        if at.done {
            return None;
        }
        if at.turn.is_none() {
            at.turn = at.session.download_turn().await;
        }
        loop {
            let Some(current) = &mut at.current else {
                let Some((uid, date)) = at.waiting.pop_front() else {
                    at.done = true;
                    if at.delete_after && !at.sent.is_empty() {
                        let request = protocol::Request::ExpungeMessages {
                            folder: at.folder.clone(),
                            uids: std::mem::take(&mut at.sent),
                        };
                        if let Err(error) = at.session.call(request).await {
                            tracing::warn!(%error, "deleting after the export failed");
                        }
                    }
                    return None;
                };
                let message = MessageRef {
                    folder: at.folder.clone(),
                    uid_validity: at.uid_validity,
                    uid,
                };
                match at.session.part_meta(message.clone(), None).await {
                    Ok(meta) => {
                        at.current = Some(Current {
                            message,
                            offset: 0,
                            size: meta.size,
                            quoter: crate::mbox::Quoter::default(),
                        });
                        let date = date.unwrap_or_else(now);
                        return Some((Ok(Bytes::from(crate::mbox::separator(date))), at));
                    }
                    // Deleted meanwhile: it is neither sent nor deleted.
                    Err(MailError::MessageNotFound { .. }) => continue,
                    Err(error) => {
                        at.done = true;
                        return Some((Err(fail(error)), at));
                    }
                }
            };
            let mut out = Vec::new();
            if current.offset >= current.size {
                let Some(finished) = at.current.take() else {
                    continue;
                };
                finished.quoter.finish(&mut out);
                at.sent.push(finished.message.uid);
                return Some((Ok(Bytes::from(out)), at));
            }
            let len = CHUNK.min(u32::try_from(current.size - current.offset).unwrap_or(CHUNK));
            match at
                .session
                .read(current.message.clone(), None, current.offset, len)
                .await
            {
                Err(error) => {
                    at.done = true;
                    return Some((Err(fail(error)), at));
                }
                // Shorter than announced: the file must not claim it whole (nor
                // may it be deleted as sent).
                Ok(bytes) if bytes.is_empty() => {
                    at.done = true;
                    let short =
                        MailError::Spool(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
                    return Some((Err(fail(short)), at));
                }
                Ok(bytes) => {
                    current.offset += bytes.len() as u64;
                    current.quoter.push(&bytes, &mut out);
                    if !out.is_empty() {
                        return Some((Ok(Bytes::from(out)), at));
                    }
                }
            }
        }
    })
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[derive(serde::Deserialize)]
struct RemoteQuery {
    url: String,
}

/// A remote image of an opened message, through the proxy. The token limits the
/// proxy to people with an open message, and the frame's CSP to this route.
async fn remote(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    axum::extract::Query(RemoteQuery { url }): axum::extract::Query<RemoteQuery>,
) -> Response {
    if state.links.resolve(&token).is_none() {
        return plain(
            StatusCode::NOT_FOUND,
            "This link has expired. Open the message again to get a fresh one.",
        );
    }
    match state.proxy.fetch(&url).await {
        Ok(image) => {
            let mut response = Response::new(Body::new(image.body));
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(image.content_type),
            );
            if let Some(length) = image.length {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            }
            security_headers(headers, true);
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(refusal) => {
            tracing::info!(%refusal, "remote image refused");
            let status = match refusal {
                crate::proxy::Refusal::Forbidden => StatusCode::FORBIDDEN,
                crate::proxy::Refusal::BadUrl => StatusCode::BAD_REQUEST,
                _ => StatusCode::BAD_GATEWAY,
            };
            plain(status, "This remote image cannot be shown.")
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Attachment,
    Inline,
    Source,
}

async fn attachment(
    State(state): State<Arc<AppState>>,
    Path((token, section)): Path<(String, String)>,
) -> Response {
    serve(&state, &token, Some(section), Mode::Attachment).await
}

async fn inline(
    State(state): State<Arc<AppState>>,
    Path((token, section)): Path<(String, String)>,
) -> Response {
    serve(&state, &token, Some(section), Mode::Inline).await
}

async fn source(State(state): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    serve(&state, &token, None, Mode::Source).await
}

async fn serve(state: &AppState, token: &str, part: Option<String>, mode: Mode) -> Response {
    state.metrics.downloaded();
    let Some((session, message)) = state.links.resolve(token) else {
        return plain(
            StatusCode::NOT_FOUND,
            "This link has expired. Open the message again to get a fresh one.",
        );
    };
    let meta = match session.part_meta(message.clone(), part.clone()).await {
        Ok(meta) => meta,
        Err(error) => return failure(&error),
    };
    let content_type = raster_image_type(&meta.content_type);
    let raster = content_type.is_some();
    if mode == Mode::Inline && !raster {
        return plain(StatusCode::NOT_FOUND, "This part is not an image.");
    }
    let file_name = match (mode, &meta.name) {
        (Mode::Source, _) => "message.eml".to_owned(),
        (_, Some(name)) => name.clone(),
        (_, None) => default_name(&meta),
    };
    let disposition = if mode == Mode::Inline {
        "inline"
    } else {
        "attachment"
    };
    let mut response = Response::new(Body::from_stream(download(session, message, part, &meta)));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type.unwrap_or("application/octet-stream")),
    );
    if let Ok(value) = HeaderValue::from_str(&content_disposition(disposition, &file_name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some(size) = meta.decoded_size {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    security_headers(headers, mode == Mode::Inline);
    // Mail never goes into the browser's cache, where it would outlive the session.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The part's decoded bytes, read in ranges through the session.
fn download(
    session: SessionHandle,
    message: MessageRef,
    part: Option<String>,
    meta: &PartMeta,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + use<> {
    struct Progress {
        session: SessionHandle,
        /// This download's turn, taken before the first range and kept to the end.
        turn: Option<tokio::sync::OwnedSemaphorePermit>,
        message: MessageRef,
        part: Option<String>,
        decoder: StreamDecoder,
        offset: u64,
        size: u64,
        done: bool,
    }
    let start = Progress {
        session,
        turn: None,
        message,
        part,
        decoder: StreamDecoder::new(meta.encoding),
        offset: 0,
        size: meta.size,
        done: false,
    };
    futures::stream::unfold(start, |mut at| async move {
        if at.turn.is_none() && !at.done {
            at.turn = at.session.download_turn().await;
        }
        while !at.done {
            if at.offset >= at.size {
                at.done = true;
                at.turn = None;
                let rest = at.decoder.finish();
                if rest.is_empty() {
                    return None;
                }
                return Some((Ok(Bytes::from(rest)), at));
            }
            let len = CHUNK.min(u32::try_from(at.size - at.offset).unwrap_or(CHUNK));
            match at
                .session
                .read(at.message.clone(), at.part.clone(), at.offset, len)
                .await
            {
                Err(error) => {
                    tracing::warn!(error = %ErrorChain(&error), "download failed");
                    at.done = true;
                    return Some((Err(std::io::Error::other(error.to_string())), at));
                }
                // The part is shorter than its structure said: end here.
                Ok(bytes) if bytes.is_empty() => at.size = at.offset,
                Ok(bytes) => {
                    at.offset += bytes.len() as u64;
                    let decoded = at.decoder.feed(&bytes);
                    if !decoded.is_empty() {
                        return Some((Ok(Bytes::from(decoded)), at));
                    }
                }
            }
        }
        None
    })
}

/// The content type to serve an image under, if it is an allowlisted raster type.
pub(crate) fn raster_image_type(content_type: &str) -> Option<&'static str> {
    let content_type = match content_type {
        "image/jpg" | "image/pjpeg" => "image/jpeg",
        other => other,
    };
    RASTER_IMAGES.iter().copied().find(|t| *t == content_type)
}

fn default_name(meta: &PartMeta) -> String {
    let extension = match meta.content_type.as_str() {
        "message/rfc822" => "eml",
        "text/plain" => "txt",
        "text/html" => "html",
        "application/pdf" => "pdf",
        t => t.strip_prefix("image/").unwrap_or("bin"),
    };
    format!("attachment.{extension}")
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266, 5987).
fn content_disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !"\"\\%/".contains(c) || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Whatever the part claims to be, the browser must not sniff it, run it or frame it.
/// Images for the message frame must load cross-origin (the frame's origin is
/// opaque); everything else stays same-origin.
fn security_headers(headers: &mut axum::http::HeaderMap, for_mail_frame: bool) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static(if for_mail_frame {
            "cross-origin"
        } else {
            "same-origin"
        }),
    );
}

fn failure(error: &MailError) -> Response {
    tracing::info!(error = %ErrorChain(error), "part not served");
    match error {
        MailError::MessageNotFound { .. } => plain(
            StatusCode::NOT_FOUND,
            "That message or part is no longer on the server.",
        ),
        MailError::BadInput(_) => plain(
            StatusCode::BAD_REQUEST,
            "That is not a part of the message.",
        ),
        _ => plain(
            StatusCode::BAD_GATEWAY,
            "The mail server cannot be reached right now.",
        ),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = (status, format!("{text}\n")).into_response();
    security_headers(response.headers_mut(), false);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_have_an_ascii_form_and_an_exact_form() {
        assert_eq!(
            content_disposition("attachment", "Résumé \"2026\".pdf"),
            "attachment; filename=\"R_sum_ _2026_.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%222026%22.pdf"
        );
    }

    #[test]
    fn only_raster_images_keep_their_type() {
        assert_eq!(raster_image_type("image/jpg"), Some("image/jpeg"));
        assert_eq!(raster_image_type("image/svg+xml"), None);
        assert_eq!(raster_image_type("text/html"), None);
    }
}
