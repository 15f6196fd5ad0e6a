//! The dispatcher: delivers one timeline event to its side effects (the external ticket, mail to the people of
//! the affected systems, a short message to the topic or chat) exactly once per recipient, however often it is
//! run for that event. This module owns the orchestration and the ledger writes; what a notice says is in
//! [`crate::notice`], who is told in `crate::audience`.
//!
//! Both hosts call [`Dispatcher::dispatch`]: the Lambda for each event the table's stream carries, the
//! self-hosted worker for each event queued in SQLite. It reads the one event with the incident as that event
//! left it ([`IncidentStore::event`](crate::ports::IncidentStore::event)), so a notice retried after later
//! changes still describes its own moment. Each batch that goes out is written to the [ledger](crate::ledger)
//! straight after; a later run for the same event reads the ledger first and sends only to whoever is not
//! settled yet. A recipient refused for good is settled too: it is recorded, not retried. What is still owed (a
//! throttled batch, a ticketing system that is down) makes the run end in [`DispatchError::Incomplete`], which
//! names each channel and keeps its cause, so the host tries the event again later and logs why.
//!
//! The one window left is a crash after a service accepted a batch and before its record is written: that batch
//! goes out again on the retry. It is as narrow as one store write.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use tracing::instrument;

use crate::access::Actor;
use crate::audience::addressees;
use crate::command::{Command, LinkTicket};
use crate::error::{DomainError, StoreError, error_chain};
use crate::incident::Incident;
use crate::ledger::{BATCH_MAX, Delivery, DeliveryChannel, Refused};
use crate::notice::{Links, NOTICE};
use crate::notice::{shared_data, short_message};
use crate::notify::{BulkMail, Mailer, Notification, NotifyError, Publisher};
use crate::service::IncidentService;
use crate::tickets::{self, TicketError, TicketSystem};
use crate::timeline::{EventKind, TimelineEvent};
use crate::values::TicketNumber;

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
    /// Some channels still owe something; each entry says which and why, with its whole cause chain (a list
    /// has no single source to chain to). What did go out is recorded.
    #[error("not yet delivered: {}", .0.iter().map(|o| error_chain(o)).collect::<Vec<_>>().join("; "))]
    Incomplete(Vec<Owed>),
}

/// What one channel still owes for an event, and why.
#[derive(Debug, thiserror::Error)]
#[error("{channel}")]
pub struct Owed {
    pub channel: DeliveryChannel,
    #[source]
    pub cause: OwedCause,
}

/// Why a channel still owes something.
#[derive(Debug, thiserror::Error)]
pub enum OwedCause {
    #[error("the ticketing system failed")]
    Ticket(#[source] TicketError),
    #[error("the ticket was opened but not linked to the incident")]
    NotLinked(#[source] DomainError),
    #[error("the service failed")]
    Notify(#[source] NotifyError),
    #[error("{count} recipients were throttled, to be retried")]
    Throttled { count: usize },
    #[error("the addressees could not be read")]
    Addressees(#[source] StoreError),
    #[error("sent but not recorded")]
    NotRecorded(#[source] StoreError),
}

impl Owed {
    fn new(channel: DeliveryChannel, cause: OwedCause) -> Self {
        Self { channel, cause }
    }
}

/// Delivers timeline events.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    service: IncidentService,
    channels: Channels,
    links: Links,
}

impl Dispatcher {
    pub fn new(service: IncidentService, channels: Channels, links: Links) -> Self {
        Self { service, channels, links }
    }

    /// Delivers event `seq` of `ticket` on every configured channel it calls for, skipping whatever the ledger
    /// says is done. Safe to call any number of times for the same event.
    #[instrument(skip_all, fields(%ticket, seq))]
    pub async fn dispatch(&self, ticket: TicketNumber, seq: u64) -> Result<DispatchReport, DispatchError> {
        let store = self.service.store();
        let recorded = store.event(ticket, seq).await?.ok_or(DispatchError::Missing { ticket, seq })?;
        let event = recorded.event;
        match event.kind {
            // The dispatcher's own record of a ticket it linked: mirroring it would comment on the ticket about
            // itself, and nobody is told about bookkeeping.
            EventKind::TicketLinked => return Ok(DispatchReport::default()),
            EventKind::Opened | EventKind::Updated | EventKind::Resolved | EventKind::Reopened | EventKind::Note => {}
        }
        let incident = match recorded.incident {
            Some(incident) => incident,
            // Events stored before the stores kept the incident beside each event: the current state is the
            // best there is.
            None => store.get(ticket).await?.ok_or(DispatchError::Missing { ticket, seq })?,
        };
        let done = store.event_deliveries(ticket, seq).await?;
        let mut report = DispatchReport::default();
        let mut owed = Vec::new();

        if let Some(system) = self.channels.tickets.as_deref() {
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

    /// Mirrors the event in the ticketing system, and links the ticket to the incident the first time it is
    /// opened or found.
    async fn ticket(
        &self,
        system: &dyn TicketSystem,
        incident: &Incident,
        event: &TimelineEvent,
        prior: &[&Delivery],
        report: &mut ChannelReport,
    ) -> Result<(), Owed> {
        let owed = |cause| Owed::new(DeliveryChannel::Ticket, cause);
        if !prior.is_empty() {
            report.skipped += 1;
            return Ok(());
        }
        report.calls += 1;
        let (sent, refused) = match tickets::sync_ticket(system, incident, event).await {
            Ok(linked) => {
                let external = linked.clone().or_else(|| incident.external.clone());
                if let Some(external) = linked {
                    let link = Command::LinkTicket(LinkTicket { ticket: incident.ticket, external });
                    match self.service.execute(link, &Actor::system(ACTOR), None).await {
                        Ok(_) | Err(DomainError::NoChange) => {}
                        Err(e) => return Err(owed(OwedCause::NotLinked(e))),
                    }
                }
                (external.map(|e| e.key.to_string()).into_iter().collect(), vec![])
            }
            Err(e) if e.is_transient() => return Err(owed(OwedCause::Ticket(e))),
            Err(e) => (vec![], vec![Refused { to: system.kind().to_string(), reason: error_chain(&e) }]),
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
    ) -> Result<(), Owed> {
        let owed = |cause| Owed::new(DeliveryChannel::Email, cause);
        let settled: BTreeSet<&str> = prior.iter().flat_map(|d| d.settled()).collect();
        let addressees =
            addressees(self.service.store().as_ref(), incident).await.map_err(|e| owed(OwedCause::Addressees(e)))?;
        let (skipped, due): (Vec<_>, Vec<_>) = addressees.into_iter().partition(|a| settled.contains(a.email.as_str()));
        report.skipped += skipped.len();
        let shared = shared_data(incident, event, &self.links);
        // The one place mail is cut into batches: each batch is one ledger record, so a crash between a send and
        // its record re-sends at most this many. SMTP
        // sends each message on its own, so it asks for the messages it has in flight, not a bulk call's worth.
        let batch_size = mailer.batch_size().clamp(1, BATCH_MAX);
        for (batch, chunk) in (next_batch(prior)..).zip(due.chunks(batch_size)) {
            let recipients = chunk.iter().map(|a| a.recipient(&self.links)).collect();
            let mail = BulkMail { template: NOTICE.name.to_string(), shared: shared.clone(), recipients };
            let sent = mailer.send_bulk(&mail).await.map_err(|e| owed(OwedCause::Notify(e)))?;
            report.calls += sent.calls;
            report.sent += sent.sent.len();
            report.refused += sent.failed.len();
            let refused = sent.failed.into_iter().map(|(to, reason)| Refused { to: to.to_string(), reason }).collect();
            let addresses = sent.sent.into_iter().map(String::from).collect();
            let record =
                Batch { channel: DeliveryChannel::Email, number: batch, sent: addresses, refused, calls: sent.calls };
            self.record(event, record, report).await?;
            if !sent.deferred.is_empty() {
                return Err(owed(OwedCause::Throttled { count: sent.deferred.len() }));
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
    ) -> Result<(), Owed> {
        let owed = |cause| Owed::new(DeliveryChannel::Message, cause);
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
        let published = publisher.publish(std::slice::from_ref(&note)).await.map_err(|e| owed(OwedCause::Notify(e)))?;
        report.calls += published.calls;
        if !published.deferred.is_empty() {
            return Err(owed(OwedCause::Throttled { count: published.deferred.len() }));
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

    /// Writes one batch to the ledger.
    async fn record(&self, event: &TimelineEvent, batch: Batch, report: &mut ChannelReport) -> Result<(), Owed> {
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
            .map_err(|e| Owed::new(channel, OwedCause::NotRecorded(e)))?;
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
/// marked to notify, unless whoever made the change asked not to. Notes and ticket links stay internal.
pub fn event_notifies(event: &TimelineEvent) -> bool {
    event.notify
        && matches!(event.kind, EventKind::Opened | EventKind::Updated | EventKind::Resolved | EventKind::Reopened)
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
    use super::*;
    use crate::test_util::{event, incident};

    fn marked(kind: EventKind, notify: bool) -> TimelineEvent {
        TimelineEvent { notify, ..event(&incident().build(), kind) }
    }

    #[test]
    fn openings_resolutions_and_marked_updates_notify() {
        assert!(event_notifies(&marked(EventKind::Opened, true)));
        assert!(event_notifies(&marked(EventKind::Resolved, true)));
        assert!(!event_notifies(&marked(EventKind::Updated, false)), "an update not marked notify");
    }

    #[test]
    fn notes_and_ticket_links_never_notify() {
        assert!(!event_notifies(&marked(EventKind::Note, true)));
        assert!(!event_notifies(&marked(EventKind::TicketLinked, true)));
    }

    #[test]
    fn an_owed_channel_keeps_its_whole_cause_chain_in_the_error() {
        let store = StoreError::Corrupt("row 7".into());
        let e = DispatchError::Incomplete(vec![Owed::new(DeliveryChannel::Email, OwedCause::NotRecorded(store))]);
        assert_eq!(
            e.to_string(),
            "not yet delivered: email: sent but not recorded: the store holds a record it cannot read: row 7"
        );
    }
}
