//! The delivery ledger: what each event's batches recorded, the order they read back in, and that a batch is
//! recorded once however many dispatchers race for it.

use flare_core::{Delivery, DeliveryChannel, Refused, StoreError, TicketNumber};
use time::Duration;

use crate::support::{Backend, NOW, agent, open};

/// An incident to hang deliveries on.
async fn incident(b: &Backend, title: &str) -> TicketNumber {
    b.service().open(open(title, NOW, &["vpn"]), &agent(), None).await.unwrap().ticket
}

fn delivery(ticket: TicketNumber, seq: u64, channel: DeliveryChannel, batch: u32) -> Delivery {
    Delivery {
        ticket,
        seq,
        channel,
        batch,
        at: NOW + Duration::seconds(i64::from(batch)),
        sent: vec![format!("{channel}-{seq}-{batch}@example.com")],
        refused: vec![Refused { to: "gone@example.com".into(), reason: "mailbox does not exist".into() }],
        calls: 1,
    }
}

/// (seq, channel, batch) of each delivery, in the order given.
fn keys(deliveries: &[Delivery]) -> Vec<(u64, DeliveryChannel, u32)> {
    deliveries.iter().map(|d| (d.seq, d.channel, d.batch)).collect()
}

pub async fn an_events_deliveries_read_back_whole_by_channel_then_batch(b: Backend) {
    use DeliveryChannel::{Email, Message, Ticket};
    let t = incident(&b, "VPN down").await;
    for (channel, batch) in [(Ticket, 1), (Email, 2), (Message, 1), (Email, 10), (Email, 1)] {
        b.store.record_delivery(&delivery(t, 1, channel, batch)).await.unwrap();
    }
    let read = b.store.event_deliveries(t, 1).await.unwrap();
    assert_eq!(keys(&read), [(1, Email, 1), (1, Email, 2), (1, Email, 10), (1, Message, 1), (1, Ticket, 1)]);
    assert_eq!(read[2], delivery(t, 1, Email, 10));
    assert!(b.store.event_deliveries(t, 2).await.unwrap().is_empty());
}

pub async fn an_incidents_deliveries_read_back_by_event_then_channel_then_batch(b: Backend) {
    use DeliveryChannel::{Email, Message, Ticket};
    let t = incident(&b, "VPN down").await;
    for (seq, channel, batch) in [(10, Email, 1), (2, Ticket, 1), (2, Email, 1), (1, Message, 1), (1, Email, 2)] {
        b.store.record_delivery(&delivery(t, seq, channel, batch)).await.unwrap();
    }
    let read = b.store.deliveries(t).await.unwrap();
    assert_eq!(keys(&read), [(1, Email, 2), (1, Message, 1), (2, Email, 1), (2, Ticket, 1), (10, Email, 1)]);
    assert_eq!(keys(&b.store.event_deliveries(t, 1).await.unwrap()), [(1, Email, 2), (1, Message, 1)]);
}

pub async fn a_batch_recorded_twice_is_refused_and_the_first_record_stands(b: Backend) {
    let t = incident(&b, "VPN down").await;
    let first = delivery(t, 1, DeliveryChannel::Email, 1);
    b.store.record_delivery(&first).await.unwrap();
    let mut second = first.clone();
    second.sent = vec!["someone-else@example.com".into()];
    second.calls = 3;
    let e = b.store.record_delivery(&second).await.unwrap_err();
    assert!(matches!(e, StoreError::AlreadyExists { .. }), "{e:?}");
    assert_eq!(b.store.event_deliveries(t, 1).await.unwrap(), [first]);
}

pub async fn of_two_dispatchers_racing_for_one_batch_exactly_one_records_it(b: Backend) {
    let t = incident(&b, "VPN down").await;
    let racers = (0..2).map(|i| {
        let store = b.store.clone();
        let mut d = delivery(t, 1, DeliveryChannel::Message, 1);
        d.calls = i + 1;
        tokio::spawn(async move { store.record_delivery(&d).await })
    });
    let results: Vec<_> = futures::future::join_all(racers).await.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().any(|r| matches!(r, Err(StoreError::AlreadyExists { .. }))), "{results:?}");
    assert_eq!(b.store.deliveries(t).await.unwrap().len(), 1);
}

pub async fn the_deliveries_of_another_incident_are_not_returned(b: Backend) {
    let one = incident(&b, "VPN down").await;
    let other = incident(&b, "Mail slow").await;
    b.store.record_delivery(&delivery(one, 1, DeliveryChannel::Email, 1)).await.unwrap();
    b.store.record_delivery(&delivery(other, 1, DeliveryChannel::Email, 1)).await.unwrap();
    b.store.record_delivery(&delivery(other, 1, DeliveryChannel::Ticket, 1)).await.unwrap();
    assert_eq!(b.store.deliveries(one).await.unwrap(), [delivery(one, 1, DeliveryChannel::Email, 1)]);
    assert_eq!(b.store.event_deliveries(one, 1).await.unwrap(), [delivery(one, 1, DeliveryChannel::Email, 1)]);
    assert_eq!(b.store.deliveries(other).await.unwrap().len(), 2);
}

pub async fn deliveries_are_not_timeline_events(b: Backend) {
    let t = incident(&b, "VPN down").await;
    b.store.record_delivery(&delivery(t, 1, DeliveryChannel::Email, 1)).await.unwrap();
    let seqs: Vec<_> = b.store.timeline(t).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1]);
}
