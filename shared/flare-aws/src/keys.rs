//! How every key in the single table is spelled: partition and sort keys of the base table and of the indexes.
//! The store, the window query and the benchmark's bulk loader all build keys here, so they cannot drift apart.
//! Attribute *names* belong to [`crate::schema`] and [`crate::items`]; this module owns only the values.

use flare_core::{Channel, DeliveryChannel, SystemId, TicketNumber, Username};
use time::{Duration, OffsetDateTime, UtcOffset};

use flare_core::timefmt::sortable;

/// Sort key of every item that is the one record of its partition (incident, system, user, API key).
pub(crate) const META: &str = "META";
/// The ticket counter's item.
pub(crate) const COUNTER_PK: &str = "COUNTER";
pub(crate) const COUNTER_SK: &str = "TICKET";
/// Sort key of an idempotency record and of an external-id claim.
pub(crate) const IDEM_SK: &str = "IDEM";
pub(crate) const EXT_SK: &str = "EXT";
/// Sort-key prefixes of an incident's events, its deliveries and a system's subscribers.
pub(crate) const EVENT_PREFIX: &str = "EV#";
pub(crate) const DELIVERY_PREFIX: &str = "DL#";
pub(crate) const SUBSCRIBER_PREFIX: &str = "SUB#";
/// The one partition of the sparse `open` index.
pub(crate) const OPEN_PARTITION: &str = "OPEN";
/// Partitions of the `listing` index.
pub(crate) const SYSTEMS_LISTING: &str = "SYSTEMS";
pub(crate) const API_KEYS_LISTING: &str = "APIKEYS";

/// Digits of a zero-padded ticket number in sort keys: wide enough for any `u64`, so string order is number
/// order for every ticket that can exist.
const TICKET_WIDTH: usize = 20;

pub(crate) fn incident_pk(ticket: TicketNumber) -> String {
    format!("INC#{}", ticket.number())
}

/// The partition of one week's digest deliveries, by the week's first day: `DIGEST#2026-11-23`.
pub(crate) fn digest_pk(week: OffsetDateTime) -> String {
    format!("DIGEST#{}", week.to_offset(UtcOffset::UTC).date())
}

/// A digest delivery's sort key: batches sort by number.
pub(crate) fn digest_delivery_sk(batch: u32) -> String {
    format!("{DELIVERY_PREFIX}{batch:06}")
}

/// Events sort by sequence number: ten digits are more changes than one incident will ever see.
pub(crate) fn event_sk(seq: u64) -> String {
    format!("{EVENT_PREFIX}{seq:010}")
}

/// The ticket and sequence number of a timeline event's key (`INC#42`, `EV#0000000007`), or `None` for the key
/// of any other item. Only keys these builders spell are accepted.
pub(crate) fn parse_event_key(pk: &str, sk: &str) -> Option<(TicketNumber, u64)> {
    let ticket = TicketNumber::from_number(pk.strip_prefix("INC#")?.parse().ok()?)?;
    let seq = sk.strip_prefix(EVENT_PREFIX)?.parse().ok()?;
    (incident_pk(ticket) == pk && event_sk(seq) == sk).then_some((ticket, seq))
}

/// Deliveries sort by event, channel name, then batch: the order the ledger promises. Six digits of batch are
/// fifty million recipients of one event on one channel. Every key of one event starts with
/// [`event_deliveries_prefix`].
pub(crate) fn delivery_sk(seq: u64, channel: DeliveryChannel, batch: u32) -> String {
    format!("{}{channel}#{batch:06}", event_deliveries_prefix(seq))
}

pub(crate) fn event_deliveries_prefix(seq: u64) -> String {
    format!("{DELIVERY_PREFIX}{seq:010}#")
}

pub(crate) fn padded_ticket(number: u64) -> String {
    format!("{number:0TICKET_WIDTH$}")
}

pub(crate) fn idempotency_pk(key: &str) -> String {
    format!("IDEM#{key}")
}

pub(crate) fn external_pk(channel: Channel, external_id: &str) -> String {
    format!("EXT#{channel}#{external_id}")
}

pub(crate) fn system_pk(id: &SystemId) -> String {
    format!("SYS#{id}")
}

pub(crate) fn subscriber_sk(contact_key: &str) -> String {
    format!("{SUBSCRIBER_PREFIX}{contact_key}")
}

pub(crate) fn user_pk(username: &Username) -> String {
    format!("USER#{}", username.as_str())
}

pub(crate) fn api_key_pk(hash: &str) -> String {
    format!("KEY#{hash}")
}

/// The one partition of the poller's source states, so listing every source is one Query.
pub(crate) const POLL_SOURCES_PK: &str = "POLL";
pub(crate) const POLL_SOURCE_PREFIX: &str = "SRC#";

pub(crate) fn poll_source_sk(source: &str) -> String {
    format!("{POLL_SOURCE_PREFIX}{source}")
}

/// A sheet row handled: its source's partition, keyed by the row's idempotency key.
pub(crate) fn poll_row_pk(source: &str) -> String {
    format!("POLLROW#{source}")
}

/// A source's bad rows, sorted by row number.
pub(crate) fn poll_bad_pk(source: &str) -> String {
    format!("POLLBAD#{source}")
}

pub(crate) fn poll_bad_sk(row: u64, key: &str) -> String {
    format!("{row:010}#{key}")
}

/// A probe's checks live in a ring of [`flare_core::poll::CHECKS_KEPT`] slots, so the partition never grows.
pub(crate) fn poll_checks_pk(source: &str) -> String {
    format!("POLLCHK#{source}")
}

pub(crate) fn poll_check_sk(seq: u64) -> String {
    format!("{:05}", seq % flare_core::poll::CHECKS_KEPT)
}

/// Sort key of an incident in the `by_start` and `open` indexes: string order is (start, ticket) order, which
/// is page order read backwards.
pub(crate) fn start_key(started_at: OffsetDateTime, ticket: TicketNumber) -> String {
    format!("{}#{}", sortable(started_at), padded_ticket(ticket.number()))
}

/// The largest start key of an incident that started strictly before `t`, whatever its ticket: an inclusive
/// upper bound for a key range. Keys are microsecond precise, so "before `t`" is "at most the last
/// microsecond before `t`".
pub(crate) fn last_start_key_before(t: OffsetDateTime) -> String {
    let nanos = t.to_offset(UtcOffset::UTC).nanosecond() % 1_000;
    let last = if nanos == 0 { t - Duration::microseconds(1) } else { t - Duration::nanoseconds(i64::from(nanos)) };
    format!("{}#{}", sortable(last), "9".repeat(TICKET_WIDTH))
}

/// Which month bucket of the `by_start` index an incident that started at `t` lives in, as a month count
/// (`year * 12 + month - 1`), so that a window's buckets are a plain integer range.
pub(crate) fn month_index(t: OffsetDateTime) -> i32 {
    let t = t.to_offset(UtcOffset::UTC);
    t.year() * 12 + i32::from(u8::from(t.month())) - 1
}

/// The partition key of a month bucket: `S#2026-11`.
pub(crate) fn month_bucket(index: i32) -> String {
    format!("S#{:04}-{:02}", index.div_euclid(12), index.rem_euclid(12) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn ticket(n: u64) -> TicketNumber {
        TicketNumber::from_number(n).unwrap()
    }

    #[test]
    fn start_keys_sort_by_start_then_ticket() {
        let t = datetime!(2026-11-22 09:30 UTC);
        let a = start_key(t, ticket(9));
        let b = start_key(t, ticket(10));
        let c = start_key(t + Duration::microseconds(1), ticket(1));
        assert_eq!(a, "2026-11-22T09:30:00.000000Z#00000000000000000009");
        assert!(a < b && b < c);
    }

    #[test]
    fn the_last_key_before_a_time_bounds_every_earlier_start_and_no_later_one() {
        let to = datetime!(2026-11-23 00:00 UTC);
        let hi = last_start_key_before(to);
        assert!(start_key(to - Duration::microseconds(1), ticket(u64::MAX)) <= hi);
        assert!(start_key(to, ticket(1)) > hi);
    }

    #[test]
    fn a_bound_with_nanoseconds_keeps_the_microsecond_it_falls_in() {
        let to = datetime!(2026-11-23 00:00:00.000001500 UTC);
        let hi = last_start_key_before(to);
        assert!(start_key(datetime!(2026-11-23 00:00:00.000001 UTC), ticket(7)) <= hi);
        assert!(start_key(datetime!(2026-11-23 00:00:00.000002 UTC), ticket(1)) > hi);
    }

    #[test]
    fn month_buckets_are_named_by_utc_month() {
        let m = month_index(datetime!(2026-01-01 00:30 +01:00));
        assert_eq!(month_bucket(m), "S#2025-12");
        assert_eq!(month_bucket(m + 1), "S#2026-01");
        assert_eq!(month_bucket(month_index(datetime!(2026-11-22 09:30 UTC))), "S#2026-11");
    }

    #[test]
    fn deliveries_sort_by_event_then_channel_then_batch() {
        assert_eq!(delivery_sk(7, DeliveryChannel::Email, 2), "DL#0000000007#email#000002");
        let keys = [
            delivery_sk(7, DeliveryChannel::Email, 2),
            delivery_sk(7, DeliveryChannel::Email, 10),
            delivery_sk(7, DeliveryChannel::Message, 1),
            delivery_sk(7, DeliveryChannel::Ticket, 1),
            delivery_sk(10, DeliveryChannel::Email, 1),
        ];
        assert!(keys.is_sorted());
        assert!(keys[..4].iter().all(|k| k.starts_with(&event_deliveries_prefix(7))));
        assert!(!delivery_sk(70, DeliveryChannel::Email, 1).starts_with(&event_deliveries_prefix(7)));
    }

    #[test]
    fn events_sort_by_sequence() {
        assert_eq!(event_sk(7), "EV#0000000007");
        assert!(event_sk(9) < event_sk(10));
    }

    #[test]
    fn event_keys_parse_back_and_other_keys_do_not() {
        assert_eq!(parse_event_key(&incident_pk(ticket(42)), &event_sk(7)), Some((ticket(42), 7)));
        assert_eq!(parse_event_key("INC#42", META), None);
        assert_eq!(parse_event_key("INC#42", "EV#7"), None);
        assert_eq!(parse_event_key("INC#042", "EV#0000000007"), None);
        assert_eq!(parse_event_key("INC#0", "EV#0000000007"), None);
        assert_eq!(parse_event_key("SYS#vpn", "EV#0000000007"), None);
    }
}
