//! The OpenAPI document, `ROUTES` and the routers agree.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;

use crate::support::TestApp;

fn document() -> Value {
    serde_json::from_str(flare_http::OPENAPI_JSON).unwrap()
}

fn documented() -> BTreeSet<(String, String)> {
    let doc = document();
    let mut set = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            set.insert((method.to_uppercase(), path.clone()));
        }
    }
    set
}

fn listed() -> BTreeSet<(String, String)> {
    flare_http::ROUTES.iter().map(|(m, p)| ((*m).to_string(), (*p).to_string())).collect()
}

#[test]
fn the_document_is_openapi_3_1() {
    assert_eq!(document()["openapi"], "3.1.0");
}

#[test]
fn every_route_is_documented_and_every_documented_route_is_listed() {
    let (documented, listed) = (documented(), listed());
    let undocumented: Vec<_> = listed.difference(&documented).collect();
    let unlisted: Vec<_> = documented.difference(&listed).collect();
    assert!(undocumented.is_empty(), "routes missing from openapi.json: {undocumented:?}");
    assert!(unlisted.is_empty(), "documented but not routed: {unlisted:?}");
}

#[test]
fn every_schema_reference_resolves() {
    let text = flare_http::OPENAPI_JSON;
    let doc = document();
    for part in text.split("\"$ref\": \"#/components/").skip(1) {
        let target = part.split('"').next().unwrap();
        let (kind, name) = target.split_once('/').unwrap();
        assert!(doc["components"][kind].get(name).is_some(), "dangling $ref {target}");
    }
}

#[tokio::test]
async fn the_router_serves_every_listed_route() {
    let app = TestApp::new().await;
    for (method, path) in flare_http::ROUTES {
        let uri = path.replace("{ticket}", "INC-1").replace("{id}", "vpn");
        let request = Request::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(&uri);
        let reply = app.send(request.body(Body::empty()).unwrap()).await;
        assert_ne!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is not routed");
        let fallback = reply.status == StatusCode::NOT_FOUND && reply.text().contains("no such route");
        assert!(!fallback, "{method} {path} fell through to the fallback");
    }
}

#[tokio::test]
async fn the_document_is_served_with_a_validator() {
    let app = TestApp::new().await;
    let reply = app.get("/api/openapi.json", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header("etag").is_some());
    assert_eq!(reply.json(), document());
}
