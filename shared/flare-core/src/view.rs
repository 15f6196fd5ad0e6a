//! The public JSON shape of incidents, timelines and systems: what the dashboard endpoint, the intake API and
//! any other reader see. The domain types stay free to change; these views are the contract.
//!
//! With feature `openapi` each view describes itself (`utoipa::ToSchema`) for the HTTP API's document.
//!
//! Times are RFC 3339 in UTC. `duration` is whole seconds from start to resolution, `null` while open.
//!
//! Every view has two audiences ([`Audience`]). Staff see everything a reader may. The public (anonymous readers
//! of a Flare whose reads are public) see what happened and when, but not who: no engineer, reporter or actor
//! names, no addresses, no ticket links or keys, no root cause or follow-ups, and no delivery data. The public
//! view is made by leaving those out at the one place views are built, so no page or endpoint can forget to.

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

/// Who a view is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// A signed-in user or an API key: every field.
    Staff,
    /// An anonymous reader of public reads: no internal field.
    Public,
}

impl Audience {
    pub fn is_public(self) -> bool {
        self == Self::Public
    }
}

/// The incident fields only staff see, by the name they carry in the incident's JSON and in timeline changes.
pub const INTERNAL_FIELDS: &[&str] =
    &["engineer", "engineer_email", "notify_emails", "reporter", "external", "root_cause", "follow_ups", "source"];

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
    /// Staff only: absent for the public, `null` when nobody is assigned.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub engineer: Option<Option<String>>,
    /// Who opened the incident. Staff only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporter: Option<String>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub started_at: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub detected_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub resolved_at: Option<String>,
    /// Seconds from start to resolution; `None` while the incident is open.
    pub duration: Option<i64>,
    /// The mirror ticket in the organisation's ticketing system, when it has a URL. Staff only: absent for the
    /// public.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub ticket_url: Option<Option<String>>,
    /// Staff only: absent for the public, `null` until recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub root_cause: Option<Option<String>>,
    /// Staff only: absent for the public, empty when none are recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_ups: Option<Vec<FollowUpAction>>,
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
            engineer: Some(i.engineer.as_ref().map(ToString::to_string)),
            reporter: Some(i.reporter.to_string()),
            started_at: rfc3339(i.started_at),
            detected_at: i.detected_at.map(rfc3339),
            resolved_at: i.resolved_at.map(rfc3339),
            duration: i.resolved_at.map(|r| (r - i.started_at).whole_seconds()),
            ticket_url: Some(i.external.as_ref().and_then(|e| e.url.as_ref()).map(ToString::to_string)),
            root_cause: Some(i.root_cause.as_ref().map(ToString::to_string)),
            follow_ups: Some(i.follow_ups.clone()),
            created_at: rfc3339(i.created_at),
            updated_at: rfc3339(i.updated_at),
            version: i.version,
        }
    }
}

impl IncidentView {
    /// The engineer, when the reader may see one and one is assigned.
    pub fn engineer_name(&self) -> Option<&str> {
        self.engineer.as_ref().and_then(Option::as_deref)
    }

    /// The ticket's link, when the reader may see it and it is a web link (a `javascript:` URL is not a ticket).
    pub fn ticket_link(&self) -> Option<&str> {
        self.ticket_url
            .as_ref()
            .and_then(Option::as_deref)
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
    }

    /// The root cause, when the reader may see it and it is recorded.
    pub fn root_cause_text(&self) -> Option<&str> {
        self.root_cause.as_ref().and_then(Option::as_deref)
    }

    /// The incident as `audience` sees it.
    pub fn new(i: &Incident, audience: Audience) -> Self {
        let view = Self::from(i);
        match audience {
            Audience::Staff => view,
            Audience::Public => {
                Self { engineer: None, reporter: None, ticket_url: None, root_cause: None, follow_ups: None, ..view }
            }
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

impl ActorView {
    /// The actor as the public sees it: what kind of principal acted, never which one.
    fn public(kind: ActorKind) -> Self {
        let name = match kind {
            ActorKind::User => "Staff",
            ActorKind::ApiKey => "An integration",
            ActorKind::System => "Flare",
        };
        Self { kind, id: None, name: name.to_owned() }
    }
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

impl EventView {
    /// The event as `audience` sees it. The public sees no actor's name and no change to an internal field; an
    /// event that changed only those (the ticket's link, say) is left out as a whole.
    pub fn new(e: &TimelineEvent, audience: Audience) -> Option<Self> {
        let view = Self::from(e);
        if !audience.is_public() {
            return Some(view);
        }
        let changes: Vec<FieldChangeView> =
            view.changes.into_iter().filter(|c| !INTERNAL_FIELDS.contains(&c.field.as_str())).collect();
        if e.kind == EventKind::TicketLinked || (!e.changes.is_empty() && changes.is_empty() && view.message.is_none())
        {
            return None;
        }
        Some(Self { actor: ActorView::public(e.actor.kind), changes, ..view })
    }
}

impl IncidentDetailView {
    /// The incident and its timeline as `audience` sees them.
    pub fn new(incident: &Incident, timeline: &[TimelineEvent], audience: Audience) -> Self {
        Self {
            incident: IncidentView::new(incident, audience),
            timeline: timeline.iter().filter_map(|e| EventView::new(e, audience)).collect(),
        }
    }
}

/// A system of the catalog, without its owner's contact details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SystemView {
    pub id: SystemId,
    pub name: String,
    /// The owning team or person. Staff only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl SystemView {
    /// The system as `audience` sees it.
    pub fn new(s: &System, audience: Audience) -> Self {
        let owner = if audience.is_public() { None } else { s.owner.as_ref().map(ToString::to_string) };
        Self { id: s.id.clone(), name: s.name.to_string(), owner }
    }
}

impl From<&System> for SystemView {
    fn from(s: &System) -> Self {
        Self::new(s, Audience::Staff)
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
