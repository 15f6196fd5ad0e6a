//! Dashboard windows: "incidents overlapping [from, to)", with filters and keyset pages.
//!
//! Pages are ordered newest start first, ties broken by ticket number. A cursor is the (start, ticket) of the
//! last incident served, so the next page starts strictly after it: an insert never shifts or repeats a page.

use std::fmt;

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::error::{FieldError, ValidationErrors};
use crate::incident::Incident;
use crate::limits;
use crate::values::TicketNumber;
use crate::values::{Severity, Status, SystemId};
/// A half-open window `[from, to)` with `from < to`, at most [`limits::WINDOW_MAX_DAYS`] wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    from: OffsetDateTime,
    to: OffsetDateTime,
}

impl Window {
    pub fn new(from: OffsetDateTime, to: OffsetDateTime) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if from >= to {
            errors.push("to", "must be after from");
        } else if to - from > Duration::days(limits::WINDOW_MAX_DAYS) {
            errors.push("to", format!("must be at most {} days after from", limits::WINDOW_MAX_DAYS));
        }
        errors.finish()?;
        Ok(Self { from, to })
    }

    /// The last [`limits::WINDOW_DEFAULT_DAYS`] days up to `now`, its bounds on whole minutes (see
    /// [`Window::minute_after`]), so that the default window, and the answer and `ETag` drawn from it, stay the
    /// same for a minute unless an incident changes: a dashboard polling it gets `304`s.
    pub fn default_ending(now: OffsetDateTime) -> Self {
        let to = Self::minute_after(now);
        Self { from: to - Duration::days(limits::WINDOW_DEFAULT_DAYS), to }
    }

    /// The first whole minute after `now`: an end "now" that an incident opened this very second still falls
    /// before, and that stays the same for a minute.
    pub fn minute_after(now: OffsetDateTime) -> OffsetDateTime {
        let into_minute =
            Duration::seconds(i64::from(now.second())) + Duration::nanoseconds(i64::from(now.nanosecond()));
        now - into_minute + Duration::minutes(1)
    }

    pub fn from(&self) -> OffsetDateTime {
        self.from
    }

    pub fn to(&self) -> OffsetDateTime {
        self.to
    }
}

/// Where the previous page ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub started_at: OffsetDateTime,
    pub ticket: TicketNumber,
}

impl Cursor {
    pub fn after(incident: &Incident) -> Self {
        Self { started_at: incident.started_at, ticket: incident.ticket }
    }

    /// Whether `incident` comes after this cursor in page order (newest first).
    pub fn precedes(&self, incident: &Incident) -> bool {
        (incident.started_at, incident.ticket) < (self.started_at, self.ticket)
    }

    /// Opaque to clients: `<unix microseconds>.<ticket number>`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.started_at.unix_timestamp_nanos() / 1_000, self.ticket.number())
    }

    pub fn decode(field: &str, raw: &str) -> Result<Self, FieldError> {
        let bad = || FieldError::new(field, "is not a cursor this server handed out; start again without it");
        let (micros, ticket) = raw.split_once('.').ok_or_else(bad)?;
        let micros: i128 = micros.parse().map_err(|_| bad())?;
        let nanos = micros.checked_mul(1_000).ok_or_else(bad)?;
        let started_at = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| bad())?;
        let ticket = ticket.parse().ok().and_then(TicketNumber::from_number).ok_or_else(bad)?;
        Ok(Self { started_at, ticket })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// A dashboard query: a window, optional filters, a page size and where to resume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowQuery {
    pub window: Window,
    pub status: Option<Status>,
    pub severity: Option<Severity>,
    pub system: Option<SystemId>,
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

impl WindowQuery {
    pub fn new(window: Window) -> Self {
        Self { window, status: None, severity: None, system: None, limit: limits::PAGE_DEFAULT, cursor: None }
    }

    /// Whether an incident belongs to the answer, cursor aside.
    pub fn matches(&self, i: &Incident) -> bool {
        i.overlaps(self.window.from, self.window.to)
            && self.status.is_none_or(|s| i.status == s)
            && self.severity.is_none_or(|s| i.severity == s)
            && self.system.as_ref().is_none_or(|s| i.affects(s))
    }

    /// Whether an incident belongs to this page's answer: it matches and comes after the cursor.
    pub fn admits(&self, i: &Incident) -> bool {
        self.matches(i) && self.cursor.is_none_or(|c| c.precedes(i))
    }

    /// Sorts candidates into page order, keeps this page, and says where the next one starts.
    /// A ticket found more than once (adapters may read it from several indexes) counts once, at its newest
    /// version.
    pub fn paginate(&self, candidates: Vec<Incident>) -> Page<Incident> {
        let mut newest: std::collections::HashMap<TicketNumber, Incident> = std::collections::HashMap::new();
        for i in candidates {
            if newest.get(&i.ticket).is_none_or(|seen| seen.version < i.version) {
                newest.insert(i.ticket, i);
            }
        }
        let mut candidates: Vec<Incident> = newest.into_values().filter(|i| self.admits(i)).collect();
        candidates.sort_by_key(|i| std::cmp::Reverse((i.started_at, i.ticket)));
        let limit = self.limit.clamp(1, limits::PAGE_MAX);
        let next = (candidates.len() > limit).then(|| Cursor::after(&candidates[limit - 1]));
        candidates.truncate(limit);
        Page { items: candidates, next }
    }
}

/// One page of an answer, and the cursor of the next page if there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(skip)]
    pub next: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_window_must_end_after_it_starts() {
        let t = datetime!(2026-11-22 00:00 UTC);
        assert_eq!(Window::new(t, t).unwrap_err().0[0].reason, "must be after from");
    }

    #[test]
    fn a_window_is_at_most_366_days() {
        let t = datetime!(2026-01-01 00:00 UTC);
        assert!(Window::new(t, t + Duration::days(366)).is_ok());
        assert!(Window::new(t, t + Duration::days(367)).is_err());
    }

    #[test]
    fn the_default_window_is_the_same_all_minute_and_still_holds_what_started_this_second() {
        let early = Window::default_ending(datetime!(2026-11-22 09:30:00.000001 UTC));
        let late = Window::default_ending(datetime!(2026-11-22 09:30:59.999999 UTC));
        assert_eq!(early, late);
        assert_eq!(early.to(), datetime!(2026-11-22 09:31 UTC));
        assert_eq!(early.from(), datetime!(2026-11-15 09:31 UTC));
        assert!(datetime!(2026-11-22 09:30:59.999999 UTC) < late.to());
    }

    #[test]
    fn a_cursor_too_large_to_be_a_time_is_refused() {
        assert!(Cursor::decode("cursor", "170141183460469231731687303715884106.1").is_err());
    }

    #[test]
    fn a_cursor_survives_its_encoding() {
        let c = Cursor {
            started_at: datetime!(2026-11-22 09:30:00.123456 UTC),
            ticket: TicketNumber::from_number(42).unwrap(),
        };
        assert_eq!(Cursor::decode("cursor", &c.encode()).unwrap(), c);
        assert!(Cursor::decode("cursor", "garbage").is_err());
    }
}
