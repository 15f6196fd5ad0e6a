//! What every HTML page shares: the account bar, the security headers, and the error page.
//!
//! Pages are askama templates under `templates/`, auto-escaped. A page handler fails with a [`PageError`],
//! which reuses [`ApiError`]'s status codes and messages but answers in HTML, or sends the browser to sign in.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use flare_core::User;

use crate::error::ApiError;
use crate::session::Session;
use crate::state::AppState;

/// Inline styles only; no scripts, frames or foreign origins.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

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
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
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
