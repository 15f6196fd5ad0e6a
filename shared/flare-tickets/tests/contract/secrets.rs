//! Secrets stay out of Debug output and error messages.

use std::error::Error;
use std::time::Duration;

use flare_core::EventKind;
use flare_core::config::Env;
use flare_core::sync_ticket;
use flare_tickets::TicketsConfig;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

/// An error and all its sources, as Display and Debug.
fn everything_said(e: &dyn Error) -> String {
    let mut said = format!("{e} {e:?}");
    let mut source = e.source();
    while let Some(s) = source {
        said.push_str(&format!(" {s} {s:?}"));
        source = s.source();
    }
    said
}

#[test]
fn configuration_debug_output_shows_no_secret() {
    let lookup = |name: &str| {
        let v = match name {
            "FLARE_TICKETS" => "servicenow",
            "FLARE_SERVICENOW_URL" => "https://acme.service-now.com",
            "FLARE_SERVICENOW_USER" => "flare",
            "FLARE_SERVICENOW_PASSWORD" => "sn-pa55word",
            _ => return None,
        };
        Some(v.to_string())
    };
    let config = TicketsConfig::from_env(&Env::from_lookup(lookup)).unwrap().unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("sn-pa55word"), "{debug}");
    assert!(debug.contains("flare"), "{debug}");
}

#[tokio::test]
async fn an_unauthorized_error_names_no_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(403)).mount(&server).await;

    let e = github(&server).open(&incident(), &event(EventKind::Opened, None)).await.unwrap_err();

    let said = everything_said(&e);
    assert!(!said.contains("ghp_s3cret"), "{said}");
    assert_eq!(e.to_string(), "the ticketing system refused Flare's credentials (HTTP 403)");
}

#[tokio::test]
async fn a_timeout_error_names_neither_the_secret_nor_the_webhook_url() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;

    let e = sync_ticket(&*webhook(&server), &incident(), &event(EventKind::Opened, None)).await.unwrap_err();

    let said = everything_said(&e);
    assert!(!said.contains(WEBHOOK_SECRET), "{said}");
    assert!(!said.contains("/hooks/flare"), "{said}");
}
