//! What a post-incident report says: one incident, its timeline, who was told (from the delivery ledger) and
//! its root cause and follow-ups, rendered as HTML and a plain-text alternative from the templates in
//! `templates/report/`.
//!
//! Pure: it is handed everything it shows. Finding which incidents are due and mailing them is
//! [`super::run`]'s business.

use std::collections::BTreeSet;

use askama::Template;
use time::OffsetDateTime;

use super::{RenderError, Rendered, ReportLinks, duration_words, when};
use crate::catalog::System;
use crate::incident::Incident;
use crate::ledger::{Delivery, DeliveryChannel};
use crate::notify::Subject;
use crate::timeline::{EventKind, TimelineEvent};

/// Everything one post-incident report shows.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// The incident as it stands, resolved.
    pub incident: &'a Incident,
    /// Its whole timeline, oldest first.
    pub timeline: &'a [TimelineEvent],
    /// Every delivery of the incident's events: who was told, and how.
    pub deliveries: &'a [Delivery],
    /// The catalog entries of the affected systems, for their names; a system missing here shows its id.
    pub systems: &'a [System],
    pub links: &'a ReportLinks,
}

/// One affected system, in words.
#[derive(Debug)]
struct SystemLine {
    name: String,
    impact: &'static str,
}

/// One timeline event, in words.
#[derive(Debug)]
struct EventLine {
    at: String,
    kind: &'static str,
    actor: String,
    changes: String,
    message: Option<String>,
}

/// One follow-up action. Owner and due date read "not set" until they are recorded.
#[derive(Debug)]
struct FollowUpLine {
    action: String,
    owner: String,
    due: String,
}

/// The report's values, already in words, shared by the HTML and the text template.
#[derive(Debug)]
struct ReportView {
    ticket: String,
    title: String,
    severity: String,
    systems: Vec<SystemLine>,
    started: String,
    detected: String,
    resolved: String,
    duration: String,
    notified: Vec<String>,
    engineer: String,
    ticket_key: String,
    ticket_url: Option<String>,
    timeline: Vec<EventLine>,
    root_cause: Option<String>,
    follow_ups: Vec<FollowUpLine>,
    record_url: String,
    incident_url: String,
    reason: &'static str,
}

#[derive(Template)]
#[template(path = "report/incident.html")]
struct Html<'a> {
    r: &'a ReportView,
}

#[derive(Template)]
#[template(path = "report/incident.txt")]
struct Text<'a> {
    r: &'a ReportView,
}

/// Renders the post-incident report: subject, HTML (every supplied value escaped) and text.
pub fn render_report(input: &ReportInput<'_>) -> Result<Rendered, RenderError> {
    let view = view(input);
    // The title is one line already; the subject is bounded, so a long title is cut, never refused.
    let subject: String = format!("Post-incident report {}: {}", view.ticket, view.title).chars().take(200).collect();
    let subject = Subject::parse("subject", &subject).map_err(|e| RenderError::Subject(e.reason))?;
    let html = Html { r: &view }.render()?;
    let text = Text { r: &view }.render()?;
    Ok(Rendered { subject, html, text })
}

fn view(input: &ReportInput<'_>) -> ReportView {
    let i = input.incident;
    let name_of = |id: &crate::values::SystemId| {
        input.systems.iter().find(|s| &s.id == id).map_or_else(|| id.to_string(), |s| s.name.to_string())
    };
    let resolved = i.resolved_at;
    ReportView {
        ticket: i.ticket.to_string(),
        title: i.title.to_string(),
        severity: format!("{} ({})", i.severity, i.severity.label()),
        systems: i.systems.iter().map(|s| SystemLine { name: name_of(&s.system), impact: s.impact.label() }).collect(),
        started: when(i.started_at),
        detected: detection(i, input.timeline),
        resolved: resolved.map_or_else(|| "not resolved".to_string(), when),
        duration: resolved.map_or_else(|| "still open".to_string(), |r| duration_words(r - i.started_at)),
        notified: notified(input.deliveries),
        engineer: i.engineer.as_ref().map_or_else(|| "not named".to_string(), ToString::to_string),
        ticket_key: i
            .external
            .as_ref()
            .map_or_else(|| "no ticket was linked".to_string(), |t| format!("{} {}", t.system, t.key)),
        ticket_url: i.external.as_ref().and_then(|t| t.url.as_ref()).map(ToString::to_string),
        timeline: input.timeline.iter().filter(|e| e.kind != EventKind::TicketLinked).map(event_line).collect(),
        root_cause: i.root_cause.as_ref().map(ToString::to_string),
        follow_ups: i
            .follow_ups
            .iter()
            .map(|f| FollowUpLine {
                action: f.action.to_string(),
                owner: f.owner.as_ref().map_or_else(|| "not set".to_string(), ToString::to_string),
                due: f.due.map_or_else(|| "not set".to_string(), |d| d.to_string()),
            })
            .collect(),
        record_url: input.links.record(i.ticket),
        incident_url: input.links.incident(i.ticket),
        reason: "an owner of an affected system or a stakeholder",
    }
}

/// Detection is the recorded detection time if there is one, else the first event: when Flare heard of it.
fn detection(i: &Incident, timeline: &[TimelineEvent]) -> String {
    let first: Option<OffsetDateTime> = timeline.first().map(|e| e.at);
    match (i.detected_at, first) {
        (Some(t), _) => when(t),
        (None, Some(t)) => format!("{} (opened in Flare)", when(t)),
        (None, None) => when(i.created_at),
    }
}

/// Who was told and how, from the ledger: distinct people by mail, messages to the topic or chat, the ticket.
fn notified(deliveries: &[Delivery]) -> Vec<String> {
    let sent =
        |channel: DeliveryChannel| deliveries.iter().filter(move |d| d.channel == channel).flat_map(|d| d.sent.iter());
    let people: BTreeSet<&String> = sent(DeliveryChannel::Email).collect();
    let messages = sent(DeliveryChannel::Message).count();
    let tickets: BTreeSet<&String> = sent(DeliveryChannel::Ticket).collect();
    let refused: usize =
        deliveries.iter().filter(|d| d.channel == DeliveryChannel::Email).map(|d| d.refused.len()).sum();
    let mut lines = Vec::new();
    let plural = |n: usize, one: &str, many: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {many}") };
    if !people.is_empty() {
        lines.push(format!("{} by email", plural(people.len(), "person", "people")));
    }
    if refused > 0 {
        lines.push(format!("{} refused by the mail service", plural(refused, "address", "addresses")));
    }
    if messages > 0 {
        lines.push(format!("{} to SMS and chat subscribers", plural(messages, "message", "messages")));
    }
    if !tickets.is_empty() {
        lines.push(format!("{} kept up to date", plural(tickets.len(), "ticket", "tickets")));
    }
    if lines.is_empty() {
        lines.push("nobody was notified".to_string());
    }
    lines
}

fn event_line(e: &TimelineEvent) -> EventLine {
    // An opening sets every field; naming them all says nothing.
    let changes: Vec<&str> = match e.kind {
        EventKind::Opened => vec![],
        _ => e.changes.iter().map(|c| c.field.as_str()).collect(),
    };
    EventLine {
        at: when(e.at),
        kind: e.kind.label(),
        actor: e.actor.name.clone(),
        changes: if changes.is_empty() { String::new() } else { format!("changed {}", changes.join(", ")) },
        message: e.message.as_ref().map(ToString::to_string),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::incident::FollowUpAction;
    use crate::report::tests::{links, resolved_incident, timeline};
    use crate::test_util::ticket;

    fn render(incident: &Incident, deliveries: &[Delivery]) -> Rendered {
        let events = timeline(incident);
        render_report(&ReportInput { incident, timeline: &events, deliveries, systems: &[], links: &links() }).unwrap()
    }

    fn delivery(channel: DeliveryChannel, seq: u64, sent: &[&str]) -> Delivery {
        Delivery {
            ticket: ticket(1042),
            seq,
            channel,
            batch: 1,
            at: crate::test_util::STARTED_AT,
            sent: sent.iter().map(ToString::to_string).collect(),
            refused: vec![],
            calls: 1,
        }
    }

    #[test]
    fn a_hostile_title_is_escaped_in_the_html_part() {
        let mut incident = resolved_incident();
        incident.title = crate::text::Title::parse("title", "<img src=x onerror=alert(1)>").unwrap();
        let report = render(&incident, &[]);
        assert!(!report.html.contains("<img src=x"), "{}", report.html);
        assert!(report.html.contains("&#60;img src=x onerror=alert(1)&#62;"), "{}", report.html);
    }

    #[test]
    fn people_mailed_about_two_events_are_counted_once() {
        let deliveries = [
            delivery(DeliveryChannel::Email, 1, &["a@example.com", "b@example.com"]),
            delivery(DeliveryChannel::Email, 2, &["a@example.com"]),
            delivery(DeliveryChannel::Message, 1, &["vpn"]),
        ];
        let report = render(&resolved_incident(), &deliveries);
        assert!(report.text.contains("2 people by email; 1 message to SMS and chat subscribers"), "{}", report.text);
    }

    #[test]
    fn a_missing_root_cause_and_follow_ups_prompt_with_a_link_to_record_them() {
        let report = render(&resolved_incident(), &[]);
        assert!(report.html.contains("No root cause is recorded yet."), "{}", report.html);
        assert!(report.html.contains(r#"href="https://flare.example.org/form?ticket=INC-1042""#), "{}", report.html);
        assert!(report.text.contains("Record it at https://flare.example.org/form?ticket=INC-1042"), "{}", report.text);
    }

    #[test]
    fn follow_ups_are_listed_with_their_owner_and_due_date() {
        let mut incident = resolved_incident();
        let action = |a: &str| crate::text::FollowUp::parse("follow_ups", a).unwrap();
        incident.follow_ups = vec![
            FollowUpAction {
                action: action("Add a second gateway"),
                owner: Some(crate::text::PersonName::parse("owner", "Grace").unwrap()),
                due: Some(time::macros::date!(2026 - 12 - 15)),
            },
            FollowUpAction { action: action("Document the failover"), owner: None, due: None },
        ];
        let report = render(&incident, &[]);
        assert!(report.text.contains("- Add a second gateway (owner: Grace; due: 2026-12-15)"), "{}", report.text);
        assert!(report.text.contains("- Document the failover (owner: not set; due: not set)"), "{}", report.text);
        assert!(!report.text.contains("None recorded yet"), "{}", report.text);
    }

    #[test]
    fn the_report_gives_the_duration_and_the_timeline_in_words() {
        let report = render(&resolved_incident(), &[]);
        assert!(report.text.contains("Duration:     2 h 30 min"), "{}", report.text);
        assert!(report.text.contains("2026-11-22 11:30 UTC  resolved by Ada"), "{}", report.text);
        assert_eq!(report.subject.as_str(), "Post-incident report INC-1042: VPN down");
    }
}
