//! Between domain values and rows: JSON documents, integers and sortable times.
//!
//! A value that cannot be encoded is refused before any SQL runs; a stored row that cannot be decoded is
//! [`StoreError::Corrupt`], naming what it was and why, so that it is found in the log and not silently skipped.

use std::fmt::Display;

use flare_core::{StoreError, TicketNumber};
use rusqlite::{Connection, OptionalExtension, Params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::{Duration, OffsetDateTime};

use super::Failure;

/// The JSON document of a value.
pub(super) fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::unavailable)
}

/// A value from its stored JSON document; `what` names the record for the error.
pub(super) fn decode<T: DeserializeOwned>(what: impl Display, doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|source| StoreError::Undecodable { what: what.to_string(), source })
}

/// SQLite integers are signed; the domain's counters are not.
pub(super) fn int(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(StoreError::unavailable)
}

pub(super) fn uint(what: impl Display, n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what}: {n} is negative")))
}

pub(super) fn ticket(n: i64) -> Result<TicketNumber, StoreError> {
    u64::try_from(n)
        .ok()
        .and_then(TicketNumber::from_number)
        .ok_or_else(|| StoreError::Corrupt(format!("{n} is not a ticket number")))
}

/// The smallest whole microsecond at or after `t`. Stored times have microsecond precision, so for them
/// `x < t` exactly when `x < ceil_micros(t)`; plain [`flare_core::timefmt::sortable`] rounds down.
pub(super) fn ceil_micros(t: OffsetDateTime) -> OffsetDateTime {
    let below = t.nanosecond() % 1_000;
    if below == 0 { t } else { t + Duration::nanoseconds(i64::from(1_000 - below)) }
}

/// The documents of every row `sql` returns (its first column), decoded in order.
pub(super) fn docs<T: DeserializeOwned>(
    conn: &Connection,
    what: &str,
    sql: &str,
    params: impl Params,
) -> Result<Vec<T>, Failure> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, |row| row.get::<_, String>(0))?;
    rows.map(|doc| Ok(decode(what, &doc?)?)).collect()
}

/// The document of the one row `sql` returns, if any.
pub(super) fn doc<T: DeserializeOwned>(
    conn: &Connection,
    what: impl Display,
    sql: &str,
    params: impl Params,
) -> Result<Option<T>, Failure> {
    let doc: Option<String> = conn.prepare_cached(sql)?.query_row(params, |row| row.get(0)).optional()?;
    Ok(doc.map(|doc| decode(what, &doc)).transpose()?)
}

/// Whether `sql` returns any row.
pub(super) fn exists(conn: &Connection, sql: &str, params: impl Params) -> Result<bool, Failure> {
    Ok(conn.prepare_cached(sql)?.exists(params)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ceil_micros_rounds_only_sub_microsecond_times() {
        let whole = datetime!(2026-11-22 09:30:00.000001 UTC);
        assert_eq!(ceil_micros(whole), whole);
        assert_eq!(ceil_micros(datetime!(2026-11-22 09:30:00.000000001 UTC)), whole);
    }
}
