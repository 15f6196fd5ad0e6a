//! What every HTML page shares: the account bar, the security headers, revalidation for pages that are polled,
//! and the error page.
//!
//! Pages are askama templates under `templates/`, auto-escaped. A page handler fails with a [`PageError`],
//! which reuses [`ApiError`]'s status codes and messages but answers in HTML, or sends the browser to sign in.

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use flare_core::User;
use flare_core::view::Audience;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::read_cache::Answer;
use crate::session::Session;
use crate::state::AppState;

/// Inline styles only; no scripts, frames or foreign origins.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The status page's policy: the same, plus the script Flare serves itself (never inline, never foreign) and
/// its requests back to this origin for the refresh.
const SCRIPTED_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
     script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Where a revalidated page's template leaves room for its own ETag, so its script can send `If-None-Match`
/// (a document's response headers are out of a script's reach). The ETag hashes the body with this slot
/// still empty, so equal ETags still mean byte-equal bodies.
pub(crate) const ETAG_SLOT: &str = r#"<meta name="flare-etag" content="">"#;

/// The account bar: who is signed in, and the token their sign-out button posts.
#[derive(Debug, Clone, Default)]
pub(crate) struct Nav {
    pub(crate) user: Option<String>,
    pub(crate) csrf: String,
}

impl Nav {
    pub(crate) fn signed_in(state: &AppState, session: &Session, user: &User) -> Self {
        Self { user: Some(user.display_name.to_string()), csrf: session.csrf_token(&state.config().session_key) }
    }

    pub(crate) fn anonymous() -> Self {
        Self::default()
    }
}

/// A rendered page with the headers every page carries.
pub(crate) fn html(status: StatusCode, template: &impl Template) -> Result<Response, ApiError> {
    let body = template.render()?;
    let mut response = (status, body).into_response();
    page_headers(response.headers_mut(), CONTENT_SECURITY_POLICY);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn page_headers(headers: &mut HeaderMap, policy: &'static str) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
}

/// A strong ETag over `bytes`: 128 bits of SHA-256, quoted.
pub(crate) fn strong_etag(bytes: &[u8]) -> String {
    format!("\"{}\"", &hex::encode(Sha256::digest(bytes))[..32])
}

/// Whether the client's `If-None-Match` already names `etag` (or `*`). A weak tag matches too: `If-None-Match`
/// compares weakly.
pub(crate) fn not_modified(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

/// A page its script polls, made: a strong ETag over the body (with the ETag slot still empty, so equal ETags
/// mean byte-equal bodies), and the body with its ETag in the slot for the script to send back.
pub(crate) fn revalidated_answer(template: &impl Template) -> Result<Answer, ApiError> {
    let body = template.render()?;
    let etag = strong_etag(body.as_bytes());
    let etag_value = HeaderValue::from_str(&etag).map_err(ApiError::internal)?;
    let body = body.replacen(ETAG_SLOT, &format!(r#"<meta name="flare-etag" content="{}">"#, &etag[1..33]), 1);
    Ok(Answer { etag: etag_value, body: body.into() })
}

/// A polled page's answer as a response: `no-cache` (or a shared cache's policy, for the public) so every view
/// revalidates, and a bodiless 304 when the client already holds it.
pub(crate) fn revalidated_html(state: &AppState, request: &HeaderMap, answer: Answer, audience: Audience) -> Response {
    let mut response = crate::respond::conditional(state, request, answer, "text/html; charset=utf-8", audience);
    page_headers(response.headers_mut(), SCRIPTED_CONTENT_SECURITY_POLICY);
    response
}

/// Where a browser goes to sign in and come back to `next`.
pub(crate) fn sign_in_redirect(next: &str) -> Response {
    let next: String = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    Redirect::to(&format!("/login?{next}")).into_response()
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Nav,
    status: u16,
    heading: &'static str,
    message: String,
    request_id: Option<String>,
}

/// Why a page could not be shown.
#[derive(Debug)]
pub(crate) enum PageError {
    Api(ApiError),
    /// The browser must sign in first, then come back to this path.
    SignIn {
        next: String,
    },
}

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(e: E) -> Self {
        Self::Api(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let error = match self {
            Self::SignIn { next } => return sign_in_redirect(&next),
            Self::Api(e) => e,
        };
        let status = error.status();
        let (message, request_id) = (error.client_message(), error.log_internal());
        let heading = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "Not allowed",
            s if s.is_server_error() => "Something went wrong",
            _ => "This request could not be handled",
        };
        let page = ErrorPage { nav: Nav::anonymous(), status: status.as_u16(), heading, message, request_id };
        // If even the error page fails, fall back to plain text with the same status.
        html(status, &page).unwrap_or_else(|_| (status, "error").into_response())
    }
}
