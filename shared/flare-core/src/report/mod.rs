//! Post-incident reports and the weekly digest.
//!
//! - `incident`: what one post-incident report says ([`render_report`]).
//! - `digest`: the week's incidents by system and severity, what is still open, and each system's MTTA, MTTR
//!   and longest outage ([`Digest`], [`render_digest`]).
//! - `chart`: the digest's chart of incidents per day, a PNG drawn with a font compiled into the binary.
//! - `run`: the [`Reporter`], which finds what is due, claims it in the delivery ledger so that it goes out
//!   once, and mails it through the [`crate::notify::Mailer`] port.
//!
//! Rendering is pure (no store, clock or network); only `run` touches the ports.

mod chart;
mod digest;
mod incident;
mod run;

use time::{Duration, OffsetDateTime, UtcOffset};

use crate::notify::Subject;
use crate::values::TicketNumber;

pub use chart::{ChartError, incidents_per_day_png};
pub use digest::{DIGEST_CHART_CID, Digest, DigestInput, Measures, SystemMeasures, render_digest};
pub use incident::{ReportInput, render_report};
pub use run::{ATTEMPTS_MAX, DigestRun, LOOKBACK_DAYS, ReportError, ReportSettings, Reporter, ReportsRun};

/// A rendered mail: a one-line subject, the HTML part and its plain-text alternative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: Subject,
    pub html: String,
    pub text: String,
}

/// Why a report or digest could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the report template failed")]
    Template(#[from] askama::Error),
    #[error("the subject is not usable: {0}")]
    Subject(String),
    #[error("the chart could not be drawn")]
    Chart(#[from] ChartError),
}

/// Where the links in reports and digests point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLinks {
    base_url: String,
}

impl ReportLinks {
    /// `base_url` is Flare's public address, such as `https://flare.example.com`.
    pub fn new(base_url: &str) -> Self {
        Self { base_url: base_url.trim_end_matches('/').to_string() }
    }

    /// The incident's page.
    pub fn incident(&self, ticket: TicketNumber) -> String {
        format!("{}/incidents/{ticket}", self.base_url)
    }

    /// The form, with the incident's update and close sections filled in: where its root cause and follow-ups
    /// are recorded.
    pub fn record(&self, ticket: TicketNumber) -> String {
        format!("{}/form?ticket={ticket}", self.base_url)
    }
}

/// A time as people read it in a report: `2026-11-22 09:30 UTC`.
pub(crate) fn when(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!("{}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

/// A duration as people read it: `3 d 4 h`, `2 h 30 min`, `12 min`, `under a minute`.
pub(crate) fn duration_words(d: Duration) -> String {
    let minutes = d.whole_minutes().max(0);
    let (days, hours, mins) = (minutes / (24 * 60), minutes / 60 % 24, minutes % 60);
    match (days, hours, mins) {
        (0, 0, 0) => "under a minute".to_string(),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use time::macros::datetime;

    use super::*;
    use crate::access::Actor;
    use crate::incident::Incident;
    use crate::test_util::{event, incident};
    use crate::timeline::{EventKind, TimelineEvent};

    pub(crate) fn links() -> ReportLinks {
        ReportLinks::new("https://flare.example.org/")
    }

    /// INC-1042 on the VPN, opened at 09:00 and resolved at 11:30 by Ada.
    pub(crate) fn resolved_incident() -> Incident {
        incident().system("vpn").resolved_at(datetime!(2026-11-22 11:30 UTC)).version(2).build()
    }

    /// An event by Ada.
    pub(crate) fn by_ada(i: &Incident, seq: u64, kind: EventKind, at: OffsetDateTime) -> TimelineEvent {
        let ada = Actor { kind: crate::access::ActorKind::User, id: "ada".into(), name: "Ada".into() };
        TimelineEvent { seq, at, actor: ada, ..event(i, kind) }
    }

    /// The opening event and, for a resolved incident, the resolution, both by Ada.
    pub(crate) fn timeline(i: &Incident) -> Vec<TimelineEvent> {
        let mut events = vec![by_ada(i, 1, EventKind::Opened, i.started_at)];
        if let Some(at) = i.resolved_at {
            events.push(by_ada(i, 2, EventKind::Resolved, at));
        }
        events
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(duration_words(Duration::seconds(20)), "under a minute");
        assert_eq!(duration_words(Duration::minutes(150)), "2 h 30 min");
        assert_eq!(duration_words(Duration::hours(76)), "3 d 4 h");
    }
}
