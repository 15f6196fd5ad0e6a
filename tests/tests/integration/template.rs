//! The SAM template agrees with the code: it declares the table the store defines (same keys, indexes, stream
//! and TTL; `flare_aws::schema::table_definition` is the one source), and API Gateway sends every route to the
//! function whose router serves it.

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Body;
use flare_http::{AppState, HttpConfig};
use http::{Request, StatusCode};
use tower::ServiceExt;
use yaml_rust2::{Yaml, YamlLoader};

use crate::support;

fn template() -> Yaml {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    let text = std::fs::read_to_string(path).expect("infra/template.yaml");
    YamlLoader::load_from_str(&text).expect("the template is YAML").remove(0)
}

fn key_schema(keys: &Yaml) -> Vec<(String, String)> {
    let keys = keys.as_vec().expect("a KeySchema list");
    keys.iter()
        .map(|k| (k["AttributeName"].as_str().unwrap().to_string(), k["KeyType"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn the_template_declares_the_table_the_store_defines() {
    let def = flare_aws::schema::table_definition();
    let doc = template();
    let table = &doc["Resources"]["Table"];
    assert_eq!(table["Type"].as_str(), Some("AWS::DynamoDB::Table"));
    let props = &table["Properties"];

    assert_eq!(props["BillingMode"].as_str(), Some(def.billing_mode));
    assert_eq!(
        key_schema(&props["KeySchema"]),
        vec![(def.partition_key.to_string(), "HASH".to_string()), (def.sort_key.to_string(), "RANGE".to_string())]
    );

    let declared: BTreeSet<(String, String)> = props["AttributeDefinitions"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| (a["AttributeName"].as_str().unwrap().into(), a["AttributeType"].as_str().unwrap().into()))
        .collect();
    let defined: BTreeSet<(String, String)> =
        def.attributes.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    assert_eq!(declared, defined, "AttributeDefinitions");

    let indexes = props["GlobalSecondaryIndexes"].as_vec().unwrap();
    assert_eq!(indexes.len(), def.indexes.len(), "number of GSIs");
    for index in &def.indexes {
        let declared = indexes
            .iter()
            .find(|i| i["IndexName"].as_str() == Some(index.name))
            .unwrap_or_else(|| panic!("the template lacks GSI {}", index.name));
        assert_eq!(
            key_schema(&declared["KeySchema"]),
            vec![(index.partition_key.into(), "HASH".into()), (index.sort_key.into(), "RANGE".into())],
            "keys of GSI {}",
            index.name
        );
        assert_eq!(declared["Projection"]["ProjectionType"].as_str(), Some(index.projection), "{}", index.name);
    }

    assert_eq!(props["StreamSpecification"]["StreamViewType"].as_str(), Some(def.stream_view_type));
    assert_eq!(props["TimeToLiveSpecification"]["AttributeName"].as_str(), Some(def.ttl_attribute));
    assert_eq!(props["TimeToLiveSpecification"]["Enabled"].as_bool(), Some(true));
}

/// (function, method, path) of every HttpApi event in the template.
fn template_routes(doc: &Yaml) -> Vec<(String, String, String)> {
    let mut routes = Vec::new();
    for (name, resource) in doc["Resources"].as_hash().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let Some(events) = resource["Properties"]["Events"].as_hash() else { continue };
        for event in events.values().filter(|e| e["Type"].as_str() == Some("HttpApi")) {
            let props = &event["Properties"];
            let method = props["Method"].as_str().unwrap().to_uppercase();
            let path = props["Path"].as_str().unwrap().to_string();
            routes.push((name.as_str().unwrap().to_string(), method, path));
        }
    }
    routes
}

/// Whether an API Gateway route path (with `{param}` segments) matches a concrete path.
fn matches(pattern: &str, path: &str) -> bool {
    let (p, c): (Vec<_>, Vec<_>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == c.len() && p.iter().zip(&c).all(|(p, c)| (p.starts_with('{') && p.ends_with('}')) || p == c)
}

/// Whether `router` has a route for this method and path (any answer but "no such route" or 405).
async fn serves(router: &Router, method: &str, path: &str) -> bool {
    let request = Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        return false;
    }
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    !String::from_utf8_lossy(&body).contains("no such route")
}

#[tokio::test]
async fn api_gateway_sends_every_route_to_the_function_that_serves_it() {
    let backend = support::sqlite().await;
    let state = AppState::new(backend.service(), HttpConfig::default());
    let functions = [
        ("IntakeFunction", flare_http::intake_router(state.clone())),
        ("DashboardFunction", flare_http::dashboard_router(state)),
    ];
    let declared = template_routes(&template());
    for (method, route) in flare_http::ROUTES {
        let path = route.replace("{ticket}", "INC-1");
        let targets: Vec<_> = declared.iter().filter(|(_, m, p)| m == method && matches(p, &path)).collect();
        assert_eq!(targets.len(), 1, "{method} {route} must be routed to exactly one function: {targets:?}");
        let function = &targets[0].0;
        let (_, router) = functions.iter().find(|(name, _)| name == function).unwrap();
        assert!(serves(router, method, &path).await, "{method} {route} goes to {function}, which does not serve it");
    }
    for (function, method, pattern) in &declared {
        let known =
            flare_http::ROUTES.iter().any(|(m, r)| m == method && matches(pattern, &r.replace("{ticket}", "INC-1")));
        assert!(known, "{function} declares {method} {pattern}, which no router serves");
    }
}
