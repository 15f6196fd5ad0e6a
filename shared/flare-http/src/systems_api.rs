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

use crate::auth::Admin;
use crate::error::ApiError;
use crate::request::StrictJson;
use crate::state::AppState;

/// At most this many subscribers per `PUT /api/systems/{id}/subscribers`, so one call stays one bounded write.
pub(crate) const MAX_SUBSCRIBERS_PER_CALL: usize = 1_000;

/// `PUT /api/systems/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SystemJson {
    name: Option<String>,
    owner: Option<String>,
    owner_email: Option<String>,
}

/// One entry of `PUT /api/systems/{id}/subscribers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubscriberJson {
    email: Option<String>,
    phone: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubscribersJson {
    subscribers: Vec<SubscriberJson>,
}

/// A subscriber as admins see it: its system is the one of the answer.
#[derive(Debug, Serialize)]
struct SubscriberView<'a> {
    email: Option<&'a str>,
    phone: Option<&'a str>,
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
    Ok(Json(system).into_response())
}

/// `GET /api/systems/{id}/subscribers`.
pub(crate) async fn subscribers(
    State(state): State<AppState>,
    _: Admin,
    Path(raw_id): Path<String>,
) -> Result<Response, ApiError> {
    let system = existing_system(&state, &raw_id).await?;
    let subscribers = state.store().subscribers(&system.id).await?;
    let list: Vec<SubscriberView<'_>> = subscribers.iter().map(SubscriberView::from).collect();
    let body = serde_json::json!({ "system": system, "subscribers": list });
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
    Ok(Json(serde_json::json!({ "system": system, "subscribers": list })).into_response())
}
