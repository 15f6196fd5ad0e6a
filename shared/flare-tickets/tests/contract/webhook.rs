//! The generic signed webhook.

use flare_core::EventKind;
use flare_core::sync_ticket;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::*;

async fn receiver(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/hooks/flare"))
        .and(header("Content-Type", "application/json"))
        .respond_with(ResponseTemplate::new(204))
        .mount(server)
        .await;
}

fn header_of<'a>(request: &'a Request, name: &str) -> &'a str {
    request.headers.get(name).unwrap().to_str().unwrap()
}

#[tokio::test]
async fn opening_posts_a_body_whose_signature_verifies_with_the_shared_secret() {
    let server = MockServer::start().await;
    receiver(&server).await;

    let now = time::macros::datetime!(2026-11-30 12:00 UTC);
    let got =
        sync_ticket(&*webhook_at(&server, now), &incident(), &event(EventKind::Opened, None)).await.unwrap().unwrap();
    assert_eq!((got.system.as_str(), got.key.as_str(), got.url), ("webhook", "INC-1042", None));

    let sent = &requests(&server, "POST", "/hooks/flare").await[0];
    let timestamp = header_of(sent, "X-Flare-Timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&sent.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(header_of(sent, "X-Flare-Signature"), expected);
    assert_eq!(timestamp, now.unix_timestamp().to_string(), "stamped by the injected clock");

    let body: Value = sent.body_json().unwrap();
    assert_eq!(body["event"], "opened");
    assert_eq!(body["ticket"], "INC-1042");
    assert_eq!(body["incident"]["title"], "VPN down");
    assert_eq!(body["timeline_event"]["kind"], "opened");
    assert_eq!(header_of(sent, "X-Flare-Delivery"), "INC-1042:2");
}

#[tokio::test]
async fn a_tampered_body_does_not_verify() {
    let server = MockServer::start().await;
    receiver(&server).await;
    sync_ticket(&*webhook(&server), &incident(), &event(EventKind::Opened, None)).await.unwrap();

    let sent = &requests(&server, "POST", "/hooks/flare").await[0];
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{}.", header_of(sent, "X-Flare-Timestamp")).as_bytes());
    mac.update(&[sent.body.as_slice(), b" "].concat());
    let signature = header_of(sent, "X-Flare-Signature").trim_start_matches("sha256=");
    assert!(mac.verify_slice(&hex::decode(signature).unwrap()).is_err());
}

#[tokio::test]
async fn each_later_event_posts_its_own_event_name() {
    for (kind, name) in
        [(EventKind::Updated, "updated"), (EventKind::Resolved, "resolved"), (EventKind::Reopened, "reopened")]
    {
        let server = MockServer::start().await;
        receiver(&server).await;
        sync_ticket(&*webhook(&server), &ticketed("webhook", "INC-1042"), &event(kind, Some("words"))).await.unwrap();
        let sent = &requests(&server, "POST", "/hooks/flare").await;
        assert_eq!(sent.len(), 1, "{name}");
        assert_eq!(sent[0].body_json::<Value>().unwrap()["event"], name);
        assert_eq!(header_of(&sent[0], "X-Flare-Event"), name);
    }
}
