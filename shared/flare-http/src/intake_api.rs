//! The write API: open, update, resolve, reopen and annotate incidents, for machine clients with a scoped API key.
//!
//! Each handler authenticates, reads the body strictly ([`crate::request`]), and hands one command to the
//! service, which commits it in one store transaction. `Idempotency-Key` makes a retry answer as the first
//! request did; `If-Match` (or `version`) makes a change conditional on the version the client saw.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flare_core::view::CommittedView;
use flare_core::{Actor, Channel, Command, Committed, Source, TicketNumber};
use tracing::info;

use crate::auth::{self, Principal};
use crate::error::ApiError;
use crate::request::{self, ActionJson, BodyKind, FormFields, OpenForm, OpenJson, UpdateJson};
use crate::state::AppState;

const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The `Idempotency-Key` header, if sent.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    headers
        .get(IDEMPOTENCY_HEADER)
        .map(|v| {
            v.to_str()
                .map(str::to_string)
                .map_err(|_| ApiError::malformed("Idempotency-Key", "must be printable ASCII"))
        })
        .transpose()
}

/// Records a commit in the log: who changed what, never the content.
pub(crate) fn log_commit(committed: &Committed, actor: &Actor, channel: &'static str) {
    info!(
        ticket = %committed.ticket,
        version = committed.version,
        replayed = committed.replayed,
        actor = %actor,
        channel,
        "incident command committed"
    );
}

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
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let principal = auth::api_writer(&state, &headers).await?;
    let bytes = request::body(body)?;
    let input = match request::body_kind(&headers, &bytes, true)? {
        BodyKind::Json => request::json::<OpenJson>(&bytes)?.into_input(),
        BodyKind::Form => {
            let mut fields = FormFields::parse(&bytes)?;
            let form = OpenForm::take(&mut fields);
            fields.finish()?;
            form.to_input()
        }
        BodyKind::Empty => return Err(ApiError::malformed("body", "is required")),
    };
    let catalog = if input.has_systems() { state.store().list_systems().await? } else { Vec::new() };
    let command = input.into_command(&catalog, Source::new(Channel::Api)).map_err(ApiError::Invalid)?;
    let key = idempotency_key(&headers)?;
    let actor = principal.actor();
    let committed = state.service().open(command, &actor, key.as_deref()).await?;
    log_commit(&committed, &actor, "api");
    answer(&state, committed, StatusCode::CREATED).await
}

/// A JSON body of a command on an existing incident; an empty body is `{}`.
fn json_body<T: serde::de::DeserializeOwned + Default>(headers: &HeaderMap, bytes: &Bytes) -> Result<T, ApiError> {
    match request::body_kind(headers, bytes, false)? {
        BodyKind::Empty => Ok(T::default()),
        _ => request::json(bytes),
    }
}

async fn execute(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    command: Command,
) -> Result<Response, ApiError> {
    let key = idempotency_key(headers)?;
    let actor = principal.actor();
    let committed = state.service().execute(command, &actor, key.as_deref()).await?;
    log_commit(&committed, &actor, "api");
    answer(state, committed, StatusCode::OK).await
}

/// The caller, the ticket and the body, in the order their errors are reported.
async fn prelude(
    state: &AppState,
    headers: &HeaderMap,
    ticket: &str,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Principal, TicketNumber, Bytes), ApiError> {
    let principal = auth::api_writer(state, headers).await?;
    let ticket = request::path_ticket(ticket)?;
    Ok((principal, ticket, request::body(body)?))
}

/// `PATCH /api/incidents/{ticket}`.
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(ticket): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (principal, ticket, bytes) = prelude(&state, &headers, &ticket, body).await?;
    let dto: UpdateJson = json_body(&headers, &bytes)?;
    let version = request::expected_version(&headers, dto.version)?;
    let catalog = if dto.has_systems() { state.store().list_systems().await? } else { Vec::new() };
    let command = dto.into_input().into_command(Some(ticket), version, &catalog).map_err(ApiError::Invalid)?;
    execute(&state, &principal, &headers, Command::Update(Box::new(command))).await
}

/// `POST /api/incidents/{ticket}/resolve`, `/reopen` and `/notes`: the body type says which.
pub(crate) async fn action<J: ActionJson>(
    State(state): State<AppState>,
    Path(ticket): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (principal, ticket, bytes) = prelude(&state, &headers, &ticket, body).await?;
    let dto: J = json_body(&headers, &bytes)?;
    let version = request::expected_version(&headers, dto.version())?;
    let command = dto.into_command(ticket, version).map_err(ApiError::Invalid)?;
    execute(&state, &principal, &headers, command).await
}
