//! How answers are made that more than one module gives: JSON with validators (and 304 when the client's copy is
//! current), and the log line of a committed command. Pages, the API and the OpenAPI document share these, so
//! none of them imports another's handlers.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flare_core::view::Audience;
use flare_core::{Actor, Committed};
use tracing::info;

use crate::error::ApiError;
use crate::read_cache::Answer;
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

/// How a read answer may be kept by caches. Staff answers are `private`. A public answer is `no-cache` (every
/// view revalidates) unless a shared cache is configured (`FLARE_SHARED_CACHE_SECS`, for a CDN in front of the
/// status page), which may then serve it for that long while browsers still revalidate. Both vary by the
/// credentials, since staff see more under the same address.
pub(crate) fn cache_headers(out: &mut HeaderMap, state: &AppState, audience: Audience) {
    let shared = state.config().shared_cache_secs;
    let policy = match audience {
        Audience::Staff => HeaderValue::from_static("private, no-cache"),
        Audience::Public if shared == 0 => HeaderValue::from_static("no-cache"),
        Audience::Public => HeaderValue::from_str(&format!(
            "public, max-age=0, s-maxage={shared}, stale-while-revalidate={shared}, stale-if-error=300"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("no-cache")),
    };
    out.insert(header::CACHE_CONTROL, policy);
    if audience == Audience::Staff || state.config().public_reads {
        out.append(header::VARY, HeaderValue::from_static("authorization, cookie"));
    }
}

/// `answer` with its validators and caching policy, or a bodiless 304 when the client's copy is current.
pub(crate) fn conditional(
    state: &AppState,
    request: &HeaderMap,
    answer: Answer,
    content_type: &'static str,
    audience: Audience,
) -> Response {
    let fresh = answer.etag.to_str().is_ok_and(|etag| crate::pages::not_modified(request, etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], answer.body).into_response()
    };
    let out = response.headers_mut();
    out.insert(header::ETAG, answer.etag);
    cache_headers(out, state, audience);
    response
}

/// `body` as JSON with validators (its hash, or `etag`), or 304 when the client's copy is current.
pub(crate) fn cached_json(
    state: &AppState,
    headers: &HeaderMap,
    body: Vec<u8>,
    etag: Option<String>,
    audience: Audience,
) -> Result<Response, ApiError> {
    let answer = match etag {
        Some(etag) => Answer { etag: HeaderValue::from_str(&etag).map_err(ApiError::internal)?, body: body.into() },
        None => Answer::hashed(body)?,
    };
    Ok(conditional(state, headers, answer, "application/json", audience))
}
