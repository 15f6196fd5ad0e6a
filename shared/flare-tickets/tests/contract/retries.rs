//! Retries, timeouts and status mapping, shared by every adapter (exercised here through GitHub and Jira).

use std::time::{Duration, Instant};

use flare_core::{EventKind, TicketError};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

const ISSUES: &str = "/repos/octo/ops/issues";
const COMMENTS: &str = "/repos/octo/ops/issues/1347/comments";

fn created() -> ResponseTemplate {
    ResponseTemplate::new(201)
        .set_body_json(json!({ "number": 1347, "html_url": "https://github.com/octo/ops/issues/1347" }))
}

async fn nothing_listed(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(ISSUES))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(server)
        .await;
}

async fn comment(server: &MockServer) -> Result<(), TicketError> {
    let incident = ticketed("github", "octo/ops#1347");
    github(server).comment(&external("github", "octo/ops#1347"), &incident, &event(EventKind::Note, Some("x"))).await
}

#[tokio::test]
async fn a_401_is_unauthorized_after_exactly_one_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({ "message": "Bad credentials" })))
        .mount(&server)
        .await;

    let e = github(&server).open(&incident(), &event(EventKind::Opened, None)).await.unwrap_err();

    assert!(matches!(e, TicketError::Unauthorized { status: 401 }), "{e:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_and_the_second_request_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(created()).mount(&server).await;

    let started = Instant::now();
    let got = github(&server).open(&incident(), &event(EventKind::Opened, None)).await.unwrap();

    assert_eq!(got.key.as_str(), "octo/ops#1347");
    assert!(started.elapsed() >= Duration::from_millis(950), "{:?}", started.elapsed());
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_ends_at_once_and_reports_the_wait() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .mount(&server)
        .await;

    let e = comment(&server).await.unwrap_err();

    assert_eq!(e.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn two_500s_then_201_creates_once_after_looking_before_each_retry() {
    let server = MockServer::start().await;
    nothing_listed(&server).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).up_to_n_times(2).mount(&server).await;
    Mock::given(method("POST")).respond_with(created()).mount(&server).await;

    let got = github(&server).open(&incident(), &event(EventKind::Opened, None)).await.unwrap();

    assert_eq!(got.key.as_str(), "octo/ops#1347");
    assert_eq!(requests(&server, "POST", ISSUES).await.len(), 3);
    assert_eq!(requests(&server, "GET", ISSUES).await.len(), 2);
}

#[tokio::test]
async fn a_create_that_timed_out_but_landed_is_found_instead_of_repeated() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(created().set_delay(Duration::from_secs(2))).mount(&server).await;
    Mock::given(method("GET"))
        .and(path(ISSUES))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
            "number": 1347, "html_url": "https://github.com/octo/ops/issues/1347"
        }])))
        .mount(&server)
        .await;

    let got = github(&server).open(&incident(), &event(EventKind::Opened, None)).await.unwrap();

    assert_eq!(got.key.as_str(), "octo/ops#1347");
    assert_eq!(requests(&server, "POST", ISSUES).await.len(), 1);
}

#[tokio::test]
async fn a_persistent_503_is_unavailable_after_the_configured_three_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).mount(&server).await;

    let e = comment(&server).await.unwrap_err();

    assert!(e.is_transient(), "{e:?}");
    assert_eq!(requests(&server, "POST", COMMENTS).await.len(), 3);
}

#[tokio::test]
async fn a_response_slower_than_the_timeout_is_retried_then_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;

    let started = Instant::now();
    let e = comment(&server).await.unwrap_err();

    assert!(matches!(e, TicketError::Unavailable { .. }), "{e:?}");
    assert_eq!(requests(&server, "POST", COMMENTS).await.len(), 3);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_rejected_request_carries_the_vendors_own_message_and_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/OPS-24/comment"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errorMessages": [], "errors": { "comment": "Comment body can not be empty!" }
        })))
        .mount(&server)
        .await;

    let incident = ticketed("jira", "OPS-24");
    let e = jira(&server)
        .comment(&external("jira", "OPS-24"), &incident, &event(EventKind::Note, Some("x")))
        .await
        .unwrap_err();

    match e {
        TicketError::Rejected { status, detail } => {
            assert_eq!(status, 400);
            assert_eq!(detail, "comment: Comment body can not be empty!");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}
