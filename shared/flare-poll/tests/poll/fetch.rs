//! The fetch policy against a real server: redirects to the metadata address, the size cap.

use std::time::Duration;

use flare_poll::fetch::{FetchError, FetchPolicy, FetchRequest, Fetcher, Refusal, TrustRoots};
use url::Url;

use crate::support::FixtureServer;

fn policy(deny_private: bool) -> FetchPolicy {
    FetchPolicy {
        timeout: Duration::from_secs(5),
        max_bytes: 1024,
        allowed_hosts: vec!["127.0.0.1".into(), "localhost".into()],
        deny_private,
        ..FetchPolicy::default()
    }
}

#[tokio::test]
async fn a_redirect_to_the_metadata_address_is_refused_when_the_deny_list_is_on() {
    let server = FixtureServer::start().await;
    let url = Url::parse(&server.url("/to-metadata")).unwrap();

    let e = Fetcher::new(policy(true)).unwrap().fetch(FetchRequest::get(&url)).await.unwrap_err();

    assert!(matches!(&e, FetchError::Refused(Refusal::Denied { host, .. }) if host == "169.254.169.254"), "{e:?}");
}

#[tokio::test]
async fn a_redirect_to_another_allowed_host_is_followed() {
    let server = FixtureServer::start().await;
    server.set_sheet("Timestamp,Action\n");
    let url = Url::parse(&server.url("/export")).unwrap();

    let got = Fetcher::new(policy(true)).unwrap().fetch(FetchRequest::get(&url)).await.unwrap();

    assert_eq!(got.body, b"Timestamp,Action\n");
}

#[tokio::test]
async fn a_fetcher_trusting_the_compiled_in_roots_fetches_and_follows_the_policy_as_the_platforms_does() {
    let server = FixtureServer::start().await;
    server.set_sheet("Timestamp,Action\n");
    let public = Fetcher::new(FetchPolicy { roots: TrustRoots::Public, ..policy(true) }).unwrap();

    let got = public.fetch(FetchRequest::get(&Url::parse(&server.url("/export")).unwrap())).await.unwrap();
    let e = public.fetch(FetchRequest::get(&Url::parse(&server.url("/to-metadata")).unwrap())).await.unwrap_err();

    assert_eq!(got.body, b"Timestamp,Action\n");
    assert!(matches!(&e, FetchError::Refused(Refusal::Denied { .. })), "{e:?}");
}

#[tokio::test]
async fn a_body_over_the_size_cap_is_refused() {
    let server = FixtureServer::start().await;
    let url = Url::parse(&server.url("/big")).unwrap();

    let e = Fetcher::new(policy(false)).unwrap().fetch(FetchRequest::get(&url)).await.unwrap_err();

    assert!(matches!(e, FetchError::TooLarge { max: 1024 }), "{e:?}");
}

#[tokio::test]
async fn a_failed_fetch_never_shows_the_sheets_address() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = Url::parse(&format!("http://127.0.0.1:{port}/spreadsheets/d/e/SECRET-TOKEN/pub?output=csv")).unwrap();

    let e = Fetcher::new(policy(false)).unwrap().fetch(FetchRequest::get(&url)).await.unwrap_err();

    let chain = flare_core::error_chain(&e);
    assert!(matches!(e, FetchError::Request(_)), "{chain}");
    assert!(!chain.contains("SECRET-TOKEN"), "{chain}");
}
