//! Fixtures for tests, in this crate and in every crate that turns on the `test-util` feature: an incident
//! builder, so that a test names only the fields it is about, the event a command would record, and a catalog
//! system.
//!
//! Never used by production code. The values are valid by construction, so parsing them cannot fail; a panic
//! here is a broken fixture, which is what a test should report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use time::OffsetDateTime;
use time::macros::datetime;

use crate::access::Actor;
use crate::incident::{AffectedSystem, Channel, ExternalTicket, Incident, Source};
use crate::text::{Description, ExternalId, Line, PersonName, Title};
use crate::timeline::{EventKind, TimelineEvent};
use crate::values::EmailAddress;
use crate::values::TicketNumber;
use crate::values::{Impact, Severity, Status, SystemId};

/// When every fixture incident starts, unless a test says otherwise.
pub const STARTED_AT: OffsetDateTime = datetime!(2026-11-22 09:00 UTC);

/// A catalog system with no owner: `id` is a valid slug and `name` a valid name in every test that uses it.
pub fn system(id: &str, name: &str) -> crate::catalog::System {
    crate::catalog::System {
        id: SystemId::parse("id", id).expect("a fixture system id"),
        name: crate::text::SystemName::parse("name", name).expect("a fixture system name"),
        owner: None,
        owner_email: None,
    }
}

/// A ticket number from a literal.
pub fn ticket(n: u64) -> TicketNumber {
    TicketNumber::from_number(n).expect("ticket numbers start at 1")
}

/// An external ticket in `system` with key `key`.
pub fn external(system: &str, key: &str) -> ExternalTicket {
    ExternalTicket {
        system: Line::parse("system", system).unwrap(),
        key: ExternalId::parse("key", key).unwrap(),
        url: None,
    }
}

/// An incident: INC-1042, "VPN down", major (sev2), investigating, no systems, opened by Ada through the API at
/// [`STARTED_AT`], version 1. Change what the test is about.
pub fn incident() -> IncidentBuilder {
    IncidentBuilder(Incident {
        ticket: ticket(1042),
        title: Title::parse("title", "VPN down").unwrap(),
        description: Description::parse("description", "No one can connect").unwrap(),
        severity: Severity::Sev2,
        status: Status::Investigating,
        systems: vec![],
        engineer: None,
        engineer_email: None,
        notify_emails: vec![],
        reporter: PersonName::parse("reporter", "Ada").unwrap(),
        started_at: STARTED_AT,
        detected_at: None,
        resolved_at: None,
        external: None,
        source: Source::new(Channel::Api),
        root_cause: None,
        follow_ups: vec![],
        version: 1,
        created_at: STARTED_AT,
        updated_at: STARTED_AT,
    })
}

/// Builds an [`Incident`] for a test; see [`incident`].
#[derive(Debug, Clone)]
pub struct IncidentBuilder(Incident);

impl IncidentBuilder {
    pub fn ticket(mut self, n: u64) -> Self {
        self.0.ticket = ticket(n);
        self
    }

    pub fn title(mut self, title: &str) -> Self {
        self.0.title = Title::parse("title", title).unwrap();
        self
    }

    pub fn description(mut self, description: &str) -> Self {
        self.0.description = Description::parse("description", description).unwrap();
        self
    }

    pub fn severity(mut self, severity: Severity) -> Self {
        self.0.severity = severity;
        self
    }

    pub fn status(mut self, status: Status) -> Self {
        self.0.status = status;
        self
    }

    /// Adds an affected system, with a major outage.
    pub fn system(mut self, id: &str) -> Self {
        let system = SystemId::parse("system", id).unwrap();
        self.0.systems.push(AffectedSystem { system, impact: Impact::MajorOutage });
        self
    }

    pub fn engineer_email(mut self, email: &str) -> Self {
        self.0.engineer_email = Some(EmailAddress::parse("engineer_email", email).unwrap());
        self
    }

    pub fn notify_email(mut self, email: &str) -> Self {
        self.0.notify_emails.push(EmailAddress::parse("notify_emails", email).unwrap());
        self
    }

    /// Sets the start, and the creation and last change with it.
    pub fn started_at(mut self, at: OffsetDateTime) -> Self {
        self.0.started_at = at;
        self.0.created_at = at;
        self.0.updated_at = at;
        self
    }

    /// Resolves the incident at `at`.
    pub fn resolved_at(mut self, at: OffsetDateTime) -> Self {
        self.0.status = Status::Resolved;
        self.0.resolved_at = Some(at);
        self
    }

    pub fn external(mut self, external: ExternalTicket) -> Self {
        self.0.external = Some(external);
        self
    }

    pub fn source(mut self, source: Source) -> Self {
        self.0.source = source;
        self
    }

    pub fn version(mut self, version: u64) -> Self {
        self.0.version = version;
        self
    }

    pub fn build(self) -> Incident {
        self.0
    }
}

/// An event of `kind` that left `incident` as it is: its ticket, its version as the sequence number, at its last
/// change, by the system actor `test`, notifying, with no message and no changes.
pub fn event(incident: &Incident, kind: EventKind) -> TimelineEvent {
    TimelineEvent {
        ticket: incident.ticket,
        seq: incident.version,
        at: incident.updated_at,
        actor: Actor::system("test"),
        kind,
        changes: vec![],
        message: None,
        notify: true,
    }
}
