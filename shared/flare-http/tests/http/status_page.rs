//! The status page's revalidation and its script: what the page's refresh relies on.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::support::TestApp;

async fn revalidate(app: &TestApp, etag: &str) -> crate::support::Reply {
    app.send(Request::get("/").header(header::IF_NONE_MATCH, etag).body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn the_status_page_carries_a_strong_etag_and_asks_to_be_revalidated() {
    let app = TestApp::public().await;
    let page = app.get("/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    let etag = page.header("etag").unwrap();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "not a strong ETag: {etag}");
    assert_eq!(page.header("cache-control"), Some("no-cache"));
}

#[tokio::test]
async fn the_status_page_names_its_own_etag_for_its_script() {
    let app = TestApp::public().await;
    let page = app.get("/", None).await;
    let etag = page.header("etag").unwrap().trim_matches('"');
    assert!(page.text().contains(&format!(r#"<meta name="flare-etag" content="{etag}">"#)));
}

#[tokio::test]
async fn an_unchanged_status_page_answers_304_without_a_body() {
    let app = TestApp::public().await;
    let etag = app.get("/", None).await.header("etag").unwrap().to_owned();
    let again = revalidate(&app, &etag).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));
}

#[tokio::test]
async fn a_new_incident_changes_the_status_page_etag() {
    let app = TestApp::public().await;
    let etag = app.get("/", None).await.header("etag").unwrap().to_owned();
    app.open("Printers offline").await;
    // The page lists what started before now; the incident started at the very instant of the first read.
    app.clock.set(crate::support::NOW + time::Duration::minutes(1));
    let again = revalidate(&app, &etag).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.text().contains("Printers offline"));
}

#[tokio::test]
async fn a_private_status_page_is_not_shared_by_caches() {
    let app = TestApp::new().await;
    let page = app.get("/", Some(&app.reader)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("cache-control"), Some("private, no-cache"));
}

#[tokio::test]
async fn the_status_page_may_run_only_scripts_of_its_own_origin() {
    let app = TestApp::public().await;
    let policy = app.get("/", None).await.header("content-security-policy").unwrap().to_owned();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(!policy.contains("unsafe-eval") && !policy.contains("http"), "{policy}");
}

#[tokio::test]
async fn the_status_script_is_served_as_javascript_from_the_binary() {
    let app = TestApp::public().await;
    let script = app.get("/assets/status.js", None).await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(script.header("content-type"), Some("text/javascript; charset=utf-8"));
    assert!(script.text().contains("If-None-Match"));
}

#[tokio::test]
async fn the_status_script_answers_304_to_its_own_etag() {
    let app = TestApp::public().await;
    let etag = app.get("/assets/status.js", None).await.header("etag").unwrap().to_owned();
    let request = Request::get("/assets/status.js").header(header::IF_NONE_MATCH, &etag).body(Body::empty()).unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::NOT_MODIFIED);
}
