//! The ticketing port: what Flare asks of the organisation's ticketing system (ServiceNow, Jira, GitHub Issues or
//! a signed webhook), and [`sync`], which turns one timeline event into the right calls.
//!
//! Adapters live in `flare-tickets`. This module holds no network code: only the trait, the error every adapter
//! maps its failures to, and the rule that keeps a retried dispatch from opening a second ticket (look up by our
//! ticket number before creating).

use std::error::Error as StdError;
use std::time::Duration;

use async_trait::async_trait;

use crate::incident::{ExternalTicket, Incident};
use crate::timeline::{EventKind, TimelineEvent};
use crate::values::TicketNumber;

/// Why a call to the ticketing system failed.
///
/// [`TicketError::Unavailable`] is the only transient one: the dispatcher may try again later (after
/// `retry_after` when the vendor said so). The others need a person: a bad token, a refused field, a vendor that
/// answers in a shape Flare does not understand. No variant carries a secret or a request body.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// 401 or 403: the credentials are wrong, expired or lack a permission. Never retried.
    #[error("the ticketing system refused Flare's credentials (HTTP {status})")]
    Unauthorized { status: u16 },
    /// Any other 4xx: the vendor refused this request. Retrying the same request will not help.
    #[error("the ticketing system rejected the request (HTTP {status}): {detail}")]
    Rejected { status: u16, detail: String },
    /// 429, 5xx, timeouts and connection failures, once the adapter's own retries are spent.
    #[error("the ticketing system is unavailable{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    Unavailable {
        retry_after: Option<Duration>,
        #[source]
        source: Option<Box<dyn StdError + Send + Sync>>,
    },
    /// The vendor answered with success but in a shape Flare cannot use (a missing key, an unknown transition).
    #[error("the ticketing system answered unexpectedly: {0}")]
    Invalid(String),
}

impl TicketError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// How long the vendor asked to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The organisation's ticketing system, seen from Flare: one ticket mirrors one incident.
///
/// Every adapter can find a ticket by *our* ticket number (ServiceNow `correlation_id`, a Jira or GitHub label),
/// which is what makes [`sync`] safe to retry.
#[async_trait]
pub trait TicketSystem: Send + Sync {
    /// `servicenow`, `jira`, `github` or `webhook`: the value stored in [`ExternalTicket::system`].
    fn kind(&self) -> &'static str;

    /// The ticket opened earlier for our ticket number, if any.
    async fn find(&self, ticket: TicketNumber) -> Result<Option<ExternalTicket>, TicketError>;

    /// Opens a ticket for the incident. Callers look up first ([`sync`] does).
    async fn open(&self, incident: &Incident, event: &TimelineEvent) -> Result<ExternalTicket, TicketError>;

    /// Adds the event (an update or a note) to the ticket as a comment.
    async fn comment(
        &self,
        external: &ExternalTicket,
        incident: &Incident,
        event: &TimelineEvent,
    ) -> Result<(), TicketError>;

    /// Resolves or closes the ticket, carrying the event's message as the resolution note.
    async fn resolve(
        &self,
        external: &ExternalTicket,
        incident: &Incident,
        event: &TimelineEvent,
    ) -> Result<(), TicketError>;

    /// Reopens a resolved ticket.
    async fn reopen(
        &self,
        external: &ExternalTicket,
        incident: &Incident,
        event: &TimelineEvent,
    ) -> Result<(), TicketError>;
}

/// Mirrors one timeline event in the ticketing system.
///
/// - `Opened`: looks the ticket up by our number first, so a redelivered event never opens a second ticket, and
///   opens one only when none is found.
/// - `Updated` and `Note`: a comment. `Resolved`: resolve. `Reopened`: reopen.
///
/// When the incident has no ticket in *this* system yet (ticketing was switched on later, or the open failed for
/// good earlier), the ticket is found or opened first, then the event applied, so the ticket catches up.
///
/// Returns the external ticket when it was opened or found here, for the caller to store on the incident;
/// `None` when the incident already carried it.
pub async fn sync_ticket(
    system: &dyn TicketSystem,
    incident: &Incident,
    event: &TimelineEvent,
) -> Result<Option<ExternalTicket>, TicketError> {
    let known = incident.external.as_ref().filter(|e| e.system.as_str() == system.kind());
    let (external, new) = match known {
        Some(e) => (e.clone(), false),
        None => match system.find(incident.ticket).await? {
            Some(found) => (found, true),
            None => (system.open(incident, event).await?, true),
        },
    };
    match event.kind {
        EventKind::Opened => {}
        EventKind::Updated | EventKind::Note => system.comment(&external, incident, event).await?,
        EventKind::Resolved => system.resolve(&external, incident, event).await?,
        EventKind::Reopened => system.reopen(&external, incident, event).await?,
        // The link is the dispatcher's own record of this very call; the dispatcher never mirrors it.
        EventKind::TicketLinked => {}
    }
    Ok(new.then_some(external))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use time::macros::datetime;

    use super::*;
    use crate::access::Actor;
    use crate::test_util;
    use crate::text::{ExternalId, Line};

    /// Records the calls it gets; `found` is what `find` answers.
    struct Recorder {
        found: Option<ExternalTicket>,
        calls: Mutex<Vec<&'static str>>,
    }

    fn ticket(key: &str) -> ExternalTicket {
        ExternalTicket {
            system: Line::parse("system", "fake").unwrap(),
            key: ExternalId::parse("key", key).unwrap(),
            url: None,
        }
    }

    #[async_trait]
    impl TicketSystem for Recorder {
        fn kind(&self) -> &'static str {
            "fake"
        }
        async fn find(&self, _: TicketNumber) -> Result<Option<ExternalTicket>, TicketError> {
            self.calls.lock().unwrap().push("find");
            Ok(self.found.clone())
        }
        async fn open(&self, _: &Incident, _: &TimelineEvent) -> Result<ExternalTicket, TicketError> {
            self.calls.lock().unwrap().push("open");
            Ok(ticket("NEW-1"))
        }
        async fn comment(&self, _: &ExternalTicket, _: &Incident, _: &TimelineEvent) -> Result<(), TicketError> {
            self.calls.lock().unwrap().push("comment");
            Ok(())
        }
        async fn resolve(&self, _: &ExternalTicket, _: &Incident, _: &TimelineEvent) -> Result<(), TicketError> {
            self.calls.lock().unwrap().push("resolve");
            Ok(())
        }
        async fn reopen(&self, _: &ExternalTicket, _: &Incident, _: &TimelineEvent) -> Result<(), TicketError> {
            self.calls.lock().unwrap().push("reopen");
            Ok(())
        }
    }

    fn recorder(found: Option<ExternalTicket>) -> Recorder {
        Recorder { found, calls: Mutex::new(vec![]) }
    }

    fn incident(external: Option<ExternalTicket>) -> Incident {
        let i = test_util::incident();
        match external {
            Some(e) => i.external(e),
            None => i,
        }
        .build()
    }

    fn event(kind: EventKind) -> TimelineEvent {
        TimelineEvent {
            ticket: TicketNumber::from_number(1042).unwrap(),
            seq: 1,
            at: datetime!(2026-11-22 09:00 UTC),
            actor: Actor::system("test"),
            kind,
            changes: vec![],
            message: None,
            notify: true,
        }
    }

    #[tokio::test]
    async fn opening_looks_up_first_and_opens_when_nothing_is_found() {
        let r = recorder(None);
        let got = sync_ticket(&r, &incident(None), &event(EventKind::Opened)).await.unwrap();
        assert_eq!(got, Some(ticket("NEW-1")));
        assert_eq!(*r.calls.lock().unwrap(), ["find", "open"]);
    }

    #[tokio::test]
    async fn a_redelivered_open_finds_the_ticket_and_opens_no_second_one() {
        let r = recorder(Some(ticket("OLD-7")));
        let got = sync_ticket(&r, &incident(None), &event(EventKind::Opened)).await.unwrap();
        assert_eq!(got, Some(ticket("OLD-7")));
        assert_eq!(*r.calls.lock().unwrap(), ["find"]);
    }

    #[tokio::test]
    async fn each_later_event_kind_maps_to_its_call_on_the_known_ticket() {
        for (kind, call) in [
            (EventKind::Updated, "comment"),
            (EventKind::Note, "comment"),
            (EventKind::Resolved, "resolve"),
            (EventKind::Reopened, "reopen"),
        ] {
            let r = recorder(None);
            let got = sync_ticket(&r, &incident(Some(ticket("OLD-7"))), &event(kind)).await.unwrap();
            assert_eq!(got, None, "{kind}");
            assert_eq!(*r.calls.lock().unwrap(), [call], "{kind}");
        }
    }

    #[tokio::test]
    async fn an_update_to_an_incident_without_a_ticket_opens_one_then_comments() {
        let r = recorder(None);
        let got = sync_ticket(&r, &incident(None), &event(EventKind::Updated)).await.unwrap();
        assert_eq!(got, Some(ticket("NEW-1")));
        assert_eq!(*r.calls.lock().unwrap(), ["find", "open", "comment"]);
    }

    #[test]
    fn only_unavailable_is_transient() {
        let e = TicketError::Unavailable { retry_after: Some(Duration::from_secs(3)), source: None };
        assert!(e.is_transient());
        assert_eq!(e.to_string(), "the ticketing system is unavailable (retry after 3s)");
        assert!(!TicketError::Unauthorized { status: 401 }.is_transient());
    }
}
