//! Signing in and out of the web form. Signing out ends the user's sessions on every browser, not just this one.
//!
//! The login page sets a pre-session cookie so that its form carries a CSRF token like every other form. A
//! failed sign-in says one thing whatever the reason (no such user, wrong password, disabled account), and
//! takes about as long, so the page never tells whether an account exists.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use flare_core::Username;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth;
use crate::error::ApiError;
use crate::pages::{self, Nav, PageError};
use crate::password::verify_password;
use crate::request::{FormBody, FormFields};
use crate::session::{CSRF_FIELD, LOGIN_COOKIE, LoginNonce, SESSION_COOKIE, Session, clear_cookie};
use crate::state::AppState;

/// The one message for every failed sign-in.
pub(crate) const SIGN_IN_FAILED: &str =
    "Sign-in failed. Check your username and password; if they are right, ask an admin whether your account is active.";
const FORM_EXPIRED: &str = "The sign-in form had expired. Please sign in again.";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    csrf: String,
    next: String,
    username: String,
    problem: Option<&'static str>,
}

/// Only a path on this site, so that a crafted link cannot send someone elsewhere after signing in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => "/form".to_string(),
    }
}

/// The login page, with a pre-session cookie when the browser has no valid one.
fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: String,
    username: String,
    problem: Option<&'static str>,
) -> Result<Response, ApiError> {
    let key = &state.config().session_key;
    let existing = LoginNonce::from_headers(headers, key, state.now());
    let nonce = existing.clone().unwrap_or_else(|| LoginNonce::start(state.now()));
    let page = LoginPage { nav: Nav::anonymous(), csrf: nonce.csrf_token(key), next, username, problem };
    let mut response = pages::html(status, &page)?;
    if existing.is_none() {
        response.headers_mut().append(header::SET_COOKIE, nonce.set_cookie(key, state.config().secure_cookies));
    }
    Ok(response)
}

/// Where to go after signing in.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ShowQuery {
    /// A path on this site; anything else goes to the form.
    next: Option<String>,
}

/// The sign-in form's fields.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginPost {
    /// The token of the login page's pre-session cookie.
    csrf: Option<String>,
    /// Where to go after signing in: a path on this site.
    next: Option<String>,
    #[schema(max_length = 200)]
    username: String,
    #[schema(max_length = 1024)]
    password: String,
}

impl LoginPost {
    fn take(mut fields: FormFields) -> Result<Self, ApiError> {
        let post = Self {
            csrf: fields.take(CSRF_FIELD),
            next: fields.take("next"),
            username: fields.take("username").unwrap_or_default(),
            password: fields.take("password").unwrap_or_default(),
        };
        fields.finish()?;
        Ok(post)
    }
}

/// The sign-out form's fields.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogoutPost {
    /// The session's CSRF token.
    csrf: Option<String>,
}

/// `GET /login?next=/form`.
#[utoipa::path(
    get,
    path = "/login",
    operation_id = "loginPage",
    tag = "pages",
    summary = "The sign-in page",
    security(()),
    params(ShowQuery),
    responses(
        (status = 200, description = "The sign-in form, with a pre-session cookie", content_type = "text/html", body = String),
        (status = 303, description = "Already signed in: where `next` points", headers(("Location" = String, description = "Where to go")))
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ShowQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    // A garbled query string is a link to the login page all the same.
    let next = query.ok().and_then(|Query(q)| q.next);
    let next = safe_next(next.as_deref());
    if auth::session_user(&state, &headers).await?.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    // Fire and forget: the post that follows this page then finds the dummy hash ready.
    drop(tokio::task::spawn_blocking(crate::password::warm_up));
    Ok(login_page(&state, &headers, StatusCode::OK, next, String::new(), None)?)
}

/// `POST /login`.
#[utoipa::path(
    post,
    path = "/login",
    operation_id = "login",
    tag = "pages",
    summary = "Sign in",
    security(()),
    request_body(content = LoginPost, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed in: the session cookie is set; on to `next`", headers(("Location" = String, description = "Where to go"))),
        (status = 400, description = "The form could not be read: an unknown or repeated field", content_type = "text/html", body = String),
        (status = 401, description = "Sign-in failed, whatever the reason", content_type = "text/html", body = String),
        (status = 403, description = "The sign-in form had expired (no valid pre-session cookie or CSRF token)", content_type = "text/html", body = String),
        (status = 413, description = "The body is larger than this server accepts", content_type = "text/html", body = String),
        (status = 415, description = "Not a urlencoded form", content_type = "text/html", body = String),
        (status = 500, description = "Internal error: opaque, with a request id", content_type = "text/html", body = String),
        (status = 503, description = "Too many sign-ins at once: try again shortly", content_type = "text/html", body = String)
    )
)]
pub(crate) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<FormBody, ApiError>,
) -> Result<Response, PageError> {
    let FormBody(fields) = body?;
    let LoginPost { csrf, next, username, password } = LoginPost::take(fields)?;
    let next = safe_next(next.as_deref());

    let key = &state.config().session_key;
    let nonce = LoginNonce::from_headers(&headers, key, state.now());
    if !nonce.is_some_and(|n| n.csrf_ok(key, csrf.as_deref())) {
        let mut fresh = HeaderMap::new();
        fresh.extend(headers.iter().filter(|(k, _)| *k != header::COOKIE).map(|(k, v)| (k.clone(), v.clone())));
        return Ok(login_page(&state, &fresh, StatusCode::FORBIDDEN, next, username, Some(FORM_EXPIRED))?);
    }

    let user = match Username::parse("username", &username) {
        Ok(name) => state.store().get_user(&name).await?,
        Err(_) => None,
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let permit = state
        .password_check_permit()
        .ok_or_else(|| ApiError::Busy("too many sign-ins at once: try again in a few seconds".into()))?;
    // Argon2 is deliberately slow; keep it off the async workers, and hold the permit until it is done.
    let matches = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        verify_password(&password, stored.as_deref())
    })
    .await
    .map_err(ApiError::internal)?;
    let Some(user) = user.filter(|u| matches && !u.disabled) else {
        return Ok(login_page(&state, &headers, StatusCode::UNAUTHORIZED, next, username, Some(SIGN_IN_FAILED))?);
    };

    let secure = state.config().secure_cookies;
    let session = Session::start(user.username.clone(), state.now());
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().append(header::SET_COOKIE, session.set_cookie(key, secure));
    response.headers_mut().append(header::SET_COOKIE, clear_cookie(LOGIN_COOKIE, secure));
    Ok(response)
}

#[utoipa::path(
    post,
    path = "/logout",
    operation_id = "logout",
    tag = "pages",
    summary = "Sign out everywhere",
    security((), ("session" = [])),
    request_body(content = LogoutPost, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed out: on to the sign-in page", headers(("Location" = String, description = "Where to go"))),
        (status = 400, description = "The form could not be read", content_type = "text/html", body = String),
        (status = 403, description = "The sign-out did not carry the session's CSRF token", content_type = "text/html", body = String),
        (status = 413, description = "The body is larger than this server accepts", content_type = "text/html", body = String),
        (status = 415, description = "Not a urlencoded form", content_type = "text/html", body = String),
        (status = 500, description = "Internal error: opaque, with a request id", content_type = "text/html", body = String)
    )
)]
/// `POST /logout`: signs the user out everywhere. A session is a stateless cookie, so the only way to make a copy
/// of this one stop working is to end every session the user holds, on every browser. Needs the session's CSRF
/// token, so another site cannot sign people out.
pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<FormBody, ApiError>,
) -> Result<Response, PageError> {
    let FormBody(mut fields) = body?;
    let LogoutPost { csrf } = LogoutPost { csrf: fields.take(CSRF_FIELD) };
    fields.finish()?;
    let key = &state.config().session_key;
    if let Some((session, mut user)) = auth::session_user(&state, &headers).await? {
        if !session.csrf_ok(key, csrf.as_deref()) {
            return Err(ApiError::Forbidden("This sign-out did not come from Flare's own page.".into()).into());
        }
        user.end_sessions(state.now());
        // A user removed meanwhile has no sessions left to end.
        state.store().update_user(&user).await?;
    }
    let mut response = Redirect::to("/login").into_response();
    let clear: HeaderValue = clear_cookie(SESSION_COOKIE, state.config().secure_cookies);
    response.headers_mut().append(header::SET_COOKIE, clear);
    Ok(response)
}
