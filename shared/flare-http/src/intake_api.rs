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
use crate::error::{ApiError, ErrorBody};
use crate::request::{
    ActionJson, IdempotencyKey, IfMatch, JsonOrEmpty, JsonOrForm, NoteJson, OpenForm, OpenJson, ReopenJson,
    ResolveJson, UpdateJson, path_ticket,
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
#[utoipa::path(
    post,
    path = "/api/incidents",
    operation_id = "openIncident",
    tag = "incidents",
    summary = "Open an incident",
    security(("bearer" = []), ("session" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes a retry answer as the first request did", pattern = "^[\\x21-\\x7e]{1,128}$"),
        ("X-CSRF-Token" = Option<String>, Header, nullable = false, description = "A signed-in browser's CSRF token; not needed with an API key")
    ),
    request_body(content((OpenJson = "application/json"), (OpenForm = "application/x-www-form-urlencoded"))),
    responses(
        (status = 201, description = "Opened (or, for a repeated Idempotency-Key, opened before)", body = CommittedView,
            headers(("ETag" = String, description = "The incident's version, for If-Match"),
                    ("Location" = String, description = "The incident's URL"))),
        (status = 400, description = "The body, a header or the ticket could not be read: names the field", body = ErrorBody),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 403, description = "The caller may not change incidents, or a signed-in browser sent no CSRF token", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The incident changed meanwhile (names the current version) or refuses this change", body = ErrorBody),
        (status = 413, description = "The body is larger than this server accepts", body = ErrorBody),
        (status = 415, description = "The body is neither JSON nor (where accepted) a urlencoded form", body = ErrorBody),
        (status = 422, description = "Values are invalid (each field named), nothing would change, or an Idempotency-Key was reused for another request", body = ErrorBody),
        (status = 500, description = "Internal error: opaque, with a request id", body = ErrorBody)
    )
)]
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
#[utoipa::path(
    patch,
    path = "/api/incidents/{ticket}",
    operation_id = "updateIncident",
    tag = "incidents",
    summary = "Update an incident",
    security(("bearer" = []), ("session" = [])),
    params(
        ("ticket" = String, Path, description = "The ticket number, like INC-1042", pattern = "^INC-[1-9][0-9]{0,17}$"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The incident's ETag (`\"3\"` or `3`) the change is made against, or `*`; a stale one is refused with 409", pattern = "^(\\*|\"?[0-9]{1,19}\"?)$"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes a retry answer as the first request did", pattern = "^[\\x21-\\x7e]{1,128}$"),
        ("X-CSRF-Token" = Option<String>, Header, nullable = false, description = "A signed-in browser's CSRF token; not needed with an API key")
    ),
    request_body(content = Option<UpdateJson>, content_type = "application/json"),
    responses(
        (status = 200, description = "The change is committed: the incident as it now stands", body = CommittedView,
            headers(("ETag" = String, description = "The incident's version, for If-Match"))),
        (status = 400, description = "The body, a header or the ticket could not be read: names the field", body = ErrorBody),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 403, description = "The caller may not change incidents, or a signed-in browser sent no CSRF token", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The incident changed meanwhile (names the current version) or refuses this change", body = ErrorBody),
        (status = 413, description = "The body is larger than this server accepts", body = ErrorBody),
        (status = 415, description = "The body is neither JSON nor (where accepted) a urlencoded form", body = ErrorBody),
        (status = 422, description = "Values are invalid (each field named), nothing would change, or an Idempotency-Key was reused for another request", body = ErrorBody),
        (status = 500, description = "Internal error: opaque, with a request id", body = ErrorBody)
    )
)]
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

/// `POST /api/incidents/{ticket}/resolve`.
#[utoipa::path(
    post,
    path = "/api/incidents/{ticket}/resolve",
    operation_id = "resolveIncident",
    tag = "incidents",
    summary = "Resolve an incident",
    security(("bearer" = []), ("session" = [])),
    params(
        ("ticket" = String, Path, description = "The ticket number, like INC-1042", pattern = "^INC-[1-9][0-9]{0,17}$"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The incident's ETag (`\"3\"` or `3`) the change is made against, or `*`; a stale one is refused with 409", pattern = "^(\\*|\"?[0-9]{1,19}\"?)$"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes a retry answer as the first request did", pattern = "^[\\x21-\\x7e]{1,128}$"),
        ("X-CSRF-Token" = Option<String>, Header, nullable = false, description = "A signed-in browser's CSRF token; not needed with an API key")
    ),
    request_body(content = Option<ResolveJson>, content_type = "application/json"),
    responses(
        (status = 200, description = "The change is committed: the incident as it now stands", body = CommittedView,
            headers(("ETag" = String, description = "The incident's version, for If-Match"))),
        (status = 400, description = "The body, a header or the ticket could not be read: names the field", body = ErrorBody),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 403, description = "The caller may not change incidents, or a signed-in browser sent no CSRF token", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The incident changed meanwhile (names the current version) or refuses this change", body = ErrorBody),
        (status = 413, description = "The body is larger than this server accepts", body = ErrorBody),
        (status = 415, description = "The body is neither JSON nor (where accepted) a urlencoded form", body = ErrorBody),
        (status = 422, description = "Values are invalid (each field named), nothing would change, or an Idempotency-Key was reused for another request", body = ErrorBody),
        (status = 500, description = "Internal error: opaque, with a request id", body = ErrorBody)
    )
)]
pub(crate) async fn resolve(
    state: State<AppState>,
    writer: Writer,
    ticket: Path<String>,
    if_match: IfMatch,
    key: IdempotencyKey,
    body: JsonOrEmpty<ResolveJson>,
) -> Result<Response, ApiError> {
    action(state, writer, ticket, if_match, key, body).await
}

/// `POST /api/incidents/{ticket}/reopen`.
#[utoipa::path(
    post,
    path = "/api/incidents/{ticket}/reopen",
    operation_id = "reopenIncident",
    tag = "incidents",
    summary = "Reopen a resolved incident",
    security(("bearer" = []), ("session" = [])),
    params(
        ("ticket" = String, Path, description = "The ticket number, like INC-1042", pattern = "^INC-[1-9][0-9]{0,17}$"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The incident's ETag (`\"3\"` or `3`) the change is made against, or `*`; a stale one is refused with 409", pattern = "^(\\*|\"?[0-9]{1,19}\"?)$"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes a retry answer as the first request did", pattern = "^[\\x21-\\x7e]{1,128}$"),
        ("X-CSRF-Token" = Option<String>, Header, nullable = false, description = "A signed-in browser's CSRF token; not needed with an API key")
    ),
    request_body(content = Option<ReopenJson>, content_type = "application/json"),
    responses(
        (status = 200, description = "The change is committed: the incident as it now stands", body = CommittedView,
            headers(("ETag" = String, description = "The incident's version, for If-Match"))),
        (status = 400, description = "The body, a header or the ticket could not be read: names the field", body = ErrorBody),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 403, description = "The caller may not change incidents, or a signed-in browser sent no CSRF token", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The incident changed meanwhile (names the current version) or refuses this change", body = ErrorBody),
        (status = 413, description = "The body is larger than this server accepts", body = ErrorBody),
        (status = 415, description = "The body is neither JSON nor (where accepted) a urlencoded form", body = ErrorBody),
        (status = 422, description = "Values are invalid (each field named), nothing would change, or an Idempotency-Key was reused for another request", body = ErrorBody),
        (status = 500, description = "Internal error: opaque, with a request id", body = ErrorBody)
    )
)]
pub(crate) async fn reopen(
    state: State<AppState>,
    writer: Writer,
    ticket: Path<String>,
    if_match: IfMatch,
    key: IdempotencyKey,
    body: JsonOrEmpty<ReopenJson>,
) -> Result<Response, ApiError> {
    action(state, writer, ticket, if_match, key, body).await
}

/// `POST /api/incidents/{ticket}/notes`.
#[utoipa::path(
    post,
    path = "/api/incidents/{ticket}/notes",
    operation_id = "addNote",
    tag = "incidents",
    summary = "Add a note to the timeline",
    security(("bearer" = []), ("session" = [])),
    params(
        ("ticket" = String, Path, description = "The ticket number, like INC-1042", pattern = "^INC-[1-9][0-9]{0,17}$"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The incident's ETag (`\"3\"` or `3`) the change is made against, or `*`; a stale one is refused with 409", pattern = "^(\\*|\"?[0-9]{1,19}\"?)$"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes a retry answer as the first request did", pattern = "^[\\x21-\\x7e]{1,128}$"),
        ("X-CSRF-Token" = Option<String>, Header, nullable = false, description = "A signed-in browser's CSRF token; not needed with an API key")
    ),
    request_body(content = NoteJson, content_type = "application/json"),
    responses(
        (status = 200, description = "The change is committed: the incident as it now stands", body = CommittedView,
            headers(("ETag" = String, description = "The incident's version, for If-Match"))),
        (status = 400, description = "The body, a header or the ticket could not be read: names the field", body = ErrorBody),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 403, description = "The caller may not change incidents, or a signed-in browser sent no CSRF token", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The incident changed meanwhile (names the current version) or refuses this change", body = ErrorBody),
        (status = 413, description = "The body is larger than this server accepts", body = ErrorBody),
        (status = 415, description = "The body is neither JSON nor (where accepted) a urlencoded form", body = ErrorBody),
        (status = 422, description = "Values are invalid (each field named), nothing would change, or an Idempotency-Key was reused for another request", body = ErrorBody),
        (status = 500, description = "Internal error: opaque, with a request id", body = ErrorBody)
    )
)]
pub(crate) async fn note(
    state: State<AppState>,
    writer: Writer,
    ticket: Path<String>,
    if_match: IfMatch,
    key: IdempotencyKey,
    body: JsonOrEmpty<NoteJson>,
) -> Result<Response, ApiError> {
    action(state, writer, ticket, if_match, key, body).await
}

/// Resolve, reopen and note share one shape: the body type says which command it is.
async fn action<J: ActionJson>(
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
