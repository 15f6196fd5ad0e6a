//! Opening an incident: the JSON body and the form section (also form-encoded `POST /api/incidents`), both read
//! into one [`OpenInput`] that becomes the domain's [`OpenIncident`].

use flare_core::text::{Description, PersonName, Title};
use flare_core::{EmailAddress, FieldError, OpenIncident, Severity, Source, System, ValidationErrors};
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::body::FormFields;
use super::fields::{
    RawSystem, api_time, email_list, form_bool, form_email_list, form_time, given, notify_by_default, optional,
    required, systems,
};

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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AffectedSystem)]
pub(crate) struct SystemJson {
    #[schema(pattern = "^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$", max_length = 64)]
    system: String,
    #[schema(value_type = flare_core::Impact)]
    impact: String,
}

pub(super) fn json_systems(list: Vec<SystemJson>) -> Vec<RawSystem> {
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OpenIncident)]
pub(crate) struct OpenJson {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$")]
    title: Option<String>,
    #[schema(value_type = String, required = true, min_length = 1, max_length = 10000, pattern = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$")]
    description: Option<String>,
    #[schema(value_type = flare_core::Severity, required = true)]
    severity: Option<String>,
    #[serde(default)]
    #[schema(max_items = 50)]
    systems: Vec<SystemJson>,
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$")]
    engineer: Option<String>,
    #[schema(value_type = Option<String>, format = Email, max_length = 254, pattern = "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")]
    engineer_email: Option<String>,
    #[serde(default)]
    #[schema(max_items = 20)]
    notify_emails: Vec<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    started_at: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    detected_at: Option<String>,
    #[serde(default = "notify_by_default")]
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
#[derive(Debug, Clone, Default, ToSchema)]
#[serde(deny_unknown_fields)]
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
    #[serde(skip)]
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
