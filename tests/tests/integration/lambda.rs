//! The Lambda path: API Gateway HTTP API events from `events/` go through `lambda_http`'s own decoding into
//! the same routers the intake and dashboard functions run, over DynamoDB Local. A monitoring tool opens,
//! updates and resolves an incident; the dashboard then shows it with its timeline.

use axum::Router;
use flare_core::text::{PersonName, SystemName};
use flare_core::{ApiKey, ApiKeyHash, IncidentService, Scope, System};
use flare_http::{AppState, HttpConfig};
use http::StatusCode;
use serde_json::Value;
use tower::ServiceExt;

use crate::support::{self, NOW};

/// The test token in the write events' `Authorization` header (see events/README.md).
const EVENT_TOKEN: &str = "fk_0000feedbeef.7e5d0c1b2a3948576f6e5d4c3b2a19087e5d0c1b2a3948576f6e5d4c3b2a1908";

async fn feed(router: &Router, event: &str) -> (StatusCode, Value) {
    let path = format!("{}/../events/{event}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let request =
        lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{event} is not an API Gateway event: {e}"));
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("{event}: not JSON: {}", String::from_utf8_lossy(&body)));
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitoring_tool_opens_updates_and_resolves_an_incident_through_the_lambda_routers() {
    let backend = support::dynamodb().await;
    let (mut key, _) =
        ApiKey::generate(PersonName::parse("name", "monitoring").unwrap(), vec![Scope::IncidentsWrite], NOW);
    key.hash = ApiKeyHash::of_token(EVENT_TOKEN);
    key.id = "fk_0000feedbeef".into();
    backend.store.create_api_key(&key).await.unwrap();
    put_vpn(&backend).await;
    let service = IncidentService::new(backend.store.clone(), backend.clock.clone());
    let state = AppState::new(service, HttpConfig { public_reads: true, ..HttpConfig::default() });
    let intake = flare_http::intake_router(state.clone());
    let dashboard = flare_http::dashboard_router(state);

    let (status, opened) = feed(&intake, "apigw-open-incident.json").await;
    assert_eq!(status, StatusCode::CREATED, "{opened}");
    assert_eq!(opened["ticket"], "INC-1");
    let (status, replay) = feed(&intake, "apigw-open-incident.json").await;
    assert_eq!(status, StatusCode::CREATED, "the same Idempotency-Key answers as the first time: {replay}");
    assert_eq!(replay["ticket"], "INC-1");

    let (status, updated) = feed(&intake, "apigw-update-incident.json").await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    let (status, resolved) = feed(&intake, "apigw-resolve-incident.json").await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["version"], 3);

    let (status, list) = feed(&dashboard, "apigw-list-incidents.json").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let incidents = list["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{list}");
    assert_eq!(incidents[0]["ticket"], "INC-1");
    assert_eq!(incidents[0]["status"], "resolved");
    assert_eq!(incidents[0]["started_at"], "2026-11-22T09:10:00Z");
    assert_eq!(incidents[0]["resolved_at"], "2026-11-22T10:05:00Z");

    let (status, one) = feed(&dashboard, "apigw-get-incident.json").await;
    assert_eq!(status, StatusCode::OK, "{one}");
    let kinds: Vec<_> = one["timeline"].as_array().unwrap().iter().map(|e| e["kind"].clone()).collect();
    assert_eq!(kinds, ["opened", "updated", "resolved"]);
    // The sample read carries no credentials and reads are public: the public sees what kind of caller acted,
    // not which key it was.
    let public_actor = serde_json::json!({"kind": "api_key", "name": "An integration"});
    assert!(one["timeline"].as_array().unwrap().iter().all(|e| e["actor"] == public_actor), "{one}");
    assert!(!one.to_string().contains("monitoring"), "{one}");
}

/// The sample open event as it arrives through the SSO endpoint: the Authorization header carries the identity
/// provider's token, not an API key, and API Gateway's JWT authorizer has written the claims it verified into
/// the request context. `claims: None` is the same request that never met an authorizer.
fn sso_open_event(claims: Option<Value>) -> String {
    let path = format!("{}/../events/apigw-open-incident.json", env!("CARGO_MANIFEST_DIR"));
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    event["headers"]["authorization"] = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIwMHUxYTJiMyJ9.c2lnbmF0dXJl".into();
    if let Some(claims) = claims {
        event["requestContext"]["authorizer"] = serde_json::json!({ "jwt": { "claims": claims, "scopes": null } });
    }
    event.to_string()
}

/// Puts the VPN system, which the tests' incidents affect, into the catalog.
async fn put_vpn(backend: &support::Backend) {
    let vpn = System {
        id: support::system("vpn"),
        name: SystemName::parse("name", "Remote access VPN").unwrap(),
        owner: None,
        owner_email: None,
    };
    backend.store.put_system(&vpn).await.unwrap();
}

/// The intake router as the intake function runs it, with the SSO glue, over SQLite with the VPN system.
async fn sso_intake(backend: &support::Backend) -> Router {
    put_vpn(backend).await;
    let state = AppState::new(backend.service(), HttpConfig::default());
    flare_aws::lambda::SsoConfig::default().layer(flare_http::intake_router(state))
}

async fn send(router: &Router, event: &str) -> (StatusCode, Value) {
    let request = lambda_http::request::from_str(event).expect("an API Gateway event");
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_caller_the_sso_authorizer_verified_opens_an_incident_in_their_own_name() {
    let backend = support::sqlite().await;
    let intake = sso_intake(&backend).await;
    let claims =
        serde_json::json!({ "sub": "00u1a2b3", "name": "Dana Agent", "scope": "openid flare/incidents:write" });
    let (status, opened) = send(&intake, &sso_open_event(Some(claims))).await;
    assert_eq!(status, StatusCode::CREATED, "{opened}");
    let ticket = flare_core::TicketNumber::parse("ticket", opened["ticket"].as_str().unwrap()).unwrap();
    let timeline = backend.store.timeline(ticket).await.unwrap();
    let actor = &timeline[0].actor;
    assert_eq!((actor.id.as_str(), actor.name.as_str()), ("sso:00u1a2b3", "Dana Agent"));
}

#[tokio::test]
async fn claims_that_did_not_come_through_the_authorizer_are_not_trusted() {
    let backend = support::sqlite().await;
    let intake = sso_intake(&backend).await;
    // The same token and claims, but in headers a caller controls, and no authorizer in the request context.
    let mut event: Value = serde_json::from_str(&sso_open_event(None)).unwrap();
    event["headers"]["x-amzn-oidc-data"] = "eyJzdWIiOiIwMHUxYTJiMyIsInNjb3BlIjoiYWRtaW4ifQ".into();
    event["headers"]["x-jwt-claims"] = r#"{"sub": "00u1a2b3", "scope": "admin"}"#.into();
    let (status, body) = send(&intake, &event.to_string()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(backend.store.list_open().await.unwrap().is_empty(), "nothing was opened");
}
