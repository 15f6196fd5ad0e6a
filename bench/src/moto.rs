//! What moto recorded, read from its `GET /moto-api/data.json`: the SES bulk calls of one sender with their
//! destinations, and the messages published to one SNS topic. This is the service side of the count, kept
//! apart from what Flare reports about itself.
//!
//! moto keeps every record in memory and serialises all of them for each read, so the benchmark reads it only
//! between phases.

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::Value;

/// One snapshot of moto's records.
#[derive(Debug)]
pub struct MotoData(Value);

/// The bulk calls one sender made, and how often each address appeared among their destinations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkSends {
    pub calls: usize,
    pub destinations: BTreeMap<String, usize>,
}

impl BulkSends {
    /// All destinations, duplicates counted.
    pub fn total(&self) -> usize {
        self.destinations.values().sum()
    }

    /// Addresses that appeared more than once.
    pub fn duplicated(&self) -> Vec<(&str, usize)> {
        self.destinations.iter().filter(|(_, n)| **n > 1).map(|(a, n)| (a.as_str(), *n)).collect()
    }
}

impl MotoData {
    pub async fn fetch(http: &reqwest::Client, endpoint: &str) -> anyhow::Result<Self> {
        let url = format!("{}/moto-api/data.json", endpoint.trim_end_matches('/'));
        let data = http
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("GET {url}"))?
            .json()
            .await
            .with_context(|| format!("read {url} as JSON"))?;
        Ok(Self(data))
    }

    fn records<'a>(&'a self, service: &str, kind: &str, field: &str, value: &str) -> impl Iterator<Item = &'a Value> {
        self.0[service][kind].as_array().into_iter().flatten().filter(move |r| r[field] == value)
    }

    /// Every SendBulkTemplatedEmail call moto accepted from `sender`.
    pub fn bulk_sends(&self, sender: &str) -> anyhow::Result<BulkSends> {
        let mut sends = BulkSends::default();
        for call in self.records("ses", "BulkTemplateMessage", "source", sender) {
            sends.calls += 1;
            for destination in call["destinations"].as_array().context("a bulk call without destinations")? {
                let to = destination["Destination"]["ToAddresses"].as_array().context("a destination without To")?;
                for address in to {
                    let address = address.as_str().context("an address that is not a string")?;
                    *sends.destinations.entry(address.to_string()).or_default() += 1;
                }
            }
        }
        Ok(sends)
    }

    /// How many messages moto holds as published to the topic `arn`.
    pub fn topic_messages(&self, arn: &str) -> anyhow::Result<usize> {
        let topic =
            self.records("sns", "Topic", "arn", arn).next().with_context(|| format!("moto has no topic {arn}"))?;
        Ok(topic["sent_notifications"].as_array().map_or(0, Vec::len))
    }
}
