//! The help desk's intake form: open, update and close an incident, without JavaScript.
//!
//! One page holds three sections (anchors `#open`, `#update`, `#close`), each its own `<form>`. A post is checked
//! for a signed-in user with `incidents:write` and the session's CSRF token, then goes through the same input
//! parsing as the API ([`crate::request`]). Errors re-render the page with each message beside its field and the
//! agent's input kept; success redirects to the incident's page. A hidden idempotency token makes a double
//! submit open one incident.
//!
//! The page model is in [`view`]; this module holds the handlers.

mod view;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use flare_core::{
    Actor, Channel, Command, Committed, FieldError, Scope, Source, System, TicketNumber, User, ValidationErrors,
};
use serde::Deserialize;
use utoipa::IntoParams;

use self::view::{Errors, FormPage};
use crate::auth::{self, Principal};
use crate::error::ApiError;
use crate::pages::{self, PageError};
use crate::request::{CloseForm, FormBody, FormFields, OpenForm, RawSystem, UpdateForm};
use crate::respond::log_commit;
use crate::session::{CSRF_FIELD, Session, random_token};
use crate::state::AppState;

/// Why a section's post failed, as the page shows it: beside fields, or above the section.
#[derive(Debug)]
pub(super) struct Failure {
    status: StatusCode,
    errors: Errors,
    problem: Option<String>,
}

impl Failure {
    /// What the page shows for an error; internal errors become the error page instead.
    fn of(error: ApiError) -> Result<Self, PageError> {
        if matches!(error, ApiError::Internal(_)) {
            return Err(PageError::Api(error));
        }
        let status = error.status();
        let mut errors = error.fields().to_vec();
        let mut problem = None;
        match &error {
            ApiError::NotFound(message) => errors.push(FieldError::new("ticket", strip_no(message))),
            ApiError::Invalid(_) | ApiError::Malformed { .. } => {}
            other => problem = Some(other.client_message()),
        }
        // An Idempotency-Key error has no field on the page: it is the hidden token.
        if let Some(e) = errors.iter().find(|e| e.field == "Idempotency-Key") {
            problem = Some(format!("The form's hidden token {}: reload the form.", e.reason));
        }
        Ok(Self { status, errors: Errors(errors), problem })
    }

    fn invalid(errors: ValidationErrors) -> Self {
        Self { status: StatusCode::UNPROCESSABLE_ENTITY, errors: Errors(errors.0), problem: None }
    }
}

/// "no incident INC-9" reads as "This names no incident INC-9" beside the ticket field.
fn strip_no(message: &str) -> String {
    format!("names {message}")
}

/// The signed-in user who may change incidents, or where the browser must go instead.
async fn agent(state: &AppState, headers: &HeaderMap) -> Result<(Session, User), PageError> {
    let Some((session, user)) = auth::session_user(state, headers).await? else {
        return Err(PageError::SignIn { next: "/form".into() });
    };
    if !Principal::User(user.clone()).allows(Scope::IncidentsWrite) {
        return Err(PageError::Api(ApiError::Forbidden(format!(
            "You are signed in as {}, but changing incidents needs the {} permission. Ask an admin.",
            user.display_name,
            Scope::IncidentsWrite
        ))));
    }
    Ok((session, user))
}

/// A form post's fields, after the CSRF check.
fn posted_fields(
    state: &AppState,
    session: &Session,
    body: Result<FormBody, ApiError>,
) -> Result<FormFields, PageError> {
    let FormBody(mut fields) = body?;
    let token = fields.take(CSRF_FIELD);
    if !session.csrf_ok(&state.config().session_key, token.as_deref()) {
        return Err(ApiError::Forbidden(
            "This form has expired or was not sent from Flare's own page. Reload the form and send it again.".into(),
        )
        .into());
    }
    Ok(fields)
}

/// After a commit, the incident's page, which says what was done.
fn done(committed: &Committed, user: &User, what: &str) -> Response {
    log_commit(committed, &Actor::user(user), "form");
    Redirect::to(&format!("/incidents/{}?done={what}", committed.ticket)).into_response()
}

fn page(status: StatusCode, page: &FormPage) -> Result<Response, PageError> {
    Ok(pages::html(status, page)?)
}

/// The form page's query: a ticket to prefill the update and close sections with.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ShowQuery {
    /// A ticket number like INC-1042; anything else leaves the sections blank.
    ticket: Option<String>,
}

/// `GET /form`, optionally `?ticket=INC-7` to prefill the update and close sections.
#[utoipa::path(
    get,
    path = "/form",
    operation_id = "form",
    tag = "pages",
    summary = "The help desk's form",
    security((), ("session" = [])),
    params(ShowQuery),
    responses(
        (status = 200, description = "The form", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: the sign-in page", headers(("Location" = String, description = "Where to go"))),
        (status = 403, description = "Signed in, but not allowed to change incidents", content_type = "text/html", body = String),
        (status = 500, description = "Internal error: opaque, with a request id", content_type = "text/html", body = String)
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ShowQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let (session, user) = agent(&state, &headers).await?;
    // A garbled or unknown ticket only leaves the sections blank: the page is still the form.
    let ticket = query
        .ok()
        .and_then(|Query(q)| q.ticket)
        .and_then(|t| TicketNumber::parse("ticket", &t).ok())
        .map(|t| t.to_string())
        .unwrap_or_default();
    let catalog = state.store().list_systems().await?;
    page(StatusCode::OK, &FormPage::blank(&state, &session, &user, &catalog, &ticket))
}

/// The form's hidden idempotency token: a double click posts it twice and opens one incident. A post without
/// one (a hand-made request) gets a fresh token, so it is still applied once.
fn idempotency_token(fields: &mut FormFields) -> String {
    fields.take("idempotency_key").filter(|k| !k.trim().is_empty()).unwrap_or_else(random_token)
}

/// `POST /form/open`.
#[utoipa::path(
    post,
    path = "/form/open",
    operation_id = "formOpen",
    tag = "pages",
    summary = "Open an incident from the form",
    security((), ("session" = [])),
    request_body(content = OpenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Not signed in: the sign-in page, or after success the incident's page", headers(("Location" = String, description = "Where to go"))),
        (status = 400, description = "The form could not be read: an unknown or repeated field", content_type = "text/html", body = String),
        (status = 403, description = "Not allowed to change incidents, or the form's CSRF token is missing or expired", content_type = "text/html", body = String),
        (status = 404, description = "The ticket names no incident", content_type = "text/html", body = String),
        (status = 409, description = "The incident refuses this change", content_type = "text/html", body = String),
        (status = 413, description = "The body is larger than this server accepts", content_type = "text/html", body = String),
        (status = 415, description = "Not a urlencoded form", content_type = "text/html", body = String),
        (status = 422, description = "Values are invalid: the page shows each beside its field", content_type = "text/html", body = String),
        (status = 500, description = "Internal error: opaque, with a request id", content_type = "text/html", body = String)
    )
)]
pub(crate) async fn open(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<FormBody, ApiError>,
) -> Result<Response, PageError> {
    let (session, user) = agent(&state, &headers).await?;
    let mut fields = posted_fields(&state, &session, body)?;
    let key = idempotency_token(&mut fields);
    let form = OpenForm::take(&mut fields);
    fields.finish()?;
    let catalog = state.store().list_systems().await?;
    let failure = match form.to_input().into_command(&catalog, Source::new(Channel::Form)) {
        Err(errors) => Failure::invalid(errors),
        Ok(command) => match state.service().open(command, &Actor::user(&user), Some(&key)).await {
            Ok(committed) => return Ok(done(&committed, &user, "opened")),
            Err(e) => Failure::of(e.into())?,
        },
    };
    let status = failure.status;
    page(status, &FormPage::blank(&state, &session, &user, &catalog, "").with_open(&form, key, &catalog, failure))
}

/// The update section's command. Changing systems edits the incident's current list, so the command is made
/// against the version that list was read at.
async fn update_command(
    state: &AppState,
    form: &UpdateForm,
    catalog: &[System],
) -> Result<Result<Command, ValidationErrors>, ApiError> {
    let mut errors = ValidationErrors::new();
    let ticket = form.ticket(&mut errors);
    let mut systems: Option<Vec<RawSystem>> = None;
    let mut version = None;
    if let Some(t) = ticket
        && form.changes_systems()
    {
        match state.store().get(t).await? {
            Some(current) => {
                systems = Some(form.merged_systems(&current.systems));
                version = Some(current.version);
            }
            None => errors.push("ticket", format!("names no incident {t}")),
        }
    }
    let mut input = form.to_input(systems);
    input.errors.0.extend(errors.0);
    Ok(input.into_command(ticket, version, catalog).map(|c| Command::Update(Box::new(c))))
}

/// `POST /form/update`.
#[utoipa::path(
    post,
    path = "/form/update",
    operation_id = "formUpdate",
    tag = "pages",
    summary = "Update an incident from the form",
    security((), ("session" = [])),
    request_body(content = UpdateForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Not signed in: the sign-in page, or after success the incident's page", headers(("Location" = String, description = "Where to go"))),
        (status = 400, description = "The form could not be read: an unknown or repeated field", content_type = "text/html", body = String),
        (status = 403, description = "Not allowed to change incidents, or the form's CSRF token is missing or expired", content_type = "text/html", body = String),
        (status = 404, description = "The ticket names no incident", content_type = "text/html", body = String),
        (status = 409, description = "The incident refuses this change", content_type = "text/html", body = String),
        (status = 413, description = "The body is larger than this server accepts", content_type = "text/html", body = String),
        (status = 415, description = "Not a urlencoded form", content_type = "text/html", body = String),
        (status = 422, description = "Values are invalid: the page shows each beside its field", content_type = "text/html", body = String),
        (status = 500, description = "Internal error: opaque, with a request id", content_type = "text/html", body = String)
    )
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<FormBody, ApiError>,
) -> Result<Response, PageError> {
    let (session, user) = agent(&state, &headers).await?;
    let mut fields = posted_fields(&state, &session, body)?;
    let key = idempotency_token(&mut fields);
    let form = UpdateForm::take(&mut fields);
    fields.finish()?;
    let catalog = state.store().list_systems().await?;
    let failure = match update_command(&state, &form, &catalog).await? {
        Err(errors) => Failure::invalid(errors),
        Ok(command) => match state.service().execute(command, &Actor::user(&user), Some(&key)).await {
            Ok(committed) => return Ok(done(&committed, &user, "updated")),
            Err(e) => Failure::of(e.into())?,
        },
    };
    let status = failure.status;
    page(status, &FormPage::blank(&state, &session, &user, &catalog, "").with_update(&form, key, &catalog, failure))
}

/// `POST /form/close`.
#[utoipa::path(
    post,
    path = "/form/close",
    operation_id = "formClose",
    tag = "pages",
    summary = "Resolve an incident from the form",
    security((), ("session" = [])),
    request_body(content = CloseForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Not signed in: the sign-in page, or after success the incident's page", headers(("Location" = String, description = "Where to go"))),
        (status = 400, description = "The form could not be read: an unknown or repeated field", content_type = "text/html", body = String),
        (status = 403, description = "Not allowed to change incidents, or the form's CSRF token is missing or expired", content_type = "text/html", body = String),
        (status = 404, description = "The ticket names no incident", content_type = "text/html", body = String),
        (status = 409, description = "The incident refuses this change", content_type = "text/html", body = String),
        (status = 413, description = "The body is larger than this server accepts", content_type = "text/html", body = String),
        (status = 415, description = "Not a urlencoded form", content_type = "text/html", body = String),
        (status = 422, description = "Values are invalid: the page shows each beside its field", content_type = "text/html", body = String),
        (status = 500, description = "Internal error: opaque, with a request id", content_type = "text/html", body = String)
    )
)]
pub(crate) async fn close(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<FormBody, ApiError>,
) -> Result<Response, PageError> {
    let (session, user) = agent(&state, &headers).await?;
    let mut fields = posted_fields(&state, &session, body)?;
    let key = idempotency_token(&mut fields);
    let form = CloseForm::take(&mut fields);
    fields.finish()?;
    let failure = match form.to_command() {
        Err(errors) => Failure::invalid(errors),
        Ok(command) => {
            match state.service().execute(Command::Resolve(command), &Actor::user(&user), Some(&key)).await {
                Ok(committed) => return Ok(done(&committed, &user, "resolved")),
                Err(e) => Failure::of(e.into())?,
            }
        }
    };
    let catalog = state.store().list_systems().await?;
    let status = failure.status;
    page(status, &FormPage::blank(&state, &session, &user, &catalog, "").with_close(&form, key, failure))
}
