//! The write API: open, update, resolve, reopen and annotate incidents, for machine clients with a scoped API key.
//!
//! Each handler names its caller ([`Writer`]) and body ([`crate::request`]) as extractors, and hands one command to the
//! service, which commits it in one store transaction. `Idempotency-Key` makes a retry answer as the first
//! request did; `If-Match` (or `version`) makes a change conditional on the version the client saw.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flare_core::view::CommittedView;
use flare_core::{Channel, Command, Committed, Source};

use crate::auth::{Principal, Writer};
use crate::error::ApiError;
use crate::request::{
    ActionJson, IdempotencyKey, IfMatch, JsonOrEmpty, JsonOrForm, OpenForm, OpenJson, UpdateJson, path_ticket,
};
use crate::respond::log_commit;
use crate::state::AppState;

/// The committed incident as it now stands, with its version as ETag.
async fn answer(state: &AppState, committed: Committed, status: StatusCode) -> Result<Response, ApiError> {
    let incident = state.store().get(committed.ticket).await?.ok_or_else(|| {
        ApiError::internal(flare_core::StoreError::Corrupt(format!("{} vanished after a commit", committed.ticket)))
    })?;
    let etag = HeaderValue::from_str(&format!("\"{}\"", incident.version)).map_err(ApiError::internal)?;
    let mut response = (status, Json(CommittedView::new(committed, &incident))).into_response();
    response.headers_mut().insert(header::ETAG, etag);
    if status == StatusCode::CREATED {
        let location =
            HeaderValue::from_str(&format!("/api/incidents/{}", committed.ticket)).map_err(ApiError::internal)?;
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `POST /api/incidents`: JSON or urlencoded; 201 with `Location`.
pub(crate) async fn open(
    State(state): State<AppState>,
    Writer(principal): Writer,
    IdempotencyKey(key): IdempotencyKey,
    body: JsonOrForm<OpenJson>,
) -> Result<Response, ApiError> {
    let input = match body {
        JsonOrForm::Json(json) => json.into_input(),
        JsonOrForm::Form(mut fields) => {
            let form = OpenForm::take(&mut fields);
            fields.finish()?;
            form.to_input()
        }
    };
    let catalog = if input.has_systems() { state.store().list_systems().await? } else { Vec::new() };
    let command = input.into_command(&catalog, Source::new(Channel::Api)).map_err(ApiError::Invalid)?;
    let actor = principal.actor();
    let committed = state.service().open(command, &actor, key.as_deref()).await?;
    log_commit(&committed, &actor, "api");
    answer(&state, committed, StatusCode::CREATED).await
}

async fn execute(
    state: &AppState,
    principal: &Principal,
    key: Option<String>,
    command: Command,
) -> Result<Response, ApiError> {
    let actor = principal.actor();
    let committed = state.service().execute(command, &actor, key.as_deref()).await?;
    log_commit(&committed, &actor, "api");
    answer(state, committed, StatusCode::OK).await
}

/// `PATCH /api/incidents/{ticket}`.
pub(crate) async fn update(
    State(state): State<AppState>,
    Writer(principal): Writer,
    Path(ticket): Path<String>,
    if_match: IfMatch,
    IdempotencyKey(key): IdempotencyKey,
    JsonOrEmpty(dto): JsonOrEmpty<UpdateJson>,
) -> Result<Response, ApiError> {
    let ticket = path_ticket(&ticket)?;
    let version = if_match.with_body(dto.version)?;
    let catalog = if dto.has_systems() { state.store().list_systems().await? } else { Vec::new() };
    let command = dto.into_input().into_command(Some(ticket), version, &catalog).map_err(ApiError::Invalid)?;
    execute(&state, &principal, key, Command::Update(Box::new(command))).await
}

/// `POST /api/incidents/{ticket}/resolve`, `/reopen` and `/notes`: the body type says which.
pub(crate) async fn action<J: ActionJson>(
    State(state): State<AppState>,
    Writer(principal): Writer,
    Path(ticket): Path<String>,
    if_match: IfMatch,
    IdempotencyKey(key): IdempotencyKey,
    JsonOrEmpty(dto): JsonOrEmpty<J>,
) -> Result<Response, ApiError> {
    let ticket = path_ticket(&ticket)?;
    let version = if_match.with_body(dto.version())?;
    let command = dto.into_command(ticket, version).map_err(ApiError::Invalid)?;
    execute(&state, &principal, key, command).await
}
