//! The static files pages load, compiled into the binary so a page works on an intranet with no internet: the
//! status page's script (`assets/status.js`) and the icon every page names (`assets/flare.svg`, so browsers do
//! not ask for a missing `/favicon.ico`). Each answers with a strong ETag and `no-cache`, so a browser
//! revalidates and a new release's file is never served stale from a cache.

use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::pages;

const STATUS_JS: &str = include_str!("../assets/status.js");
const FLARE_SVG: &str = include_str!("../assets/flare.svg");

static STATUS_JS_ETAG: LazyLock<String> = LazyLock::new(|| pages::strong_etag(STATUS_JS.as_bytes()));
static FLARE_SVG_ETAG: LazyLock<String> = LazyLock::new(|| pages::strong_etag(FLARE_SVG.as_bytes()));

/// `GET /assets/status.js`: the status page's keyboard navigation and refresh.
#[utoipa::path(
    get,
    path = "/assets/status.js",
    operation_id = "statusScript",
    tag = "pages",
    summary = "The status page's script",
    params(("If-None-Match" = Option<String>, Header, nullable = false, description = "The ETag of the browser's copy")),
    responses(
        (status = 200, description = "The script", content_type = "text/javascript", body = String, headers(("ETag" = String, description = "Validator for If-None-Match"))),
        (status = 304, description = "The browser's copy is current")
    )
)]
pub(crate) async fn status_js(headers: HeaderMap) -> Response {
    serve(&headers, STATUS_JS, "text/javascript; charset=utf-8", &STATUS_JS_ETAG)
}

/// `GET /assets/flare.svg`: the icon.
#[utoipa::path(
    get,
    path = "/assets/flare.svg",
    operation_id = "icon",
    tag = "pages",
    summary = "The icon every page names",
    params(("If-None-Match" = Option<String>, Header, nullable = false, description = "The ETag of the browser's copy")),
    responses(
        (status = 200, description = "The icon", content_type = "image/svg+xml", body = String, headers(("ETag" = String, description = "Validator for If-None-Match"))),
        (status = 304, description = "The browser's copy is current")
    )
)]
pub(crate) async fn flare_svg(headers: HeaderMap) -> Response {
    serve(&headers, FLARE_SVG, "image/svg+xml", &FLARE_SVG_ETAG)
}

fn serve(request: &HeaderMap, body: &'static str, content_type: &'static str, etag: &str) -> Response {
    let mut response = if pages::not_modified(request, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body).into_response()
    };
    let out = response.headers_mut();
    // The tag is hex in quotes, always a valid header value; were it not, the file is still served.
    if let Ok(value) = HeaderValue::from_str(etag) {
        out.insert(header::ETAG, value);
    }
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
