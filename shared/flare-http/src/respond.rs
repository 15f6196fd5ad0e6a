//! How answers are made that more than one module gives: JSON with validators (and 304 when the client's copy is
//! current), and the log line of a committed command. Pages, the API and the OpenAPI document share these, so
//! none of them imports another's handlers.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flare_core::{Actor, Committed};
use sha2::{Digest, Sha256};
use tracing::info;

use crate::error::ApiError;
use crate::state::AppState;

/// Records a commit in the log: who changed what, never the content.
pub(crate) fn log_commit(committed: &Committed, actor: &Actor, channel: &'static str) {
    info!(
        ticket = %committed.ticket,
        version = committed.version,
        replayed = committed.replayed,
        actor = %actor,
        channel,
        "incident command committed"
    );
}

/// `body` as JSON with validators, or 304 when the client's copy is current.
pub(crate) fn cached_json(
    state: &AppState,
    headers: &HeaderMap,
    body: Vec<u8>,
    etag: Option<String>,
) -> Result<Response, ApiError> {
    let etag = etag.unwrap_or_else(|| format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..32]));
    let etag_value = HeaderValue::from_str(&etag).map_err(ApiError::internal)?;
    let private = !state.config().public_reads;
    let cache = HeaderValue::from_static(if private { "private, no-cache" } else { "no-cache" });
    let fresh = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag);
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
    };
    let out = response.headers_mut();
    out.insert(header::ETAG, etag_value);
    out.insert(header::CACHE_CONTROL, cache);
    if private {
        out.append(header::VARY, HeaderValue::from_static("authorization, cookie"));
    }
    Ok(response)
}
