//! The catalog API, for admins: create or replace a system, and read or add its subscribers.
//!
//! Subscriber lists are personal data, so even reading them needs scope `admin`; that is why these routes sit
//! with the writes in the intake router and not with the public dashboard reads. A batch of subscribers is
//! checked whole before anything is written, so a 422 leaves the store as it was.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use flare_core::text::{PersonName, SystemName};
use flare_core::{EmailAddress, FieldError, PhoneNumber, Subscriber, System, SystemId, ValidationErrors};
use serde::{Deserialize, Serialize};
use tracing::info;
use utoipa::ToSchema;

use crate::auth::Admin;
use crate::error::{ApiError, ErrorBody};
use crate::request::StrictJson;
use crate::state::AppState;

/// At most this many subscribers per `PUT /api/systems/{id}/subscribers`, so one call stays one bounded write.
pub(crate) const MAX_SUBSCRIBERS_PER_CALL: usize = 1_000;

/// `PUT /api/systems/{id}`. A blank optional field is the same as none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PutSystem)]
pub(crate) struct SystemJson {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$")]
    name: Option<String>,
    #[schema(value_type = Option<String>, max_length = 200, pattern = "^$|^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$")]
    owner: Option<String>,
    #[schema(value_type = Option<String>, max_length = 254, pattern = "^$|^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")]
    owner_email: Option<String>,
}

/// One entry of `PUT /api/systems/{id}/subscribers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewSubscriber)]
pub(crate) struct SubscriberJson {
    #[schema(value_type = Option<String>, max_length = 254, pattern = "^$|^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")]
    email: Option<String>,
    #[schema(value_type = Option<String>, pattern = "^$|^\\+[1-9][0-9]{7,14}$")]
    phone: Option<String>,
    #[schema(value_type = Option<String>, max_length = 200, pattern = "^$|^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$")]
    name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PutSubscribers)]
pub(crate) struct SubscribersJson {
    #[schema(max_items = 1000)]
    subscribers: Vec<SubscriberJson>,
}

/// A system of the catalog as admins see it, with its owner's address.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CatalogSystem)]
pub(crate) struct CatalogSystemView<'a> {
    #[schema(value_type = String)]
    id: &'a str,
    #[schema(value_type = String)]
    name: &'a str,
    #[schema(value_type = Option<String>)]
    owner: Option<&'a str>,
    // No `format: email` here: stored addresses passed the domain's own check, which is not RFC 5322's.
    #[schema(value_type = Option<String>)]
    owner_email: Option<&'a str>,
}

impl<'a> From<&'a System> for CatalogSystemView<'a> {
    fn from(s: &'a System) -> Self {
        Self {
            id: s.id.as_str(),
            name: s.name.as_str(),
            owner: s.owner.as_ref().map(PersonName::as_str),
            owner_email: s.owner_email.as_ref().map(EmailAddress::as_str),
        }
    }
}

/// A system with its subscribers.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SubscriberList)]
pub(crate) struct SubscriberListView<'a> {
    system: CatalogSystemView<'a>,
    subscribers: Vec<SubscriberView<'a>>,
}

/// A subscriber as admins see it: its system is the one of the answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Subscriber)]
struct SubscriberView<'a> {
    // No `format: email` here: stored addresses passed the domain's own check, which is not RFC 5322's.
    #[schema(value_type = Option<String>)]
    email: Option<&'a str>,
    #[schema(value_type = Option<String>)]
    phone: Option<&'a str>,
    #[schema(value_type = Option<String>)]
    name: Option<&'a str>,
}

impl<'a> From<&'a Subscriber> for SubscriberView<'a> {
    fn from(s: &'a Subscriber) -> Self {
        Self {
            email: s.email.as_ref().map(EmailAddress::as_str),
            phone: s.phone.as_ref().map(PhoneNumber::as_str),
            name: s.name.as_ref().map(PersonName::as_str),
        }
    }
}

/// The system named by the path, which must exist. A malformed id names no system, so it is a 404 too.
async fn existing_system(state: &AppState, raw: &str) -> Result<System, ApiError> {
    let not_found = || ApiError::NotFound(format!("no system {raw:?}: create it with PUT /api/systems/{{id}}"));
    let id = SystemId::parse("id", raw).map_err(|_| not_found())?;
    state.store().get_system(&id).await?.ok_or_else(not_found)
}

fn optional<T>(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<&str>,
    parse: impl Fn(&str, &str) -> Result<T, FieldError>,
) -> Option<T> {
    raw.filter(|r| !r.trim().is_empty()).and_then(|r| errors.check(parse(field, r)))
}

/// `PUT /api/systems/{id}`: creates or replaces the system; 200 with it.
#[utoipa::path(
    put,
    path = "/api/systems/{id}",
    operation_id = "putSystem",
    tag = "admin",
    summary = "Create or replace a system of the catalog",
    security(("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The system's catalog id, a slug (read in lower case)", pattern = "^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")),
    request_body(content = SystemJson, content_type = "application/json"),
    responses(
        (status = 200, description = "The system as stored", body = CatalogSystemView),
        (status = 400, description = "The body could not be read: names the field", body = ErrorBody),
        (status = 413, description = "The body is larger than this server accepts", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "Values are invalid: each field named", body = ErrorBody),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 403, description = "The caller lacks scope admin, or a signed-in browser sent no CSRF token", body = ErrorBody),
        (status = 500, description = "Internal error: opaque, with a request id", body = ErrorBody)
    )
)]
pub(crate) async fn put_system(
    State(state): State<AppState>,
    Admin(principal): Admin,
    Path(raw_id): Path<String>,
    StrictJson(json): StrictJson<SystemJson>,
) -> Result<Response, ApiError> {
    let mut errors = ValidationErrors::new();
    let id = errors.check(SystemId::parse("id", &raw_id));
    let name = match json.name.as_deref() {
        Some(n) => errors.check(SystemName::parse("name", n)),
        None => {
            errors.push("name", "is required");
            None
        }
    };
    let owner = optional(&mut errors, "owner", json.owner.as_deref(), PersonName::parse);
    let owner_email = optional(&mut errors, "owner_email", json.owner_email.as_deref(), EmailAddress::parse);
    errors.finish().map_err(ApiError::Invalid)?;
    let (Some(id), Some(name)) = (id, name) else {
        return Err(ApiError::Invalid(FieldError::new("id", "is required").into()));
    };
    let system = System { id, name, owner, owner_email };
    state.store().put_system(&system).await?;
    info!(system = %system.id, actor = %principal.actor(), "system stored");
    Ok(Json(CatalogSystemView::from(&system)).into_response())
}

/// `GET /api/systems/{id}/subscribers`.
#[utoipa::path(
    get,
    path = "/api/systems/{id}/subscribers",
    operation_id = "listSubscribers",
    tag = "admin",
    summary = "A system's subscribers",
    security(("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The system's catalog id, a slug (read in lower case)", pattern = "^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")),
    responses(
        (status = 200, description = "The system and its subscribers", body = SubscriberListView,
            headers(("Cache-Control" = String, description = "`private, no-store`: personal data"))),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 403, description = "The caller lacks scope admin, or a signed-in browser sent no CSRF token", body = ErrorBody),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 500, description = "Internal error: opaque, with a request id", body = ErrorBody)
    )
)]
pub(crate) async fn subscribers(
    State(state): State<AppState>,
    _: Admin,
    Path(raw_id): Path<String>,
) -> Result<Response, ApiError> {
    let system = existing_system(&state, &raw_id).await?;
    let subscribers = state.store().subscribers(&system.id).await?;
    let list: Vec<SubscriberView<'_>> = subscribers.iter().map(SubscriberView::from).collect();
    let body = SubscriberListView { system: CatalogSystemView::from(&system), subscribers: list };
    Ok(([(axum::http::header::CACHE_CONTROL, "private, no-store")], Json(body)).into_response())
}

/// Every entry as a subscriber of `system`, or every invalid field, named by its path.
fn parse_subscribers(system: &SystemId, entries: Vec<SubscriberJson>) -> Result<Vec<Subscriber>, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let mut parsed = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let field = |name: &str| format!("subscribers[{i}].{name}");
        let email = optional(&mut errors, &field("email"), entry.email.as_deref(), EmailAddress::parse);
        let phone = optional(&mut errors, &field("phone"), entry.phone.as_deref(), PhoneNumber::parse);
        let name = optional(&mut errors, &field("name"), entry.name.as_deref(), PersonName::parse);
        let given = |raw: &Option<String>| raw.as_deref().is_some_and(|r| !r.trim().is_empty());
        if !given(&entry.email) && !given(&entry.phone) {
            errors.push(field("email"), "an email address or a phone number is required");
            continue;
        }
        if let Ok(s) = Subscriber::new(system.clone(), email, phone, name) {
            parsed.push(s);
        }
    }
    errors.finish()?;
    Ok(parsed)
}

/// `PUT /api/systems/{id}/subscribers`: adds each subscriber, replacing one with the same contact. All or none.
#[utoipa::path(
    put,
    path = "/api/systems/{id}/subscribers",
    operation_id = "putSubscribers",
    tag = "admin",
    summary = "Add subscribers to a system, all or none",
    security(("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The system's catalog id, a slug (read in lower case)", pattern = "^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")),
    request_body(content = SubscribersJson, content_type = "application/json"),
    responses(
        (status = 200, description = "The system and all its subscribers now", body = SubscriberListView),
        (status = 400, description = "The body could not be read: names the field", body = ErrorBody),
        (status = 413, description = "The body is larger than this server accepts", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "Values are invalid: each field named", body = ErrorBody),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 403, description = "The caller lacks scope admin, or a signed-in browser sent no CSRF token", body = ErrorBody),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 500, description = "Internal error: opaque, with a request id", body = ErrorBody)
    )
)]
pub(crate) async fn put_subscribers(
    State(state): State<AppState>,
    Admin(principal): Admin,
    Path(raw_id): Path<String>,
    StrictJson(json): StrictJson<SubscribersJson>,
) -> Result<Response, ApiError> {
    if json.subscribers.len() > MAX_SUBSCRIBERS_PER_CALL {
        return Err(ApiError::Invalid(
            FieldError::new(
                "subscribers",
                format!(
                    "has {} entries; send at most {MAX_SUBSCRIBERS_PER_CALL} per call and the rest in further calls",
                    json.subscribers.len()
                ),
            )
            .into(),
        ));
    }
    let system = existing_system(&state, &raw_id).await?;
    let parsed = parse_subscribers(&system.id, json.subscribers).map_err(ApiError::Invalid)?;
    for subscriber in &parsed {
        state.store().put_subscriber(subscriber).await?;
    }
    info!(system = %system.id, count = parsed.len(), actor = %principal.actor(), "subscribers stored");
    let subscribers = state.store().subscribers(&system.id).await?;
    let list: Vec<SubscriberView<'_>> = subscribers.iter().map(SubscriberView::from).collect();
    Ok(Json(SubscriberListView { system: CatalogSystemView::from(&system), subscribers: list }).into_response())
}
