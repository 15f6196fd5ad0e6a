//! The dashboard query: one page of the incidents overlapping `[from, to)`, newest start first, with optional
//! filters and a keyset cursor.
//!
//! An incident overlaps the window when `started_at < to AND ends_at > from`, where `ends_at` is its resolution
//! time, or never while it is open. As one `WHERE`, SQLite would walk the start index down from `to` through
//! every older incident, in case one is still open: a read that grows with the whole history. So the query is
//! two disjoint parts that each read only what can match, merged by SQLite in page order up to the limit:
//! - incidents that started inside the window: a range of `incidents_by_start`, already in page order;
//! - incidents that started before it and end after its start: a range of `incidents_by_end`, few enough to
//!   sort in memory. The unary `+` keeps SQLite from walking the start index for this part instead.

use flare_core::limits;
use flare_core::timefmt::sortable;
use flare_core::{Cursor, Incident, Page, StoreError, WindowQuery};
use rusqlite::types::Value;
use rusqlite::{Connection, ToSql};

use super::Failure;
use super::codec::{ceil_micros, decode, int, ticket};

/// The SQL of one page and its named parameters.
pub(super) struct PageSql {
    pub(super) sql: String,
    pub(super) params: Vec<(&'static str, Value)>,
}

/// The SQL of a page of `limit` incidents. It asks for one row more, to know whether another page follows.
pub(super) fn sql(query: &WindowQuery, limit: usize) -> Result<PageSql, Failure> {
    // Stored times are whole microseconds: flooring `from` and ceiling `to` keeps the bounds exact.
    let mut params = vec![
        (":from", Value::Text(sortable(query.window.from()))),
        (":to", Value::Text(sortable(ceil_micros(query.window.to())))),
        (":limit", Value::Integer(i64::try_from(limit + 1).map_err(StoreError::unavailable)?)),
    ];
    let mut filters = String::new();
    if let Some(status) = query.status {
        filters.push_str(" AND status = :status");
        params.push((":status", Value::Text(status.as_str().to_string())));
    }
    if let Some(severity) = query.severity {
        filters.push_str(" AND severity = :severity");
        params.push((":severity", Value::Text(severity.as_str().to_string())));
    }
    if let Some(system) = &query.system {
        filters.push_str(
            " AND EXISTS (SELECT 1 FROM incident_systems s WHERE s.ticket = incidents.ticket AND s.system = :system)",
        );
        params.push((":system", Value::Text(system.as_str().to_string())));
    }
    let (mut inside, mut spanning) = (filters.clone(), filters);
    if let Some(cursor) = query.cursor {
        inside.push_str(" AND (started_at, ticket) < (:after_start, :after_ticket)");
        spanning.push_str(" AND (+started_at, ticket) < (:after_start, :after_ticket)");
        params.push((":after_start", Value::Text(sortable(cursor.started_at))));
        params.push((":after_ticket", Value::Integer(int(cursor.ticket.number())?)));
    }
    let sql = format!(
        "WITH spanning AS MATERIALIZED ( \
             SELECT ticket, started_at, doc FROM incidents \
             WHERE ends_at > :from AND +started_at < :from{spanning} \
         ) \
         SELECT ticket, started_at, doc FROM incidents \
         WHERE started_at >= :from AND started_at < :to AND +ends_at > :from{inside} \
         UNION ALL \
         SELECT ticket, started_at, doc FROM spanning \
         ORDER BY started_at DESC, ticket DESC \
         LIMIT :limit"
    );
    Ok(PageSql { sql, params })
}

/// One page of the answer to `query`, and the cursor of the next page when there is one.
pub(super) fn list(conn: &Connection, query: &WindowQuery) -> Result<Page<Incident>, Failure> {
    let limit = query.limit.clamp(1, limits::PAGE_MAX);
    let PageSql { sql, params } = sql(query, limit)?;
    let params: Vec<(&str, &dyn ToSql)> = params.iter().map(|(name, value)| (*name, value as &dyn ToSql)).collect();
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params.as_slice(), |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(2)?)))?;
    let mut items = Vec::with_capacity(limit + 1);
    for row in rows {
        let (n, doc) = row?;
        items.push(decode::<Incident>(format_args!("incident {}", ticket(n)?), &doc)?);
    }
    let next = (items.len() > limit).then(|| Cursor::after(&items[limit - 1]));
    items.truncate(limit);
    Ok(Page { items, next })
}
