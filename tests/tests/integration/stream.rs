//! The table's own DynamoDB stream, as DynamoDB Local records it, read back as the events Lambda would hand the
//! dispatcher: [`StreamReader`] (and [`read_stream`]) turn stream records into `aws_lambda_events` records, so
//! a test can dispatch exactly what a deployed dispatcher would receive, and redeliver it.
//!
//! The tests here hold `flare_aws::stream::timeline_event` to what the store really writes, and to the sample
//! event in `events/`.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodbstreams::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use flare_aws::stream::timeline_event;
use flare_aws::{DynamoStore, local_client};
use flare_core::IncidentService;
use serde_json::{Value, json};

use crate::support::{self, DYNAMODB_ENDPOINT_VAR, NOW, TestClock};

/// Reads one table's stream from where the previous read stopped (the first read starts at the oldest record).
#[derive(Debug)]
pub(crate) struct StreamReader {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// Per shard, where the next read continues; `None` once a closed shard is read to its end.
    next: HashMap<String, Option<String>>,
}

impl StreamReader {
    /// A reader of `table`'s stream in DynamoDB Local at `endpoint`.
    pub(crate) async fn new(endpoint: &str, table: &str) -> Self {
        let described = local_client(endpoint).describe_table().table_name(table).send().await.unwrap();
        let stream_arn = described
            .table()
            .and_then(|t| t.latest_stream_arn())
            .unwrap_or_else(|| panic!("table {table} has no stream"))
            .to_string();
        let config = aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("local", "local", None, None, "flare-test"))
            .endpoint_url(endpoint)
            .build();
        Self { client: aws_sdk_dynamodbstreams::Client::from_conf(config), stream_arn, next: HashMap::new() }
    }

    /// Every record written since the previous read, shard by shard, in stream order within a shard.
    pub(crate) async fn next_batch(&mut self) -> Event {
        let mut records = Vec::new();
        for shard in self.shards().await {
            if !self.next.contains_key(&shard) {
                let iterator = self
                    .client
                    .get_shard_iterator()
                    .stream_arn(&self.stream_arn)
                    .shard_id(&shard)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await
                    .unwrap();
                self.next.insert(shard.clone(), iterator.shard_iterator().map(String::from));
            }
            let mut iterator = self.next[&shard].clone();
            while let Some(current) = iterator {
                let page = self.client.get_records().shard_iterator(&current).send().await.unwrap();
                records.extend(page.records().iter().map(|r| self.lambda_record(r)));
                // An open shard always hands back an iterator; an empty page means it is read to its end for now.
                let done = page.records().is_empty();
                iterator = page.next_shard_iterator().map(String::from);
                if done {
                    break;
                }
            }
            self.next.insert(shard, iterator);
        }
        serde_json::from_value(json!({ "Records": records })).unwrap()
    }

    async fn shards(&self) -> Vec<String> {
        let described = self.client.describe_stream().stream_arn(&self.stream_arn).send().await.unwrap();
        let description = described.stream_description().unwrap();
        description.shards().iter().filter_map(|s| s.shard_id().map(String::from)).collect()
    }

    /// The record as Lambda would deliver it: DynamoDB JSON images, the stream's ARN as its source.
    fn lambda_record(&self, record: &Record) -> Value {
        let change = record.dynamodb().unwrap();
        let image = |item: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
            item.map(|i| serde_json::to_value(serde_dynamo::Item::from(i.clone())).unwrap())
        };
        json!({
            "awsRegion": record.aws_region(),
            "eventID": record.event_id(),
            "eventName": record.event_name().map(|n| n.as_str()),
            "eventSource": record.event_source(),
            "eventVersion": record.event_version(),
            "eventSourceARN": self.stream_arn,
            "dynamodb": {
                "ApproximateCreationDateTime": change.approximate_creation_date_time().map(|t| t.as_secs_f64()),
                "Keys": image(change.keys()),
                "NewImage": image(change.new_image()),
                "OldImage": image(change.old_image()),
                "SequenceNumber": change.sequence_number(),
                "SizeBytes": change.size_bytes().unwrap_or_default(),
                "StreamViewType": change.stream_view_type().map(|v| v.as_str()),
            },
        })
    }
}

/// Every record in `table`'s stream so far.
pub(crate) async fn read_stream(endpoint: &str, table: &str) -> Event {
    StreamReader::new(endpoint, table).await.next_batch().await
}

fn dynamodb_endpoint() -> String {
    std::env::var(DYNAMODB_ENDPOINT_VAR).unwrap_or_else(|_| {
        panic!("{DYNAMODB_ENDPOINT_VAR} is not set: run the suite with scripts/test, which starts DynamoDB Local")
    })
}

/// A service on a fresh table in DynamoDB Local, and the table's name.
async fn service_on_a_fresh_table(endpoint: &str) -> (IncidentService, String) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let table = format!("flare-stream-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let client = local_client(endpoint);
    flare_aws::schema::create_table(&client, &table).await.unwrap();
    let service = IncidentService::new(Arc::new(DynamoStore::new(client, table.clone())), Arc::new(TestClock::at(NOW)));
    (service, table)
}

#[tokio::test]
async fn opening_an_incident_puts_exactly_its_first_event_on_the_stream() {
    let endpoint = dynamodb_endpoint();
    let (service, table) = service_on_a_fresh_table(&endpoint).await;
    let opened = service.open(support::open("VPN down", NOW, &["vpn"]), &support::agent(), None).await.unwrap();

    let event = read_stream(&endpoint, &table).await;
    assert!(event.records.len() > 1, "the stream also carries the incident item and the counter: {event:?}");
    let events: Vec<_> = event.records.iter().filter_map(timeline_event).collect();
    assert_eq!(events, [(opened.ticket, 1)]);
    let record = event.records.iter().find(|r| timeline_event(r).is_some()).unwrap();
    assert!(record.change.sequence_number.is_some(), "the failure report names records by sequence number");
    assert!(record.change.new_image.is_empty(), "keys only: the dispatcher reads the event by its key");
}

#[tokio::test]
async fn a_second_read_carries_only_what_was_written_since() {
    let endpoint = dynamodb_endpoint();
    let (service, table) = service_on_a_fresh_table(&endpoint).await;
    let first = service.open(support::open("VPN down", NOW, &["vpn"]), &support::agent(), None).await.unwrap();
    let mut reader = StreamReader::new(&endpoint, &table).await;
    let before: Vec<_> = reader.next_batch().await.records.iter().filter_map(timeline_event).collect();
    assert_eq!(before, [(first.ticket, 1)]);

    let second = service.open(support::open("Mail down", NOW, &["mail"]), &support::agent(), None).await.unwrap();
    let after: Vec<_> = reader.next_batch().await.records.iter().filter_map(timeline_event).collect();
    assert_eq!(after, [(second.ticket, 1)]);
    assert!(reader.next_batch().await.records.is_empty());
}

#[test]
fn the_sample_stream_event_is_one_timeline_event() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/dynamodb-stream.json");
    let event: Event = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let events: Vec<_> = event.records.iter().filter_map(timeline_event).collect();
    assert_eq!(events, [(flare_core::TicketNumber::from_number(1042).unwrap(), 1)]);
    assert!(event.records[0].change.new_image.is_empty(), "the table's stream carries keys only, as the sample does");
}
