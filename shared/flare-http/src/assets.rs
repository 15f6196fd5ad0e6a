//! The static files pages load, compiled into the binary so a page works on an intranet with no internet:
//! today only the status page's script (`assets/status.js`). Each answers with a strong ETag and `no-cache`,
//! so a browser revalidates and a new release's script is never served stale from a cache.

use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::pages;

const STATUS_JS: &str = include_str!("../assets/status.js");

static STATUS_JS_ETAG: LazyLock<String> = LazyLock::new(|| pages::strong_etag(STATUS_JS.as_bytes()));

/// `GET /assets/status.js`: the status page's keyboard navigation and refresh.
pub(crate) async fn status_js(headers: HeaderMap) -> Response {
    let etag = STATUS_JS_ETAG.as_str();
    let mut response = if pages::not_modified(&headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"))], STATUS_JS)
            .into_response()
    };
    let out = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        out.insert(header::ETAG, value);
    }
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
