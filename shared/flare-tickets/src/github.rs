//! GitHub Issues, through the REST API (version `2022-11-28`), on github.com or GitHub Enterprise Server.
//!
//! An issue carries the labels `flare` and `flare:INC-1042`; [`find`] lists issues in any state with the second.
//! The stored key is `owner/repo#1347`. Bodies are Markdown, so user text is escaped: Markdown punctuation gets a
//! backslash, HTML is entity-encoded and an `@` cannot start a mention, so an incident cannot ping people, embed
//! images or inject HTML. Resolve closes as completed and reopen reopens (both idempotent), each followed by the
//! event as a comment.
//!
//! [`find`]: TicketSystem::find

use async_trait::async_trait;
use flare_core::config::{ConfigError, Env};
use flare_core::{ExternalTicket, Incident, TicketError, TicketNumber, TicketSystem, TimelineEvent};
use reqwest::Url;
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
pub struct GitHubConfig {
    pub(crate) api: String,
    pub(crate) owner: String,
    pub(crate) repo: String,
    pub(crate) token: SecretString,
    pub(crate) retry: RetryPolicy,
}

impl GitHubConfig {
    /// Reads this vendor's variables (see the table in `config`); each error names its variable.
    pub(crate) fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        const REPO: &str = "FLARE_GITHUB_REPO";
        const REPO_EXPECTED: &str = "the repository as owner/repo";
        let api = match env.optional("FLARE_GITHUB_API_URL") {
            Some(_) => {
                url(env, "FLARE_GITHUB_API_URL", "the https URL of the GitHub API, like https://api.github.com")?
            }
            None => Url::parse("https://api.github.com").map_err(|_| ConfigError::Invalid {
                name: "FLARE_GITHUB_API_URL",
                expected: "the https URL of the GitHub API",
            })?,
        };
        let repo = env.required(REPO, REPO_EXPECTED)?;
        let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        let (owner, name) = repo
            .split_once('/')
            .filter(|(o, r)| ok(o) && ok(r))
            .ok_or(ConfigError::Invalid { name: REPO, expected: REPO_EXPECTED })?;
        Ok(Self {
            api: api.as_str().trim_end_matches('/').to_string(),
            owner: owner.to_string(),
            repo: name.to_string(),
            token: env.required("FLARE_GITHUB_TOKEN", "a GitHub token that may write issues in the repository")?.into(),
            retry: retry(env)?,
        })
    }
}

const KIND: &str = "github";
const API_VERSION: &str = "2022-11-28";

pub(crate) struct GitHub {
    http: Sender,
    config: GitHubConfig,
}

#[derive(Debug, Deserialize)]
struct Issue {
    number: u64,
    html_url: String,
}

impl GitHub {
    pub(crate) fn new(http: Sender, config: GitHubConfig) -> Self {
        Self { http, config }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let GitHubConfig { api, owner, repo, token, .. } = &self.config;
        self.http
            .client()
            .request(method, format!("{api}/repos/{owner}/{repo}/issues{path}"))
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION)
            .bearer_auth(token.expose_secret())
    }

    fn external(&self, issue: Issue) -> Result<ExternalTicket, TicketError> {
        let key = format!("{}/{}#{}", self.config.owner, self.config.repo, issue.number);
        render::external(KIND, &key, Some(issue.html_url))
    }

    /// The issue number in a stored key `owner/repo#1347`.
    fn number(external: &ExternalTicket) -> Result<u64, TicketError> {
        let key = external.key.as_str();
        key.rsplit_once('#')
            .and_then(|(_, n)| n.parse().ok())
            .ok_or_else(|| TicketError::Invalid(format!("{key} is not a GitHub issue key")))
    }

    async fn patch(&self, op: &'static str, external: &ExternalTicket, body: Value) -> Result<(), TicketError> {
        let path = format!("/{}", Self::number(external)?);
        self.http.send(op, || self.request(Method::PATCH, &path).json(&body)).await.map(drop)
    }
}

#[async_trait]
impl TicketSystem for GitHub {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn find(&self, ticket: TicketNumber) -> Result<Option<ExternalTicket>, TicketError> {
        let label = label(ticket);
        let params = [("labels", label.as_str()), ("state", "all"), ("per_page", "1")];
        let response = self.http.send("find", || self.request(Method::GET, "").query(&params)).await?;
        let found = self.http.json::<Vec<Issue>>("find", response).await?.into_iter().next();
        found.map(|issue| self.external(issue)).transpose()
    }

    async fn open(&self, incident: &Incident, _event: &TimelineEvent) -> Result<ExternalTicket, TicketError> {
        let body = json!({
            "title": render::summary(incident),
            "body": markdown(&render::description(incident)),
            "labels": ["flare", label(incident.ticket)],
        });
        let build = || self.request(Method::POST, "").json(&body);
        match self.http.create("open", build, || self.find(incident.ticket)).await? {
            Created::Found(found) => Ok(found),
            Created::Response(response) => self.external(self.http.json::<Issue>("open", response).await?),
        }
    }

    async fn comment(
        &self,
        external: &ExternalTicket,
        incident: &Incident,
        event: &TimelineEvent,
    ) -> Result<(), TicketError> {
        let path = format!("/{}/comments", Self::number(external)?);
        let body = json!({ "body": markdown(&render::event(incident, event)) });
        self.http.send("comment", || self.request(Method::POST, &path).json(&body)).await.map(drop)
    }

    async fn resolve(
        &self,
        external: &ExternalTicket,
        incident: &Incident,
        event: &TimelineEvent,
    ) -> Result<(), TicketError> {
        self.patch("resolve", external, json!({ "state": "closed", "state_reason": "completed" })).await?;
        self.comment(external, incident, event).await
    }

    async fn reopen(
        &self,
        external: &ExternalTicket,
        incident: &Incident,
        event: &TimelineEvent,
    ) -> Result<(), TicketError> {
        self.patch("reopen", external, json!({ "state": "open", "state_reason": "reopened" })).await?;
        self.comment(external, incident, event).await
    }
}

/// `flare:INC-1042`: the label that finds our issue again.
fn label(ticket: TicketNumber) -> String {
    format!("flare:{ticket}")
}

/// Paragraphs of user text as inert Markdown.
fn markdown(paragraphs: &[String]) -> String {
    let text = paragraphs.join("\n\n");
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // A mention is '@' directly followed by a name; a zero-width space in between keeps it text.
            '@' => out.push_str("@\u{200B}"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '!' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_cannot_mention_embed_or_inject_html() {
        let out = markdown(&["@here ![x](http://evil/p.png) <script>alert(1)</script>".into()]);
        assert_eq!(out, "@\u{200B}here \\!\\[x\\]\\(http://evil/p.png\\) &lt;script&gt;alert\\(1\\)&lt;/script&gt;");
    }
}
