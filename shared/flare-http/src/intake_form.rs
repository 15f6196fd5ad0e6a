//! The help desk's intake form: open, update and close an incident, without JavaScript.
//!
//! One page holds three sections (anchors `#open`, `#update`, `#close`), each its own `<form>`. A post is checked
//! for a signed-in user with `incidents:write` and the session's CSRF token, then goes through the same input
//! parsing as the API ([`crate::request`]). Errors re-render the page with each message beside its field and the
//! agent's input kept; success redirects to the incident's page. A hidden idempotency token makes a double
//! submit open one incident.

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use flare_core::{
    Actor, Channel, Command, Committed, FieldError, Impact, Scope, Severity, Source, Status, System, TicketNumber,
    User, ValidationErrors,
};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::auth::{self, Principal};
use crate::error::ApiError;
use crate::pages::{self, Nav, PageError};
use crate::request::{self, BodyKind, CloseForm, FormFields, OpenForm, RawSystem, UpdateForm};
use crate::session::{CSRF_FIELD, Session, random_token};
use crate::state::AppState;

/// One `<option>` of a select.
#[derive(Debug, Clone)]
struct Opt {
    value: String,
    label: String,
    selected: bool,
}

fn options(choices: &[(&str, &str)], selected: &str) -> Vec<Opt> {
    choices
        .iter()
        .map(|(value, label)| Opt {
            value: (*value).to_string(),
            label: (*label).to_string(),
            selected: value.eq_ignore_ascii_case(selected.trim()),
        })
        .collect()
}

fn severity_choices(blank: &'static str) -> Vec<(&'static str, String)> {
    let mut list = vec![("", blank.to_string())];
    list.extend(Severity::ALL.iter().map(|s| (s.as_str(), format!("{} ({})", s.as_str(), s.label()))));
    list
}

fn severity_options(blank: &'static str, selected: &str) -> Vec<Opt> {
    let owned = severity_choices(blank);
    let refs: Vec<(&str, &str)> = owned.iter().map(|(v, l)| (*v, l.as_str())).collect();
    options(&refs, selected)
}

fn status_options(selected: &str) -> Vec<Opt> {
    let mut list = vec![("", "(unchanged)")];
    list.extend(Status::ALL.iter().filter(|s| **s != Status::Resolved).map(|s| (s.as_str(), s.as_str())));
    options(&list, selected)
}

fn impact_label(i: Impact) -> &'static str {
    match i {
        Impact::Degraded => "degraded",
        Impact::PartialOutage => "partial outage",
        Impact::MajorOutage => "major outage",
    }
}

/// One catalog system with its impact select.
#[derive(Debug, Clone)]
struct SystemRow {
    name: String,
    field: String,
    html_id: String,
    options: Vec<Opt>,
    error: Option<String>,
}

fn system_rows(catalog: &[System], chosen: &[(String, String)], errors: &Errors, for_update: bool) -> Vec<SystemRow> {
    catalog
        .iter()
        .map(|s| {
            let id = s.id.as_str();
            let selected = chosen.iter().find(|(c, _)| c == id).map(|(_, v)| v.as_str()).unwrap_or_default();
            let mut choices: Vec<(&str, &str)> = if for_update {
                vec![("", "(unchanged)"), ("none", "not affected")]
            } else {
                vec![("", "not affected")]
            };
            choices.extend(Impact::ALL.iter().map(|i| (i.as_str(), impact_label(*i))));
            let field = format!("impact.{id}");
            SystemRow {
                name: s.name.to_string(),
                html_id: format!("impact-{id}"),
                options: options(&choices, selected),
                error: errors.get(&field),
                field,
            }
        })
        .collect()
}

/// Field errors of one section, looked up by field name. A list field's box also shows the errors of its entries
/// (`notify_emails[2]`), counted from 1 as the agent reads them.
#[derive(Debug, Clone, Default)]
struct Errors(Vec<FieldError>);

/// The entry `field[i]` names, if it names one of `list`.
fn entry_of(field: &str, list: &str) -> Option<usize> {
    field.strip_prefix(list)?.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

impl Errors {
    fn get(&self, field: &str) -> Option<String> {
        let reasons: Vec<&str> = self.0.iter().filter(|e| e.field == field).map(|e| e.reason.as_str()).collect();
        let mut sentences: Vec<String> = Vec::new();
        if !reasons.is_empty() {
            sentences.push(format!("This field {}", reasons.join(", and ")));
        }
        sentences.extend(
            self.0.iter().filter_map(|e| entry_of(&e.field, field).map(|i| format!("Entry {} {}", i + 1, e.reason))),
        );
        (!sentences.is_empty()).then(|| sentences.join(". "))
    }

    fn has(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field || entry_of(&e.field, field).is_some())
    }
}

#[derive(Debug, Clone, Default)]
struct OpenSection {
    title: String,
    description: String,
    engineer: String,
    engineer_email: String,
    notify_emails: String,
    started_at: String,
    tz_offset: String,
    notify: bool,
    severity: Vec<Opt>,
    rows: Vec<SystemRow>,
    idempotency_key: String,
    errors: Errors,
    problem: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct UpdateSection {
    ticket: String,
    title: String,
    description: String,
    engineer: String,
    engineer_email: String,
    notify_emails: String,
    started_at: String,
    tz_offset: String,
    message: String,
    notify: bool,
    severity: Vec<Opt>,
    status: Vec<Opt>,
    rows: Vec<SystemRow>,
    idempotency_key: String,
    errors: Errors,
    problem: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct CloseSection {
    ticket: String,
    resolved_at: String,
    tz_offset: String,
    message: String,
    root_cause: String,
    notify: bool,
    idempotency_key: String,
    errors: Errors,
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "form.html")]
struct FormPage {
    nav: Nav,
    csrf: String,
    title_max: usize,
    notify_emails_max: usize,
    /// The anchor of the section whose post failed.
    invalid: Option<&'static str>,
    open: OpenSection,
    update: UpdateSection,
    close: CloseSection,
}

/// `now` as a `datetime-local` value, in UTC (the offset field says so).
fn local_now(now: OffsetDateTime) -> String {
    now.format(format_description!("[year]-[month]-[day]T[hour]:[minute]")).unwrap_or_default()
}

const UTC_OFFSET: &str = "+00:00";

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

impl FormPage {
    /// The page as first shown: empty sections, times defaulting to now, fresh idempotency tokens.
    fn blank(state: &AppState, session: &Session, user: &User, catalog: &[System], ticket: &str) -> Self {
        let now = local_now(state.now());
        let none = Errors::default();
        Self {
            nav: Nav::signed_in(state, session, user),
            csrf: session.csrf_token(&state.config().session_key),
            title_max: flare_core::limits::TITLE_MAX,
            notify_emails_max: flare_core::limits::NOTIFY_EMAILS_MAX,
            invalid: None,
            open: OpenSection {
                started_at: now.clone(),
                tz_offset: UTC_OFFSET.into(),
                severity: severity_options("Choose…", ""),
                rows: system_rows(catalog, &[], &none, false),
                idempotency_key: random_token(),
                // Opening and closing tell the people affected unless the agent unticks it; updates only when asked.
                notify: true,
                ..OpenSection::default()
            },
            update: UpdateSection {
                ticket: ticket.to_string(),
                tz_offset: UTC_OFFSET.into(),
                severity: severity_options("(unchanged)", ""),
                status: status_options(""),
                rows: system_rows(catalog, &[], &none, true),
                idempotency_key: random_token(),
                ..UpdateSection::default()
            },
            close: CloseSection {
                ticket: ticket.to_string(),
                resolved_at: now,
                tz_offset: UTC_OFFSET.into(),
                idempotency_key: random_token(),
                notify: true,
                ..CloseSection::default()
            },
        }
    }

    fn with_open(mut self, form: &OpenForm, key: String, catalog: &[System], failure: Failure) -> Self {
        self.invalid = Some("open");
        self.open = OpenSection {
            title: text(&form.title),
            description: text(&form.description),
            engineer: text(&form.engineer),
            engineer_email: text(&form.engineer_email),
            notify_emails: text(&form.notify_emails),
            started_at: text(&form.started_at),
            tz_offset: text(&form.tz_offset),
            notify: form.notify.is_some(),
            severity: severity_options("Choose…", &text(&form.severity)),
            rows: system_rows(catalog, &form.impacts, &failure.errors, false),
            idempotency_key: key,
            errors: failure.errors,
            problem: failure.problem,
        };
        self
    }

    fn with_update(mut self, form: &UpdateForm, key: String, catalog: &[System], failure: Failure) -> Self {
        self.invalid = Some("update");
        self.update = UpdateSection {
            ticket: text(&form.ticket),
            title: text(&form.title),
            description: text(&form.description),
            engineer: text(&form.engineer),
            engineer_email: text(&form.engineer_email),
            notify_emails: text(&form.notify_emails),
            started_at: text(&form.started_at),
            tz_offset: text(&form.tz_offset),
            message: text(&form.message),
            notify: form.notify.is_some(),
            severity: severity_options("(unchanged)", &text(&form.severity)),
            status: status_options(&text(&form.status)),
            rows: system_rows(catalog, &form.impacts, &failure.errors, true),
            idempotency_key: key,
            errors: failure.errors,
            problem: failure.problem,
        };
        self
    }

    fn with_close(mut self, form: &CloseForm, key: String, failure: Failure) -> Self {
        self.invalid = Some("close");
        self.close = CloseSection {
            ticket: text(&form.ticket),
            resolved_at: text(&form.resolved_at),
            tz_offset: text(&form.tz_offset),
            message: text(&form.message),
            root_cause: text(&form.root_cause),
            notify: form.notify.is_some(),
            idempotency_key: key,
            errors: failure.errors,
            problem: failure.problem,
        };
        self
    }
}

/// Why a section's post failed, as the page shows it: beside fields, or above the section.
#[derive(Debug)]
struct Failure {
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
            other => problem = Some(other.client_message().0),
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
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<FormFields, PageError> {
    let bytes = request::body(body)?;
    if request::body_kind(headers, &bytes, true)? != BodyKind::Form {
        return Err(ApiError::UnsupportedMediaType(
            "this form must be posted as application/x-www-form-urlencoded".into(),
        )
        .into());
    }
    let mut fields = FormFields::parse(&bytes)?;
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
    crate::intake_api::log_commit(committed, &Actor::user(user), "form");
    Redirect::to(&format!("/incidents/{}?done={what}", committed.ticket)).into_response()
}

fn page(status: StatusCode, page: &FormPage) -> Result<Response, PageError> {
    Ok(pages::html(status, page)?)
}

/// `GET /form`, optionally `?ticket=INC-7` to prefill the update and close sections.
pub(crate) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let (session, user) = agent(&state, &headers).await?;
    let ticket = query
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(&q).ok())
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "ticket").map(|(_, v)| v))
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
pub(crate) async fn open(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, PageError> {
    let (session, user) = agent(&state, &headers).await?;
    let mut fields = posted_fields(&state, &session, &headers, body)?;
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
pub(crate) async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, PageError> {
    let (session, user) = agent(&state, &headers).await?;
    let mut fields = posted_fields(&state, &session, &headers, body)?;
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
pub(crate) async fn close(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, PageError> {
    let (session, user) = agent(&state, &headers).await?;
    let mut fields = posted_fields(&state, &session, &headers, body)?;
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
