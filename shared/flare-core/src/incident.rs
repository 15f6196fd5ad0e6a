//! The incident aggregate and its value types.
//!
//! An [`Incident`] is only ever changed by a command in [`crate::command`], which returns the next state and the
//! timeline event recording it; its `version` counts those events.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::FieldError;
use crate::limits;
use crate::text::{Description, ExternalId, FollowUp, Line, PersonName, RootCause, Title};
use crate::timefmt::serde_rfc3339;
use crate::values::{EmailAddress, Impact, Severity, Status, SystemId, TicketNumber};

/// One system an incident affects, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedSystem {
    pub system: SystemId,
    pub impact: Impact,
}

/// Checks the addresses listed to be told: at most [`limits::NOTIFY_EMAILS_MAX`], each once.
pub fn validate_notify_emails(field: &str, emails: Vec<EmailAddress>) -> Result<Vec<EmailAddress>, FieldError> {
    if emails.len() > limits::NOTIFY_EMAILS_MAX {
        return Err(FieldError::new(field, format!("must list at most {} addresses", limits::NOTIFY_EMAILS_MAX)));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = emails.iter().find(|e| !seen.insert(*e)) {
        return Err(FieldError::new(field, format!("lists {dup} more than once")));
    }
    Ok(emails)
}

/// Parses a list of affected systems: at most [`limits::SYSTEMS_MAX`], each at most once.
pub fn validate_systems(field: &str, systems: Vec<AffectedSystem>) -> Result<Vec<AffectedSystem>, FieldError> {
    if systems.len() > limits::SYSTEMS_MAX {
        return Err(FieldError::new(field, format!("must list at most {} systems", limits::SYSTEMS_MAX)));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = systems.iter().find(|s| !seen.insert(&s.system)) {
        return Err(FieldError::new(field, format!("lists {} more than once", dup.system)));
    }
    Ok(systems)
}

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// A follow-up action after an incident: what is to be done, who owns it and by when, where given.
///
/// Stored and answered as `{"action", "owner", "due"}`, `due` a `YYYY-MM-DD` date; a bare string (how actions
/// were stored before they had an owner and a due date) still reads, as an action with neither.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FollowUpRepr")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FollowUpAction {
    #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 500))]
    pub action: FollowUp,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 200))]
    pub owner: Option<PersonName>,
    #[serde(with = "iso_date::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub due: Option<time::Date>,
}

impl FollowUpAction {
    /// Parses a due date written `YYYY-MM-DD`.
    pub fn parse_due(field: &str, raw: &str) -> Result<time::Date, FieldError> {
        time::Date::parse(raw.trim(), &time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|_| FieldError::new(field, "must be a date like 2026-12-31"))
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FollowUpRepr {
    Text(FollowUp),
    Full {
        action: FollowUp,
        #[serde(default)]
        owner: Option<PersonName>,
        // Read as text and parsed here: time's own optional-date reader cannot see a `null` inside an
        // untagged enum.
        #[serde(default)]
        due: Option<String>,
    },
}

impl TryFrom<FollowUpRepr> for FollowUpAction {
    type Error = String;

    fn try_from(repr: FollowUpRepr) -> Result<Self, Self::Error> {
        Ok(match repr {
            FollowUpRepr::Text(action) => Self { action, owner: None, due: None },
            FollowUpRepr::Full { action, owner, due } => {
                let due = due.map(|d| Self::parse_due("due", &d)).transpose().map_err(|e| e.reason)?;
                Self { action, owner, due }
            }
        })
    }
}

/// The ticket in the organisation's ticketing system that mirrors this incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalTicket {
    /// `servicenow`, `jira`, `github` or `webhook`.
    pub system: Line<32>,
    pub key: ExternalId,
    pub url: Option<Line<{ limits::URL_MAX }>>,
}

crate::choice!(
    /// The way a command reached Flare.
    Channel {
        Form = "form",
        Api = "api",
        Sheet = "sheet",
        Probe = "probe",
        Cli = "cli",
    }
);

/// Where an incident came from. Polled rows carry the source's own row id, so that a second poll of the same
/// row finds the incident instead of opening a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub channel: Channel,
    pub external_id: Option<ExternalId>,
}

impl Source {
    pub fn new(channel: Channel) -> Self {
        Self { channel, external_id: None }
    }
}

/// An incident as it stands now. Its history is the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub ticket: TicketNumber,
    pub title: Title,
    pub description: Description,
    pub severity: Severity,
    pub status: Status,
    pub systems: Vec<AffectedSystem>,
    pub engineer: Option<PersonName>,
    /// Where the responsible engineer is told of each notified event.
    #[serde(default)]
    pub engineer_email: Option<EmailAddress>,
    /// Addresses told of each notified event besides the subscribers (a manager, a vendor's support desk).
    #[serde(default)]
    pub notify_emails: Vec<EmailAddress>,
    pub reporter: PersonName,
    #[serde(with = "serde_rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "serde_rfc3339::option")]
    pub detected_at: Option<OffsetDateTime>,
    #[serde(with = "serde_rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
    pub external: Option<ExternalTicket>,
    pub source: Source,
    pub root_cause: Option<RootCause>,
    pub follow_ups: Vec<FollowUpAction>,
    /// Counts committed changes: 1 after open. Updates name the version they were made against.
    pub version: u64,
    #[serde(with = "serde_rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "serde_rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Incident {
    pub fn is_open(&self) -> bool {
        self.status != Status::Resolved
    }

    /// Whether the incident overlaps the half-open window `[from, to)`: it started before the window ends and
    /// was still open at the window's start or ended after it. An incident occupies `[started_at, resolved_at)`.
    pub fn overlaps(&self, from: OffsetDateTime, to: OffsetDateTime) -> bool {
        self.started_at < to && self.resolved_at.is_none_or(|r| r > from)
    }

    pub fn affects(&self, system: &SystemId) -> bool {
        self.systems.iter().any(|s| &s.system == system)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_case_insensitively_and_list_the_options_when_wrong() {
        assert_eq!(Severity::parse("severity", "SEV2").unwrap(), Severity::Sev2);
        let e = Severity::parse("severity", "urgent").unwrap_err();
        assert_eq!(e.reason, "must be one of sev1, sev2, sev3, sev4");
        assert_eq!(Impact::parse("impact", "partial_outage").unwrap(), Impact::PartialOutage);
    }

    #[test]
    fn a_follow_up_stored_as_bare_text_reads_as_an_action_without_owner_or_due_date() {
        let f: FollowUpAction = serde_json::from_str(r#""Add a second gateway""#).unwrap();
        assert_eq!((f.action.as_str(), f.owner, f.due), ("Add a second gateway", None, None));
    }

    #[test]
    fn a_follow_up_without_owner_or_due_date_survives_its_json() {
        let action = crate::text::FollowUp::parse("action", "Document it").unwrap();
        let f = FollowUpAction { action, owner: None, due: None };
        let back: FollowUpAction = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
        assert_eq!(back, f);
    }

    #[test]
    fn a_follow_up_keeps_its_owner_and_due_date_as_an_iso_date() {
        let json = r#"{"action":"Add a second gateway","owner":"Grace","due":"2026-12-15"}"#;
        let f: FollowUpAction = serde_json::from_str(json).unwrap();
        assert_eq!(f.due, Some(time::macros::date!(2026 - 12 - 15)));
        assert_eq!(serde_json::to_string(&f).unwrap(), json);
    }

    #[test]
    fn system_ids_are_lowercase_slugs() {
        assert_eq!(SystemId::parse("system", " VPN ").unwrap().as_str(), "vpn");
        assert!(SystemId::parse("system", "pay roll").is_err());
        assert!(SystemId::parse("system", "<script>").is_err());
    }

    #[test]
    fn a_system_listed_twice_is_refused() {
        let vpn = SystemId::parse("system", "vpn").unwrap();
        let list = vec![
            AffectedSystem { system: vpn.clone(), impact: Impact::Degraded },
            AffectedSystem { system: vpn, impact: Impact::MajorOutage },
        ];
        assert_eq!(validate_systems("systems", list).unwrap_err().reason, "lists vpn more than once");
    }
}
