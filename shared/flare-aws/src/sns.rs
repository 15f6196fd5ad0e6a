//! The SNS adapter of [`Publisher`]: PublishBatch to one topic, at most [`BATCH_MAX`] entries per call, each
//! carrying the `system`, `severity` and `event` message attributes that SMS, chat and webhook subscribers
//! filter on.
//!
//! It owns batching and retrying the entries a batch reports as failed on the service's side. It does not decide
//! what is published or remember what was: that is the dispatcher and its ledger.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use flare_core::SystemId;
use flare_core::notify::{Notification, NotifyError, PublishReport, Publisher};
use tracing::{instrument, warn};

use crate::client::{Limits, Service, local_sdk_config, sdk_config};
use crate::rate::{Backoff, classify};

/// SNS accepts at most 10 entries in one PublishBatch call.
pub const BATCH_MAX: usize = 10;

const SERVICE: &str = "SNS";

/// SNS: like DynamoDB.
const LIMITS: Limits = Limits { attempt: Duration::from_secs(5), total: Duration::from_secs(15) };

/// The SNS client Flare's functions use (see [`crate::client`]).
pub fn sns_client() -> Client {
    Client::new(&sdk_config(Service { env: "SNS", limits: LIMITS }))
}

/// An SNS client for a local emulator at `endpoint`. Tests only.
pub fn local_sns_client(endpoint: &str) -> Client {
    Client::new(&local_sdk_config(endpoint, LIMITS))
}

/// Publishes Flare's notifications to one SNS topic.
#[derive(Debug)]
pub struct SnsPublisher {
    client: Client,
    topic_arn: String,
    backoff: Backoff,
}

impl SnsPublisher {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self { client, topic_arn: topic_arn.into(), backoff: Backoff::default() }
    }

    /// Replaces the retry schedule for entries SNS failed on its side.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Publishes one batch of at most [`BATCH_MAX`] notifications, given with their index in the whole input.
    async fn publish_batch(
        &self,
        batch: &[(usize, &Notification)],
        report: &mut PublishReport,
    ) -> Result<(), NotifyError> {
        let mut pending: Vec<(usize, &Notification)> = batch.to_vec();
        let mut waits = self.backoff.delays();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            if attempt > 1 {
                let Some(wait) = waits.next() else {
                    warn!(count = pending.len(), "entries still failing after retries");
                    report.deferred.extend(pending.iter().map(|(i, _)| *i));
                    return Ok(());
                };
                tokio::time::sleep(wait).await;
            }
            let mut entries = Vec::with_capacity(pending.len());
            for (index, note) in &pending {
                entries.push(entry(*index, note)?);
            }
            report.calls += 1;
            let output = match self
                .client
                .publish_batch()
                .topic_arn(&self.topic_arn)
                .set_publish_batch_request_entries(Some(entries))
                .send()
                .await
            {
                Ok(output) => output,
                Err(e) => {
                    let error = classify(SERVICE, e);
                    if error.is_transient() {
                        warn!(error = ?error, attempt, "publish batch failed; retrying");
                        continue;
                    }
                    return Err(error);
                }
            };
            let by_id: HashMap<String, (usize, &Notification)> =
                pending.iter().map(|(i, n)| (entry_id(*i), (*i, *n))).collect();
            for ok in output.successful() {
                if let Some((index, _)) = ok.id().and_then(|id| by_id.get(id)) {
                    report.published.push(*index);
                }
            }
            let mut retry = Vec::new();
            for failed in output.failed() {
                let Some(&(index, note)) = by_id.get(failed.id()) else { continue };
                if failed.sender_fault() {
                    report.failed.push((index, format!("{}: {}", failed.code(), failed.message().unwrap_or_default())));
                } else {
                    retry.push((index, note));
                }
            }
            pending = retry;
        }
        Ok(())
    }
}

/// Entry ids only need to be unique within one request; the input index makes them so and maps answers back.
fn entry_id(index: usize) -> String {
    format!("n{index}")
}

fn attribute(data_type: &str, value: &str) -> Result<MessageAttributeValue, NotifyError> {
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(value)
        .build()
        .map_err(|e| NotifyError::Invalid(e.to_string()))
}

/// The `system` attribute is a `String.Array`, a JSON array of ids: a filter policy on one system matches any
/// message listing it.
fn entry(index: usize, note: &Notification) -> Result<PublishBatchRequestEntry, NotifyError> {
    let ids: Vec<&str> = note.systems.iter().map(SystemId::as_str).collect();
    let systems = serde_json::to_string(&ids).map_err(|e| NotifyError::Invalid(e.to_string()))?;
    PublishBatchRequestEntry::builder()
        .id(entry_id(index))
        .message(note.message.as_str())
        .message_attributes("system", attribute("String.Array", &systems)?)
        .message_attributes("severity", attribute("String", note.severity.as_str())?)
        .message_attributes("event", attribute("String", note.event.as_str())?)
        .build()
        .map_err(|e| NotifyError::Invalid(e.to_string()))
}

#[async_trait]
impl Publisher for SnsPublisher {
    #[instrument(skip_all, fields(notes = notes.len()))]
    async fn publish(&self, notes: &[Notification]) -> Result<PublishReport, NotifyError> {
        let indexed: Vec<(usize, &Notification)> = notes.iter().enumerate().collect();
        let mut report = PublishReport::default();
        for batch in indexed.chunks(BATCH_MAX) {
            self.publish_batch(batch, &mut report).await?;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use flare_core::notify::ShortMessage;
    use flare_core::{EventKind, Severity, SystemId};
    use wiremock::matchers::{body_string_contains, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn answer(ok: &[&str], failed: &[(&str, &str, bool)]) -> ResponseTemplate {
        let ok: String =
            ok.iter().map(|id| format!("<member><Id>{id}</Id><MessageId>m</MessageId></member>")).collect();
        let failed: String = failed
            .iter()
            .map(|(id, code, sender)| {
                format!("<member><Id>{id}</Id><Code>{code}</Code><Message>why</Message><SenderFault>{sender}</SenderFault></member>")
            })
            .collect();
        let body = format!(
            "<PublishBatchResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishBatchResult>\
             <Successful>{ok}</Successful><Failed>{failed}</Failed></PublishBatchResult>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishBatchResponse>"
        );
        ResponseTemplate::new(200).set_body_raw(body, "text/xml")
    }

    fn note(i: usize) -> Notification {
        Notification {
            message: ShortMessage::parse("message", &format!("INC-{i} opened")).unwrap_or_else(|e| panic!("{e:?}")),
            systems: vec![SystemId::parse("system", "mail").unwrap_or_else(|e| panic!("{e:?}"))],
            severity: Severity::ALL[0],
            event: EventKind::Opened,
        }
    }

    #[tokio::test]
    async fn an_entry_failed_on_the_service_side_is_retried_and_a_refused_one_is_recorded() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(body_string_contains("INC-0"))
            .respond_with(answer(&["n0"], &[("n1", "InternalError", false), ("n2", "InvalidParameter", true)]))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST")).respond_with(answer(&["n1"], &[])).expect(1).mount(&server).await;
        let backoff = Backoff { max_attempts: 3, base: Duration::from_millis(1), max_delay: Duration::from_millis(2) };
        let publisher =
            SnsPublisher::new(local_sns_client(&server.uri()), "arn:aws:sns:us-east-1:1:t").with_backoff(backoff);

        let report = publisher.publish(&[note(0), note(1), note(2)]).await.unwrap_or_else(|e| panic!("{e:?}"));

        assert_eq!(report.published, [0, 1]);
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].0, 2);
        assert!(report.deferred.is_empty());
        assert_eq!(report.calls, 2);
    }
}
