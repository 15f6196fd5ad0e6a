//! Shared fixtures: an incident, its events, and adapters configured the way the dispatcher configures them.

use std::collections::HashMap;

use flare_core::config::Env;
use flare_core::test_util;
use flare_core::text::{ExternalId, Line, Message};
use flare_core::{
    Actor, Channel, EventKind, ExternalTicket, Incident, Severity, Source, TicketNumber, TicketSystem, TimelineEvent,
};
use time::macros::datetime;
use wiremock::{MockServer, Request};

/// Small retry settings, so that failing cases end quickly.
const FAST: [(&str, &str); 3] =
    [("FLARE_TICKETS_ATTEMPTS", "3"), ("FLARE_TICKETS_TIMEOUT_MS", "300"), ("FLARE_TICKETS_BACKOFF_MS", "10")];

pub const SYS_ID: &str = "9d385017c611228701d22104cc95c371";

pub fn adapter(vars: &[(&'static str, String)]) -> Box<dyn TicketSystem> {
    let map: HashMap<String, String> = FAST
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(vars.iter().map(|(k, v)| (k.to_string(), v.clone())))
        .collect();
    flare_tickets::from_env(&Env::from_lookup(move |name| map.get(name).cloned())).unwrap().unwrap()
}

pub fn servicenow(server: &MockServer) -> Box<dyn TicketSystem> {
    adapter(&[
        ("FLARE_TICKETS", "servicenow".into()),
        ("FLARE_SERVICENOW_URL", server.uri()),
        ("FLARE_SERVICENOW_USER", "flare".into()),
        ("FLARE_SERVICENOW_PASSWORD", "sn-pa55word".into()),
    ])
}

pub fn jira(server: &MockServer) -> Box<dyn TicketSystem> {
    adapter(&[
        ("FLARE_TICKETS", "jira".into()),
        ("FLARE_JIRA_URL", server.uri()),
        ("FLARE_JIRA_EMAIL", "flare@acme.example".into()),
        ("FLARE_JIRA_API_TOKEN", "jira-t0ken".into()),
        ("FLARE_JIRA_PROJECT", "OPS".into()),
        ("FLARE_JIRA_ISSUE_TYPE", "Incident".into()),
    ])
}

pub fn github(server: &MockServer) -> Box<dyn TicketSystem> {
    adapter(&[
        ("FLARE_TICKETS", "github".into()),
        ("FLARE_GITHUB_API_URL", server.uri()),
        ("FLARE_GITHUB_REPO", "octo/ops".into()),
        ("FLARE_GITHUB_TOKEN", "ghp_s3cret".into()),
    ])
}

pub const WEBHOOK_SECRET: &str = "whsec-0123456789abcdef";

pub fn webhook(server: &MockServer) -> Box<dyn TicketSystem> {
    adapter(&[
        ("FLARE_TICKETS", "webhook".into()),
        ("FLARE_WEBHOOK_URL", format!("{}/hooks/flare", server.uri())),
        ("FLARE_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
    ])
}

pub fn ticket() -> TicketNumber {
    TicketNumber::from_number(1042).unwrap()
}

pub fn incident() -> Incident {
    test_util::incident()
        .ticket(ticket().number())
        .description("No one can connect.\nPing @ops <b>now</b>")
        .severity(Severity::Sev1)
        .system("vpn")
        .source(Source::new(Channel::Form))
        .build()
}

/// The incident as it stands after its ticket was opened in `system` under `key`.
pub fn ticketed(system: &str, key: &str) -> Incident {
    Incident { external: Some(external(system, key)), ..incident() }
}

pub fn external(system: &str, key: &str) -> ExternalTicket {
    ExternalTicket {
        system: Line::parse("system", system).unwrap(),
        key: ExternalId::parse("key", key).unwrap(),
        url: None,
    }
}

pub fn event(kind: EventKind, message: Option<&str>) -> TimelineEvent {
    TimelineEvent {
        ticket: ticket(),
        seq: 2,
        at: datetime!(2026-11-22 09:30 UTC),
        actor: Actor::system("test"),
        kind,
        changes: vec![],
        message: message.map(|m| Message::parse("message", m).unwrap()),
        notify: true,
    }
}

/// The requests the server saw with this method and path.
pub async fn requests(server: &MockServer, method: &str, path: &str) -> Vec<Request> {
    let all = server.received_requests().await.unwrap();
    all.into_iter().filter(|r| r.method.as_str() == method && r.url.path() == path).collect()
}
