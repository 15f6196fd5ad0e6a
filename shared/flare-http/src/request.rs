//! Request bodies and headers → domain commands, at the edge.
//!
//! JSON bodies are read strictly: unknown fields are refused and a syntax or type error names the field path,
//! line and column. Values stay strings until [`flare_core`]'s parsers check them, so that every invalid value
//! is reported at once, each under its field name. Form bodies (the intake form and form-encoded API calls) go
//! through the same inputs, so both paths apply the same rules.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use flare_core::text::{Description, Message, PersonName, RootCause, Title};
use flare_core::timefmt::parse_rfc3339;
use flare_core::{
    AddNote, AffectedSystem, Command, EmailAddress, FieldError, Impact, OpenIncident, ReopenIncident, ResolveIncident,
    Severity, Source, Status, System, SystemId, TicketNumber, UpdateIncident, ValidationErrors, limits,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::error::ApiError;

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Json,
    Form,
    /// No body at all, for commands whose fields are all optional.
    Empty,
}

/// The body's encoding from `Content-Type`, refusing (415) anything but JSON and, where `form_ok`, urlencoded.
pub(crate) fn body_kind(headers: &HeaderMap, body: &Bytes, form_ok: bool) -> Result<BodyKind, ApiError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    let accepted = if form_ok { "application/json or application/x-www-form-urlencoded" } else { "application/json" };
    match essence.as_deref() {
        None if body.is_empty() => Ok(BodyKind::Empty),
        Some("application/json") => Ok(BodyKind::Json),
        Some("application/x-www-form-urlencoded") if form_ok => Ok(BodyKind::Form),
        Some(other) => Err(ApiError::UnsupportedMediaType(format!(
            "this endpoint accepts {accepted}, not {other}: set Content-Type accordingly"
        ))),
        None => Err(ApiError::UnsupportedMediaType(format!("send a Content-Type header: {accepted}"))),
    }
}

/// The body, or why it could not be read (413 when over the limit).
pub(crate) fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::malformed("body", e.body_text())
        }
    })
}

/// Reads a JSON body into `T`, naming the field path, line and column of the first error.
pub(crate) fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner();
        // serde_path_to_error spells "no field" as "." (the root) or "?" (a syntax error before any field).
        let field = if path == "." || path == "?" { "body".to_string() } else { path };
        let reason = strip_position(&inner.to_string());
        ApiError::Malformed {
            message: format!(
                "invalid JSON at line {}, column {} (field {field}): {reason}",
                inner.line(),
                inner.column()
            ),
            fields: vec![FieldError::new(field, reason)],
        }
    })?;
    de.end().map_err(|e| ApiError::malformed("body", format!("unexpected data after the JSON value: {e}")))?;
    Ok(value)
}

/// serde_json appends " at line L column C"; the message states the position once, in its own words.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The fields of a urlencoded body, taken one by one so that whatever is left over is an unknown field.
#[derive(Debug, Default)]
pub(crate) struct FormFields {
    pairs: Vec<(String, String)>,
    repeated: Vec<String>,
}

impl FormFields {
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
            .map_err(|e| ApiError::malformed("body", format!("is not a valid urlencoded form: {e}")))?;
        Ok(Self { pairs, repeated: Vec::new() })
    }

    /// The value of a single-valued field; a field sent twice is reported by [`Self::finish`].
    pub(crate) fn take(&mut self, name: &str) -> Option<String> {
        let mut found = None;
        self.pairs.retain(|(n, v)| {
            if n != name {
                return true;
            }
            if found.is_some() {
                self.repeated.push(name.to_string());
            }
            found = Some(v.clone());
            false
        });
        found
    }

    /// Every field whose name starts with `prefix`, as (rest of the name, value).
    pub(crate) fn take_prefixed(&mut self, prefix: &str) -> Vec<(String, String)> {
        let mut taken = Vec::new();
        self.pairs.retain(|(n, v)| match n.strip_prefix(prefix) {
            Some(rest) => {
                taken.push((rest.to_string(), v.clone()));
                false
            }
            None => true,
        });
        taken
    }

    /// Refuses fields nobody took and fields given twice.
    pub(crate) fn finish(mut self) -> Result<(), ApiError> {
        self.repeated.dedup();
        if let Some(name) = self.repeated.first() {
            return Err(ApiError::malformed(name.clone(), "is given more than once"));
        }
        match self.pairs.first() {
            Some((name, _)) => Err(ApiError::malformed(name.clone(), "is not a field of this form")),
            None => Ok(()),
        }
    }
}

/// A ticket number from the path. A malformed one names no incident, so it is a 404 like an unknown one.
pub(crate) fn path_ticket(raw: &str) -> Result<TicketNumber, ApiError> {
    TicketNumber::parse("ticket", raw)
        .map_err(|e| ApiError::NotFound(format!("no incident {raw:?}: a ticket {}", e.reason)))
}

/// The version a change is made against: `If-Match` (`"3"` or `3`) or the body's `version`, which must agree.
pub(crate) fn expected_version(headers: &HeaderMap, body: Option<u64>) -> Result<Option<u64>, ApiError> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return Ok(body);
    };
    let bad = || ApiError::malformed("If-Match", "must be the incident's ETag, like \"3\"");
    let raw = raw.to_str().map_err(|_| bad())?.trim();
    if raw == "*" {
        return Ok(body);
    }
    let version: u64 = raw.trim_matches('"').parse().map_err(|_| bad())?;
    match body {
        Some(b) if b != version => Err(ApiError::malformed("version", "differs from the If-Match header")),
        _ => Ok(Some(version)),
    }
}

/// `true` for a ticked checkbox or a truthy form value.
fn form_bool(errors: &mut ValidationErrors, field: &str, raw: Option<&str>) -> bool {
    match raw.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "false" | "off" | "0" | "no") => false,
        Some("on" | "true" | "1" | "yes") => true,
        Some(_) => {
            errors.push(field, "must be true or false");
            false
        }
    }
}

/// A form value, with blank meaning "not given".
fn given(raw: &Option<String>) -> Option<&str> {
    raw.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// An RFC 3339 time from JSON.
fn api_time(errors: &mut ValidationErrors, field: &str, raw: Option<&str>) -> Option<OffsetDateTime> {
    raw.and_then(|r| errors.check(parse_rfc3339(field, r)))
}

/// A time from a form: RFC 3339, or a `datetime-local` value (`2026-11-22T09:30`) with the form's UTC offset
/// field (`+01:00`, `-0500`, `Z`).
pub(crate) fn form_time(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<&str>,
    offset: Option<&str>,
) -> Option<OffsetDateTime> {
    let raw = raw.map(str::trim).filter(|s| !s.is_empty())?;
    if let Ok(t) = parse_rfc3339(field, raw) {
        return Some(t);
    }
    let local = PrimitiveDateTime::parse(raw, format_description!("[year]-[month]-[day]T[hour]:[minute]"))
        .or_else(|_| {
            PrimitiveDateTime::parse(raw, format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"))
        })
        .or_else(|_| PrimitiveDateTime::parse(raw, format_description!("[year]-[month]-[day] [hour]:[minute]")));
    let Ok(local) = local else {
        errors.push(field, "must be a date and time like 2026-11-22T09:30");
        return None;
    };
    match parse_offset(offset.unwrap_or_default()) {
        Some(o) => Some(local.assume_offset(o).to_offset(UtcOffset::UTC)),
        None => {
            errors.push("tz_offset", "must be a UTC offset like +01:00, -05:00 or Z");
            None
        }
    }
}

fn parse_offset(raw: &str) -> Option<UtcOffset> {
    let s = raw.trim();
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return Some(UtcOffset::UTC);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1i8, &s[1..]),
        b'-' => (-1i8, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !(digits.len() == 2 || digits.len() == 4) {
        return None;
    }
    let hours: i8 = digits[..2].parse().ok()?;
    let minutes: i8 = digits.get(2..).filter(|m| !m.is_empty()).map_or(Some(0), |m| m.parse().ok())?;
    // Real offsets run from -12:00 to +14:00.
    if hours > 14 || minutes > 59 {
        return None;
    }
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
}

/// One affected system as sent, with the field names its errors are reported under.
#[derive(Debug, Clone)]
pub(crate) struct RawSystem {
    pub(crate) system_field: String,
    pub(crate) impact_field: String,
    pub(crate) system: String,
    pub(crate) impact: String,
}

/// Parses affected systems, each of which must be in the catalog.
fn systems(errors: &mut ValidationErrors, raw: &[RawSystem], catalog: &[System]) -> Vec<AffectedSystem> {
    raw.iter()
        .filter_map(|r| {
            let system = errors.check(SystemId::parse(&r.system_field, &r.system));
            let impact = errors.check(Impact::parse(&r.impact_field, &r.impact));
            if let Some(id) = &system
                && !catalog.iter().any(|s| &s.id == id)
            {
                errors.push(&r.system_field, format!("{id} is not a system in the catalog"));
                return None;
            }
            Some(AffectedSystem { system: system?, impact: impact? })
        })
        .collect()
}

fn required<T>(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<&str>,
    parse: impl Fn(&str, &str) -> Result<T, FieldError>,
) -> Option<T> {
    match raw {
        Some(r) => errors.check(parse(field, r)),
        None => {
            errors.push(field, "is required");
            None
        }
    }
}

fn optional<T>(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<&str>,
    parse: impl Fn(&str, &str) -> Result<T, FieldError>,
) -> Option<T> {
    raw.and_then(|r| errors.check(parse(field, r)))
}

/// The addresses listed to be told besides the subscribers, each named `field[i]` when invalid. Past the limit
/// only the count is reported: a thousand "not an address" lines would bury it.
fn email_list(errors: &mut ValidationErrors, field: &str, raw: &[String]) -> Vec<EmailAddress> {
    if raw.len() > limits::NOTIFY_EMAILS_MAX {
        let max = limits::NOTIFY_EMAILS_MAX;
        errors.push(field, format!("must list at most {max} addresses (it lists {})", raw.len()));
        return Vec::new();
    }
    let parsed: Vec<EmailAddress> = raw
        .iter()
        .enumerate()
        .filter_map(|(i, r)| errors.check(EmailAddress::parse(&format!("{field}[{i}]"), r)))
        .collect();
    if parsed.len() < raw.len() {
        return parsed;
    }
    errors.check(flare_core::incident::validate_notify_emails(field, parsed)).unwrap_or_default()
}

/// A form's address list: one text box, addresses separated by commas, semicolons or new lines.
fn form_email_list(raw: &str) -> Vec<String> {
    raw.split([',', ';', '\n', '\r']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// What the update form's address box asks for: blank keeps the list, `none` clears it.
fn form_email_update(raw: &Option<String>) -> Option<Vec<String>> {
    let raw = given(raw)?;
    Some(if raw.eq_ignore_ascii_case("none") { Vec::new() } else { form_email_list(raw) })
}

// ---------------------------------------------------------------------------------------------------------------
// Open

/// What opening an incident needs, from JSON or a form, times already read.
#[derive(Debug, Default)]
pub(crate) struct OpenInput {
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) severity: Option<String>,
    pub(crate) engineer: Option<String>,
    pub(crate) engineer_email: Option<String>,
    pub(crate) notify_emails: Vec<String>,
    pub(crate) systems: Vec<RawSystem>,
    pub(crate) started_at: Option<OffsetDateTime>,
    pub(crate) detected_at: Option<OffsetDateTime>,
    pub(crate) notify: bool,
    /// Errors found while reading the input (times, checkboxes), reported with the rest.
    pub(crate) errors: ValidationErrors,
}

impl OpenInput {
    pub(crate) fn has_systems(&self) -> bool {
        !self.systems.is_empty()
    }

    pub(crate) fn into_command(self, catalog: &[System], source: Source) -> Result<OpenIncident, ValidationErrors> {
        let mut errors = self.errors;
        let title = required(&mut errors, "title", self.title.as_deref(), Title::parse);
        let description = required(&mut errors, "description", self.description.as_deref(), Description::parse);
        let severity = required(&mut errors, "severity", self.severity.as_deref(), Severity::parse);
        let engineer = optional(&mut errors, "engineer", self.engineer.as_deref(), PersonName::parse);
        let engineer_email =
            optional(&mut errors, "engineer_email", self.engineer_email.as_deref(), EmailAddress::parse);
        let notify_emails = email_list(&mut errors, "notify_emails", &self.notify_emails);
        let systems = systems(&mut errors, &self.systems, catalog);
        errors.finish()?;
        match (title, description, severity) {
            (Some(title), Some(description), Some(severity)) => Ok(OpenIncident {
                title,
                description,
                severity,
                systems,
                engineer,
                engineer_email,
                notify_emails,
                started_at: self.started_at,
                detected_at: self.detected_at,
                source,
                notify: self.notify,
            }),
            _ => Err(FieldError::new("body", "is incomplete").into()),
        }
    }
}

/// One affected system in JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SystemJson {
    system: String,
    impact: String,
}

fn json_systems(list: Vec<SystemJson>) -> Vec<RawSystem> {
    list.into_iter()
        .enumerate()
        .map(|(i, s)| RawSystem {
            system_field: format!("systems[{i}].system"),
            impact_field: format!("systems[{i}].impact"),
            system: s.system,
            impact: s.impact,
        })
        .collect()
}

/// `POST /api/incidents` as JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OpenJson {
    title: Option<String>,
    description: Option<String>,
    severity: Option<String>,
    #[serde(default)]
    systems: Vec<SystemJson>,
    engineer: Option<String>,
    engineer_email: Option<String>,
    #[serde(default)]
    notify_emails: Vec<String>,
    started_at: Option<String>,
    detected_at: Option<String>,
    #[serde(default = "told")]
    notify: bool,
}

impl OpenJson {
    pub(crate) fn into_input(self) -> OpenInput {
        let mut errors = ValidationErrors::new();
        let started_at = api_time(&mut errors, "started_at", self.started_at.as_deref());
        let detected_at = api_time(&mut errors, "detected_at", self.detected_at.as_deref());
        OpenInput {
            title: self.title,
            description: self.description,
            severity: self.severity,
            engineer: self.engineer,
            engineer_email: self.engineer_email,
            notify_emails: self.notify_emails,
            systems: json_systems(self.systems),
            started_at,
            detected_at,
            notify: self.notify,
            errors,
        }
    }
}

/// The open section of the intake form (and form-encoded `POST /api/incidents`), as typed, so that a page with
/// errors shows the agent's input again. Affected systems are `impact.<system id>` fields, blank or `none` for
/// "not affected"; `notify_emails` is one text of addresses separated by commas, semicolons or new lines.
#[derive(Debug, Clone, Default)]
pub(crate) struct OpenForm {
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) severity: Option<String>,
    pub(crate) engineer: Option<String>,
    pub(crate) engineer_email: Option<String>,
    pub(crate) notify_emails: Option<String>,
    pub(crate) started_at: Option<String>,
    pub(crate) detected_at: Option<String>,
    pub(crate) tz_offset: Option<String>,
    pub(crate) notify: Option<String>,
    pub(crate) impacts: Vec<(String, String)>,
}

impl OpenForm {
    pub(crate) fn take(fields: &mut FormFields) -> Self {
        Self {
            title: fields.take("title"),
            description: fields.take("description"),
            severity: fields.take("severity"),
            engineer: fields.take("engineer"),
            engineer_email: fields.take("engineer_email"),
            notify_emails: fields.take("notify_emails"),
            started_at: fields.take("started_at"),
            detected_at: fields.take("detected_at"),
            tz_offset: fields.take("tz_offset"),
            notify: fields.take("notify"),
            impacts: fields.take_prefixed("impact."),
        }
    }

    pub(crate) fn to_input(&self) -> OpenInput {
        let mut errors = ValidationErrors::new();
        let offset = self.tz_offset.as_deref();
        let started_at = form_time(&mut errors, "started_at", given(&self.started_at), offset);
        let detected_at = form_time(&mut errors, "detected_at", given(&self.detected_at), offset);
        let notify = form_bool(&mut errors, "notify", self.notify.as_deref());
        OpenInput {
            title: given(&self.title).map(str::to_string),
            description: given(&self.description).map(str::to_string),
            severity: given(&self.severity).map(str::to_string),
            engineer: given(&self.engineer).map(str::to_string),
            engineer_email: given(&self.engineer_email).map(str::to_string),
            notify_emails: given(&self.notify_emails).map(form_email_list).unwrap_or_default(),
            systems: form_systems(&self.impacts),
            started_at,
            detected_at,
            notify,
            errors,
        }
    }
}

/// The `impact.<id>` rows that name an impact; blank and `none` mean the system is not affected.
pub(crate) fn form_systems(impacts: &[(String, String)]) -> Vec<RawSystem> {
    impacts
        .iter()
        .filter(|(_, v)| !v.trim().is_empty() && !v.trim().eq_ignore_ascii_case("none"))
        .map(|(id, impact)| RawSystem {
            system_field: format!("impact.{id}"),
            impact_field: format!("impact.{id}"),
            system: id.clone(),
            impact: impact.clone(),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Update

/// What an update carries; absent fields stay as they are.
#[derive(Debug, Default)]
pub(crate) struct UpdateInput {
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) severity: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) engineer: Option<String>,
    pub(crate) engineer_email: Option<String>,
    /// Replaces the whole list when given; empty clears it.
    pub(crate) notify_emails: Option<Vec<String>>,
    pub(crate) systems: Option<Vec<RawSystem>>,
    pub(crate) started_at: Option<OffsetDateTime>,
    pub(crate) detected_at: Option<OffsetDateTime>,
    pub(crate) root_cause: Option<String>,
    pub(crate) follow_ups: Option<Vec<String>>,
    pub(crate) message: Option<String>,
    pub(crate) notify: bool,
    pub(crate) errors: ValidationErrors,
}

impl UpdateInput {
    /// The update of `ticket`; without one (a form whose ticket field is wrong) every other field is still
    /// checked, so the agent sees all problems at once.
    pub(crate) fn into_command(
        self,
        ticket: Option<TicketNumber>,
        expected_version: Option<u64>,
        catalog: &[System],
    ) -> Result<UpdateIncident, ValidationErrors> {
        let mut errors = self.errors;
        let placeholder = TicketNumber::from_number(1).ok_or_else(|| FieldError::new("ticket", "is required"))?;
        let mut c = UpdateIncident::new(ticket.unwrap_or(placeholder));
        c.expected_version = expected_version;
        c.title = optional(&mut errors, "title", self.title.as_deref(), Title::parse);
        c.description = optional(&mut errors, "description", self.description.as_deref(), Description::parse);
        c.severity = optional(&mut errors, "severity", self.severity.as_deref(), Severity::parse);
        c.status = optional(&mut errors, "status", self.status.as_deref(), Status::parse);
        c.engineer = optional(&mut errors, "engineer", self.engineer.as_deref(), PersonName::parse);
        c.engineer_email = optional(&mut errors, "engineer_email", self.engineer_email.as_deref(), EmailAddress::parse);
        c.notify_emails = self.notify_emails.map(|list| email_list(&mut errors, "notify_emails", &list));
        c.systems = self.systems.map(|raw| systems(&mut errors, &raw, catalog));
        c.started_at = self.started_at;
        c.detected_at = self.detected_at;
        c.root_cause = optional(&mut errors, "root_cause", self.root_cause.as_deref(), RootCause::parse);
        c.follow_ups = self.follow_ups.map(|list| {
            list.iter()
                .enumerate()
                .filter_map(|(i, f)| errors.check(flare_core::text::FollowUp::parse(&format!("follow_ups[{i}]"), f)))
                .collect()
        });
        c.message = optional(&mut errors, "message", self.message.as_deref(), Message::parse);
        c.notify = self.notify;
        if ticket.is_none() && !errors.0.iter().any(|e| e.field == "ticket") {
            errors.push("ticket", "is required");
        }
        errors.finish()?;
        Ok(c)
    }
}

/// `PATCH /api/incidents/{ticket}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateJson {
    pub(crate) version: Option<u64>,
    title: Option<String>,
    description: Option<String>,
    severity: Option<String>,
    status: Option<String>,
    engineer: Option<String>,
    engineer_email: Option<String>,
    notify_emails: Option<Vec<String>>,
    systems: Option<Vec<SystemJson>>,
    started_at: Option<String>,
    detected_at: Option<String>,
    root_cause: Option<String>,
    follow_ups: Option<Vec<String>>,
    message: Option<String>,
    #[serde(default)]
    notify: bool,
}

impl UpdateJson {
    pub(crate) fn has_systems(&self) -> bool {
        self.systems.as_ref().is_some_and(|s| !s.is_empty())
    }

    pub(crate) fn into_input(self) -> UpdateInput {
        let mut errors = ValidationErrors::new();
        let started_at = api_time(&mut errors, "started_at", self.started_at.as_deref());
        let detected_at = api_time(&mut errors, "detected_at", self.detected_at.as_deref());
        UpdateInput {
            title: self.title,
            description: self.description,
            severity: self.severity,
            status: self.status,
            engineer: self.engineer,
            engineer_email: self.engineer_email,
            notify_emails: self.notify_emails,
            systems: self.systems.map(json_systems),
            started_at,
            detected_at,
            root_cause: self.root_cause,
            follow_ups: self.follow_ups,
            message: self.message,
            notify: self.notify,
            errors,
        }
    }
}

/// The update section of the intake form. Blank fields are left unchanged; `impact.<id>` rows are blank to keep
/// a system as it is, `none` to remove it, or an impact to set it. `notify_emails` replaces the list, and `none`
/// clears it.
#[derive(Debug, Clone, Default)]
pub(crate) struct UpdateForm {
    pub(crate) ticket: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) severity: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) engineer: Option<String>,
    pub(crate) engineer_email: Option<String>,
    pub(crate) notify_emails: Option<String>,
    pub(crate) started_at: Option<String>,
    pub(crate) tz_offset: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) notify: Option<String>,
    pub(crate) impacts: Vec<(String, String)>,
}

impl UpdateForm {
    pub(crate) fn take(fields: &mut FormFields) -> Self {
        Self {
            ticket: fields.take("ticket"),
            title: fields.take("title"),
            description: fields.take("description"),
            severity: fields.take("severity"),
            status: fields.take("status"),
            engineer: fields.take("engineer"),
            engineer_email: fields.take("engineer_email"),
            notify_emails: fields.take("notify_emails"),
            started_at: fields.take("started_at"),
            tz_offset: fields.take("tz_offset"),
            message: fields.take("message"),
            notify: fields.take("notify"),
            impacts: fields.take_prefixed("impact."),
        }
    }

    pub(crate) fn ticket(&self, errors: &mut ValidationErrors) -> Option<TicketNumber> {
        required(errors, "ticket", given(&self.ticket), TicketNumber::parse)
    }

    /// Whether any system row asks for a change.
    pub(crate) fn changes_systems(&self) -> bool {
        self.impacts.iter().any(|(_, v)| !v.trim().is_empty())
    }

    /// The incident's systems after this form's changes to `current`.
    pub(crate) fn merged_systems(&self, current: &[AffectedSystem]) -> Vec<RawSystem> {
        let mut merged: Vec<RawSystem> = current
            .iter()
            .map(|s| RawSystem {
                system_field: format!("impact.{}", s.system),
                impact_field: format!("impact.{}", s.system),
                system: s.system.to_string(),
                impact: s.impact.to_string(),
            })
            .collect();
        for (id, value) in self.impacts.iter().filter(|(_, v)| !v.trim().is_empty()) {
            merged.retain(|r| &r.system != id);
            merged.extend(form_systems(&[(id.clone(), value.clone())]));
        }
        merged
    }

    pub(crate) fn to_input(&self, systems: Option<Vec<RawSystem>>) -> UpdateInput {
        let mut errors = ValidationErrors::new();
        let started_at = form_time(&mut errors, "started_at", given(&self.started_at), self.tz_offset.as_deref());
        let notify = form_bool(&mut errors, "notify", self.notify.as_deref());
        UpdateInput {
            title: given(&self.title).map(str::to_string),
            description: given(&self.description).map(str::to_string),
            severity: given(&self.severity).map(str::to_string),
            status: given(&self.status).map(str::to_string),
            engineer: given(&self.engineer).map(str::to_string),
            engineer_email: given(&self.engineer_email).map(str::to_string),
            notify_emails: form_email_update(&self.notify_emails),
            systems,
            started_at,
            message: given(&self.message).map(str::to_string),
            notify,
            errors,
            ..UpdateInput::default()
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Resolve, reopen, note

/// `POST /api/incidents/{ticket}/resolve`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResolveJson {
    pub(crate) version: Option<u64>,
    resolved_at: Option<String>,
    message: Option<String>,
    root_cause: Option<String>,
    #[serde(default = "told")]
    notify: bool,
}

/// The body of an action on one incident (resolve, reopen, note): one generic handler serves all three.
pub(crate) trait ActionJson: serde::de::DeserializeOwned + Default {
    /// The version the client says it acted on, if it put one in the body.
    fn version(&self) -> Option<u64>;
    fn into_command(self, ticket: TicketNumber, expected_version: Option<u64>) -> Result<Command, ValidationErrors>;
}

impl ActionJson for ResolveJson {
    fn version(&self) -> Option<u64> {
        self.version
    }

    fn into_command(self, ticket: TicketNumber, expected_version: Option<u64>) -> Result<Command, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let resolved_at = api_time(&mut errors, "resolved_at", self.resolved_at.as_deref());
        let message = optional(&mut errors, "message", self.message.as_deref(), Message::parse);
        let root_cause = optional(&mut errors, "root_cause", self.root_cause.as_deref(), RootCause::parse);
        errors.finish()?;
        let notify = self.notify;
        Ok(Command::Resolve(ResolveIncident { ticket, expected_version, resolved_at, message, root_cause, notify }))
    }
}

/// The close section of the intake form. A resolution message is required here: it is what people are told.
#[derive(Debug, Clone, Default)]
pub(crate) struct CloseForm {
    pub(crate) ticket: Option<String>,
    pub(crate) resolved_at: Option<String>,
    pub(crate) tz_offset: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) root_cause: Option<String>,
    pub(crate) notify: Option<String>,
}

impl CloseForm {
    pub(crate) fn take(fields: &mut FormFields) -> Self {
        Self {
            ticket: fields.take("ticket"),
            resolved_at: fields.take("resolved_at"),
            tz_offset: fields.take("tz_offset"),
            message: fields.take("message"),
            root_cause: fields.take("root_cause"),
            notify: fields.take("notify"),
        }
    }

    pub(crate) fn to_command(&self) -> Result<ResolveIncident, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let ticket = required(&mut errors, "ticket", given(&self.ticket), TicketNumber::parse);
        let resolved_at = form_time(&mut errors, "resolved_at", given(&self.resolved_at), self.tz_offset.as_deref());
        let message = required(&mut errors, "message", given(&self.message), Message::parse);
        let root_cause = optional(&mut errors, "root_cause", given(&self.root_cause), RootCause::parse);
        let notify = form_bool(&mut errors, "notify", self.notify.as_deref());
        errors.finish()?;
        match ticket {
            Some(ticket) => {
                Ok(ResolveIncident { ticket, expected_version: None, resolved_at, message, root_cause, notify })
            }
            None => Err(FieldError::new("ticket", "is required").into()),
        }
    }
}

/// `POST /api/incidents/{ticket}/reopen`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReopenJson {
    pub(crate) version: Option<u64>,
    message: Option<String>,
    #[serde(default = "told")]
    notify: bool,
}

/// Opening, resolving and reopening tell the people affected unless the request says `"notify": false`;
/// an update tells them only when it says `"notify": true`.
fn told() -> bool {
    true
}

impl ActionJson for ReopenJson {
    fn version(&self) -> Option<u64> {
        self.version
    }

    fn into_command(self, ticket: TicketNumber, expected_version: Option<u64>) -> Result<Command, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let message = optional(&mut errors, "message", self.message.as_deref(), Message::parse);
        errors.finish()?;
        Ok(Command::Reopen(ReopenIncident { ticket, expected_version, message, notify: self.notify }))
    }
}

/// `POST /api/incidents/{ticket}/notes`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteJson {
    pub(crate) version: Option<u64>,
    message: Option<String>,
}

impl ActionJson for NoteJson {
    fn version(&self) -> Option<u64> {
        self.version
    }

    fn into_command(self, ticket: TicketNumber, expected_version: Option<u64>) -> Result<Command, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let message = required(&mut errors, "message", self.message.as_deref(), Message::parse);
        errors.finish()?;
        match message {
            Some(message) => Ok(Command::Note(AddNote { ticket, expected_version, message })),
            None => Err(FieldError::new("message", "is required").into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_local_time_takes_the_forms_offset() {
        let mut errors = ValidationErrors::new();
        let t = form_time(&mut errors, "started_at", Some("2026-11-22T10:30"), Some("+02:00"));
        assert_eq!(t, Some(datetime!(2026-11-22 08:30 UTC)));
        assert!(errors.is_empty());
    }

    #[test]
    fn an_rfc3339_time_in_a_form_keeps_its_own_offset() {
        let mut errors = ValidationErrors::new();
        let t = form_time(&mut errors, "started_at", Some("2026-11-22T10:30:00-05:00"), Some("+02:00"));
        assert_eq!(t, Some(datetime!(2026-11-22 15:30 UTC)));
    }

    #[test]
    fn offsets_are_read_as_people_write_them() {
        assert_eq!(parse_offset("Z"), Some(UtcOffset::UTC));
        assert_eq!(parse_offset("-0530"), UtcOffset::from_hms(-5, -30, 0).ok());
        assert_eq!(parse_offset("+01"), UtcOffset::from_hms(1, 0, 0).ok());
        assert_eq!(parse_offset("01:00"), None);
        assert_eq!(parse_offset("+25:00"), None);
    }

    #[test]
    fn a_garbled_time_names_its_field() {
        let mut errors = ValidationErrors::new();
        assert_eq!(form_time(&mut errors, "resolved_at", Some("yesterday"), Some("Z")), None);
        assert_eq!(errors.0[0].field, "resolved_at");
    }

    #[test]
    fn a_forms_address_box_takes_commas_semicolons_and_lines() {
        let raw = "ada@example.com, grace@example.com;\r\n\n  linus@example.com ,";
        assert_eq!(form_email_list(raw), ["ada@example.com", "grace@example.com", "linus@example.com"]);
        assert_eq!(form_email_update(&Some(" None ".into())), Some(Vec::new()));
        assert_eq!(form_email_update(&Some("  ".into())), None);
    }

    #[test]
    fn a_bad_address_in_a_list_is_named_by_its_index() {
        let mut errors = ValidationErrors::new();
        let raw = ["ada@example.com".to_string(), "nope".to_string()];
        assert_eq!(email_list(&mut errors, "notify_emails", &raw).len(), 1);
        assert_eq!(errors.0[0].field, "notify_emails[1]");
    }

    #[test]
    fn a_field_sent_twice_is_refused() {
        let mut fields = FormFields::parse(b"title=a&title=b").unwrap();
        fields.take("title");
        assert!(matches!(fields.finish(), Err(ApiError::Malformed { fields, .. }) if fields[0].field == "title"));
    }

    #[test]
    fn if_match_takes_quoted_or_bare_versions() {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_MATCH, "\"4\"".parse().unwrap());
        assert_eq!(expected_version(&headers, None).unwrap(), Some(4));
        headers.insert(header::IF_MATCH, "4".parse().unwrap());
        assert_eq!(expected_version(&headers, Some(4)).unwrap(), Some(4));
        assert!(expected_version(&headers, Some(3)).is_err());
    }
}
