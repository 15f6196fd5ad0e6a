//! Who is calling, and may they do this: API keys (`Authorization: Bearer <token>`) and signed-in users
//! (the session cookie). Every write needs a principal, which becomes the timeline's actor; reads follow
//! `public_reads`.
//!
//! Handlers name the caller they need as an extractor ([`Writer`], [`Admin`], [`Reader`]), whose rejection is the
//! [`ApiError`] that says what to send instead.
//!
//! A browser calling the API with its session cookie must also send the session's CSRF token in `X-CSRF-Token`,
//! because a cross-site form post carries the cookie too.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use flare_core::view::Audience;
use flare_core::{Actor, ApiKey, ApiKeyHash, Scope, User};

use crate::error::ApiError;
use crate::session::{CSRF_HEADER, Session};
use crate::state::AppState;

/// A caller Flare knows.
#[derive(Debug, Clone)]
pub(crate) enum Principal {
    User(User),
    Key(ApiKey),
}

impl Principal {
    pub(crate) fn actor(&self) -> Actor {
        match self {
            Self::User(u) => Actor::user(u),
            Self::Key(k) => Actor::api_key(k),
        }
    }

    pub(crate) fn allows(&self, scope: Scope) -> bool {
        match self {
            Self::User(u) => !u.disabled && (u.scopes.contains(&scope) || u.scopes.contains(&Scope::Admin)),
            Self::Key(k) => k.allows(scope),
        }
    }
}

fn needs_write() -> String {
    format!(
        "this needs an API key with scope {}: send Authorization: Bearer <key> \
         (or, from a signed-in browser, the session cookie with the X-CSRF-Token header)",
        Scope::IncidentsWrite
    )
}

fn needs_read() -> String {
    format!(
        "reading incidents needs an API key with scope {}: send Authorization: Bearer <key>, or sign in",
        Scope::IncidentsRead
    )
}

/// The API key named by the `Authorization` header: `None` without the header, 401 when it is not a live key.
async fn bearer_key(state: &AppState, headers: &HeaderMap) -> Result<Option<ApiKey>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::Unauthenticated("the Authorization header must be: Bearer <key>".into()))?;
    let key = state.store().find_api_key(&ApiKeyHash::of_token(token)).await?;
    match key {
        Some(k) if k.revoked_at.is_none() => Ok(Some(k)),
        _ => Err(ApiError::Unauthenticated("this API key is not valid: it is unknown or revoked".into())),
    }
}

/// The signed-in user of the request, if its session cookie is valid, the user still exists and is enabled, and
/// the session was issued after the user's sessions were last ended (sign-out, password change).
pub(crate) async fn session_user(state: &AppState, headers: &HeaderMap) -> Result<Option<(Session, User)>, ApiError> {
    let Some(session) = Session::from_headers(headers, &state.config().session_key, state.now()) else {
        return Ok(None);
    };
    let user = state.store().get_user(&session.username).await?;
    Ok(user.filter(|u| u.accepts_session_issued_at(session.issued_at)).map(|u| (session, u)))
}

/// The principal allowed to change incidents through the API, or why not.
async fn api_writer(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let principal = api_principal(state, headers, needs_write).await?;
    if !principal.allows(Scope::IncidentsWrite) {
        return Err(ApiError::Forbidden(format!(
            "{} may not change incidents: that needs scope {} (ask an admin)",
            principal.actor().name,
            Scope::IncidentsWrite
        )));
    }
    Ok(principal)
}

/// The principal allowed to manage the catalog and its subscribers and to read the delivery ledger (all personal
/// data), or why not.
async fn api_admin(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let needs_admin = || {
        format!(
            "this needs an API key with scope {}: send Authorization: Bearer <key> \
             (or, from a signed-in browser, the session cookie with the X-CSRF-Token header)",
            Scope::Admin
        )
    };
    let principal = api_principal(state, headers, needs_admin).await?;
    if !principal.allows(Scope::Admin) {
        return Err(ApiError::Forbidden(format!(
            "{} may not do this: managing systems and subscribers, and reading who was notified, need scope {} \
             (ask an admin)",
            principal.actor().name,
            Scope::Admin
        )));
    }
    Ok(principal)
}

/// The caller of an API call, from its key or its signed-in session (with the CSRF token); `unauthenticated`
/// says what to send when there is neither.
async fn api_principal(
    state: &AppState,
    headers: &HeaderMap,
    unauthenticated: impl FnOnce() -> String,
) -> Result<Principal, ApiError> {
    let principal = if let Some(key) = bearer_key(state, headers).await? {
        Principal::Key(key)
    } else {
        match session_user(state, headers).await? {
            Some((session, user)) => {
                let token = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
                if !session.csrf_ok(&state.config().session_key, token) {
                    return Err(ApiError::Forbidden(
                        "a signed-in browser must send the session's CSRF token in the X-CSRF-Token header".into(),
                    ));
                }
                Principal::User(user)
            }
            None => return Err(ApiError::Unauthenticated(unauthenticated())),
        }
    };
    Ok(principal)
}

/// Who the request reads as: staff with a live API key (every scope includes reading) or as a signed-in user;
/// otherwise the public when reads are public, and 401 when they are not. A key that is sent but not valid is
/// refused even when reads are public, so an integration learns its key is wrong instead of quietly seeing less.
pub(crate) async fn reader(state: &AppState, headers: &HeaderMap) -> Result<Audience, ApiError> {
    if bearer_key(state, headers).await?.is_some() || session_user(state, headers).await?.is_some() {
        return Ok(Audience::Staff);
    }
    if state.config().public_reads {
        return Ok(Audience::Public);
    }
    Err(ApiError::Unauthenticated(needs_read()))
}

/// A caller allowed to change incidents.
#[derive(Debug, Clone)]
pub(crate) struct Writer(pub(crate) Principal);

impl FromRequestParts<AppState> for Writer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        api_writer(state, &parts.headers).await.map(Self)
    }
}

/// A caller allowed to manage the catalog and read the delivery ledger.
#[derive(Debug, Clone)]
pub(crate) struct Admin(pub(crate) Principal);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        api_admin(state, &parts.headers).await.map(Self)
    }
}

/// A caller allowed to read incidents (anyone, when reads are public), and the audience its answer is for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader(pub(crate) Audience);

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        reader(state, &parts.headers).await.map(Self)
    }
}

/// A caller who reads as staff (a live key or a signed-in user), even when reads are public: for reads that
/// quote what people typed, such as a polled sheet's bad rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StaffReader;

impl FromRequestParts<AppState> for StaffReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match reader(state, &parts.headers).await? {
            Audience::Staff => Ok(Self),
            Audience::Public => Err(ApiError::Unauthenticated(needs_read())),
        }
    }
}
