//! Who is calling, and may they do this: API keys (`Authorization: Bearer <token>`) and signed-in users
//! (the session cookie). Every write needs a principal, which becomes the timeline's actor; reads follow
//! `public_reads`.
//!
//! Handlers name the caller they need as an extractor ([`Writer`], [`Admin`], [`Reader`]), whose rejection is the
//! [`ApiError`] that says what to send instead.
//!
//! A browser calling the API with its session cookie must also send the session's CSRF token in `X-CSRF-Token`,
//! because a cross-site form post carries the cookie too.
//!
//! A third kind of caller, [`SsoUser`], is someone the organisation's identity provider signed in: on AWS, API
//! Gateway's JWT authorizer verifies the token and the Lambda glue (`flare_aws::lambda`) puts the claims it
//! passed on into the request's extensions. Nothing here reads claims from a header, so a caller cannot claim
//! to be one; `flare serve` never has one.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use flare_core::text::PersonName;
use flare_core::view::Audience;
use flare_core::{Actor, ActorKind, ApiKey, ApiKeyHash, Scope, User};

use crate::error::ApiError;
use crate::session::{CSRF_HEADER, Session};
use crate::state::AppState;

/// A caller Flare knows.
#[derive(Debug, Clone)]
pub(crate) enum Principal {
    User(User),
    Key(ApiKey),
    Sso(SsoUser),
}

impl Principal {
    pub(crate) fn actor(&self) -> Actor {
        match self {
            Self::User(u) => Actor::user(u),
            Self::Key(k) => Actor::api_key(k),
            Self::Sso(s) => s.actor(),
        }
    }

    pub(crate) fn allows(&self, scope: Scope) -> bool {
        match self {
            Self::User(u) => !u.disabled && (u.scopes.contains(&scope) || u.scopes.contains(&Scope::Admin)),
            Self::Key(k) => k.allows(scope),
            Self::Sso(s) => s.scopes.contains(&scope) || s.scopes.contains(&Scope::Admin),
        }
    }
}

/// A person or tool the organisation's identity provider signed in, taken from the claims of a token that API
/// Gateway's JWT authorizer has already verified (signature, issuer, audience, expiry). Put into a request's
/// extensions only by the Lambda glue, from the request context API Gateway wrote.
#[derive(Clone, PartialEq, Eq)]
pub struct SsoUser {
    subject: String,
    name: String,
    scopes: Vec<Scope>,
}

impl SsoUser {
    /// The caller a verified claim set names: its subject (`sub`, required), a display name (`name`, else `email`,
    /// else `preferred_username`, else the subject) and its Flare scopes. Scopes come from the token (`scope` or
    /// `scp`, space-separated, or the authorizer's own list), each either a Flare scope (`incidents:write`) or
    /// one under a resource server (`flare/incidents:write`, as Cognito names them); a token that carries none of
    /// Flare's gets `default_scopes`. `None` without a subject.
    pub fn from_claims(
        claims: &HashMap<String, String>,
        token_scopes: &[String],
        default_scopes: &[Scope],
    ) -> Option<Self> {
        let subject = claims.get("sub").map(|s| s.trim()).filter(|s| !s.is_empty())?.to_string();
        let name = ["name", "email", "preferred_username"]
            .iter()
            .filter_map(|claim| claims.get(*claim))
            .find_map(|raw| PersonName::parse("name", raw).ok())
            .map_or_else(|| subject.clone(), |n| n.to_string());
        let listed = ["scope", "scp"].iter().filter_map(|claim| claims.get(*claim)).flat_map(|v| v.split_whitespace());
        let mut scopes: Vec<Scope> = listed
            .chain(token_scopes.iter().map(String::as_str))
            .filter_map(|s| Scope::parse("scope", s.rsplit('/').next().unwrap_or(s)).ok())
            .collect();
        scopes.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        scopes.dedup();
        if scopes.is_empty() {
            scopes = default_scopes.to_vec();
        }
        Some(Self { subject, name, scopes })
    }

    /// On the timeline: a user, named as the token names them; the id says they came through single sign-on.
    pub fn actor(&self) -> Actor {
        Actor { kind: ActorKind::User, id: format!("sso:{}", self.subject), name: self.name.clone() }
    }

    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }
}

/// The subject and name are personal data: logs see the scopes only.
impl std::fmt::Debug for SsoUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoUser").field("scopes", &self.scopes).finish_non_exhaustive()
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
async fn api_writer(state: &AppState, parts: &Parts) -> Result<Principal, ApiError> {
    let principal = api_principal(state, parts, needs_write).await?;
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
async fn api_admin(state: &AppState, parts: &Parts) -> Result<Principal, ApiError> {
    let needs_admin = || {
        format!(
            "this needs an API key with scope {}: send Authorization: Bearer <key> \
             (or, from a signed-in browser, the session cookie with the X-CSRF-Token header)",
            Scope::Admin
        )
    };
    let principal = api_principal(state, parts, needs_admin).await?;
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
    parts: &Parts,
    unauthenticated: impl FnOnce() -> String,
) -> Result<Principal, ApiError> {
    // Through the SSO endpoint the Authorization header holds the token API Gateway verified, not an API key.
    if let Some(user) = parts.extensions.get::<SsoUser>() {
        return Ok(Principal::Sso(user.clone()));
    }
    let headers = &parts.headers;
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

/// [`reader`] for an API request, which may also come from a user signed in with single sign-on: staff.
async fn api_reader(state: &AppState, parts: &Parts) -> Result<Audience, ApiError> {
    if parts.extensions.get::<SsoUser>().is_some() {
        return Ok(Audience::Staff);
    }
    reader(state, &parts.headers).await
}

/// A caller allowed to change incidents.
#[derive(Debug, Clone)]
pub(crate) struct Writer(pub(crate) Principal);

impl FromRequestParts<AppState> for Writer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        api_writer(state, parts).await.map(Self)
    }
}

/// A caller allowed to manage the catalog and read the delivery ledger.
#[derive(Debug, Clone)]
pub(crate) struct Admin(pub(crate) Principal);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        api_admin(state, parts).await.map(Self)
    }
}

/// A caller allowed to read incidents (anyone, when reads are public), and the audience its answer is for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader(pub(crate) Audience);

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        api_reader(state, parts).await.map(Self)
    }
}

/// A caller who reads as staff (a live key or a signed-in user), even when reads are public: for reads that
/// quote what people typed, such as a polled sheet's bad rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StaffReader;

impl FromRequestParts<AppState> for StaffReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match api_reader(state, parts).await? {
            Audience::Staff => Ok(Self),
            Audience::Public => Err(ApiError::Unauthenticated(needs_read())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_verified_token_names_its_subject_on_the_timeline_as_a_user() {
        let user = SsoUser::from_claims(&claims(&[("sub", "00u1a2b3"), ("name", "Dana Agent")]), &[], &[]).unwrap();
        let actor = user.actor();
        assert_eq!(
            (actor.kind, actor.id.as_str(), actor.name.as_str()),
            (ActorKind::User, "sso:00u1a2b3", "Dana Agent")
        );
    }

    #[test]
    fn without_a_name_claim_the_email_then_the_subject_names_the_caller() {
        let by_email = SsoUser::from_claims(&claims(&[("sub", "s1"), ("email", "dana@example.org")]), &[], &[]);
        assert_eq!(by_email.unwrap().actor().name, "dana@example.org");
        let bare = SsoUser::from_claims(&claims(&[("sub", "s1")]), &[], &[]);
        assert_eq!(bare.unwrap().actor().name, "s1");
    }

    #[test]
    fn a_token_without_a_subject_names_nobody() {
        assert_eq!(SsoUser::from_claims(&claims(&[("name", "Dana"), ("sub", " ")]), &[], &[Scope::Admin]), None);
    }

    #[test]
    fn flare_scopes_are_read_from_the_scope_claim_also_under_a_resource_server() {
        let scope = "openid flare/incidents:write profile";
        let user = SsoUser::from_claims(&claims(&[("sub", "s1"), ("scope", scope)]), &[], &[Scope::Admin]).unwrap();
        assert_eq!(user.scopes(), [Scope::IncidentsWrite], "the token's own scopes win over the default");
    }

    #[test]
    fn a_token_naming_none_of_flares_scopes_gets_the_configured_default() {
        let user = SsoUser::from_claims(&claims(&[("sub", "s1"), ("scp", "User.Read")]), &[], &[Scope::IncidentsWrite]);
        assert_eq!(user.unwrap().scopes(), [Scope::IncidentsWrite]);
    }

    #[test]
    fn a_signed_in_caller_with_only_read_may_not_change_incidents() {
        let user = SsoUser::from_claims(&claims(&[("sub", "s1"), ("scope", "incidents:read")]), &[], &[]).unwrap();
        let principal = Principal::Sso(user);
        assert!(principal.allows(Scope::IncidentsRead) && !principal.allows(Scope::IncidentsWrite));
    }

    #[test]
    fn an_sso_users_debug_shows_neither_subject_nor_name() {
        let user = SsoUser::from_claims(&claims(&[("sub", "00u1a2b3"), ("name", "Dana Agent")]), &[], &[]).unwrap();
        let shown = format!("{user:?}");
        assert!(!shown.contains("00u1a2b3") && !shown.contains("Dana"), "{shown}");
    }
}
