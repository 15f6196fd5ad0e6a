//! ServiceNow, through the Table API on the `incident` table.
//!
//! Our ticket number goes in `correlation_id` (with `correlation_display` = `Flare`), which is how [`find`]
//! recognises a ticket opened by an earlier, interrupted attempt. The stored key is the ServiceNow `number`
//! (`INC0010001`), the name people use; the `sys_id` that the Table API addresses records by is looked up by
//! that number before each change. One extra GET per update buys a key that stays right when an agent links an
//! existing ServiceNow incident by its number, and a URL that Flare never has to parse.
//!
//! Journal fields (`work_notes`, `comments`) are plain text, except that ServiceNow renders `[code]…[/code]` as
//! HTML; user text has that tag neutralised.
//!
//! [`find`]: TicketSystem::find

use async_trait::async_trait;
use flare_core::config::{ConfigError, Env};
use flare_core::{ExternalTicket, Incident, Severity, TicketError, TicketNumber, TicketSystem, TimelineEvent};
use reqwest::{Method, RequestBuilder};
use secrecy::ExposeSecret;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::env::{retry, url};
use crate::render;
use crate::retry::RetryPolicy;
use crate::retry::{Created, Sender};

#[derive(Debug)]
pub enum ServiceNowAuth {
    Basic { user: String, password: SecretString },
    Bearer(SecretString),
}

#[derive(Debug)]
pub struct ServiceNowConfig {
    /// The instance, without a trailing slash.
    pub(crate) instance: String,
    pub(crate) auth: ServiceNowAuth,
    /// `work_notes` or `comments`.
    pub(crate) comment_field: &'static str,
    pub(crate) close_code: String,
    pub(crate) retry: RetryPolicy,
}

impl ServiceNowConfig {
    /// Reads this vendor's variables (see the table in `config`); each error names its variable.
    pub(crate) fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let instance =
            url(env, "FLARE_SERVICENOW_URL", "the https URL of the instance, like https://acme.service-now.com")?;
        let auth = match env.optional("FLARE_SERVICENOW_TOKEN") {
            Some(token) => ServiceNowAuth::Bearer(token.into()),
            None => ServiceNowAuth::Basic {
                user: env.required("FLARE_SERVICENOW_USER", "the integration user (or set FLARE_SERVICENOW_TOKEN)")?,
                password: env.required("FLARE_SERVICENOW_PASSWORD", "the integration user's password")?.into(),
            },
        };
        let comment_field = match env.optional("FLARE_SERVICENOW_COMMENT_FIELD").as_deref() {
            None | Some("work_notes") => "work_notes",
            Some("comments") => "comments",
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "FLARE_SERVICENOW_COMMENT_FIELD",
                    expected: "work_notes or comments",
                });
            }
        };
        Ok(Self {
            instance: instance.as_str().trim_end_matches('/').to_string(),
            auth,
            comment_field,
            close_code: env.optional("FLARE_SERVICENOW_CLOSE_CODE").unwrap_or_else(|| "Solution provided".into()),
            retry: retry(env)?,
        })
    }
}

const KIND: &str = "servicenow";
/// ServiceNow's `short_description` holds 160 characters.
const SHORT_DESCRIPTION_MAX: usize = 160;
/// `state` values of the incident table.
const STATE_IN_PROGRESS: &str = "2";
const STATE_RESOLVED: &str = "6";

pub(crate) struct ServiceNow {
    http: Sender,
    config: ServiceNowConfig,
}

/// The fields Flare reads back: `sysparm_fields=sys_id,number`.
#[derive(Debug, Deserialize)]
struct Record {
    sys_id: String,
    number: String,
}

#[derive(Debug, Deserialize)]
struct One {
    result: Record,
}

#[derive(Debug, Deserialize)]
struct Many {
    result: Vec<Record>,
}

impl ServiceNow {
    pub(crate) fn new(http: Sender, config: ServiceNowConfig) -> Self {
        Self { http, config }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let url = format!("{}/api/now/table/incident{path}", self.config.instance);
        let request = self.http.client().request(method, url).header("Accept", "application/json");
        match &self.config.auth {
            ServiceNowAuth::Basic { user, password } => request.basic_auth(user, Some(password.expose_secret())),
            ServiceNowAuth::Bearer(token) => request.bearer_auth(token.expose_secret()),
        }
    }

    fn external(&self, record: &Record) -> Result<ExternalTicket, TicketError> {
        let sys_id = checked_sys_id(&record.sys_id)?;
        let url = format!("{}/nav_to.do?uri=incident.do?sys_id={sys_id}", self.config.instance);
        render::external(KIND, &record.number, Some(url))
    }

    /// The first incident matching an encoded query built only from Flare-checked values.
    async fn query(&self, op: &'static str, query: String) -> Result<Option<Record>, TicketError> {
        let params = [("sysparm_query", query.as_str()), ("sysparm_limit", "1"), ("sysparm_fields", "sys_id,number")];
        let response = self.http.send(op, || self.request(Method::GET, "").query(&params)).await?;
        Ok(self.http.json::<Many>(op, response).await?.result.into_iter().next())
    }

    /// The `sys_id` behind a stored key, looked up by the ServiceNow number.
    async fn sys_id(&self, external: &ExternalTicket) -> Result<String, TicketError> {
        let number = external.key.as_str();
        if !number.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(TicketError::Invalid(format!("{number} is not a ServiceNow incident number")));
        }
        match self.query("lookup", format!("number={number}")).await? {
            Some(record) => checked_sys_id(&record.sys_id).map(str::to_string),
            None => Err(TicketError::Invalid(format!("ServiceNow has no incident {number}"))),
        }
    }

    async fn patch(&self, op: &'static str, external: &ExternalTicket, body: Value) -> Result<(), TicketError> {
        let sys_id = self.sys_id(external).await?;
        let path = format!("/{sys_id}");
        let build = || self.request(Method::PATCH, &path).query(&[("sysparm_fields", "sys_id")]).json(&body);
        self.http.send(op, build).await.map(drop)
    }
}

#[async_trait]
impl TicketSystem for ServiceNow {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn find(&self, ticket: TicketNumber) -> Result<Option<ExternalTicket>, TicketError> {
        // A ticket number is `INC-<digits>`, so it cannot smuggle an operator (`^`) into the encoded query.
        let record = self.query("find", format!("correlation_id={ticket}")).await?;
        record.map(|r| self.external(&r)).transpose()
    }

    async fn open(&self, incident: &Incident, _event: &TimelineEvent) -> Result<ExternalTicket, TicketError> {
        let (urgency, impact) = urgency_impact(incident.severity);
        let body = json!({
            "short_description": truncate(incident.title.as_str(), SHORT_DESCRIPTION_MAX),
            "description": journal(&render::description(incident)),
            "urgency": urgency,
            "impact": impact,
            "correlation_id": incident.ticket.to_string(),
            "correlation_display": "Flare",
        });
        let build = || self.request(Method::POST, "").query(&[("sysparm_fields", "sys_id,number")]).json(&body);
        match self.http.create("open", build, || self.find(incident.ticket)).await? {
            Created::Found(found) => Ok(found),
            Created::Response(response) => self.external(&self.http.json::<One>("open", response).await?.result),
        }
    }

    async fn comment(
        &self,
        external: &ExternalTicket,
        incident: &Incident,
        event: &TimelineEvent,
    ) -> Result<(), TicketError> {
        let body = json!({ self.config.comment_field: journal(&render::event(incident, event)) });
        self.patch("comment", external, body).await
    }

    async fn resolve(
        &self,
        external: &ExternalTicket,
        incident: &Incident,
        event: &TimelineEvent,
    ) -> Result<(), TicketError> {
        let body = json!({
            "state": STATE_RESOLVED,
            "close_code": self.config.close_code,
            "close_notes": journal(&render::event(incident, event)),
        });
        self.patch("resolve", external, body).await
    }

    async fn reopen(
        &self,
        external: &ExternalTicket,
        incident: &Incident,
        event: &TimelineEvent,
    ) -> Result<(), TicketError> {
        let body = json!({
            "state": STATE_IN_PROGRESS,
            self.config.comment_field: journal(&render::event(incident, event)),
        });
        self.patch("reopen", external, body).await
    }
}

/// ServiceNow's urgency and impact (1 high, 2 medium, 3 low), chosen so that the default priority matrix gives
/// P1 for sev1, P2 for sev2, P3 for sev3 and P4 for sev4.
fn urgency_impact(severity: Severity) -> (&'static str, &'static str) {
    match severity {
        Severity::Sev1 => ("1", "1"),
        Severity::Sev2 => ("1", "2"),
        Severity::Sev3 => ("2", "2"),
        Severity::Sev4 => ("2", "3"),
    }
}

/// A `sys_id` is 32 hex digits; anything else must not reach a URL path.
fn checked_sys_id(sys_id: &str) -> Result<&str, TicketError> {
    if sys_id.len() == 32 && sys_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(sys_id)
    } else {
        Err(TicketError::Invalid("ServiceNow answered with a malformed sys_id".into()))
    }
}

/// Paragraphs as journal text, with `[code]` neutralised so user text cannot become HTML.
fn journal(paragraphs: &[String]) -> String {
    let text = paragraphs.join("\n\n");
    // ASCII lowercasing keeps byte offsets, so `lower` indexes `text`.
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        let tag = ["[code]", "[/code]"].into_iter().find(|tag| lower[at..].starts_with(tag));
        match tag {
            Some(tag) => {
                out.push_str(if tag == "[code]" { "[ code ]" } else { "[ /code ]" });
                chars.nth(tag.len() - 2);
            }
            None => out.push(c),
        }
    }
    out
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_tags_in_user_text_are_neutralised() {
        let out = journal(&["see [CODE]<img src=x onerror=alert(1)>[/code] here".into()]);
        assert_eq!(out, "see [ code ]<img src=x onerror=alert(1)>[ /code ] here");
    }

    #[test]
    fn a_long_title_is_cut_to_160_characters() {
        let cut = truncate(&"é".repeat(200), 160);
        assert_eq!(cut.chars().count(), 160);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("VPN down", 160), "VPN down");
    }
}
