//! Uploading files to attach, over plain HTTP (a WebSocket frame is at most
//! 64 KiB): `POST /mail/<token>/upload?name=…` with the file as the body, streamed
//! into a temporary file as it arrives, and `DELETE /mail/<token>/upload/<id>`.
//! A file that would be larger than the largest message is refused before any of
//! it is kept, from its `Content-Length`, or as soon as it grows past the limit.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::AppState;
use crate::links::Target;
use crate::mail::compose::{attachment_type, file_name};
use crate::uploads::{Refused, Upload, Uploads};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/mail/{token}/upload", post(upload))
        .route("/mail/{token}/upload/{id}", delete(remove))
        // The body streams to disk, held to the message limit as it comes.
        .layer(DefaultBodyLimit::disable())
}

#[derive(serde::Deserialize)]
struct UploadQuery {
    name: String,
}

fn uploads_of(state: &AppState, token: &str) -> Option<Arc<Uploads>> {
    match state.links.resolve_any(token)? {
        (_, Target::Uploads(uploads)) => Some(uploads),
        _ => None,
    }
}

async fn upload(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    Query(UploadQuery { name }): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(uploads) = uploads_of(&state, &token) else {
        return plain(
            StatusCode::NOT_FOUND,
            "This upload link has expired. Sign in again to attach files.".into(),
        );
    };
    if !same_origin(&headers, &state.config.public_origin) {
        return plain(
            StatusCode::FORBIDDEN,
            "Files can only be attached from Postern itself.".into(),
        );
    }
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Err(refused) = uploads.check(announced.unwrap_or(0)) {
        return refusal(&refused);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map_or_else(
            || "application/octet-stream".to_owned(),
            |v| attachment_type(v.split(';').next().unwrap_or_default()),
        );
    let name = file_name(&name);
    let kept = match keep(&uploads, body).await {
        Ok(kept) => kept,
        Err(Failed::Refused(refused)) => return refusal(&refused),
        Err(Failed::Cut(error)) => {
            // Cut off halfway: nothing of it is kept.
            tracing::info!(%error, "an upload broke off");
            return plain(
                StatusCode::BAD_REQUEST,
                "The upload broke off. Attach the file again.".into(),
            );
        }
        Err(Failed::Disk(error)) => {
            tracing::warn!(%error, "an upload could not be written");
            return plain(
                StatusCode::INSUFFICIENT_STORAGE,
                "The file could not be stored on the server. Try again later.".into(),
            );
        }
    };
    let (file, size) = kept;
    if announced.is_some_and(|announced| announced != size) {
        return plain(
            StatusCode::BAD_REQUEST,
            "The upload broke off. Attach the file again.".into(),
        );
    }
    let id = match uploads.insert(Upload::new(name.clone(), content_type.clone(), size, file)) {
        Ok(id) => id,
        Err(refused) => return refusal(&refused),
    };
    tracing::info!(size, "file uploaded for attaching");
    let answer = protocol::Uploaded {
        id,
        name,
        content_type,
        size,
    };
    let mut response = (
        StatusCode::CREATED,
        serde_json::to_string(&answer).unwrap_or_default(),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    no_store(headers);
    response
}

enum Failed {
    Refused(Refused),
    Cut(axum::Error),
    Disk(std::io::Error),
}

/// Streams the body into a new temporary file, held to the limits as it grows.
async fn keep(uploads: &Uploads, body: Body) -> Result<(std::fs::File, u64), Failed> {
    let file = tempfile::tempfile().map_err(Failed::Disk)?;
    let mut out = tokio::io::BufWriter::with_capacity(
        64 * 1024,
        tokio::fs::File::from_std(file.try_clone().map_err(Failed::Disk)?),
    );
    let mut size = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(Failed::Cut)?;
        size += chunk.len() as u64;
        uploads.check(size).map_err(Failed::Refused)?;
        out.write_all(&chunk).await.map_err(Failed::Disk)?;
    }
    out.flush().await.map_err(Failed::Disk)?;
    Ok((file, size))
}

async fn remove(
    State(state): State<Arc<AppState>>,
    Path((token, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(uploads) = uploads_of(&state, &token) else {
        return plain(
            StatusCode::NOT_FOUND,
            "This upload link has expired.".into(),
        );
    };
    if !same_origin(&headers, &state.config.public_origin) {
        return plain(StatusCode::FORBIDDEN, "Not from Postern.".into());
    }
    uploads.remove(&id);
    let mut response = StatusCode::NO_CONTENT.into_response();
    no_store(response.headers_mut());
    response
}

/// Browsers send `Origin` with every POST and DELETE; one from elsewhere is
/// refused (the token in the path is the real guard).
fn same_origin(headers: &HeaderMap, origin: &str) -> bool {
    match headers.get(header::ORIGIN) {
        None => true,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(crate::config::normalize_origin)
            .is_some_and(|o| o == origin),
    }
}

fn refusal(refused: &Refused) -> Response {
    let text = match refused {
        Refused::FileTooLarge { limit } => format!(
            "This file is larger than the {} MB a message may be.",
            limit / (1 << 20)
        ),
        Refused::OverTwiceTheLimit => {
            "The files attached together are larger than a message may be. Remove one first."
                .to_owned()
        }
        Refused::ManyFiles => "Too many files are attached. Remove one first.".to_owned(),
    };
    plain(StatusCode::PAYLOAD_TOO_LARGE, text)
}

fn plain(status: StatusCode, text: String) -> Response {
    let mut response = (status, format!("{text}\n")).into_response();
    no_store(response.headers_mut());
    response
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}
