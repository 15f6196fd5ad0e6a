//! Fast tests of the dispatcher and the worker: a real SQLite store in a temporary directory, recording fakes for
//! the mailer, the publisher and the ticketing system, and a clock the test moves. No emulator, no sleeps.

// The fakes' helpers live outside `#[test]` functions; a panic in them is a failed test, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use flare_core::UnsubscribeKey;
use flare_core::notify::{BulkMail, BulkReport, Mail, Mailer, Notification, NotifyError, PublishReport, Publisher};
use flare_core::test_util;
use flare_core::text::{Description, Message, SystemName, Title};
use flare_core::{
    Actor, AffectedSystem, CatalogStore, Channel, Clock, Command, DeliveryChannel, EmailAddress, EventKind,
    ExternalTicket, Impact, Incident, IncidentService, IncidentStore, LedgerStore, OpenIncident, ResolveIncident,
    Severity, Source, Subscriber, System, SystemId, TicketError, TicketNumber, TicketSystem, TimelineEvent,
};
use flare_core::{Channels, DispatchError, Dispatcher, Links, OwedCause};
use flare_embedded::{Drained, QueuedEvent, SqliteStore, Worker};
use tempfile::TempDir;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-22 09:00 UTC);

/// A clock that stands still until the test moves it.
#[derive(Debug)]
struct TestClock(Mutex<OffsetDateTime>);

impl TestClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

fn outage(service: &'static str) -> NotifyError {
    NotifyError::Transient { service, source: Box::new(std::io::Error::other("connection refused")) }
}

/// Records every bulk mail; fails while `down` is set.
#[derive(Debug, Default)]
struct RecordingMailer {
    sent: Mutex<Vec<BulkMail>>,
    down: Mutex<bool>,
}

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send_bulk(&self, mail: &BulkMail) -> Result<BulkReport, NotifyError> {
        if *self.down.lock().unwrap() {
            return Err(outage("mail"));
        }
        self.sent.lock().unwrap().push(mail.clone());
        let sent = mail.recipients.iter().map(|r| r.email.clone()).collect();
        Ok(BulkReport { sent, calls: 1, ..BulkReport::default() })
    }

    async fn send_one(&self, _: &Mail) -> Result<(), NotifyError> {
        Ok(())
    }
}

impl RecordingMailer {
    fn mails(&self) -> Vec<BulkMail> {
        self.sent.lock().unwrap().clone()
    }
}

/// Records every notification; fails while `down` is set.
#[derive(Debug, Default)]
struct RecordingPublisher {
    published: Mutex<Vec<Notification>>,
    down: Mutex<bool>,
}

#[async_trait]
impl Publisher for RecordingPublisher {
    async fn publish(&self, notes: &[Notification]) -> Result<PublishReport, NotifyError> {
        if *self.down.lock().unwrap() {
            return Err(outage("topic"));
        }
        self.published.lock().unwrap().extend_from_slice(notes);
        Ok(PublishReport { published: (0..notes.len()).collect(), calls: 1, ..PublishReport::default() })
    }
}

impl RecordingPublisher {
    fn set_down(&self, down: bool) {
        *self.down.lock().unwrap() = down;
    }

    fn count(&self) -> usize {
        self.published.lock().unwrap().len()
    }
}

/// A ticketing system that opens `OPS-1` and records each call by name.
#[derive(Debug, Default)]
struct RecordingTickets {
    calls: Mutex<Vec<&'static str>>,
}

impl RecordingTickets {
    fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().unwrap().clone()
    }

    fn record(&self, call: &'static str) {
        self.calls.lock().unwrap().push(call);
    }
}

#[async_trait]
impl TicketSystem for RecordingTickets {
    fn kind(&self) -> &'static str {
        "fake"
    }
    async fn find(&self, _: TicketNumber) -> Result<Option<ExternalTicket>, TicketError> {
        self.record("find");
        Ok(None)
    }
    async fn open(&self, _: &Incident, _: &TimelineEvent) -> Result<ExternalTicket, TicketError> {
        self.record("open");
        Ok(test_util::external("fake", "OPS-1"))
    }
    async fn comment(&self, _: &ExternalTicket, _: &Incident, _: &TimelineEvent) -> Result<(), TicketError> {
        self.record("comment");
        Ok(())
    }
    async fn resolve(&self, _: &ExternalTicket, _: &Incident, _: &TimelineEvent) -> Result<(), TicketError> {
        self.record("resolve");
        Ok(())
    }
    async fn reopen(&self, _: &ExternalTicket, _: &Incident, _: &TimelineEvent) -> Result<(), TicketError> {
        self.record("reopen");
        Ok(())
    }
}

/// A self-hosted site: the store in a temporary directory, the fakes, a dispatcher and a worker over them.
struct Site {
    dir: TempDir,
    store: Arc<SqliteStore>,
    clock: Arc<TestClock>,
    service: IncidentService,
    mailer: Arc<RecordingMailer>,
    publisher: Arc<RecordingPublisher>,
    tickets: Arc<RecordingTickets>,
}

async fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("flare.db")).unwrap());
    let clock = Arc::new(TestClock(Mutex::new(NOW)));
    let service = IncidentService::new(store.clone(), clock.clone());
    let vpn = System { id: vpn(), name: SystemName::parse("name", "VPN").unwrap(), owner: None, owner_email: None };
    store.put_system(&vpn).await.unwrap();
    for person in ["ada@example.com", "bob@example.com"] {
        let email = EmailAddress::parse("email", person).unwrap();
        store.put_subscriber(&Subscriber::new(vpn.id.clone(), Some(email), None, None).unwrap()).await.unwrap();
    }
    let (mailer, publisher, tickets) = (Arc::default(), Arc::default(), Arc::default());
    Site { dir, store, clock, service, mailer, publisher, tickets }
}

fn links() -> Links {
    Links::new("https://flare.example.com", UnsubscribeKey::derive(b"a test key of thirty-two bytes!!"))
}

fn vpn() -> SystemId {
    SystemId::parse("system", "vpn").unwrap()
}

impl Site {
    /// A dispatcher over `store`, delivering through this site's fakes.
    fn dispatcher_over(&self, store: Arc<SqliteStore>) -> Dispatcher {
        let channels = Channels {
            mailer: Some(self.mailer.clone()),
            publisher: Some(self.publisher.clone()),
            tickets: Some(self.tickets.clone()),
        };
        Dispatcher::new(IncidentService::new(store, self.clock.clone()), channels, links())
    }

    fn dispatcher(&self) -> Dispatcher {
        self.dispatcher_over(self.store.clone())
    }

    /// A worker as a fresh `flare serve` would start it: the database opened anew, nothing kept in memory.
    fn new_worker(&self) -> Worker {
        let store = Arc::new(SqliteStore::open(&self.dir.path().join("flare.db")).unwrap());
        Worker::new(store.clone(), self.dispatcher_over(store), self.clock.clone())
    }

    async fn open(&self) -> TicketNumber {
        let command = OpenIncident {
            title: Title::parse("title", "VPN down").unwrap(),
            description: Description::parse("description", "No one can connect").unwrap(),
            severity: Severity::Sev2,
            systems: vec![AffectedSystem { system: vpn(), impact: Impact::MajorOutage }],
            engineer: None,
            engineer_email: None,
            notify_emails: vec![],
            started_at: None,
            detected_at: None,
            source: Source::new(Channel::Api),
            notify: true,
        };
        self.service.open(command, &Actor::system("agent"), None).await.unwrap().ticket
    }

    async fn resolve(&self, ticket: TicketNumber) {
        let resolve = ResolveIncident {
            ticket,
            expected_version: None,
            resolved_at: None,
            message: Some(Message::parse("message", "Replaced the line card").unwrap()),
            root_cause: None,
            notify: true,
        };
        self.service.execute(Command::Resolve(resolve), &Actor::system("agent"), None).await.unwrap();
    }

    /// Whether event `seq` of `ticket` is due at `at`, by the queue's own poll.
    async fn due(&self, ticket: TicketNumber, seq: u64, at: OffsetDateTime) -> Option<QueuedEvent> {
        self.store.due_events(at, 100).await.unwrap().into_iter().find(|q| q.ticket == ticket && q.seq == seq)
    }

    /// Asserts that event 1 of `ticket` is due again no earlier than `from` and by `until` (exclusive) from now,
    /// and returns the attempts its row counts.
    async fn assert_due_between(&self, ticket: TicketNumber, from: Duration, until: Duration) -> u32 {
        let now = self.clock.now();
        let early = self.due(ticket, 1, now + from - Duration::microseconds(1)).await;
        assert!(early.is_none(), "due before {from}");
        let queued = self.due(ticket, 1, now + until).await;
        queued.unwrap_or_else(|| panic!("not due by {until}")).attempts
    }
}

#[tokio::test]
async fn a_failing_channel_is_owed_with_its_cause_while_the_others_are_recorded() {
    let site = site().await;
    let ticket = site.open().await;
    site.publisher.set_down(true);
    let Err(DispatchError::Incomplete(owed)) = site.dispatcher().dispatch(ticket, 1).await else {
        panic!("the topic is down, so the event is incomplete");
    };
    assert_eq!(owed.len(), 1, "{owed:?}");
    assert_eq!(owed[0].channel, DeliveryChannel::Message);
    assert!(matches!(&owed[0].cause, OwedCause::Notify(e) if e.is_transient()), "{:?}", owed[0].cause);
    let recorded: Vec<DeliveryChannel> =
        site.store.event_deliveries(ticket, 1).await.unwrap().iter().map(|d| d.channel).collect();
    assert_eq!(recorded, [DeliveryChannel::Email, DeliveryChannel::Ticket]);
}

#[tokio::test]
async fn a_redelivery_sends_only_what_is_still_owed() {
    let site = site().await;
    let ticket = site.open().await;
    site.publisher.set_down(true);
    site.dispatcher().dispatch(ticket, 1).await.unwrap_err();
    site.publisher.set_down(false);
    let report = site.dispatcher().dispatch(ticket, 1).await.unwrap();
    assert_eq!(site.mailer.mails().len(), 1, "the mail went out once");
    assert_eq!(report.email.skipped, 2, "both subscribers were settled by the first run");
    assert_eq!(site.publisher.count(), 1);
    assert_eq!(site.tickets.calls(), ["find", "open"], "the ticket was opened once");
}

#[tokio::test]
async fn an_opened_notice_retried_after_the_resolve_still_says_opened() {
    let site = site().await;
    let ticket = site.open().await;
    site.clock.advance(Duration::hours(2));
    site.resolve(ticket).await;
    site.dispatcher().dispatch(ticket, 1).await.unwrap();
    let mails = site.mailer.mails();
    let shared: &BTreeMap<String, String> = &mails[0].shared;
    assert_eq!(shared["headline"], "Major incident opened");
    assert_eq!(shared["status"], "investigating");
    assert_eq!(shared["resolved_line"], "", "it was not resolved when it opened");
    assert_eq!(shared["started_at"], "2026-11-22T09:00:00Z");
}

#[tokio::test]
async fn linking_the_ticket_is_its_own_event_that_the_dispatcher_skips() {
    let site = site().await;
    let ticket = site.open().await;
    site.dispatcher().dispatch(ticket, 1).await.unwrap();
    let link = site.store.event(ticket, 2).await.unwrap().unwrap();
    assert_eq!(link.event.kind, EventKind::TicketLinked);
    assert_eq!(link.incident.and_then(|i| i.external), Some(test_util::external("fake", "OPS-1")));

    let report = site.dispatcher().dispatch(ticket, 2).await.unwrap();
    assert_eq!(report, Default::default());
    assert_eq!(site.tickets.calls(), ["find", "open"], "no comment about the link itself");
    assert_eq!(site.mailer.mails().len(), 1, "nobody is mailed about the link");
}

#[tokio::test]
async fn a_delivered_event_leaves_the_queue() {
    let site = site().await;
    site.open().await;
    assert_eq!(site.new_worker().drain().await.unwrap(), Drained { delivered: 2, postponed: 0 });
    assert_eq!(site.store.pending_events().await.unwrap(), 0, "the opening and the ticket link are both done");
}

#[tokio::test]
async fn a_failed_event_is_put_back_with_a_delay_that_grows_with_the_attempts_in_its_row() {
    let site = site().await;
    let ticket = site.open().await;
    site.publisher.set_down(true);
    let worker = site.new_worker();

    assert_eq!(worker.drain().await.unwrap(), Drained { delivered: 0, postponed: 1 });
    let attempts = site.assert_due_between(ticket, Duration::seconds(15), Duration::seconds(30)).await;
    assert_eq!(attempts, 1);

    site.clock.advance(Duration::seconds(30));
    assert_eq!(worker.drain().await.unwrap(), Drained { delivered: 0, postponed: 1 });
    let attempts = site.assert_due_between(ticket, Duration::seconds(30), Duration::seconds(60)).await;
    assert_eq!(attempts, 2);
}

#[tokio::test]
async fn a_restarted_worker_keeps_each_events_backoff() {
    let site = site().await;
    let ticket = site.open().await;
    site.publisher.set_down(true);
    site.new_worker().drain().await.unwrap();
    site.clock.advance(Duration::seconds(30));
    site.new_worker().drain().await.unwrap();

    site.clock.advance(Duration::seconds(60));
    assert_eq!(site.new_worker().drain().await.unwrap(), Drained { delivered: 0, postponed: 1 });
    let attempts = site.assert_due_between(ticket, Duration::seconds(60), Duration::seconds(120)).await;
    assert_eq!(attempts, 3, "a fresh worker read two earlier failures from the row");
}

#[tokio::test]
async fn a_postponed_event_goes_out_once_its_channel_is_back() {
    let site = site().await;
    site.open().await;
    site.publisher.set_down(true);
    let worker = site.new_worker();
    worker.drain().await.unwrap();
    site.publisher.set_down(false);
    site.clock.advance(Duration::seconds(30));
    assert_eq!(worker.drain().await.unwrap(), Drained { delivered: 2, postponed: 0 });
    assert_eq!((site.mailer.mails().len(), site.publisher.count()), (1, 1));
}

#[tokio::test]
async fn an_event_stored_before_events_kept_their_incident_is_told_with_the_current_one() {
    let site = site().await;
    let ticket = site.open().await;
    let conn = rusqlite::Connection::open(site.dir.path().join("flare.db")).unwrap();
    conn.execute("UPDATE timeline SET incident = NULL", []).unwrap();
    site.resolve(ticket).await;
    site.dispatcher().dispatch(ticket, 1).await.unwrap();
    assert_eq!(site.mailer.mails()[0].shared["status"], "resolved", "the current state is the best there is");
}
