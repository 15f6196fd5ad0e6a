//! The dashboard's reads: incidents overlapping a window, a keyset page at a time, and every open incident.
//!
//! An incident overlaps `[from, to)` when it started before `to` and had not ended by `from`. With `day0` the
//! UTC midnight at or before `from`, every such incident is found in exactly one of three places, and each read
//! costs in proportion to what it returns (plus at most one day's worth of neighbours), never to the table:
//!
//! 1. started in `[day0, to)`: a key range on the `by_start` index, one month bucket at a time, newest first;
//! 2. started before `day0` and still open: a key range on the sparse `open` index;
//! 3. started before `day0` and resolved after `from`: such an incident was active at the midnight `day0`, so it
//!    has an activity marker in one of the five blocks containing `day0` (see [`crate::markers`]).
//!
//! Page order is newest start first, and everything in (1) starts after everything in (2) and (3). So (1) is
//! read lazily from the cursor down and stops once the page is full; (2) and (3) are read only when (1) runs
//! out. The in-memory rules of [`WindowQuery`] (filters, cursor, order, page size) have the last word.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use flare_core::timefmt::sortable;
use flare_core::{Incident, Page, StoreError, WindowQuery, limits};
use time::{Duration, OffsetDateTime};

use crate::items::{self, Item};
use crate::keys;
use crate::markers;
use crate::reads::Capacity;
use crate::schema::{BY_START, BY_START_PK, BY_START_SK, OPEN, OPEN_PK, OPEN_SK, PK};
use crate::store::DynamoStore;

/// Items per request when reading the `by_start` index: a page and its look-ahead, within sensible bounds.
const MIN_READ: usize = 16;
const MAX_READ: usize = 500;

impl DynamoStore {
    /// One page of the window's incidents, and the read capacity units the page cost.
    pub async fn list_window_with_cost(&self, query: &WindowQuery) -> Result<(Page<Incident>, f64), StoreError> {
        // One more than the page, so that the page knows whether another follows.
        let wanted = query.limit.clamp(1, limits::PAGE_MAX) + 1;
        let day0 = markers::day_of(query.window.from());
        let (mut found, mut cost) = self.started_since(query, markers::midnight(day0), wanted).await?;
        if found.len() < wanted {
            let ((open, open_cost), (active, active_cost)) =
                tokio::try_join!(self.open_before(query, markers::midnight(day0)), self.active_at(query, day0))?;
            cost += open_cost;
            cost += active_cost;
            found.extend(open);
            found.extend(active);
        }
        Ok((query.paginate(found), cost.0))
    }

    /// (1) Incidents that started in `[since, to)` and before the cursor, newest first, until `wanted` match.
    async fn started_since(
        &self,
        query: &WindowQuery,
        since: OffsetDateTime,
        wanted: usize,
    ) -> Result<(Vec<Incident>, Capacity), StoreError> {
        let mut cost = Capacity::default();
        let mut found = Vec::new();
        let low = sortable(since);
        // The newest start key to read (inclusive), and a time in the month bucket that holds it.
        let mut high = (keys::last_start_key_before(query.window.to()), query.window.to() - Duration::nanoseconds(1));
        if let Some(cursor) = query.cursor {
            // The last key before the cursor's: same start, one ticket lower (ticket 0 does not exist, so with
            // ticket 1 this admits only earlier starts).
            let previous = keys::padded_ticket(cursor.ticket.number().saturating_sub(1));
            let below_cursor = format!("{}#{previous}", sortable(cursor.started_at));
            if below_cursor < high.0 {
                high = (below_cursor, cursor.started_at);
            }
        }
        if high.0 < low {
            return Ok((found, cost));
        }
        let per_request = i32::try_from(wanted.clamp(MIN_READ, MAX_READ)).unwrap_or(i32::MAX);
        for month in (keys::month_index(since)..=keys::month_index(high.1)).rev() {
            let mut pages = self
                .query()
                .index_name(BY_START)
                .key_condition_expression("#p = :p AND #s BETWEEN :low AND :high")
                .expression_attribute_names("#p", BY_START_PK)
                .expression_attribute_names("#s", BY_START_SK)
                .expression_attribute_values(":p", AttributeValue::S(keys::month_bucket(month)))
                .expression_attribute_values(":low", AttributeValue::S(low.clone()))
                .expression_attribute_values(":high", AttributeValue::S(high.0.clone()))
                .scan_index_forward(false)
                .limit(per_request)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(StoreError::unavailable)?;
                cost.add(page.consumed_capacity());
                found.extend(admitted(query, page.items())?);
                if found.len() >= wanted {
                    return Ok((found, cost));
                }
            }
        }
        Ok((found, cost))
    }

    /// (2) Incidents still open that started before `day0` (and before the cursor).
    async fn open_before(
        &self,
        query: &WindowQuery,
        day0: OffsetDateTime,
    ) -> Result<(Vec<Incident>, Capacity), StoreError> {
        let mut bound = sortable(day0);
        if let Some(cursor) = query.cursor {
            bound = bound.min(keys::start_key(cursor.started_at, cursor.ticket));
        }
        let (items, cost) = self
            .query_all(
                self.query()
                    .index_name(OPEN)
                    .key_condition_expression("#p = :p AND #s < :bound")
                    .expression_attribute_names("#p", OPEN_PK)
                    .expression_attribute_names("#s", OPEN_SK)
                    .expression_attribute_values(":p", AttributeValue::S(keys::OPEN_PARTITION.into()))
                    .expression_attribute_values(":bound", AttributeValue::S(bound))
                    .scan_index_forward(false),
            )
            .await?;
        Ok((admitted(query, &items)?, cost))
    }

    /// (3) Resolved incidents that were active at the midnight starting `day0`: one small query per marker
    /// level, then the incidents themselves. Eventually consistent, like the index reads of (1) and (2), at
    /// half the cost of a consistent read.
    async fn active_at(&self, query: &WindowQuery, day0: i64) -> Result<(Vec<Incident>, Capacity), StoreError> {
        let reads = markers::blocks_containing(day0).into_iter().map(|block| {
            self.query_all(
                self.query()
                    .key_condition_expression("#pk = :pk")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_values(":pk", AttributeValue::S(block.partition())),
            )
        });
        let mut cost = Capacity::default();
        let mut tickets = BTreeSet::new();
        for (markers, marker_cost) in futures::future::try_join_all(reads).await? {
            cost += marker_cost;
            for marker in &markers {
                tickets.insert(items::ticket(marker, items::TICKET)?);
            }
        }
        if tickets.is_empty() {
            return Ok((Vec::new(), cost));
        }
        let (incidents, get_cost) = self.batch_get(tickets.into_iter().map(items::incident_key).collect()).await?;
        cost += get_cost;
        Ok((admitted(query, &incidents)?, cost))
    }

    /// Every incident not resolved, newest start first.
    pub(crate) async fn open_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        let (items, _) = self
            .query_all(
                self.query()
                    .index_name(OPEN)
                    .key_condition_expression("#p = :p")
                    .expression_attribute_names("#p", OPEN_PK)
                    .expression_attribute_values(":p", AttributeValue::S(keys::OPEN_PARTITION.into()))
                    .scan_index_forward(false),
            )
            .await?;
        let mut open = Vec::new();
        for item in &items {
            let incident: Incident = items::decode(item)?;
            if incident.is_open() {
                open.push(incident);
            }
        }
        open.sort_by_key(|i| std::cmp::Reverse((i.started_at, i.ticket)));
        Ok(open)
    }
}

/// The incidents among `items` that belong to the query's page.
fn admitted(query: &WindowQuery, items: &[Item]) -> Result<Vec<Incident>, StoreError> {
    let mut kept = Vec::new();
    for item in items {
        let incident: Incident = items::decode(item)?;
        if query.admits(&incident) {
            kept.push(incident);
        }
    }
    Ok(kept)
}
