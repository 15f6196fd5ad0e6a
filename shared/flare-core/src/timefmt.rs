//! Times are UTC and RFC 3339 everywhere Flare writes them. Stores keep a fixed-width form so that string order
//! is time order, which is what range queries on a sort key need.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::error::FieldError;

/// Fixed width, always UTC, always six fractional digits: `2026-11-22T09:30:00.000000Z`.
const SORTABLE: &[time::format_description::FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// The sortable UTC form used as a store key. Sub-microsecond precision is dropped.
pub fn sortable(t: OffsetDateTime) -> String {
    // Formatting a UTC time with this description cannot fail for years 0..=9999.
    t.to_offset(UtcOffset::UTC).format(SORTABLE).unwrap_or_else(|_| rfc3339(t))
}

/// RFC 3339 in UTC, for JSON.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC).format(&Rfc3339).unwrap_or_default()
}

/// Parses RFC 3339 with any explicit offset and returns it in UTC.
pub fn parse_rfc3339(field: &str, raw: &str) -> Result<OffsetDateTime, FieldError> {
    OffsetDateTime::parse(raw.trim(), &Rfc3339)
        .map(|t| t.to_offset(UtcOffset::UTC))
        .map_err(|_| FieldError::new(field, "must be an RFC 3339 time with an offset, like 2026-11-22T09:30:00Z"))
}

/// Drops sub-microsecond precision, so that a time survives a round trip through any store unchanged.
pub fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap_or(t)
}

/// Serde helpers for `OffsetDateTime` as RFC 3339 UTC.
pub mod serde_rfc3339 {
    pub use time::serde::rfc3339::*;
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn sortable_times_sort_as_strings() {
        let a = sortable(datetime!(2026-11-22 09:30:00 UTC));
        let b = sortable(datetime!(2026-11-22 09:30:00.5 UTC));
        let c = sortable(datetime!(2026-11-22 10:00:00 +02:00));
        assert_eq!(a, "2026-11-22T09:30:00.000000Z");
        assert!(a < b);
        assert!(c < a, "10:00+02:00 is 08:00 UTC");
    }

    #[test]
    fn an_offset_is_converted_to_utc() {
        let t = parse_rfc3339("started_at", "2026-11-22T10:00:00+02:00").unwrap();
        assert_eq!(t, datetime!(2026-11-22 08:00:00 UTC));
        assert_eq!(t.offset(), UtcOffset::UTC);
    }

    #[test]
    fn a_time_without_offset_is_refused() {
        assert_eq!(parse_rfc3339("started_at", "2026-11-22T10:00:00").unwrap_err().field, "started_at");
    }
}
