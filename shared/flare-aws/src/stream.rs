//! The DynamoDB stream side of dispatch: which stream records are new timeline events, and the handler that
//! hands a batch of them to the dispatcher and reports partial failures back to Lambda.
//!
//! The table's stream carries keys only (`KEYS_ONLY`): a record says which event is new, and the dispatcher
//! reads that one event, with the incident as it left it, by key. Nothing here decodes an item.
//!
//! It owns reading records and reporting failures. It delivers nothing itself: the dispatcher (in `flare_core`)
//! is passed in as a function, and its ledger is what makes a redelivered event harmless.

use std::future::Future;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use flare_core::TicketNumber;
use flare_core::error_chain;
use serde_dynamo::AttributeValue;
use tracing::{Instrument, error, info_span, warn};

use crate::keys;
use crate::schema::{PK, SK};

/// The stream's name for a new item.
const INSERT: &str = "INSERT";

/// The ticket and sequence number of a new timeline event (an INSERT of `INC#<n>` / `EV#<seq>`), or `None` for
/// any other record: changes to existing items, removals, and every other kind of item.
pub fn timeline_event(record: &EventRecord) -> Option<(TicketNumber, u64)> {
    if record.event_name != INSERT {
        return None;
    }
    let key = |name: &str| match record.change.keys.get(name) {
        Some(AttributeValue::S(value)) => Some(value.as_str()),
        _ => None,
    };
    keys::parse_event_key(key(PK)?, key(SK)?)
}

/// Dispatches every timeline event of `event`, in stream order, and skips every other record. `dispatch` is
/// called with each event's ticket and sequence number; `Err` means "not delivered, try again later".
///
/// A failed record is logged and reported in `batchItemFailures` by its `SequenceNumber`. The function's event
/// source mapping must enable `ReportBatchItemFailures`. Lambda then checkpoints just before the *lowest*
/// reported sequence number and delivers everything from there on again (with `BisectBatchOnFunctionError`, it
/// splits the batch there and retries the rest), so records after a failure come back in any case, until the
/// mapping's retry limit sends the batch's description to its on-failure destination. The batch still goes on
/// past a failure: events of other incidents go out now, rather than after the retries, and are no-ops when
/// they return (the dispatcher's ledger skips what was delivered).
/// Later events of the failed incident are held back and reported too, so one incident's notifications never
/// overtake each other. A failure without a sequence number (never sent by Lambda) is reported with none,
/// which Lambda reads as a failure of the whole batch.
///
/// An empty `batchItemFailures` means the whole batch is done.
pub async fn handle<F, Fut, R, E>(event: Event, dispatch: F) -> DynamoDbEventResponse
where
    F: Fn(TicketNumber, u64) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    E: std::error::Error + 'static,
{
    let mut response = DynamoDbEventResponse::default();
    let mut failed: Vec<TicketNumber> = Vec::new();
    for record in &event.records {
        let Some((ticket, seq)) = timeline_event(record) else { continue };
        let sequence_number = record.change.sequence_number.as_deref();
        if failed.contains(&ticket) {
            warn!(%ticket, seq, sequence_number, "held back behind a failed event of this incident; will be redelivered");
        } else {
            let span = info_span!("stream_event", %ticket, seq, sequence_number);
            match dispatch(ticket, seq).instrument(span).await {
                Ok(_) => continue,
                Err(e) => {
                    error!(
                        error.cause_chain = %error_chain(&e),
                        %ticket,
                        seq,
                        sequence_number,
                        "dispatch failed; the event will be redelivered"
                    );
                    failed.push(ticket);
                }
            }
        }
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = sequence_number.map(String::from);
        response.batch_item_failures.push(failure);
    }
    response
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;

    fn ticket(n: u64) -> TicketNumber {
        TicketNumber::from_number(n).unwrap()
    }

    /// A stream record as Lambda delivers it, keys only.
    fn record(event_name: &str, pk: &str, sk: &str, sequence_number: &str) -> EventRecord {
        serde_json::from_value(json!({
            "awsRegion": "eu-west-1",
            "eventID": format!("id-{sequence_number}"),
            "eventName": event_name,
            "eventSource": "aws:dynamodb",
            "eventVersion": "1.1",
            "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/flare/stream/2026-11-22T00:00:00.000",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_795_000_000.0,
                "Keys": { "pk": { "S": pk }, "sk": { "S": sk } },
                "SequenceNumber": sequence_number,
                "SizeBytes": 120,
                "StreamViewType": "KEYS_ONLY"
            }
        }))
        .unwrap()
    }

    fn insert(pk: &str, sk: &str, sequence_number: &str) -> EventRecord {
        record("INSERT", pk, sk, sequence_number)
    }

    fn batch(records: Vec<EventRecord>) -> Event {
        let mut event = Event::default();
        event.records = records;
        event
    }

    fn failures(response: &DynamoDbEventResponse) -> Vec<&str> {
        response.batch_item_failures.iter().map(|f| f.item_identifier.as_deref().unwrap_or("<none>")).collect()
    }

    /// Runs `handle` over `event`, failing the events in `failing`, and returns the events dispatched.
    async fn run(event: Event, failing: &[(u64, u64)]) -> (Vec<(u64, u64)>, DynamoDbEventResponse) {
        let calls = Mutex::new(Vec::new());
        let response = handle(event, |t: TicketNumber, seq: u64| {
            calls.lock().unwrap().push((t.number(), seq));
            let fails = failing.contains(&(t.number(), seq));
            async move { if fails { Err(std::io::Error::other("ses throttled")) } else { Ok(()) } }
        })
        .await;
        (calls.into_inner().unwrap(), response)
    }

    #[test]
    fn an_inserted_timeline_event_names_its_ticket_and_sequence() {
        assert_eq!(timeline_event(&insert("INC#42", "EV#0000000003", "100")), Some((ticket(42), 3)));
    }

    #[test]
    fn a_modified_event_item_is_not_dispatched() {
        assert_eq!(timeline_event(&record("MODIFY", "INC#42", "EV#0000000003", "100")), None);
    }

    #[test]
    fn a_removed_item_is_not_dispatched() {
        assert_eq!(timeline_event(&record("REMOVE", "INC#42", "EV#0000000003", "100")), None);
    }

    #[test]
    fn other_inserted_items_are_not_timeline_events() {
        for (pk, sk) in [("INC#42", "META"), ("INC#42", "DL#0000000003#email#000001"), ("COUNTER", "TICKET")] {
            assert_eq!(timeline_event(&insert(pk, sk, "100")), None, "{pk} {sk}");
        }
    }

    #[test]
    fn a_record_without_keys_is_not_a_timeline_event() {
        let mut r = insert("INC#42", "EV#0000000003", "100");
        r.change.keys.clear();
        assert_eq!(timeline_event(&r), None);
    }

    #[tokio::test]
    async fn events_are_dispatched_in_stream_order_and_other_records_skipped() {
        let event = batch(vec![
            insert("INC#7", "META", "100"),
            insert("INC#7", "EV#0000000001", "101"),
            record("MODIFY", "COUNTER", "TICKET", "102"),
            insert("INC#8", "EV#0000000001", "103"),
            insert("INC#7", "EV#0000000002", "104"),
        ]);
        let (calls, response) = run(event, &[]).await;
        assert_eq!(calls, [(7, 1), (8, 1), (7, 2)]);
        assert!(response.batch_item_failures.is_empty());
    }

    #[tokio::test]
    async fn a_whole_success_answers_with_no_item_failures() {
        let (_, response) = run(batch(vec![insert("INC#7", "EV#0000000001", "101")]), &[]).await;
        assert_eq!(serde_json::to_value(&response).unwrap(), json!({ "batchItemFailures": [] }));
    }

    #[tokio::test]
    async fn a_failed_event_is_reported_by_its_sequence_number_and_the_batch_goes_on() {
        let event = batch(vec![
            insert("INC#7", "EV#0000000001", "101"),
            insert("INC#8", "EV#0000000001", "102"),
            insert("INC#9", "EV#0000000001", "103"),
        ]);
        let (calls, response) = run(event, &[(8, 1)]).await;
        assert_eq!(calls, [(7, 1), (8, 1), (9, 1)]);
        assert_eq!(failures(&response), ["102"]);
    }

    #[tokio::test]
    async fn later_events_of_a_failed_incident_are_held_back_and_reported() {
        let event = batch(vec![
            insert("INC#7", "EV#0000000001", "101"),
            insert("INC#8", "EV#0000000001", "102"),
            insert("INC#7", "EV#0000000002", "103"),
        ]);
        let (calls, response) = run(event, &[(7, 1)]).await;
        assert_eq!(calls, [(7, 1), (8, 1)]);
        assert_eq!(failures(&response), ["101", "103"]);
    }
}
