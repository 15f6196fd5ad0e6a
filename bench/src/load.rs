//! Bulk loading: an incident's items, exactly as the store lays them out ([`flare_aws::incident_records`]),
//! written with BatchWriteItem, 25 items a request and a bounded number of requests in flight.

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::bail;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use flare_core::Incident;
use flare_core::retry::Backoff;
use futures::{StreamExt, TryStreamExt};

/// DynamoDB's limit on the items of one BatchWriteItem.
const BATCH_MAX: usize = 25;
/// Retrying what DynamoDB left unprocessed: a bulk load may throttle for a while, so it waits longer than a
/// request path would.
const UNPROCESSED: Backoff =
    Backoff { max_attempts: 10, base: Duration::from_millis(100), max_delay: Duration::from_millis(3_200) };

/// One BatchWriteItem's worth of items, and how many incidents they complete.
#[derive(Debug, Default)]
struct Batch {
    writes: Vec<WriteRequest>,
    incidents: usize,
}

/// Groups the items of consecutive incidents into batches of at most [`BATCH_MAX`].
fn batches(incidents: impl Iterator<Item = anyhow::Result<Incident>>) -> impl Iterator<Item = anyhow::Result<Batch>> {
    let mut incidents = incidents.peekable();
    let mut pending: VecDeque<(WriteRequest, bool)> = VecDeque::new();
    std::iter::from_fn(move || {
        let mut batch = Batch::default();
        while batch.writes.len() < BATCH_MAX {
            if pending.is_empty() {
                let incident = match incidents.next()? {
                    Ok(incident) => incident,
                    Err(e) => return Some(Err(e)),
                };
                let records = match flare_aws::incident_records(&incident) {
                    Ok(records) => records,
                    Err(e) => return Some(Err(e.into())),
                };
                let last = records.len() - 1;
                for (n, item) in records.into_iter().enumerate() {
                    let put = match PutRequest::builder().set_item(Some(item)).build() {
                        Ok(put) => put,
                        Err(e) => return Some(Err(e.into())),
                    };
                    // The incident counts as written with its last item.
                    pending.push_back((WriteRequest::builder().put_request(put).build(), n == last));
                }
            }
            match pending.pop_front() {
                Some((write, completes)) => {
                    batch.writes.push(write);
                    batch.incidents += usize::from(completes);
                }
                None => break,
            }
            if pending.is_empty() && incidents.peek().is_none() {
                break;
            }
        }
        (!batch.writes.is_empty()).then_some(Ok(batch))
    })
}

async fn write(client: &Client, table: &str, batch: Batch) -> anyhow::Result<usize> {
    let mut pending = batch.writes;
    let mut waits = UNPROCESSED.delays();
    loop {
        let out = client
            .batch_write_item()
            .request_items(table, pending)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("BatchWriteItem into {table}: {}", DisplayErrorContext(e)))?;
        pending = out.unprocessed_items.and_then(|mut u| u.remove(table)).unwrap_or_default();
        if pending.is_empty() {
            return Ok(batch.incidents);
        }
        let Some(wait) = waits.next() else {
            bail!("DynamoDB left {} items unprocessed after {} attempts", pending.len(), UNPROCESSED.max_attempts)
        };
        tokio::time::sleep(wait).await;
    }
}

/// Writes every incident's items into `table`, `concurrency` requests at a time, calling `progress` with the
/// running count of incidents written. Returns that count.
pub async fn bulk_load(
    client: &Client,
    table: &str,
    incidents: impl Iterator<Item = anyhow::Result<Incident>>,
    concurrency: usize,
    mut progress: impl FnMut(usize),
) -> anyhow::Result<usize> {
    let mut written = 0;
    let mut requests = futures::stream::iter(batches(incidents))
        .map_ok(|batch| write(client, table, batch))
        .try_buffer_unordered(concurrency.max(1));
    while let Some(done) = requests.next().await {
        written += done?;
        progress(written);
    }
    Ok(written)
}
