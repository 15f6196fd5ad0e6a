//! The words Flare puts in a ticket, as plain-text paragraphs. Each adapter encodes them for its vendor (ADF
//! nodes for Jira, escaped Markdown for GitHub, journal text for ServiceNow), so user text stays data there and
//! every vendor tells the same story.

use flare_core::timefmt::rfc3339;
use flare_core::{EventKind, ExternalTicket, Incident, TimelineEvent};
use flare_core::{TicketError, text::ExternalId, text::Line};

/// `[INC-1042] VPN down`: the title of a Jira issue or GitHub issue.
pub(crate) fn summary(incident: &Incident) -> String {
    format!("[{}] {}", incident.ticket, incident.title)
}

/// The description of a new ticket: what the agent wrote, then the facts.
pub(crate) fn description(incident: &Incident) -> Vec<String> {
    let mut facts = vec![
        format!("Flare incident: {}", incident.ticket),
        format!("Severity: {} ({})", incident.severity, incident.severity.label()),
        format!("Status: {}", incident.status),
    ];
    if !incident.systems.is_empty() {
        let systems: Vec<String> = incident.systems.iter().map(|s| format!("{} ({})", s.system, s.impact)).collect();
        facts.push(format!("Systems: {}", systems.join(", ")));
    }
    facts.push(format!("Started: {}", rfc3339(incident.started_at)));
    facts.push(format!("Reported by: {}", incident.reporter));
    if let Some(engineer) = &incident.engineer {
        facts.push(format!("Engineer: {engineer}"));
    }
    vec![incident.description.to_string(), facts.join("\n")]
}

/// A comment for one timeline event: who and when, the message, then what changed.
pub(crate) fn event(incident: &Incident, event: &TimelineEvent) -> Vec<String> {
    let what = match event.kind {
        EventKind::Opened => "opened",
        EventKind::Updated => "updated",
        EventKind::Note => "noted",
        EventKind::Resolved => "resolved",
        EventKind::Reopened => "reopened",
        EventKind::TicketLinked => "linked to this ticket",
    };
    let mut paragraphs = vec![format!("{} {what} by {} at {}", incident.ticket, event.actor.name, rfc3339(event.at))];
    if let Some(message) = &event.message {
        paragraphs.push(message.to_string());
    }
    if !event.changes.is_empty() {
        let lines: Vec<String> =
            event.changes.iter().map(|c| format!("- {}: {} → {}", c.field, c.from, c.to)).collect();
        paragraphs.push(format!("Changes:\n{}", lines.join("\n")));
    }
    paragraphs
}

/// An [`ExternalTicket`] from what a vendor answered; a key or URL that Flare cannot store is the vendor's
/// unexpected answer.
pub(crate) fn external(system: &'static str, key: &str, url: Option<String>) -> Result<ExternalTicket, TicketError> {
    let invalid = |e: flare_core::FieldError| TicketError::Invalid(format!("{system} ticket {e}"));
    Ok(ExternalTicket {
        system: Line::parse("system", system).map_err(invalid)?,
        key: ExternalId::parse("key", key).map_err(invalid)?,
        url: url.map(|u| Line::parse("url", &u)).transpose().map_err(invalid)?,
    })
}
