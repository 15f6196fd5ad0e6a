//! The commands that change incidents, and the rules they obey.
//!
//! Each command is validated into domain types at the edge, then applied here as a pure function of the
//! current incident, the actor and the time: it returns the next state and the one timeline event recording
//! the change, or says why the change is refused. No I/O happens here, so both store adapters commit exactly
//! what these functions decide.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::access::Actor;
use crate::error::{DomainError, ValidationErrors};
use crate::incident::{AffectedSystem, ExternalTicket, FollowUpAction, Incident, Source};
use crate::limits;
use crate::text::{Description, Message, PersonName, RootCause, Title};
use crate::timefmt::truncate_to_micros;
use crate::timeline::{EventKind, TimelineEvent, diff};
use crate::values::EmailAddress;
use crate::values::TicketNumber;
use crate::values::{Severity, Status};

/// How far in the future a start, detection or resolution time may lie: clocks drift, forms are slow.
const FUTURE_SLACK: Duration = Duration::minutes(5);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenIncident {
    pub title: Title,
    pub description: Description,
    pub severity: Severity,
    pub systems: Vec<AffectedSystem>,
    pub engineer: Option<PersonName>,
    pub engineer_email: Option<EmailAddress>,
    pub notify_emails: Vec<EmailAddress>,
    /// Defaults to now.
    pub started_at: Option<OffsetDateTime>,
    pub detected_at: Option<OffsetDateTime>,
    pub source: Source,
    pub notify: bool,
}

/// A change of some fields. Absent fields stay as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateIncident {
    pub ticket: TicketNumber,
    pub expected_version: Option<u64>,
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub severity: Option<Severity>,
    /// Investigating, identified or monitoring; resolving and reopening have their own commands.
    pub status: Option<Status>,
    pub systems: Option<Vec<AffectedSystem>>,
    pub engineer: Option<PersonName>,
    pub engineer_email: Option<EmailAddress>,
    /// Replaces the whole list when given.
    pub notify_emails: Option<Vec<EmailAddress>>,
    pub started_at: Option<OffsetDateTime>,
    pub detected_at: Option<OffsetDateTime>,
    pub root_cause: Option<RootCause>,
    /// Replaces the whole list when given.
    pub follow_ups: Option<Vec<FollowUpAction>>,
    pub message: Option<Message>,
    pub notify: bool,
}

impl UpdateIncident {
    /// An update of `ticket` that changes nothing yet.
    pub fn new(ticket: TicketNumber) -> Self {
        Self {
            ticket,
            expected_version: None,
            title: None,
            description: None,
            severity: None,
            status: None,
            systems: None,
            engineer: None,
            engineer_email: None,
            notify_emails: None,
            started_at: None,
            detected_at: None,
            root_cause: None,
            follow_ups: None,
            message: None,
            notify: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolveIncident {
    pub ticket: TicketNumber,
    pub expected_version: Option<u64>,
    /// Defaults to now.
    pub resolved_at: Option<OffsetDateTime>,
    pub message: Option<Message>,
    pub root_cause: Option<RootCause>,
    pub notify: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReopenIncident {
    pub ticket: TicketNumber,
    pub expected_version: Option<u64>,
    pub message: Option<Message>,
    pub notify: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddNote {
    pub ticket: TicketNumber,
    pub expected_version: Option<u64>,
    pub message: Message,
}

/// Records the ticket the dispatcher opened or found in the organisation's ticketing system. Its own command, so
/// that its event has its own kind, which the dispatcher skips by kind instead of mirroring it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkTicket {
    pub ticket: TicketNumber,
    pub external: ExternalTicket,
}

/// A command on an existing incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Update(Box<UpdateIncident>),
    Resolve(ResolveIncident),
    Reopen(ReopenIncident),
    Note(AddNote),
    LinkTicket(LinkTicket),
}

/// Fields of [`Incident`] that are bookkeeping, not content, and so never appear in a timeline diff.
const NOT_DIFFED: &[&str] = &["version", "updated_at", "created_at", "ticket"];

/// Fields whose values are personal data: the timeline says they changed, not what to. Timelines are public
/// (dashboards, ticket comments, webhooks) and never deleted.
const PRIVATE: &[&str] = &["engineer_email", "notify_emails"];

/// The changes between two states, with private values replaced by a placeholder.
fn changes(before: &serde_json::Value, after: &serde_json::Value) -> Vec<crate::timeline::FieldChange> {
    let hidden = |v: serde_json::Value| {
        if v.is_null() || v.as_array().is_some_and(Vec::is_empty) { v } else { serde_json::Value::from("(hidden)") }
    };
    diff(before, after, NOT_DIFFED)
        .into_iter()
        .map(|mut c| {
            if PRIVATE.contains(&c.field.as_str()) {
                c.from = hidden(c.from);
                c.to = hidden(c.to);
            }
            c
        })
        .collect()
}

/// Refuses a time in the future, or one before [`limits::EARLIEST_TIME`] (almost surely a typo in the year).
fn plausible(errors: &mut ValidationErrors, field: &str, t: Option<OffsetDateTime>, now: OffsetDateTime) {
    if t.is_some_and(|t| t > now + FUTURE_SLACK) {
        errors.push(field, "must not be in the future");
    } else if t.is_some_and(|t| t < limits::EARLIEST_TIME) {
        errors.push(field, format!("must not be before {}", crate::timefmt::rfc3339(limits::EARLIEST_TIME)));
    }
}

impl OpenIncident {
    /// Checks the command against the rules that need no ticket number, so that a refused open does not use
    /// one up.
    pub fn validate(&self, now: OffsetDateTime) -> Result<(), ValidationErrors> {
        let now = truncate_to_micros(now);
        let started_at = truncate_to_micros(self.started_at.unwrap_or(now));
        let detected_at = self.detected_at.map(truncate_to_micros);
        let mut errors = ValidationErrors::new();
        plausible(&mut errors, "started_at", Some(started_at), now);
        plausible(&mut errors, "detected_at", detected_at, now);
        if detected_at.is_some_and(|d| d < started_at) {
            errors.push("detected_at", "must not be before started_at");
        }
        errors.check(crate::incident::validate_systems("systems", self.systems.clone()));
        errors.check(crate::incident::validate_notify_emails("notify_emails", self.notify_emails.clone()));
        errors.finish()
    }

    /// The new incident with number `ticket`, and its opening event.
    pub fn apply(
        self,
        ticket: TicketNumber,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(Incident, TimelineEvent), DomainError> {
        self.validate(now)?;
        let now = truncate_to_micros(now);
        let started_at = truncate_to_micros(self.started_at.unwrap_or(now));
        let detected_at = self.detected_at.map(truncate_to_micros);

        let reporter = PersonName::parse("reporter", &actor.name)
            .or_else(|_| PersonName::parse("reporter", &actor.id))
            .map_err(ValidationErrors::from)?;
        let incident = Incident {
            ticket,
            title: self.title,
            description: self.description,
            severity: self.severity,
            status: Status::Investigating,
            systems: self.systems,
            engineer: self.engineer,
            engineer_email: self.engineer_email,
            notify_emails: self.notify_emails,
            reporter,
            started_at,
            detected_at,
            resolved_at: None,
            external: None,
            source: self.source,
            root_cause: None,
            follow_ups: Vec::new(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let changes = changes(&serde_json::Value::Null, &to_json(&incident));
        let event = TimelineEvent {
            ticket,
            seq: 1,
            at: now,
            actor: actor.clone(),
            kind: EventKind::Opened,
            changes,
            message: None,
            notify: self.notify,
        };
        Ok((incident, event))
    }
}

fn to_json(i: &Incident) -> serde_json::Value {
    // Serialising plain data to a Value cannot fail; Null would only make the diff list every field.
    serde_json::to_value(i).unwrap_or_default()
}

impl Command {
    pub fn ticket(&self) -> TicketNumber {
        match self {
            Self::Update(c) => c.ticket,
            Self::Resolve(c) => c.ticket,
            Self::Reopen(c) => c.ticket,
            Self::Note(c) => c.ticket,
            Self::LinkTicket(c) => c.ticket,
        }
    }

    /// The same command with no expected version: what an idempotency key's fingerprint covers, so that a
    /// retry made against a newer version still counts as the same request.
    pub fn without_expected_version(&self) -> Self {
        let mut c = self.clone();
        match &mut c {
            Self::Update(u) => u.expected_version = None,
            Self::Resolve(r) => r.expected_version = None,
            Self::Reopen(r) => r.expected_version = None,
            Self::Note(n) => n.expected_version = None,
            Self::LinkTicket(_) => {}
        }
        c
    }

    pub fn expected_version(&self) -> Option<u64> {
        match self {
            Self::Update(c) => c.expected_version,
            Self::Resolve(c) => c.expected_version,
            Self::Reopen(c) => c.expected_version,
            Self::Note(c) => c.expected_version,
            // The dispatcher links whatever version the incident is at: the link changes nothing else.
            Self::LinkTicket(_) => None,
        }
    }

    /// The incident after this command, and the event recording it.
    pub fn apply(
        self,
        current: &Incident,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(Incident, TimelineEvent), DomainError> {
        let now = truncate_to_micros(now);
        if let Some(expected) = self.expected_version()
            && expected != current.version
        {
            return Err(DomainError::Conflict { ticket: current.ticket, current: current.version });
        }
        let refuse = |reason| DomainError::InvalidTransition { ticket: current.ticket, status: current.status, reason };
        let mut next = current.clone();
        let (kind, message, notify) = match self {
            Self::Update(c) => {
                apply_update(&mut next, &c, now, refuse)?;
                (EventKind::Updated, c.message, c.notify)
            }
            Self::Resolve(c) => {
                if !current.is_open() {
                    return Err(refuse("it is already resolved"));
                }
                let resolved_at = truncate_to_micros(c.resolved_at.unwrap_or(now));
                let mut errors = ValidationErrors::new();
                plausible(&mut errors, "resolved_at", Some(resolved_at), now);
                if resolved_at < current.started_at {
                    errors.push("resolved_at", "must not be before the incident started");
                }
                errors.finish()?;
                next.status = Status::Resolved;
                next.resolved_at = Some(resolved_at);
                if let Some(rc) = c.root_cause {
                    next.root_cause = Some(rc);
                }
                (EventKind::Resolved, c.message, c.notify)
            }
            Self::Reopen(c) => {
                if current.is_open() {
                    return Err(refuse("only a resolved incident can be reopened"));
                }
                next.status = Status::Investigating;
                next.resolved_at = None;
                (EventKind::Reopened, c.message, c.notify)
            }
            Self::Note(c) => (EventKind::Note, Some(c.message), false),
            Self::LinkTicket(c) => {
                next.external = Some(c.external);
                (EventKind::TicketLinked, None, false)
            }
        };
        let changes = changes(&to_json(current), &to_json(&next));
        if changes.is_empty() && message.is_none() {
            return Err(DomainError::NoChange);
        }
        next.version = current.version + 1;
        next.updated_at = now;
        let event = TimelineEvent {
            ticket: current.ticket,
            seq: next.version,
            at: now,
            actor: actor.clone(),
            kind,
            changes,
            message,
            notify,
        };
        Ok((next, event))
    }
}

fn apply_update(
    next: &mut Incident,
    c: &UpdateIncident,
    now: OffsetDateTime,
    refuse: impl Fn(&'static str) -> DomainError,
) -> Result<(), DomainError> {
    match c.status {
        Some(Status::Resolved) => {
            return Err(refuse("resolve it with the resolve command, which records when it ended"));
        }
        Some(_) if !next.is_open() => return Err(refuse("reopen it before changing its status")),
        Some(s) => next.status = s,
        None => {}
    }
    let mut errors = ValidationErrors::new();
    let started_at = c.started_at.map(truncate_to_micros);
    let detected_at = c.detected_at.map(truncate_to_micros);
    plausible(&mut errors, "started_at", started_at, now);
    plausible(&mut errors, "detected_at", detected_at, now);
    let new_start = started_at.unwrap_or(next.started_at);
    if next.resolved_at.is_some_and(|r| r < new_start) {
        errors.push("started_at", "must not be after the incident was resolved");
    }
    if detected_at.or(next.detected_at).is_some_and(|d| d < new_start) {
        errors.push("detected_at", "must not be before started_at");
    }
    if let Some(systems) = &c.systems {
        errors.check(crate::incident::validate_systems("systems", systems.clone()));
    }
    if let Some(emails) = &c.notify_emails {
        errors.check(crate::incident::validate_notify_emails("notify_emails", emails.clone()));
    }
    if let Some(f) = &c.follow_ups
        && f.len() > crate::limits::FOLLOW_UPS_MAX
    {
        errors.push("follow_ups", format!("must list at most {} actions", crate::limits::FOLLOW_UPS_MAX));
    }
    errors.finish()?;

    set(&mut next.title, &c.title);
    set(&mut next.description, &c.description);
    set(&mut next.severity, &c.severity);
    set(&mut next.systems, &c.systems);
    set(&mut next.started_at, &started_at);
    set(&mut next.follow_ups, &c.follow_ups);
    set(&mut next.notify_emails, &c.notify_emails);
    if c.engineer.is_some() {
        next.engineer = c.engineer.clone();
    }
    if c.engineer_email.is_some() {
        next.engineer_email = c.engineer_email.clone();
    }
    if detected_at.is_some() {
        next.detected_at = detected_at;
    }
    if c.root_cause.is_some() {
        next.root_cause = c.root_cause.clone();
    }
    Ok(())
}

fn set<T: Clone>(slot: &mut T, value: &Option<T>) {
    if let Some(v) = value {
        *slot = v.clone();
    }
}

#[cfg(test)]
mod private_tests {
    use serde_json::json;

    use super::changes;

    #[test]
    fn the_timeline_says_an_address_changed_but_not_what_to() {
        let before = json!({"title": "VPN down", "engineer_email": null, "notify_emails": ["a@example.com"]});
        let after = json!({"title": "VPN down", "engineer_email": "ada@example.com", "notify_emails": []});
        let got: Vec<_> = changes(&before, &after).into_iter().map(|c| (c.field, c.from, c.to)).collect();
        assert_eq!(
            got,
            [
                ("engineer_email".to_string(), json!(null), json!("(hidden)")),
                ("notify_emails".to_string(), json!("(hidden)"), json!([])),
            ]
        );
    }
}
