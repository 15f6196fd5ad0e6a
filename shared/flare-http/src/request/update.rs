//! Updating an incident: the JSON body of `PATCH /api/incidents/{ticket}` and the form's update section, read into
//! one [`UpdateInput`] that becomes the domain's [`UpdateIncident`].

use flare_core::text::{Description, FollowUp, Message, PersonName, RootCause, Title};
use flare_core::{
    AffectedSystem, EmailAddress, FieldError, FollowUpAction, Severity, Status, System, TicketNumber, UpdateIncident,
    ValidationErrors,
};
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::body::FormFields;
use super::fields::{
    RawSystem, api_time, email_list, form_bool, form_email_update, form_time, given, optional, required, systems,
    whole_number,
};
use super::open::{SystemJson, form_systems, json_systems};

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
    /// Replaces the whole list when given; empty clears it.
    pub(crate) follow_ups: Option<Vec<RawFollowUp>>,
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
        let title = optional(&mut errors, "title", self.title.as_deref(), Title::parse);
        let description = optional(&mut errors, "description", self.description.as_deref(), Description::parse);
        let severity = optional(&mut errors, "severity", self.severity.as_deref(), Severity::parse);
        let status = optional(&mut errors, "status", self.status.as_deref(), Status::parse);
        let engineer = optional(&mut errors, "engineer", self.engineer.as_deref(), PersonName::parse);
        let engineer_email =
            optional(&mut errors, "engineer_email", self.engineer_email.as_deref(), EmailAddress::parse);
        let notify_emails = self.notify_emails.map(|list| email_list(&mut errors, "notify_emails", &list));
        let systems = self.systems.map(|raw| systems(&mut errors, &raw, catalog));
        let root_cause = optional(&mut errors, "root_cause", self.root_cause.as_deref(), RootCause::parse);
        let follow_ups = self.follow_ups.map(|list| {
            list.iter().enumerate().filter_map(|(i, f)| f.parse(&mut errors, &format!("follow_ups[{i}]"))).collect()
        });
        let message = optional(&mut errors, "message", self.message.as_deref(), Message::parse);
        // The form's ticket field reports its own parse error; only a missing one is added here.
        if ticket.is_none() && !errors.0.iter().any(|e| e.field == "ticket") {
            errors.push("ticket", "is required");
        }
        errors.finish()?;
        let ticket = ticket.ok_or_else(|| FieldError::new("ticket", "is required"))?;
        let mut c = UpdateIncident::new(ticket);
        c.expected_version = expected_version;
        c.title = title;
        c.description = description;
        c.severity = severity;
        c.status = status;
        c.engineer = engineer;
        c.engineer_email = engineer_email;
        c.notify_emails = notify_emails;
        c.systems = systems;
        c.started_at = self.started_at;
        c.detected_at = self.detected_at;
        c.root_cause = root_cause;
        c.follow_ups = follow_ups;
        c.message = message;
        c.notify = self.notify;
        Ok(c)
    }
}

/// One follow-up action as given: its text, and an owner and a due date (`YYYY-MM-DD`) when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RawFollowUp {
    pub(crate) action: String,
    pub(crate) owner: Option<String>,
    pub(crate) due: Option<String>,
}

impl RawFollowUp {
    /// The action, or `None` with each problem recorded under `field` (the entry), naming the part.
    fn parse(&self, errors: &mut ValidationErrors, field: &str) -> Option<FollowUpAction> {
        let part = |errors: &mut ValidationErrors, name: &str, e: FieldError| {
            errors.push(field, format!("has {name} that {}", e.reason));
        };
        let action = FollowUp::parse(field, &self.action).map_err(|e| part(errors, "an action", e)).ok();
        let owner = match given(&self.owner) {
            Some(o) => Some(PersonName::parse(field, o).map_err(|e| part(errors, "an owner", e)).ok()?),
            None => None,
        };
        let due = match given(&self.due) {
            Some(d) => Some(FollowUpAction::parse_due(field, d).map_err(|e| part(errors, "a due date", e)).ok()?),
            None => None,
        };
        Some(FollowUpAction { action: action?, owner, due })
    }
}

/// A follow-up in JSON: its text alone, or an object with an owner and a due date.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum FollowUpJson {
    Text(String),
    Action(FollowUpActionJson),
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FollowUpActionJson {
    #[schema(min_length = 1, max_length = 500)]
    action: String,
    #[schema(min_length = 1, max_length = 200)]
    owner: Option<String>,
    #[schema(format = Date)]
    due: Option<String>,
}

impl From<FollowUpJson> for RawFollowUp {
    fn from(json: FollowUpJson) -> Self {
        match json {
            FollowUpJson::Text(action) => Self { action, owner: None, due: None },
            FollowUpJson::Action(a) => Self { action: a.action, owner: a.owner, due: a.due },
        }
    }
}

/// The form's follow-ups: one action a line, `action; owner; YYYY-MM-DD`, owner and date optional. Blank leaves
/// the list as it is; `none` empties it.
fn form_follow_ups(raw: &Option<String>) -> Option<Vec<RawFollowUp>> {
    let raw = given(raw)?;
    if raw.eq_ignore_ascii_case("none") {
        return Some(Vec::new());
    }
    let part = |p: Option<&str>| p.map(str::trim).filter(|p| !p.is_empty()).map(str::to_string);
    Some(
        raw.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let mut parts = line.splitn(3, ';');
                RawFollowUp {
                    action: parts.next().unwrap_or_default().trim().to_string(),
                    owner: part(parts.next()),
                    due: part(parts.next()),
                }
            })
            .collect(),
    )
}

/// `PATCH /api/incidents/{ticket}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateIncident)]
pub(crate) struct UpdateJson {
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 1)]
    pub(crate) version: Option<u64>,
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$")]
    title: Option<String>,
    #[schema(value_type = Option<String>, min_length = 1, max_length = 10000, pattern = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$")]
    description: Option<String>,
    #[schema(value_type = Option<flare_core::Severity>)]
    severity: Option<String>,
    #[schema(value_type = Option<flare_core::Status>)]
    status: Option<String>,
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$")]
    engineer: Option<String>,
    #[schema(value_type = Option<String>, format = Email, max_length = 254, pattern = "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")]
    engineer_email: Option<String>,
    #[schema(max_items = 20)]
    notify_emails: Option<Vec<String>>,
    #[schema(max_items = 50)]
    systems: Option<Vec<SystemJson>>,
    #[schema(value_type = Option<String>, format = DateTime)]
    started_at: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    detected_at: Option<String>,
    #[schema(value_type = Option<String>, min_length = 1, max_length = 10000, pattern = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$")]
    root_cause: Option<String>,
    /// Replaces the whole list: each action as text, or `{"action", "owner", "due"}` with `due` a `YYYY-MM-DD` date.
    #[schema(max_items = 50)]
    follow_ups: Option<Vec<FollowUpJson>>,
    #[schema(value_type = Option<String>, min_length = 1, max_length = 10000, pattern = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$")]
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
            follow_ups: self.follow_ups.map(|list| list.into_iter().map(RawFollowUp::from).collect()),
            message: self.message,
            notify: self.notify,
            errors,
        }
    }
}

/// The update section of the intake form. Blank fields are left unchanged; `impact.<id>` rows are blank to keep
/// a system as it is, `none` to remove it, or an impact to set it. `notify_emails` replaces the list, and `none`
/// clears it.
#[derive(Debug, Clone, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateForm {
    pub(crate) ticket: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) severity: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) engineer: Option<String>,
    pub(crate) engineer_email: Option<String>,
    pub(crate) notify_emails: Option<String>,
    /// One action a line: `action; owner; YYYY-MM-DD`; `none` empties the list.
    pub(crate) follow_ups: Option<String>,
    pub(crate) started_at: Option<String>,
    pub(crate) tz_offset: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) notify: Option<String>,
    #[serde(skip)]
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
            follow_ups: fields.take("follow_ups"),
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
            follow_ups: form_follow_ups(&self.follow_ups),
            systems,
            started_at,
            message: given(&self.message).map(str::to_string),
            notify,
            errors,
            ..UpdateInput::default()
        }
    }
}
