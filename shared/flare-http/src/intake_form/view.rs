//! The intake form's page model: the three sections (open, update, close) with their values, select options and
//! errors beside each field, as `form.html` draws them. Handlers in the parent module decide which section failed
//! and why; this only shapes what the page shows.

use askama::Template;
use flare_core::{FieldError, Impact, Severity, Status, System, User};
use time::OffsetDateTime;
use time::macros::format_description;

use super::Failure;
use crate::pages::Nav;
use crate::request::{CloseForm, OpenForm, UpdateForm};
use crate::session::{Session, random_token};
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
            choices.extend(Impact::ALL.iter().map(|i| (i.as_str(), i.label())));
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
pub(crate) struct Errors(pub(super) Vec<FieldError>);

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
    follow_ups: String,
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
pub(super) struct FormPage {
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
    pub(super) fn blank(state: &AppState, session: &Session, user: &User, catalog: &[System], ticket: &str) -> Self {
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

    pub(super) fn with_open(mut self, form: &OpenForm, key: String, catalog: &[System], failure: Failure) -> Self {
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

    pub(super) fn with_update(mut self, form: &UpdateForm, key: String, catalog: &[System], failure: Failure) -> Self {
        self.invalid = Some("update");
        self.update = UpdateSection {
            ticket: text(&form.ticket),
            title: text(&form.title),
            description: text(&form.description),
            engineer: text(&form.engineer),
            engineer_email: text(&form.engineer_email),
            notify_emails: text(&form.notify_emails),
            follow_ups: text(&form.follow_ups),
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

    pub(super) fn with_close(mut self, form: &CloseForm, key: String, failure: Failure) -> Self {
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
