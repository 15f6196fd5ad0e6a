//! Jira Cloud, through REST API v3.
//!
//! A ticket carries the labels `flare` and `flare-INC-1042` (labels hold no spaces); [`find`] searches for the
//! second with JQL on `/rest/api/3/search/jql`. That search is eventually consistent, so an issue created a moment
//! ago may not show yet: the dispatcher's redelivery comes later than that in practice, and a create whose outcome
//! was unknown looks again before each retry.
//!
//! Descriptions and comments are Atlassian Document Format built node by node, so user text is only ever the
//! `text` of a text node, never markup. Resolve and reopen run a workflow transition chosen by configured id or
//! name; when it is not offered because the issue is already where it should be, that counts as done, so a
//! redelivered resolve succeeds. The transition runs before the comment, so a retry after a failed comment does
//! not transition twice.
//!
//! [`find`]: TicketSystem::find

use async_trait::async_trait;
use flare_core::config::{ConfigError, Env};
use flare_core::{ExternalTicket, Incident, TicketError, TicketNumber, TicketSystem, TimelineEvent};
use reqwest::{Method, RequestBuilder};
use secrecy::ExposeSecret;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::env::{retry, url};
use crate::render;
use crate::retry::RetryPolicy;
use crate::retry::{Created, Sender};

/// A Jira workflow transition, chosen by its id or by its name (or the name of the status it leads to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Id(String),
    Name(String),
}

#[derive(Debug)]
pub struct JiraConfig {
    pub(crate) site: String,
    pub(crate) email: String,
    pub(crate) api_token: SecretString,
    pub(crate) project: String,
    pub(crate) issue_type: String,
    pub(crate) resolve: Transition,
    pub(crate) reopen: Transition,
    pub(crate) retry: RetryPolicy,
}

impl JiraConfig {
    /// Reads this vendor's variables (see the table in `config`); each error names its variable.
    pub(crate) fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let site = url(env, "FLARE_JIRA_URL", "the https URL of the Jira site, like https://acme.atlassian.net")?;
        let project = env.required("FLARE_JIRA_PROJECT", "the key of the Jira project, like OPS")?;
        if !project.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ConfigError::Invalid { name: "FLARE_JIRA_PROJECT", expected: "a Jira project key, like OPS" });
        }
        let transition = |name, default: &str| {
            let raw = env.optional(name).unwrap_or_else(|| default.to_string());
            if raw.bytes().all(|b| b.is_ascii_digit()) { Transition::Id(raw) } else { Transition::Name(raw) }
        };
        Ok(Self {
            site: site.as_str().trim_end_matches('/').to_string(),
            email: env.required("FLARE_JIRA_EMAIL", "the email address of the Jira account Flare acts as")?,
            api_token: env.required("FLARE_JIRA_API_TOKEN", "an API token of that Jira account")?.into(),
            project,
            issue_type: env.optional("FLARE_JIRA_ISSUE_TYPE").unwrap_or_else(|| "Task".into()),
            resolve: transition("FLARE_JIRA_RESOLVE_TRANSITION", "Done"),
            reopen: transition("FLARE_JIRA_REOPEN_TRANSITION", "To Do"),
            retry: retry(env)?,
        })
    }
}

const KIND: &str = "jira";
/// The status category Jira gives every "done" status, whatever the workflow calls it.
const DONE: &str = "done";

pub(crate) struct Jira {
    http: Sender,
    config: JiraConfig,
}

#[derive(Debug, Deserialize)]
struct Key {
    key: String,
}

#[derive(Debug, Deserialize)]
struct Search {
    issues: Vec<Key>,
}

#[derive(Debug, Deserialize)]
struct Transitions {
    transitions: Vec<Offered>,
}

#[derive(Debug, Deserialize)]
struct Offered {
    id: String,
    name: String,
    to: Option<Status>,
}

#[derive(Debug, Deserialize)]
struct Status {
    name: String,
    #[serde(rename = "statusCategory")]
    category: Option<Category>,
}

#[derive(Debug, Deserialize)]
struct Category {
    key: String,
}

#[derive(Debug, Deserialize)]
struct IssueStatus {
    fields: StatusField,
}

#[derive(Debug, Deserialize)]
struct StatusField {
    status: Status,
}

impl Jira {
    pub(crate) fn new(http: Sender, config: JiraConfig) -> Self {
        Self { http, config }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .client()
            .request(method, format!("{}/rest/api/3{path}", self.config.site))
            .header("Accept", "application/json")
            .basic_auth(&self.config.email, Some(self.config.api_token.expose_secret()))
    }

    fn external(&self, key: &str) -> Result<ExternalTicket, TicketError> {
        let key = checked_key(key)?;
        render::external(KIND, key, Some(format!("{}/browse/{key}", self.config.site)))
    }

    async fn add_comment(&self, key: &str, incident: &Incident, event: &TimelineEvent) -> Result<(), TicketError> {
        let body = json!({ "body": adf(&render::event(incident, event)) });
        let path = format!("/issue/{key}/comment");
        self.http.send("comment", || self.request(Method::POST, &path).json(&body)).await.map(drop)
    }

    /// Runs the configured transition, or does nothing when the issue is already on the wanted side of done.
    async fn transition(
        &self,
        op: &'static str,
        key: &str,
        wanted: &Transition,
        done: bool,
    ) -> Result<(), TicketError> {
        let path = format!("/issue/{key}/transitions");
        let response = self.http.send(op, || self.request(Method::GET, &path)).await?;
        let offered = self.http.json::<Transitions>(op, response).await?.transitions;
        let chosen = offered.iter().find(|t| match wanted {
            Transition::Id(id) => &t.id == id,
            Transition::Name(name) => {
                t.name.eq_ignore_ascii_case(name) || t.to.as_ref().is_some_and(|s| s.name.eq_ignore_ascii_case(name))
            }
        });
        if let Some(t) = chosen {
            let body = json!({ "transition": { "id": t.id } });
            return self.http.send(op, || self.request(Method::POST, &path).json(&body)).await.map(drop);
        }
        let status_path = format!("/issue/{key}");
        let build = || self.request(Method::GET, &status_path).query(&[("fields", "status")]);
        let status = self.http.json::<IssueStatus>(op, self.http.send(op, build).await?).await?.fields.status;
        let is_done = status.category.as_ref().is_some_and(|c| c.key == DONE);
        if is_done == done {
            tracing::info!(vendor = KIND, op, "issue already in the wanted state; no transition");
            return Ok(());
        }
        let names: Vec<&str> = offered.iter().map(|t| t.name.as_str()).collect();
        Err(TicketError::Invalid(format!(
            "transition {} is not offered on {key} (status {}); offered: {}",
            match wanted {
                Transition::Id(id) | Transition::Name(id) => id,
            },
            status.name,
            names.join(", ")
        )))
    }
}

#[async_trait]
impl TicketSystem for Jira {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn find(&self, ticket: TicketNumber) -> Result<Option<ExternalTicket>, TicketError> {
        let jql = format!("labels = \"{}\"", label(ticket));
        let params = [("jql", jql.as_str()), ("fields", "key"), ("maxResults", "1")];
        let response = self.http.send("find", || self.request(Method::GET, "/search/jql").query(&params)).await?;
        let found = self.http.json::<Search>("find", response).await?.issues.into_iter().next();
        found.map(|issue| self.external(&issue.key)).transpose()
    }

    async fn open(&self, incident: &Incident, _event: &TimelineEvent) -> Result<ExternalTicket, TicketError> {
        let body = json!({
            "fields": {
                "project": { "key": self.config.project },
                "issuetype": { "name": self.config.issue_type },
                "summary": render::summary(incident),
                "description": adf(&render::description(incident)),
                "labels": ["flare", label(incident.ticket)],
            }
        });
        let build = || self.request(Method::POST, "/issue").json(&body);
        match self.http.create("open", build, || self.find(incident.ticket)).await? {
            Created::Found(found) => Ok(found),
            Created::Response(response) => self.external(&self.http.json::<Key>("open", response).await?.key),
        }
    }

    async fn comment(
        &self,
        external: &ExternalTicket,
        incident: &Incident,
        event: &TimelineEvent,
    ) -> Result<(), TicketError> {
        self.add_comment(checked_key(external.key.as_str())?, incident, event).await
    }

    async fn resolve(
        &self,
        external: &ExternalTicket,
        incident: &Incident,
        event: &TimelineEvent,
    ) -> Result<(), TicketError> {
        let key = checked_key(external.key.as_str())?;
        self.transition("resolve", key, &self.config.resolve, true).await?;
        self.add_comment(key, incident, event).await
    }

    async fn reopen(
        &self,
        external: &ExternalTicket,
        incident: &Incident,
        event: &TimelineEvent,
    ) -> Result<(), TicketError> {
        let key = checked_key(external.key.as_str())?;
        self.transition("reopen", key, &self.config.reopen, false).await?;
        self.add_comment(key, incident, event).await
    }
}

/// `flare-INC-1042`: the label that finds our ticket again.
fn label(ticket: TicketNumber) -> String {
    format!("flare-{ticket}")
}

/// An issue key (`OPS-24`) is letters, digits and '_', a dash, and digits; anything else must not reach a path.
fn checked_key(key: &str) -> Result<&str, TicketError> {
    let valid = key.split_once('-').is_some_and(|(project, n)| {
        !project.is_empty()
            && project.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
    });
    if valid { Ok(key) } else { Err(TicketError::Invalid(format!("{key} is not a Jira issue key"))) }
}

/// Paragraphs as an ADF document: one paragraph node each, lines split by hard breaks. Text nodes may not be
/// empty, so blank lines become breaks alone.
fn adf(paragraphs: &[String]) -> Value {
    let content: Vec<Value> = paragraphs
        .iter()
        .map(|paragraph| {
            let mut nodes = Vec::new();
            for (i, line) in paragraph.split('\n').enumerate() {
                if i > 0 {
                    nodes.push(json!({ "type": "hardBreak" }));
                }
                if !line.is_empty() {
                    nodes.push(json!({ "type": "text", "text": line }));
                }
            }
            json!({ "type": "paragraph", "content": nodes })
        })
        .collect();
    json!({ "type": "doc", "version": 1, "content": content })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_user_text_stays_the_text_of_a_text_node() {
        let doc = adf(&["*bold* <b>x</b>\n\nsecond".into()]);
        assert_eq!(
            doc,
            json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
                {"type": "text", "text": "*bold* <b>x</b>"},
                {"type": "hardBreak"},
                {"type": "hardBreak"},
                {"type": "text", "text": "second"},
            ]}]})
        );
    }

    #[test]
    fn issue_keys_are_checked_before_they_reach_a_path() {
        assert!(checked_key("OPS-24").is_ok());
        for bad in ["OPS", "OPS-", "-1", "OPS-1/../x", "OPS-1?x=1"] {
            assert!(checked_key(bad).is_err(), "{bad}");
        }
    }
}
