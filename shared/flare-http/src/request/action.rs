//! Actions on one incident: resolve, reopen and note as JSON (one generic handler serves all three through
//! [`ActionJson`]), and the form's close section.

use flare_core::text::{Message, RootCause};
use flare_core::{AddNote, Command, FieldError, ReopenIncident, ResolveIncident, TicketNumber, ValidationErrors};
use serde::Deserialize;
use utoipa::ToSchema;

use super::body::FormFields;
use super::fields::{api_time, form_bool, form_time, given, notify_by_default, optional, required, whole_number};

/// `POST /api/incidents/{ticket}/resolve`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ResolveIncident)]
pub(crate) struct ResolveJson {
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 1)]
    pub(crate) version: Option<u64>,
    #[schema(value_type = Option<String>, format = DateTime)]
    resolved_at: Option<String>,
    #[schema(value_type = Option<String>, min_length = 1, max_length = 10000, pattern = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$")]
    message: Option<String>,
    #[schema(value_type = Option<String>, min_length = 1, max_length = 10000, pattern = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$")]
    root_cause: Option<String>,
    #[serde(default = "notify_by_default")]
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
#[derive(Debug, Clone, Default, ToSchema)]
#[serde(deny_unknown_fields)]
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
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReopenIncident)]
pub(crate) struct ReopenJson {
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 1)]
    pub(crate) version: Option<u64>,
    #[schema(value_type = Option<String>, min_length = 1, max_length = 10000, pattern = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$")]
    message: Option<String>,
    #[serde(default = "notify_by_default")]
    notify: bool,
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
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AddNote)]
pub(crate) struct NoteJson {
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 1)]
    pub(crate) version: Option<u64>,
    #[schema(value_type = String, required = true, min_length = 1, max_length = 10000, pattern = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$")]
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
