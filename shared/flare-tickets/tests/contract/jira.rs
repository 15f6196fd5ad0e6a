//! Jira Cloud REST v3.

use flare_core::EventKind;
use flare_core::sync_ticket;
use serde_json::{Value, json};
use wiremock::matchers::{basic_auth, body_json, body_partial_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

async fn search(server: &MockServer, issues: Value) {
    Mock::given(method("GET"))
        .and(path("/rest/api/3/search/jql"))
        .and(query_param("jql", "labels = \"flare-INC-1042\""))
        .and(query_param("fields", "key"))
        .and(query_param("maxResults", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "issues": issues, "isLast": true })))
        .mount(server)
        .await;
}

async fn transitions(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/OPS-24/transitions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "transitions": [
            { "id": "11", "name": "To Do", "to": { "name": "To Do", "statusCategory": { "key": "new" } } },
            { "id": "31", "name": "Done", "to": { "name": "Done", "statusCategory": { "key": "done" } } },
        ]})))
        .mount(server)
        .await;
}

async fn comments(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/OPS-24/comment"))
        .and(body_partial_json(json!({ "body": { "type": "doc", "version": 1 } })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "id": "10000" })))
        .expect(1)
        .mount(server)
        .await;
}

async fn transition_to(server: &MockServer, id: &str) {
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/OPS-24/transitions"))
        .and(body_json(json!({ "transition": { "id": id } })))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn opening_creates_an_issue_labelled_with_our_number_and_an_adf_description() {
    let server = MockServer::start().await;
    search(&server, json!([])).await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .and(basic_auth("flare@acme.example", "jira-t0ken"))
        .and(body_partial_json(json!({ "fields": {
            "project": { "key": "OPS" },
            "issuetype": { "name": "Incident" },
            "summary": "[INC-1042] VPN down",
            "labels": ["flare", "flare-INC-1042"],
            "description": { "type": "doc", "version": 1 },
        }})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "id": "10000", "key": "OPS-24", "self": "x" })))
        .expect(1)
        .mount(&server)
        .await;

    let got = sync_ticket(&*jira(&server), &incident(), &event(EventKind::Opened, None)).await.unwrap().unwrap();

    assert_eq!((got.system.as_str(), got.key.as_str()), ("jira", "OPS-24"));
    assert_eq!(got.url.unwrap().as_str(), format!("{}/browse/OPS-24", server.uri()));
    let sent: Value = requests(&server, "POST", "/rest/api/3/issue").await[0].body_json().unwrap();
    let first = &sent["fields"]["description"]["content"][0]["content"];
    assert_eq!(first[0], json!({ "type": "text", "text": "No one can connect." }));
    assert_eq!(first[2], json!({ "type": "text", "text": "Ping @ops <b>now</b>" }));
}

#[tokio::test]
async fn a_redelivered_open_finds_the_issue_by_label_and_creates_nothing() {
    let server = MockServer::start().await;
    search(&server, json!([{ "id": "10000", "key": "OPS-24" }])).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;

    let got = sync_ticket(&*jira(&server), &incident(), &event(EventKind::Opened, None)).await.unwrap().unwrap();

    assert_eq!(got.key.as_str(), "OPS-24");
}

#[tokio::test]
async fn a_note_becomes_an_adf_comment() {
    let server = MockServer::start().await;
    comments(&server).await;

    let note = event(EventKind::Note, Some("Vendor engaged"));
    sync_ticket(&*jira(&server), &ticketed("jira", "OPS-24"), &note).await.unwrap();

    let sent: Value = requests(&server, "POST", "/rest/api/3/issue/OPS-24/comment").await[0].body_json().unwrap();
    assert_eq!(sent["body"]["content"][1]["content"][0]["text"], "Vendor engaged");
}

#[tokio::test]
async fn resolving_runs_the_configured_done_transition_then_comments() {
    let server = MockServer::start().await;
    transitions(&server).await;
    transition_to(&server, "31").await;
    comments(&server).await;

    let resolved = event(EventKind::Resolved, Some("Fixed"));
    sync_ticket(&*jira(&server), &ticketed("jira", "OPS-24"), &resolved).await.unwrap();

    let issue = "/rest/api/3/issue/OPS-24";
    let expected = [
        call("GET", &format!("{issue}/transitions")),
        call("POST", &format!("{issue}/transitions")),
        call("POST", &format!("{issue}/comment")),
    ];
    assert_eq!(calls(&server).await, expected, "transitioned first, then commented");
}

#[tokio::test]
async fn resolving_an_issue_already_done_transitions_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/OPS-24/transitions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "transitions": [
            { "id": "11", "name": "To Do", "to": { "name": "To Do" } },
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/OPS-24"))
        .and(query_param("fields", "status"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "key": "OPS-24", "fields": {
            "status": { "name": "Done", "statusCategory": { "key": "done" } }
        }})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/OPS-24/transitions"))
        .respond_with(ResponseTemplate::new(204))
        .expect(0)
        .mount(&server)
        .await;
    comments(&server).await;

    let resolved = event(EventKind::Resolved, Some("Fixed"));
    sync_ticket(&*jira(&server), &ticketed("jira", "OPS-24"), &resolved).await.unwrap();
}

#[tokio::test]
async fn reopening_runs_the_configured_reopen_transition() {
    let server = MockServer::start().await;
    transitions(&server).await;
    transition_to(&server, "11").await;
    comments(&server).await;

    let reopened = event(EventKind::Reopened, Some("Back again"));
    sync_ticket(&*jira(&server), &ticketed("jira", "OPS-24"), &reopened).await.unwrap();
}
