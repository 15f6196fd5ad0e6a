//! Items: how each domain value is laid out as a DynamoDB item, and read back.
//!
//! A domain value is stored whole as JSON in `doc`, so the item never disagrees with the type; the other
//! attributes exist only for keys, index keys and conditions, and are derived from the value here. Nothing in
//! this module talks to DynamoDB.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use flare_core::{
    ApiKey, Delivery, DigestDelivery, IdempotencyKey, Incident, RecordedEvent, Source, StoreError, Subscriber, System,
    TicketNumber, TimelineEvent, User,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::keys;
use crate::markers::{self, Block};
use crate::schema::{BY_START_PK, BY_START_SK, LISTING_PK, LISTING_SK, OPEN_PK, OPEN_SK, PK, SK, TTL_ATTRIBUTE};

/// A DynamoDB item, or a key.
pub type Item = HashMap<String, AttributeValue>;

/// The value as JSON.
pub(crate) const DOC: &str = "doc";
/// An incident's version, for the optimistic-concurrency condition.
pub(crate) const VERSION: &str = "version";
/// The ticket number of a marker or an external-id claim; the counter's value.
pub(crate) const TICKET: &str = "ticket";
pub(crate) const COUNT: &str = "n";
/// Sortable UTC times of an incident, for reading the table by eye and for filters.
pub(crate) const STARTED_AT: &str = "started_at";
pub(crate) const RESOLVED_AT: &str = "resolved_at";
/// An idempotency record's expiry in Unix microseconds: the precise value the put condition compares, where the
/// TTL attribute has whole seconds.
pub(crate) const EXPIRES_US: &str = "expires_us";
/// On a timeline event: the incident as that event left it, as JSON, so that the event can be delivered later
/// as it was.
pub(crate) const INCIDENT: &str = "incident";
/// Set once on a revoked API key, so that the first revocation wins.
pub(crate) const REVOKED_AT: &str = "revoked_at";

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

pub(crate) fn with_doc(
    pk: impl Into<String>,
    sk: impl Into<String>,
    value: &impl Serialize,
) -> Result<Item, StoreError> {
    let mut item = key(pk, sk);
    item.insert(DOC.into(), s(serde_json::to_string(value).map_err(StoreError::unavailable)?));
    Ok(item)
}

/// Unix microseconds, the resolution every stored time has.
pub(crate) fn micros(t: OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos().div_euclid(1_000)
}

pub(crate) fn incident_key(ticket: TicketNumber) -> Item {
    key(keys::incident_pk(ticket), keys::META)
}

/// The incident item. It carries its `by_start` index keys always, and its `open` index keys while it has not
/// ended, so both indexes follow [`Incident::overlaps`]: an incident without `resolved_at` is open-ended.
pub(crate) fn incident_item(incident: &Incident) -> Result<Item, StoreError> {
    let mut item = with_doc(keys::incident_pk(incident.ticket), keys::META, incident)?;
    let start_key = keys::start_key(incident.started_at, incident.ticket);
    item.insert(VERSION.into(), n(incident.version));
    item.insert(TICKET.into(), n(incident.ticket.number()));
    item.insert(STARTED_AT.into(), s(flare_core::timefmt::sortable(incident.started_at)));
    if let Some(r) = incident.resolved_at {
        item.insert(RESOLVED_AT.into(), s(flare_core::timefmt::sortable(r)));
    }
    item.insert(BY_START_PK.into(), s(keys::month_bucket(keys::month_index(incident.started_at))));
    item.insert(BY_START_SK.into(), s(start_key.clone()));
    if incident.resolved_at.is_none() || incident.is_open() {
        item.insert(OPEN_PK.into(), s(keys::OPEN_PARTITION));
        item.insert(OPEN_SK.into(), s(start_key));
    }
    Ok(item)
}

pub(crate) fn marker_key(block: Block, ticket: TicketNumber) -> Item {
    key(block.partition(), keys::padded_ticket(ticket.number()))
}

pub(crate) fn marker_item(block: Block, ticket: TicketNumber) -> Item {
    let mut item = marker_key(block, ticket);
    item.insert(TICKET.into(), n(ticket.number()));
    item
}

/// Every item that records an incident as it stands: the incident item and its activity markers. The store
/// writes these in its transactions; bulk loaders (the benchmark) may write them directly.
pub fn incident_records(incident: &Incident) -> Result<Vec<Item>, StoreError> {
    let mut items = vec![incident_item(incident)?];
    items.extend(markers::markers(incident).into_iter().map(|b| marker_item(b, incident.ticket)));
    Ok(items)
}

/// A timeline event, with the incident as the event left it beside it in [`INCIDENT`].
pub(crate) fn event_item(event: &TimelineEvent, incident: &Incident) -> Result<Item, StoreError> {
    let mut item = with_doc(keys::incident_pk(event.ticket), keys::event_sk(event.seq), event)?;
    item.insert(INCIDENT.into(), s(serde_json::to_string(incident).map_err(StoreError::unavailable)?));
    Ok(item)
}

pub(crate) fn event_key(ticket: TicketNumber, seq: u64) -> Item {
    key(keys::incident_pk(ticket), keys::event_sk(seq))
}

/// A timeline event item read back: the event, and the incident beside it when the item has one (items written
/// before events kept it have none).
pub(crate) fn recorded_event(item: &Item) -> Result<RecordedEvent, StoreError> {
    let event: TimelineEvent = decode(item)?;
    let incident = match item.get(INCIDENT).map(AttributeValue::as_s) {
        None => None,
        Some(Ok(doc)) => Some(serde_json::from_str(doc).map_err(|source| StoreError::Undecodable {
            what: format!("the incident at event {} of {}", event.seq, event.ticket),
            source,
        })?),
        Some(Err(_)) => {
            return Err(StoreError::Corrupt(format!(
                "event {} of {} has a non-string incident",
                event.seq, event.ticket
            )));
        }
    };
    Ok(RecordedEvent { event, incident })
}

/// A ledger record. It carries no index keys: deliveries are read only by their incident's partition.
pub(crate) fn delivery_item(delivery: &Delivery) -> Result<Item, StoreError> {
    let sk = keys::delivery_sk(delivery.seq, delivery.channel, delivery.batch);
    with_doc(keys::incident_pk(delivery.ticket), sk, delivery)
}

pub(crate) fn digest_delivery_item(delivery: &DigestDelivery) -> Result<Item, StoreError> {
    with_doc(keys::digest_pk(delivery.week), keys::digest_delivery_sk(delivery.batch), delivery)
}

pub(crate) fn idempotency_key(key: &str) -> Item {
    self::key(keys::idempotency_pk(key), keys::IDEM_SK)
}

pub(crate) fn idempotency_item(record: &IdempotencyKey) -> Result<Item, StoreError> {
    let mut item = with_doc(keys::idempotency_pk(&record.key), keys::IDEM_SK, record)?;
    let expires = record.expires_at;
    // TTL takes whole seconds; round up so that DynamoDB never deletes a record before it has expired.
    let ttl = expires.unix_timestamp() + i64::from(expires.nanosecond() > 0);
    item.insert(TTL_ATTRIBUTE.into(), n(ttl));
    item.insert(EXPIRES_US.into(), n(micros(expires)));
    Ok(item)
}

pub(crate) fn external_key(source: &Source) -> Option<Item> {
    let id = source.external_id.as_ref()?;
    Some(key(keys::external_pk(source.channel, id.as_str()), keys::EXT_SK))
}

/// The claim on a polled row's external id, when the incident has one.
pub(crate) fn external_item(source: &Source, ticket: TicketNumber) -> Option<Item> {
    let mut item = external_key(source)?;
    item.insert(TICKET.into(), n(ticket.number()));
    Some(item)
}

pub(crate) fn system_item(system: &System) -> Result<Item, StoreError> {
    let mut item = with_doc(keys::system_pk(&system.id), keys::META, system)?;
    item.insert(LISTING_PK.into(), s(keys::SYSTEMS_LISTING));
    item.insert(LISTING_SK.into(), s(system.id.as_str()));
    Ok(item)
}

pub(crate) fn subscriber_item(subscriber: &Subscriber) -> Result<Item, StoreError> {
    with_doc(keys::system_pk(&subscriber.system), keys::subscriber_sk(&subscriber.contact_key()), subscriber)
}

pub(crate) fn user_item(user: &User) -> Result<Item, StoreError> {
    with_doc(keys::user_pk(&user.username), keys::META, user)
}

pub(crate) fn api_key_item(api_key: &ApiKey) -> Result<Item, StoreError> {
    let mut item = with_doc(keys::api_key_pk(api_key.hash.as_str()), keys::META, api_key)?;
    item.insert(LISTING_PK.into(), s(keys::API_KEYS_LISTING));
    item.insert(LISTING_SK.into(), s(api_key.id.as_str()));
    if let Some(at) = api_key.revoked_at {
        item.insert(REVOKED_AT.into(), s(flare_core::timefmt::sortable(at)));
    }
    Ok(item)
}

/// The value an item holds in `doc`.
pub(crate) fn decode<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    let name = || {
        let part = |a: &str| item.get(a).and_then(|v| v.as_s().ok()).map_or("?", String::as_str);
        format!("{}/{}", part(PK), part(SK))
    };
    let doc = item
        .get(DOC)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("{} has no doc", name())))?;
    serde_json::from_str(doc).map_err(|source| StoreError::Undecodable { what: name(), source })
}

/// A whole-number attribute.
pub(crate) fn number(item: &Item, attribute: &str) -> Result<u64, StoreError> {
    item.get(attribute)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("an item has no whole number in {attribute}")))
}

/// A ticket number attribute.
pub(crate) fn ticket(item: &Item, attribute: &str) -> Result<TicketNumber, StoreError> {
    let raw = number(item, attribute)?;
    TicketNumber::from_number(raw).ok_or_else(|| StoreError::Corrupt(format!("{attribute} holds ticket 0")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flare_core::text::ExternalId;
    use flare_core::{Channel, EventKind, test_util};
    use time::macros::datetime;

    fn incident(resolved_at: Option<OffsetDateTime>) -> Incident {
        let row = Source { channel: Channel::Sheet, external_id: Some(ExternalId::parse("id", "row-7").unwrap()) };
        let i = test_util::incident().ticket(42).system("vpn").started_at(datetime!(2026-11-20 09:30 UTC));
        let i = i.source(row).version(3);
        match resolved_at {
            Some(at) => i.resolved_at(at),
            None => i,
        }
        .build()
    }

    fn string(item: &Item, attr: &str) -> Option<String> {
        item.get(attr).and_then(|v| v.as_s().ok()).cloned()
    }

    #[test]
    fn an_incident_reads_back_as_written() {
        let i = incident(Some(datetime!(2026-11-22 10:00 UTC)));
        let item = incident_item(&i).unwrap();
        assert_eq!(decode::<Incident>(&item).unwrap(), i);
        assert_eq!(number(&item, VERSION).unwrap(), 3);
    }

    #[test]
    fn an_event_reads_back_with_the_incident_it_left() {
        let i = incident(None);
        let event = test_util::event(&i, EventKind::Opened);
        let read = recorded_event(&event_item(&event, &i).unwrap()).unwrap();
        assert_eq!(read, RecordedEvent { event, incident: Some(i) });
    }

    #[test]
    fn an_event_written_before_events_kept_their_incident_reads_back_without_one() {
        let i = incident(None);
        let event = test_util::event(&i, EventKind::Opened);
        let mut item = event_item(&event, &i).unwrap();
        item.remove(INCIDENT);
        assert_eq!(recorded_event(&item).unwrap().incident, None);
    }

    #[test]
    fn an_open_incident_is_in_the_open_index_and_a_resolved_one_is_not() {
        let open = incident_item(&incident(None)).unwrap();
        assert_eq!(string(&open, OPEN_PK).as_deref(), Some("OPEN"));
        assert_eq!(string(&open, OPEN_SK), string(&open, BY_START_SK));
        let resolved = incident_item(&incident(Some(datetime!(2026-11-22 10:00 UTC)))).unwrap();
        assert_eq!(string(&resolved, OPEN_PK), None);
        assert_eq!(string(&resolved, BY_START_PK).as_deref(), Some("S#2026-11"));
    }

    #[test]
    fn a_resolved_incident_is_recorded_with_its_markers() {
        let records = incident_records(&incident(Some(datetime!(2026-11-22 10:00 UTC)))).unwrap();
        let markers: Vec<String> = records[1..].iter().filter_map(|i| string(i, PK)).collect();
        // Active at the midnights of the 21st (day 20778) and the 22nd (day 20779).
        assert_eq!(markers, ["ACT#L0#20778", "ACT#L0#20779"]);
        assert!(records[1..].iter().all(|i| ticket(i, TICKET).unwrap().number() == 42));
    }

    #[test]
    fn an_idempotency_record_expires_by_ttl_no_earlier_than_it_says() {
        let record = IdempotencyKey {
            key: "user:ada:k1".into(),
            fingerprint: "f".into(),
            ticket: TicketNumber::from_number(1).unwrap(),
            version: 1,
            expires_at: datetime!(2026-11-23 09:30:00.5 UTC),
        };
        let item = idempotency_item(&record).unwrap();
        assert_eq!(number(&item, TTL_ATTRIBUTE).unwrap(), datetime!(2026-11-23 09:30:01 UTC).unix_timestamp() as u64);
        assert_eq!(decode::<IdempotencyKey>(&item).unwrap(), record);
    }

    #[test]
    fn a_polled_incident_claims_its_row() {
        let i = incident(None);
        let claim = external_item(&i.source, i.ticket).unwrap();
        assert_eq!(string(&claim, PK).as_deref(), Some("EXT#sheet#row-7"));
        assert_eq!(ticket(&claim, TICKET).unwrap(), i.ticket);
        assert!(external_item(&Source::new(Channel::Form), i.ticket).is_none());
    }

    #[test]
    fn an_item_without_a_doc_is_reported_as_corrupt() {
        let e = decode::<Incident>(&incident_key(TicketNumber::from_number(5).unwrap())).unwrap_err();
        assert!(matches!(e, StoreError::Corrupt(m) if m == "INC#5/META has no doc"));
    }
}
