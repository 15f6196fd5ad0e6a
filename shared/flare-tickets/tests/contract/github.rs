//! GitHub Issues REST API.

use flare_core::EventKind;
use flare_core::sync_ticket;
use serde_json::{Value, json};
use wiremock::matchers::{bearer_token, body_json, body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

const ISSUES: &str = "/repos/octo/ops/issues";

fn issue() -> Value {
    json!({ "id": 1, "number": 1347, "state": "open", "html_url": "https://github.com/octo/ops/issues/1347" })
}

async fn listing(server: &MockServer, issues: Value) {
    Mock::given(method("GET"))
        .and(path(ISSUES))
        .and(query_param("labels", "flare:INC-1042"))
        .and(query_param("state", "all"))
        .and(query_param("per_page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(issues))
        .mount(server)
        .await;
}

async fn comments(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(format!("{ISSUES}/1347/comments")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "id": 1 })))
        .expect(1)
        .mount(server)
        .await;
}

async fn patch(server: &MockServer, body: Value) {
    Mock::given(method("PATCH"))
        .and(path(format!("{ISSUES}/1347")))
        .and(body_json(body))
        .respond_with(ResponseTemplate::new(200).set_body_json(issue()))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn opening_creates_an_issue_labelled_with_our_number_with_the_documented_headers() {
    let server = MockServer::start().await;
    listing(&server, json!([])).await;
    Mock::given(method("POST"))
        .and(path(ISSUES))
        .and(header("Accept", "application/vnd.github+json"))
        .and(header("X-GitHub-Api-Version", "2022-11-28"))
        .and(bearer_token("ghp_s3cret"))
        .and(body_partial_json(json!({ "title": "[INC-1042] VPN down", "labels": ["flare", "flare:INC-1042"] })))
        .respond_with(ResponseTemplate::new(201).set_body_json(issue()))
        .expect(1)
        .mount(&server)
        .await;

    let got = sync_ticket(&*github(&server), &incident(), &event(EventKind::Opened, None)).await.unwrap().unwrap();

    assert_eq!((got.system.as_str(), got.key.as_str()), ("github", "octo/ops#1347"));
    assert_eq!(got.url.unwrap().as_str(), "https://github.com/octo/ops/issues/1347");
    let created = &requests(&server, "POST", ISSUES).await[0];
    assert!(created.headers.get("user-agent").is_some());
    let body: Value = created.body_json().unwrap();
    let text = body["body"].as_str().unwrap();
    assert!(text.contains("Ping @\u{200B}ops &lt;b&gt;now&lt;/b&gt;"), "{text}");
}

#[tokio::test]
async fn a_redelivered_open_finds_the_issue_by_label_and_creates_nothing() {
    let server = MockServer::start().await;
    listing(&server, json!([issue()])).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;

    let got = sync_ticket(&*github(&server), &incident(), &event(EventKind::Opened, None)).await.unwrap().unwrap();

    assert_eq!(got.key.as_str(), "octo/ops#1347");
}

#[tokio::test]
async fn an_update_becomes_an_issue_comment() {
    let server = MockServer::start().await;
    comments(&server).await;

    let update = event(EventKind::Updated, Some("Failover started"));
    sync_ticket(&*github(&server), &ticketed("github", "octo/ops#1347"), &update).await.unwrap();

    let sent: Value = requests(&server, "POST", &format!("{ISSUES}/1347/comments")).await[0].body_json().unwrap();
    assert!(sent["body"].as_str().unwrap().contains("Failover started"));
}

#[tokio::test]
async fn resolving_closes_the_issue_as_completed_then_comments() {
    let server = MockServer::start().await;
    patch(&server, json!({ "state": "closed", "state_reason": "completed" })).await;
    comments(&server).await;

    let resolved = event(EventKind::Resolved, Some("Fixed"));
    sync_ticket(&*github(&server), &ticketed("github", "octo/ops#1347"), &resolved).await.unwrap();

    let expected = [call("PATCH", &format!("{ISSUES}/1347")), call("POST", &format!("{ISSUES}/1347/comments"))];
    assert_eq!(calls(&server).await, expected, "closed first, then commented");
}

#[tokio::test]
async fn reopening_opens_the_issue_again() {
    let server = MockServer::start().await;
    patch(&server, json!({ "state": "open", "state_reason": "reopened" })).await;
    comments(&server).await;

    let reopened = event(EventKind::Reopened, Some("Back again"));
    sync_ticket(&*github(&server), &ticketed("github", "octo/ops#1347"), &reopened).await.unwrap();
}
