//! The public JSON shape of incidents, timelines and systems: what the dashboard endpoint, the intake API and
//! any other reader see. The domain types stay free to change; these views are the contract.
//!
//! With feature `openapi` each view describes itself (`utoipa::ToSchema`) for the HTTP API's document.
//!
//! Times are RFC 3339 in UTC. `duration` is whole seconds from start to resolution, `null` while open.

use serde::Serialize;
use serde_json::Value;

use crate::access::{Actor, ActorKind};
use crate::catalog::System;
use crate::incident::{AffectedSystem, FollowUpAction, Incident};
use crate::ports::Committed;
use crate::timefmt::rfc3339;
use crate::timeline::{EventKind, FieldChange, TimelineEvent};
use crate::values::TicketNumber;
use crate::values::{Impact, Severity, Status, SystemId};

/// One system an incident affects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AffectedSystemView {
    pub system: SystemId,
    pub impact: Impact,
}

/// An incident as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentView {
    pub ticket: TicketNumber,
    pub title: String,
    pub description: String,
    pub status: Status,
    pub severity: Severity,
    pub systems: Vec<AffectedSystemView>,
    pub engineer: Option<String>,
    pub reporter: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub started_at: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub detected_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub resolved_at: Option<String>,
    /// Seconds from start to resolution; `None` while the incident is open.
    pub duration: Option<i64>,
    /// The mirror ticket in the organisation's ticketing system, when it has a URL.
    pub ticket_url: Option<String>,
    pub root_cause: Option<String>,
    pub follow_ups: Vec<FollowUpAction>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub updated_at: String,
    pub version: u64,
}

impl From<&Incident> for IncidentView {
    fn from(i: &Incident) -> Self {
        Self {
            ticket: i.ticket,
            title: i.title.to_string(),
            description: i.description.to_string(),
            status: i.status,
            severity: i.severity,
            systems: i.systems.iter().map(AffectedSystemView::from).collect(),
            engineer: i.engineer.as_ref().map(ToString::to_string),
            reporter: i.reporter.to_string(),
            started_at: rfc3339(i.started_at),
            detected_at: i.detected_at.map(rfc3339),
            resolved_at: i.resolved_at.map(rfc3339),
            duration: i.resolved_at.map(|r| (r - i.started_at).whole_seconds()),
            ticket_url: i.external.as_ref().and_then(|e| e.url.as_ref()).map(ToString::to_string),
            root_cause: i.root_cause.as_ref().map(ToString::to_string),
            follow_ups: i.follow_ups.clone(),
            created_at: rfc3339(i.created_at),
            updated_at: rfc3339(i.updated_at),
            version: i.version,
        }
    }
}

impl From<&AffectedSystem> for AffectedSystemView {
    fn from(s: &AffectedSystem) -> Self {
        Self { system: s.system.clone(), impact: s.impact }
    }
}

/// Who made a change. A person is shown by display name only: sign-in names are not published, so the
/// timeline cannot be used to find accounts to attack. API keys and jobs show their public id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActorView {
    pub kind: ActorKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
}

impl From<&Actor> for ActorView {
    fn from(a: &Actor) -> Self {
        let id = (a.kind != ActorKind::User).then(|| a.id.clone());
        Self { kind: a.kind, id, name: a.name.clone() }
    }
}

/// One field's value before and after a change; `null` means absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldChangeView {
    pub field: String,
    pub from: Value,
    pub to: Value,
}

impl From<&FieldChange> for FieldChangeView {
    fn from(c: &FieldChange) -> Self {
        Self { field: c.field.clone(), from: c.from.clone(), to: c.to.clone() }
    }
}

/// One timeline event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventView {
    pub seq: u64,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub at: String,
    pub actor: ActorView,
    pub kind: EventKind,
    pub changes: Vec<FieldChangeView>,
    pub message: Option<String>,
    pub notify: bool,
}

impl From<&TimelineEvent> for EventView {
    fn from(e: &TimelineEvent) -> Self {
        Self {
            seq: e.seq,
            at: rfc3339(e.at),
            actor: ActorView::from(&e.actor),
            kind: e.kind,
            changes: e.changes.iter().map(FieldChangeView::from).collect(),
            message: e.message.as_ref().map(ToString::to_string),
            notify: e.notify,
        }
    }
}

/// An incident with its whole timeline, oldest event first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentDetailView {
    #[serde(flatten)]
    pub incident: IncidentView,
    pub timeline: Vec<EventView>,
}

impl IncidentDetailView {
    pub fn new(incident: &Incident, timeline: &[TimelineEvent]) -> Self {
        Self { incident: IncidentView::from(incident), timeline: timeline.iter().map(EventView::from).collect() }
    }
}

/// A system of the catalog, without its owner's contact details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SystemView {
    pub id: SystemId,
    pub name: String,
    pub owner: Option<String>,
}

impl From<&System> for SystemView {
    fn from(s: &System) -> Self {
        Self { id: s.id.clone(), name: s.name.to_string(), owner: s.owner.as_ref().map(ToString::to_string) }
    }
}

/// The answer to a command: the incident's ticket and version after it, whether it replayed an earlier request
/// with the same idempotency key, and the incident as it now stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommittedView {
    pub ticket: TicketNumber,
    pub version: u64,
    pub replayed: bool,
    pub incident: IncidentView,
}

impl CommittedView {
    pub fn new(committed: Committed, incident: &Incident) -> Self {
        Self {
            ticket: committed.ticket,
            version: committed.version,
            replayed: committed.replayed,
            incident: IncidentView::from(incident),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util;

    fn incident() -> Incident {
        let t = test_util::STARTED_AT;
        test_util::incident().ticket(7).resolved_at(t + time::Duration::minutes(90)).version(3).build()
    }

    #[test]
    fn the_duration_of_a_resolved_incident_is_in_seconds() {
        let view = IncidentView::from(&incident());
        assert_eq!(view.duration, Some(5400));
        assert_eq!(view.started_at, "2026-11-22T09:00:00Z");
    }

    #[test]
    fn an_open_incident_has_no_duration() {
        let mut i = incident();
        i.resolved_at = None;
        i.status = Status::Investigating;
        let json = serde_json::to_value(IncidentView::from(&i)).unwrap();
        assert_eq!(json["duration"], Value::Null);
        assert_eq!(json["ticket"], "INC-7");
    }
}
