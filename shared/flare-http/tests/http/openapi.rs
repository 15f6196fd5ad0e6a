//! The generated OpenAPI document and the routers agree: every documented route is served, and a documented path
//! serves no method the document leaves out.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;

use crate::support::TestApp;

fn document() -> Value {
    serde_json::to_value(flare_http::openapi_document()).unwrap()
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

#[test]
fn the_document_is_openapi_3_1() {
    assert_eq!(document()["openapi"], "3.1.0");
}

#[test]
fn every_schema_reference_resolves() {
    let doc = document();
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/components/").skip(1) {
        let target = part.split('"').next().unwrap();
        let (kind, name) = target.split_once('/').unwrap();
        assert!(doc["components"][kind].get(name).is_some(), "dangling $ref {target}");
    }
}

#[tokio::test]
async fn the_router_serves_every_documented_route() {
    let app = TestApp::new().await;
    for (method, path) in &documented() {
        let uri = path.replace("{ticket}", "INC-1").replace("{id}", "vpn").replace("{token}", "x");
        let request = Request::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(&uri);
        let reply = app.send(request.body(Body::empty()).unwrap()).await;
        assert_ne!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is not routed");
        let fallback = reply.status == StatusCode::NOT_FOUND && reply.text().contains("no such route");
        assert!(!fallback, "{method} {path} fell through to the fallback");
    }
}

#[tokio::test]
async fn a_documented_path_serves_no_undocumented_method() {
    let app = TestApp::new().await;
    let documented = documented();
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if documented.contains(&(method.to_string(), path.clone())) {
                continue;
            }
            let uri = path.replace("{ticket}", "INC-1").replace("{id}", "vpn").replace("{token}", "x");
            let request = Request::builder().method(method).uri(&uri);
            let reply = app.send(request.body(Body::empty()).unwrap()).await;
            assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is served but not documented");
        }
    }
}

#[test]
fn every_operation_documents_its_statuses() {
    let doc = document();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{method} {path} documents no status");
        }
    }
}

#[test]
fn the_documented_limits_are_the_domains() {
    let doc = document();
    let open = &doc["components"]["schemas"]["OpenIncident"]["properties"];
    assert_eq!(open["title"]["maxLength"], flare_core::limits::TITLE_MAX);
    assert_eq!(open["description"]["maxLength"], flare_core::limits::DESCRIPTION_MAX);
    assert_eq!(open["systems"]["maxItems"], flare_core::limits::SYSTEMS_MAX);
    assert_eq!(open["notify_emails"]["maxItems"], flare_core::limits::NOTIFY_EMAILS_MAX);
    assert_eq!(open["engineer_email"]["format"], "email");
    assert_eq!(open["started_at"]["format"], "date-time");
}

#[test]
fn the_document_names_both_ways_to_authenticate() {
    let schemes = &document()["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");
}

#[tokio::test]
async fn the_document_is_served_with_a_validator() {
    let app = TestApp::new().await;
    let reply = app.get("/api/openapi.json", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header("etag").is_some());
    assert_eq!(reply.json(), document());
}
