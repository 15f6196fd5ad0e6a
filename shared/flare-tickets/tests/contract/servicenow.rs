//! ServiceNow Table API, `incident` table.

use flare_core::EventKind;
use flare_core::sync_ticket;
use serde_json::{Value, json};
use wiremock::matchers::{basic_auth, body_partial_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

const TABLE: &str = "/api/now/table/incident";

fn record() -> Value {
    json!({ "sys_id": SYS_ID, "number": "INC0010001" })
}

async fn lookup_by_correlation_id(server: &MockServer, result: Value) {
    Mock::given(method("GET"))
        .and(path(TABLE))
        .and(query_param("sysparm_query", "correlation_id=INC-1042"))
        .and(query_param("sysparm_limit", "1"))
        .and(query_param("sysparm_fields", "sys_id,number"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "result": result })))
        .mount(server)
        .await;
}

async fn lookup_by_number(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(TABLE))
        .and(query_param("sysparm_query", "number=INC0010001"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "result": [record()] })))
        .mount(server)
        .await;
}

async fn patched(server: &MockServer) {
    Mock::given(method("PATCH"))
        .and(path(format!("{TABLE}/{SYS_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "result": { "sys_id": SYS_ID } })))
        .expect(1)
        .mount(server)
        .await;
}

async fn patch_body(server: &MockServer) -> Value {
    let patches = requests(server, "PATCH", &format!("{TABLE}/{SYS_ID}")).await;
    assert_eq!(patches.len(), 1);
    patches[0].body_json().unwrap()
}

#[tokio::test]
async fn opening_creates_an_incident_correlated_by_our_number_and_stores_its_number_and_url() {
    let server = MockServer::start().await;
    lookup_by_correlation_id(&server, json!([])).await;
    Mock::given(method("POST"))
        .and(path(TABLE))
        .and(basic_auth("flare", "sn-pa55word"))
        .and(body_partial_json(json!({
            "short_description": "VPN down",
            "urgency": "1",
            "impact": "1",
            "correlation_id": "INC-1042",
            "correlation_display": "Flare",
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "result": record() })))
        .expect(1)
        .mount(&server)
        .await;

    let got = sync_ticket(&*servicenow(&server), &incident(), &event(EventKind::Opened, None)).await.unwrap().unwrap();

    assert_eq!(got.system.as_str(), "servicenow");
    assert_eq!(got.key.as_str(), "INC0010001");
    let url = format!("{}/nav_to.do?uri=incident.do?sys_id={SYS_ID}", server.uri());
    assert_eq!(got.url.unwrap().as_str(), url);
}

#[tokio::test]
async fn a_redelivered_open_finds_the_incident_by_correlation_id_and_creates_nothing() {
    let server = MockServer::start().await;
    lookup_by_correlation_id(&server, json!([record()])).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;

    let got = sync_ticket(&*servicenow(&server), &incident(), &event(EventKind::Opened, None)).await.unwrap().unwrap();

    assert_eq!(got.key.as_str(), "INC0010001");
}

#[tokio::test]
async fn an_update_is_added_as_work_notes_on_the_incident_found_by_its_number() {
    let server = MockServer::start().await;
    lookup_by_number(&server).await;
    patched(&server).await;

    let incident = ticketed("servicenow", "INC0010001");
    let update = event(EventKind::Updated, Some("Failover started [code]<b>x</b>[/code]"));
    assert_eq!(sync_ticket(&*servicenow(&server), &incident, &update).await.unwrap(), None);

    let notes = patch_body(&server).await["work_notes"].as_str().unwrap().to_string();
    assert!(notes.contains("Failover started [ code ]<b>x</b>[ /code ]"), "{notes}");
}

#[tokio::test]
async fn resolving_sets_state_6_with_a_close_code_and_the_message_as_close_notes() {
    let server = MockServer::start().await;
    lookup_by_number(&server).await;
    patched(&server).await;

    let resolved = event(EventKind::Resolved, Some("Replaced the faulty line card"));
    sync_ticket(&*servicenow(&server), &ticketed("servicenow", "INC0010001"), &resolved).await.unwrap();

    let body = patch_body(&server).await;
    assert_eq!(body["state"], "6");
    assert_eq!(body["close_code"], "Solution provided");
    assert!(body["close_notes"].as_str().unwrap().contains("Replaced the faulty line card"));
}

#[tokio::test]
async fn reopening_sets_state_2_in_progress() {
    let server = MockServer::start().await;
    lookup_by_number(&server).await;
    Mock::given(method("PATCH"))
        .and(path(format!("{TABLE}/{SYS_ID}")))
        .and(body_partial_json(json!({ "state": "2" })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "result": { "sys_id": SYS_ID } })))
        .expect(1)
        .mount(&server)
        .await;

    let reopened = event(EventKind::Reopened, Some("It is back"));
    sync_ticket(&*servicenow(&server), &ticketed("servicenow", "INC0010001"), &reopened).await.unwrap();
}
