//! The dispatcher: delivers one timeline event to its side effects (the external ticket, mail to the people of
//! the affected systems, a short message to the topic or chat) exactly once per recipient, however often it is
//! run for that event.
//!
//! Both hosts call [`Dispatcher::dispatch`]: the Lambda for each event the table's stream carries, the
//! self-hosted worker for each event queued in SQLite. Each batch that goes out is written to the
//! [ledger](crate::ledger) straight after; a later run for the same event reads the ledger first and sends only
//! to whoever is not settled yet. A recipient refused for good is settled too: it is recorded, not retried.
//! What is still owed (a throttled batch, a ticketing system that is down) makes the run end in
//! [`DispatchError::Incomplete`], so the host tries the event again later.
//!
//! The one window left is a crash after a service accepted a batch and before its record is written: that batch
//! goes out again on the retry. It is as narrow as one store write.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use crate::access::Actor;
use crate::catalog::EmailAddress;
use crate::command::{Command, UpdateIncident};
use crate::error::{DomainError, StoreError, error_chain};
use crate::incident::{Incident, SystemId};
use crate::ledger::{BATCH_MAX, Delivery, DeliveryChannel, Refused};
use crate::notify::{BulkMail, Mailer, Notification, Publisher, Recipient, SMS_MAX, ShortMessage};
use crate::service::IncidentService;
use crate::ticket::TicketNumber;
use crate::tickets::{self, TicketSystem};
use crate::timefmt::rfc3339;
use crate::timeline::{EventKind, TimelineEvent};
use crate::unsubscribe::UnsubscribeKey;

/// The mail template every notice uses: a subject, an HTML part and a text part with `{{name}}` placeholders,
/// kept as files beside this crate. SES registers it under [`MailTemplate::name`] (Handlebars, which escapes
/// values in the HTML part); the SMTP mailer renders it itself, escaping values in the HTML part. Values never
/// reach a header except through the subject, which is one line.
#[derive(Debug, Clone, Copy)]
pub struct MailTemplate {
    pub name: &'static str,
    pub subject: &'static str,
    pub html: &'static str,
    pub text: &'static str,
}

/// The incident notice. The name carries a version: change it when the placeholders change, so that a mailer
/// never renders new data with an old template.
pub const NOTICE: MailTemplate = MailTemplate {
    name: "flare-notice-v1",
    subject: include_str!("../templates/notice/subject.txt"),
    html: include_str!("../templates/notice/body.html"),
    text: include_str!("../templates/notice/body.txt"),
};

/// Who is recorded on the timeline when the dispatcher links the external ticket.
pub const ACTOR: &str = "dispatcher";

/// The services a dispatcher delivers to. Each is optional: a deployment without a ticketing system or a topic
/// simply skips that channel.
#[derive(Clone, Default)]
pub struct Channels {
    pub mailer: Option<Arc<dyn Mailer>>,
    pub publisher: Option<Arc<dyn Publisher>>,
    pub tickets: Option<Arc<dyn TicketSystem>>,
}

impl fmt::Debug for Channels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channels")
            .field("mailer", &self.mailer.is_some())
            .field("publisher", &self.publisher.is_some())
            .field("tickets", &self.tickets.as_ref().map(|t| t.kind()))
            .finish()
    }
}

/// Where the links in a notice point.
#[derive(Debug, Clone)]
pub struct Links {
    /// The public address of Flare, without a trailing slash: `https://flare.example.com`.
    pub base_url: String,
    pub unsubscribe: UnsubscribeKey,
}

impl Links {
    pub fn new(base_url: &str, unsubscribe: UnsubscribeKey) -> Self {
        Self { base_url: base_url.trim_end_matches('/').to_string(), unsubscribe }
    }

    /// The incident's page.
    pub fn incident(&self, ticket: TicketNumber) -> String {
        format!("{}/incidents/{ticket}", self.base_url)
    }

    /// A recipient's link to stop hearing about `systems`.
    pub fn unsubscribe(&self, email: &EmailAddress, systems: &[SystemId]) -> String {
        format!("{}/unsubscribe/{}", self.base_url, self.unsubscribe.sign(email, systems))
    }
}

/// What one channel did during one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelReport {
    /// Recipients (addresses, messages, tickets) accepted during this run.
    pub sent: usize,
    /// Refused for good during this run, and recorded.
    pub refused: usize,
    /// Settled by earlier runs and skipped.
    pub skipped: usize,
    /// Batches recorded during this run.
    pub batches: usize,
    /// Calls to the service, retries included.
    pub calls: usize,
}

/// What one run of [`Dispatcher::dispatch`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchReport {
    pub email: ChannelReport,
    pub message: ChannelReport,
    pub ticket: ChannelReport,
}

/// Why an event is not fully delivered yet. Every variant means "try this event again later": what was sent is
/// recorded, so the retry sends only what is still owed.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("the store failed")]
    Store(#[from] StoreError),
    #[error("the event is missing: {ticket} has no event {seq}")]
    Missing { ticket: TicketNumber, seq: u64 },
    /// Some channels still owe something; each entry says which and why. What did go out is recorded.
    #[error("not yet delivered: {}", .0.join("; "))]
    Incomplete(Vec<String>),
}

/// Delivers timeline events.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    service: IncidentService,
    channels: Channels,
    links: Links,
}

/// One person to mail, why, and which systems their unsubscribe link leaves.
struct Addressee {
    email: EmailAddress,
    systems: Vec<SystemId>,
    reason: String,
}

impl Dispatcher {
    pub fn new(service: IncidentService, channels: Channels, links: Links) -> Self {
        Self { service, channels, links }
    }

    /// Delivers event `seq` of `ticket` on every configured channel it calls for, skipping whatever the ledger
    /// says is done. Safe to call any number of times for the same event.
    pub async fn dispatch(&self, ticket: TicketNumber, seq: u64) -> Result<DispatchReport, DispatchError> {
        let store = self.service.store();
        let incident = store.get(ticket).await?.ok_or(DispatchError::Missing { ticket, seq })?;
        let event = store
            .timeline(ticket)
            .await?
            .into_iter()
            .find(|e| e.seq == seq)
            .ok_or(DispatchError::Missing { ticket, seq })?;
        let done = store.event_deliveries(ticket, seq).await?;
        let mut report = DispatchReport::default();
        let mut owed = Vec::new();

        if let Some(system) = self.channels.tickets.as_deref()
            && mirrors_to_ticket(&event)
        {
            let prior = on(&done, DeliveryChannel::Ticket);
            if let Err(e) = self.ticket(system, &incident, &event, &prior, &mut report.ticket).await {
                owed.push(e);
            }
        }
        if event_notifies(&event) {
            if let Some(mailer) = self.channels.mailer.as_deref() {
                let prior = on(&done, DeliveryChannel::Email);
                if let Err(e) = self.email(mailer, &incident, &event, &prior, &mut report.email).await {
                    owed.push(e);
                }
            }
            if let Some(publisher) = self.channels.publisher.as_deref() {
                let prior = on(&done, DeliveryChannel::Message);
                if let Err(e) = self.message(publisher, &incident, &event, &prior, &mut report.message).await {
                    owed.push(e);
                }
            }
        }
        if owed.is_empty() { Ok(report) } else { Err(DispatchError::Incomplete(owed)) }
    }

    /// Mirrors the event in the ticketing system, and stores the ticket's key and link on the incident the
    /// first time it is opened or found.
    async fn ticket(
        &self,
        system: &dyn TicketSystem,
        incident: &Incident,
        event: &TimelineEvent,
        prior: &[&Delivery],
        report: &mut ChannelReport,
    ) -> Result<(), String> {
        if !prior.is_empty() {
            report.skipped += 1;
            return Ok(());
        }
        report.calls += 1;
        let (sent, refused) = match tickets::sync(system, incident, event).await {
            Ok(linked) => {
                let external = linked.clone().or_else(|| incident.external.clone());
                if let Some(external) = linked {
                    let mut link = UpdateIncident::new(incident.ticket);
                    link.external = Some(external);
                    match self.service.execute(Command::Update(Box::new(link)), &Actor::system(ACTOR), None).await {
                        Ok(_) | Err(DomainError::NoChange) => {}
                        Err(e) => return Err(format!("ticket: opened but not linked to the incident: {e}")),
                    }
                }
                (external.map(|e| e.key.to_string()).into_iter().collect(), vec![])
            }
            Err(e) if e.is_transient() => return Err(format!("ticket: {}", error_chain(&e))),
            Err(e) => (vec![], vec![Refused { to: system.kind().to_string(), reason: e.to_string() }]),
        };
        report.sent += sent.len();
        report.refused += refused.len();
        let batch = Batch { channel: DeliveryChannel::Ticket, number: 1, sent, refused, calls: 1 };
        self.record(event, batch, report).await
    }

    /// Mails every addressee not settled yet, in batches of the mailer's size, recording each batch.
    async fn email(
        &self,
        mailer: &dyn Mailer,
        incident: &Incident,
        event: &TimelineEvent,
        prior: &[&Delivery],
        report: &mut ChannelReport,
    ) -> Result<(), String> {
        let settled: BTreeSet<&str> = prior.iter().flat_map(|d| d.settled()).collect();
        let addressees = self.addressees(incident).await.map_err(|e| format!("email: {e}"))?;
        let (skipped, owed): (Vec<_>, Vec<_>) =
            addressees.into_iter().partition(|a| settled.contains(a.email.as_str()));
        report.skipped += skipped.len();
        let shared = self.shared_data(incident, event);
        // The mailer's size, so an SMTP crash re-sends at most the messages that were in flight.
        let size = mailer.batch_size().clamp(1, BATCH_MAX);
        for (batch, chunk) in (next_batch(prior)..).zip(owed.chunks(size)) {
            let recipients = chunk.iter().map(|a| self.recipient(a)).collect();
            let mail = BulkMail { template: NOTICE.name.to_string(), shared: shared.clone(), recipients };
            let sent = mailer.send_bulk(&mail).await.map_err(|e| format!("email: {}", error_chain(&e)))?;
            report.calls += sent.calls;
            report.sent += sent.sent.len();
            report.refused += sent.failed.len();
            let refused = sent.failed.into_iter().map(|(to, reason)| Refused { to: to.to_string(), reason }).collect();
            let addresses = sent.sent.into_iter().map(String::from).collect();
            let record =
                Batch { channel: DeliveryChannel::Email, number: batch, sent: addresses, refused, calls: sent.calls };
            self.record(event, record, report).await?;
            if !sent.deferred.is_empty() {
                return Err(format!("email: {} recipients throttled, to be retried", sent.deferred.len()));
            }
        }
        Ok(())
    }

    /// Publishes the one short message of this event, listing every affected system.
    async fn message(
        &self,
        publisher: &dyn Publisher,
        incident: &Incident,
        event: &TimelineEvent,
        prior: &[&Delivery],
        report: &mut ChannelReport,
    ) -> Result<(), String> {
        if !prior.is_empty() {
            report.skipped += 1;
            return Ok(());
        }
        let note = Notification {
            message: short_message(incident, event, &self.links.incident(incident.ticket)),
            systems: incident.systems.iter().map(|s| s.system.clone()).collect(),
            severity: incident.severity,
            event: event.kind,
        };
        let published = publisher
            .publish(std::slice::from_ref(&note))
            .await
            .map_err(|e| format!("message: {}", error_chain(&e)))?;
        report.calls += published.calls;
        if !published.deferred.is_empty() {
            return Err("message: the topic is throttling, to be retried".into());
        }
        let systems = || note.systems.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        let sent: Vec<String> = published.published.iter().map(|_| systems()).collect();
        let refused: Vec<Refused> =
            published.failed.into_iter().map(|(_, reason)| Refused { to: systems(), reason }).collect();
        report.sent += sent.len();
        report.refused += refused.len();
        let batch = Batch { channel: DeliveryChannel::Message, number: 1, sent, refused, calls: published.calls };
        self.record(event, batch, report).await
    }

    /// Everyone to mail about the incident, each address once, in address order: the subscribers of every
    /// affected system (a subscriber of two systems is one addressee whose link leaves both), the engineer, and
    /// the listed addresses.
    async fn addressees(&self, incident: &Incident) -> Result<Vec<Addressee>, StoreError> {
        let store = self.service.store();
        let mut by_email: BTreeMap<EmailAddress, Addressee> = BTreeMap::new();
        for affected in &incident.systems {
            let name = store
                .get_system(&affected.system)
                .await?
                .map_or_else(|| affected.system.to_string(), |s| s.name.to_string());
            for subscriber in store.subscribers(&affected.system).await? {
                let Some(email) = subscriber.email else { continue };
                let entry = by_email.entry(email.clone()).or_insert_with(|| Addressee {
                    email,
                    systems: vec![],
                    reason: String::new(),
                });
                entry.systems.push(affected.system.clone());
                entry.reason = if entry.reason.is_empty() { name.clone() } else { format!("{}, {name}", entry.reason) };
            }
        }
        for addressee in by_email.values_mut() {
            addressee.reason = format!("you subscribe to {}", addressee.reason);
        }
        let named = incident
            .engineer_email
            .iter()
            .map(|e| (e, "you are the engineer responsible for this incident"))
            .chain(incident.notify_emails.iter().map(|e| (e, "you were listed to be told about this incident")));
        for (email, reason) in named {
            by_email.entry(email.clone()).or_insert_with(|| Addressee {
                email: email.clone(),
                systems: vec![],
                reason: reason.to_string(),
            });
        }
        Ok(by_email.into_values().collect())
    }

    fn recipient(&self, addressee: &Addressee) -> Recipient {
        let unsubscribe = self.links.unsubscribe(&addressee.email, &addressee.systems);
        Recipient {
            email: addressee.email.clone(),
            data: BTreeMap::from([
                ("unsubscribe_url".to_string(), unsubscribe),
                ("reason".to_string(), addressee.reason.clone()),
            ]),
        }
    }

    /// The placeholders every recipient of this event shares.
    fn shared_data(&self, incident: &Incident, event: &TimelineEvent) -> BTreeMap<String, String> {
        let systems: Vec<&str> = incident.systems.iter().map(|s| s.system.as_str()).collect();
        let resolved = incident.resolved_at.map(|t| format!("Resolved: {}", rfc3339(t))).unwrap_or_default();
        // An opening has no message of its own: its description says what is wrong.
        let message = match (&event.message, event.kind) {
            (Some(m), _) => m.to_string(),
            (None, EventKind::Opened) => incident.description.to_string(),
            (None, _) => String::new(),
        };
        BTreeMap::from(
            [
                ("ticket", incident.ticket.to_string()),
                ("headline", headline(incident, event)),
                ("title", incident.title.to_string()),
                ("status", incident.status.to_string()),
                ("severity", format!("{} ({})", incident.severity, incident.severity.label())),
                ("systems", systems.join(", ")),
                ("started_at", rfc3339(incident.started_at)),
                ("resolved_line", resolved),
                ("message", message),
                ("link", self.links.incident(incident.ticket)),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        )
    }

    /// Writes one batch to the ledger.
    async fn record(&self, event: &TimelineEvent, batch: Batch, report: &mut ChannelReport) -> Result<(), String> {
        let channel = batch.channel;
        let delivery = Delivery {
            ticket: event.ticket,
            seq: event.seq,
            channel,
            batch: batch.number,
            at: self.service.clock().now(),
            sent: batch.sent,
            refused: batch.refused,
            calls: u32::try_from(batch.calls).unwrap_or(u32::MAX),
        };
        self.service
            .store()
            .record_delivery(&delivery)
            .await
            .map_err(|e| format!("{channel}: sent but not recorded: {e}"))?;
        report.batches += 1;
        Ok(())
    }
}

/// One batch as it went out, before it is recorded.
struct Batch {
    channel: DeliveryChannel,
    number: u32,
    sent: Vec<String>,
    refused: Vec<Refused>,
    calls: usize,
}

/// Whether people are mailed and messaged about this event: openings, resolutions and reopenings, and updates
/// marked to notify, unless whoever made the change asked not to.
pub fn event_notifies(event: &TimelineEvent) -> bool {
    event.notify
        && matches!(event.kind, EventKind::Opened | EventKind::Updated | EventKind::Resolved | EventKind::Reopened)
}

/// Whether the event is mirrored in the ticketing system: every event except the dispatcher's own linking of
/// the ticket, which would otherwise comment on the ticket about itself.
pub fn mirrors_to_ticket(event: &TimelineEvent) -> bool {
    let only_link = event.kind == EventKind::Updated
        && event.message.is_none()
        && !event.changes.is_empty()
        && event.changes.iter().all(|c| c.field == "external");
    !only_link
}

/// The first line of a notice: "Major incident opened", "Incident resolved".
fn headline(incident: &Incident, event: &TimelineEvent) -> String {
    let what = match event.kind {
        EventKind::Opened => "opened",
        EventKind::Updated | EventKind::Note => "updated",
        EventKind::Resolved => "resolved",
        EventKind::Reopened => "reopened",
    };
    let severity = incident.severity.label();
    let mut line = format!("{severity} incident {what}");
    line[..1].make_ascii_uppercase();
    line
}

/// The SMS-sized message: ticket, severity, status, the title cut to fit, and the link. The link is never cut,
/// so the message is always usable; a base URL so long that nothing else fits gets a message without it.
pub fn short_message(incident: &Incident, event: &TimelineEvent, link: &str) -> ShortMessage {
    let head = format!(
        "{} {} {}: ",
        incident.ticket,
        incident.severity.as_str().to_uppercase(),
        headline_status(incident, event)
    );
    let tail = format!(" {link}");
    let room = SMS_MAX.saturating_sub(head.chars().count() + tail.chars().count());
    let title = incident.title.as_str();
    let title = if title.chars().count() <= room {
        title.to_string()
    } else {
        let cut: String = title.chars().take(room.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    };
    let full = format!("{head}{title}{tail}");
    ShortMessage::parse("message", &full)
        .or_else(|_| ShortMessage::parse("message", &format!("{head}{title}")))
        .unwrap_or_else(|_| {
            // Head and title are bounded by construction; this only trims what cannot happen.
            let cut: String = full.chars().take(SMS_MAX).collect();
            ShortMessage::parse("message", &cut).unwrap_or_else(|_| unreachable!("{SMS_MAX} characters fit"))
        })
}

fn headline_status(incident: &Incident, event: &TimelineEvent) -> &'static str {
    match event.kind {
        EventKind::Opened => "opened",
        EventKind::Resolved => "resolved",
        EventKind::Reopened => "reopened",
        EventKind::Updated | EventKind::Note => incident.status.as_str(),
    }
}

/// The deliveries already recorded on one channel.
fn on(done: &[Delivery], channel: DeliveryChannel) -> Vec<&Delivery> {
    done.iter().filter(|d| d.channel == channel).collect()
}

fn next_batch(prior: &[&Delivery]) -> u32 {
    prior.iter().map(|d| d.batch).max().unwrap_or(0) + 1
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::incident::{Channel, Severity, Source, Status};
    use crate::text::{Description, Message, PersonName, Title};
    use crate::timeline::FieldChange;

    fn incident(title: &str) -> Incident {
        let t = datetime!(2026-11-22 09:00 UTC);
        Incident {
            ticket: TicketNumber::from_number(1042).unwrap(),
            title: Title::parse("title", title).unwrap(),
            description: Description::parse("description", "No one can connect").unwrap(),
            severity: Severity::Sev2,
            status: Status::Identified,
            systems: vec![],
            engineer: None,
            engineer_email: None,
            notify_emails: vec![],
            reporter: PersonName::parse("reporter", "Ada").unwrap(),
            started_at: t,
            detected_at: None,
            resolved_at: None,
            external: None,
            source: Source::new(Channel::Api),
            root_cause: None,
            follow_ups: vec![],
            version: 1,
            created_at: t,
            updated_at: t,
        }
    }

    fn event(kind: EventKind, notify: bool, changes: &[&str], message: Option<&str>) -> TimelineEvent {
        TimelineEvent {
            ticket: TicketNumber::from_number(1042).unwrap(),
            seq: 2,
            at: datetime!(2026-11-22 09:00 UTC),
            actor: Actor::system("test"),
            kind,
            changes: changes
                .iter()
                .map(|f| FieldChange { field: (*f).to_string(), from: serde_json::Value::Null, to: "x".into() })
                .collect(),
            message: message.map(|m| Message::parse("message", m).unwrap()),
            notify,
        }
    }

    #[test]
    fn a_short_message_fits_one_sms_and_always_keeps_the_link() {
        let link = "https://flare.example.com/incidents/INC-1042";
        let short = short_message(&incident("VPN down"), &event(EventKind::Opened, true, &[], None), link);
        assert_eq!(short.as_str(), format!("INC-1042 SEV2 opened: VPN down {link}"));

        let long = incident(&"Every office printer ".repeat(9));
        let short = short_message(&long, &event(EventKind::Updated, true, &["status"], None), link);
        assert_eq!(short.as_str().chars().count(), SMS_MAX);
        assert!(short.as_str().starts_with("INC-1042 SEV2 identified: Every office printer"), "{}", short.as_str());
        assert!(short.as_str().ends_with(&format!("… {link}")), "{}", short.as_str());
    }

    #[test]
    fn who_hears_of_which_event() {
        assert!(event_notifies(&event(EventKind::Opened, true, &[], None)));
        assert!(!event_notifies(&event(EventKind::Updated, false, &["title"], None)), "an update not marked notify");
        assert!(!event_notifies(&event(EventKind::Note, true, &[], Some("call the vendor"))), "notes stay internal");
        assert!(event_notifies(&event(EventKind::Resolved, true, &["status"], None)));
    }

    #[test]
    fn the_dispatchers_own_ticket_link_is_not_mirrored_back_to_the_ticket() {
        assert!(!mirrors_to_ticket(&event(EventKind::Updated, false, &["external"], None)));
        assert!(mirrors_to_ticket(&event(EventKind::Updated, false, &["external", "title"], None)));
        assert!(mirrors_to_ticket(&event(EventKind::Updated, false, &[], Some("vendor engaged"))));
        assert!(mirrors_to_ticket(&event(EventKind::Note, false, &[], Some("call the vendor"))));
    }

    #[test]
    fn a_headline_names_the_severity_and_what_happened() {
        assert_eq!(headline(&incident("x"), &event(EventKind::Opened, true, &[], None)), "Major incident opened");
        assert_eq!(headline(&incident("x"), &event(EventKind::Resolved, true, &[], None)), "Major incident resolved");
    }

    #[test]
    fn the_notice_templates_use_only_placeholders_the_dispatcher_fills() {
        let filled = [
            "ticket",
            "headline",
            "title",
            "status",
            "severity",
            "systems",
            "started_at",
            "resolved_line",
            "message",
            "link",
            "unsubscribe_url",
            "reason",
        ];
        for part in [NOTICE.subject, NOTICE.html, NOTICE.text] {
            for piece in part.split("{{").skip(1) {
                let name = piece.split("}}").next().unwrap().trim();
                assert!(filled.contains(&name), "{name} is not filled");
            }
        }
        assert!(!NOTICE.subject.contains('\n'), "the subject is one line");
    }
}
