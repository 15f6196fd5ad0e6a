//! The delivery ledger: one record per delivery (an event × a channel × a batch of recipients), written right
//! after the batch went out. The dispatcher reads it before sending, so a redelivered or resumed event skips
//! every recipient already told, and `GET /api/incidents/{ticket}/deliveries` shows who heard what, when and how.
//! The weekly digest, which belongs to a week rather than to an incident, has its own records
//! ([`DigestDelivery`]), which `flare report digest` shows.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::timefmt::serde_rfc3339;
use crate::values::TicketNumber;

crate::choice!(
    /// How people were told.
    DeliveryChannel {
        /// Mail to subscribers, the engineer and listed addresses (SES or SMTP).
        Email = "email",
        /// One short message to the topic (SNS) or the chat webhooks, which fan it out.
        Message = "message",
        /// The organisation's ticketing system.
        Ticket = "ticket",
        /// The post-incident report, to the affected systems' owners and the stakeholders. It belongs to the
        /// incident, not to one event, so it is recorded under event 0: batch 1 is the claim a reporter run
        /// writes before sending (a second run finds it and sends nothing), batch 2 who got it; a resend to
        /// recipients the mail service deferred is batches 3 and 4, and so on.
        Report = "report",
    }
);

/// The most recipients one ledger record holds: one SES bulk call's worth.
pub const BATCH_MAX: usize = 50;

/// One recipient the service refused for good, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Refused {
    pub to: String,
    pub reason: String,
}

/// One batch of one event on one channel, as it went out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub ticket: TicketNumber,
    /// The timeline event delivered.
    pub seq: u64,
    pub channel: DeliveryChannel,
    /// 1, 2, …, per event and channel, in the order the batches went out.
    pub batch: u32,
    #[serde(with = "serde_rfc3339")]
    pub at: OffsetDateTime,
    /// Who accepted it: email addresses, the topic or webhook systems, or the external ticket key.
    pub sent: Vec<String>,
    /// Who refused it for good; they are not tried again.
    pub refused: Vec<Refused>,
    /// Calls made to the service for this batch, retries included.
    pub calls: u32,
}

impl Delivery {
    /// Everyone this record settles: sent or refused for good.
    pub fn settled(&self) -> impl Iterator<Item = &str> {
        self.sent.iter().map(String::as_str).chain(self.refused.iter().map(|r| r.to.as_str()))
    }
}

/// One batch of a weekly digest, which belongs to a week rather than to an incident. The batches go as a
/// report's do: 1 is the claim a run writes before sending (a second run finds it and sends nothing), 2 who got
/// it; a resend to recipients the mail service deferred is 3 and 4, and so on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestDelivery {
    /// When the digest's week starts: a Monday, 00:00 UTC.
    #[serde(with = "serde_rfc3339")]
    pub week: OffsetDateTime,
    pub batch: u32,
    #[serde(with = "serde_rfc3339")]
    pub at: OffsetDateTime,
    /// The addresses that accepted it.
    pub sent: Vec<String>,
    /// Who refused it, with why.
    pub refused: Vec<Refused>,
    /// Calls made to the mail service for this batch.
    pub calls: u32,
}

/// Where deliveries are recorded.
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// Records one delivery. Fails with [`StoreError::AlreadyExists`] when this (ticket, seq, channel, batch)
    /// is recorded already, and writes nothing then: two dispatchers racing on one event cannot both record a
    /// batch under the same number.
    async fn record_delivery(&self, delivery: &Delivery) -> Result<(), StoreError>;

    /// Every delivery of one event, by channel then batch.
    async fn event_deliveries(&self, ticket: TicketNumber, seq: u64) -> Result<Vec<Delivery>, StoreError>;

    /// Every delivery of an incident, by event, channel, then batch.
    async fn deliveries(&self, ticket: TicketNumber) -> Result<Vec<Delivery>, StoreError>;

    /// Records one batch of a weekly digest. Fails with [`StoreError::AlreadyExists`] when this (week, batch)
    /// is recorded already, and writes nothing then: of two runs racing on one digest, one claims it.
    async fn record_digest(&self, delivery: &DigestDelivery) -> Result<(), StoreError>;

    /// Every batch of the digest of the week that starts at `week`, by batch.
    async fn digest_deliveries(&self, week: OffsetDateTime) -> Result<Vec<DigestDelivery>, StoreError>;
}
