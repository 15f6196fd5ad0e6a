//! A generic signed webhook, for ticketing systems Flare has no adapter for: every event is a JSON POST to one
//! configured URL.
//!
//! Body: `{"event": "opened" | "updated" | "resolved" | "reopened", "ticket": "INC-1042", "incident": {…},
//! "timeline_event": {…}}`, with `incident` and `timeline_event` in the public view shapes of the dashboard API.
//! (`event` names the action; the timeline event sits under its own key, as JSON has one value per key.)
//!
//! Headers: `X-Flare-Timestamp` (unix seconds), `X-Flare-Signature: sha256=<hex HMAC-SHA256(secret,
//! "<timestamp>.<body>")>`, `X-Flare-Event` and `X-Flare-Delivery` (`INC-1042:3`, ticket and event sequence).
//! Each attempt is signed afresh, so a receiver may refuse timestamps older than a few minutes.
//!
//! A webhook cannot be asked what it holds, so [`find`] finds nothing and the *receiver* owns deduplication:
//! the same event is always sent with the same `X-Flare-Delivery`, and a redelivered `opened` must not open a
//! second ticket. The external key Flare stores is our own ticket number.
//!
//! [`find`]: TicketSystem::find

use std::sync::Arc;

use async_trait::async_trait;
use flare_core::config::{ConfigError, Env};
use flare_core::view::{EventView, IncidentView};
use flare_core::{Clock, ExternalTicket, Incident, TicketError, TicketNumber, TicketSystem, TimelineEvent};
use hmac::{Hmac, Mac};
use reqwest::RequestBuilder;
use reqwest::Url;
use secrecy::ExposeSecret;
use secrecy::SecretString;
use serde::Serialize;
use sha2::Sha256;

use crate::env::{retry, url};
use crate::render;
use crate::retry::RetryPolicy;
use crate::retry::Sender;

#[derive(Debug)]
pub struct WebhookConfig {
    pub(crate) url: Url,
    pub(crate) secret: SecretString,
    pub(crate) retry: RetryPolicy,
}

impl WebhookConfig {
    /// Reads this vendor's variables (see the table in `config`); each error names its variable.
    pub(crate) fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        const SECRET: &str = "FLARE_WEBHOOK_SECRET";
        const SECRET_EXPECTED: &str = "the shared HMAC key, at least 16 characters";
        let secret = env.required(SECRET, SECRET_EXPECTED)?;
        if secret.chars().count() < 16 {
            return Err(ConfigError::Invalid { name: SECRET, expected: SECRET_EXPECTED });
        }
        Ok(Self {
            url: url(env, "FLARE_WEBHOOK_URL", "the https URL that receives Flare's ticket events")?,
            secret: secret.into(),
            retry: retry(env)?,
        })
    }
}

const KIND: &str = "webhook";

pub(crate) struct Webhook {
    http: Sender,
    config: WebhookConfig,
    /// Stamps each delivery, so tests fix the signed timestamp.
    clock: Arc<dyn Clock>,
}

#[derive(Serialize)]
struct Payload {
    event: &'static str,
    ticket: TicketNumber,
    incident: IncidentView,
    timeline_event: EventView,
}

impl Webhook {
    pub(crate) fn new(http: Sender, config: WebhookConfig, clock: Arc<dyn Clock>) -> Self {
        Self { http, config, clock }
    }

    async fn deliver(
        &self,
        event: &'static str,
        incident: &Incident,
        timeline: &TimelineEvent,
    ) -> Result<(), TicketError> {
        let payload = Payload {
            event,
            ticket: incident.ticket,
            incident: IncidentView::from(incident),
            timeline_event: EventView::from(timeline),
        };
        let body = serde_json::to_vec(&payload).map_err(|e| TicketError::Invalid(format!("webhook body: {e}")))?;
        // HMAC takes a key of any length, so this only fails on a broken build of the crate.
        let key = Hmac::<Sha256>::new_from_slice(self.config.secret.expose_secret().as_bytes())
            .map_err(|_| TicketError::Invalid("the webhook secret cannot key HMAC-SHA256".into()))?;
        let delivery = format!("{}:{}", incident.ticket, timeline.seq);
        let build = || -> RequestBuilder {
            let timestamp = self.clock.now().unix_timestamp().to_string();
            self.http
                .client()
                .post(self.config.url.clone())
                .header("Content-Type", "application/json")
                .header("X-Flare-Event", event)
                .header("X-Flare-Delivery", &delivery)
                .header("X-Flare-Signature", format!("sha256={}", sign(key.clone(), &timestamp, &body)))
                .header("X-Flare-Timestamp", timestamp)
                .body(body.clone())
        };
        self.http.send(event, build).await.map(drop)
    }
}

/// Hex HMAC-SHA256 of `<timestamp>.<body>`.
fn sign(mut key: Hmac<Sha256>, timestamp: &str, body: &[u8]) -> String {
    key.update(timestamp.as_bytes());
    key.update(b".");
    key.update(body);
    hex::encode(key.finalize().into_bytes())
}

#[async_trait]
impl TicketSystem for Webhook {
    fn kind(&self) -> &'static str {
        KIND
    }

    /// Always `None`: see the module header for who deduplicates.
    async fn find(&self, _ticket: TicketNumber) -> Result<Option<ExternalTicket>, TicketError> {
        Ok(None)
    }

    async fn open(&self, incident: &Incident, event: &TimelineEvent) -> Result<ExternalTicket, TicketError> {
        self.deliver("opened", incident, event).await?;
        render::external(KIND, &incident.ticket.to_string(), None)
    }

    async fn comment(&self, _: &ExternalTicket, incident: &Incident, event: &TimelineEvent) -> Result<(), TicketError> {
        self.deliver("updated", incident, event).await
    }

    async fn resolve(&self, _: &ExternalTicket, incident: &Incident, event: &TimelineEvent) -> Result<(), TicketError> {
        self.deliver("resolved", incident, event).await
    }

    async fn reopen(&self, _: &ExternalTicket, incident: &Incident, event: &TimelineEvent) -> Result<(), TicketError> {
        self.deliver("reopened", incident, event).await
    }
}
