//! Sign-in and authorisation: API keys, sessions, CSRF, and what 401 and 403 bodies say.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::support::{Browser, PASSWORD, TestApp, hidden, open_body};

fn open_request(authorization: Option<&str>) -> Request<Body> {
    let mut r = Request::post("/api/incidents").header(header::CONTENT_TYPE, "application/json");
    if let Some(a) = authorization {
        r = r.header(header::AUTHORIZATION, a);
    }
    r.body(Body::from(open_body("VPN down").to_string())).unwrap()
}

#[tokio::test]
async fn a_write_without_credentials_is_refused_with_401_saying_what_is_missing() {
    let app = TestApp::new().await;
    let reply = app.send(open_request(None)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let error = reply.json()["error"].as_str().unwrap().to_string();
    assert!(error.contains("API key with scope incidents:write"), "{error}");
    assert!(error.contains("Authorization: Bearer <key>"), "{error}");
    assert_eq!(reply.header("www-authenticate"), Some("Bearer realm=\"flare\""));
}

#[tokio::test]
async fn a_write_with_a_read_only_key_is_refused_with_403_naming_the_scope() {
    let app = TestApp::new().await;
    let reply = app.send(open_request(Some(&format!("Bearer {}", app.reader)))).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.json()["error"].as_str().unwrap().contains("incidents:write"));
}

#[tokio::test]
async fn an_unknown_key_is_refused_with_401() {
    let app = TestApp::new().await;
    let reply = app.send(open_request(Some("Bearer fk_nope.0000"))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.json()["error"].as_str().unwrap().contains("unknown or revoked"));
}

#[tokio::test]
async fn a_revoked_key_is_refused_with_401() {
    let app = TestApp::new().await;
    let id = app.writer.split('.').next().unwrap().to_string();
    assert!(app.store.revoke_api_key(&id, crate::support::NOW).await.unwrap());
    let reply = app.send(open_request(Some(&format!("Bearer {}", app.writer)))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_authorization_header_that_is_not_bearer_is_refused_with_401() {
    let app = TestApp::new().await;
    let reply = app.send(open_request(Some("Basic YWRhOnB3"))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.json()["error"].as_str().unwrap().contains("Bearer <key>"));
}

#[tokio::test]
async fn private_reads_need_a_key() {
    let app = TestApp::new().await;
    let reply = app.get("/api/incidents", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.json()["error"].as_str().unwrap().contains("incidents:read"));
    assert_eq!(app.get("/api/incidents", Some(&app.reader)).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/systems", Some(&app.writer)).await.status, StatusCode::OK, "any live key reads");
}

#[tokio::test]
async fn public_reads_need_nothing() {
    let app = TestApp::public().await;
    assert_eq!(app.get("/api/incidents", None).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/systems", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_signed_in_user_may_read_private_incidents() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("bob").await;
    assert_eq!(browser.get(&app, "/api/incidents").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let app = TestApp::new().await;
    let wrong = Browser::default().sign_in(&app, "ada", "not the password").await;
    let unknown = Browser::default().sign_in(&app, "nobody", PASSWORD).await;
    let garbled = Browser::default().sign_in(&app, "<script>", PASSWORD).await;
    for reply in [&wrong, &unknown, &garbled] {
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(reply.text().contains("Sign-in failed. Check your username and password"));
        assert!(reply.header("set-cookie").is_none_or(|c| !c.starts_with("flare_session")));
    }
}

#[tokio::test]
async fn a_disabled_user_cannot_sign_in() {
    let app = TestApp::new().await;
    let reply = Browser::default().sign_in(&app, "carol", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.text().contains("Sign-in failed."));
}

#[tokio::test]
async fn a_login_without_the_pages_token_is_refused() {
    let app = TestApp::new().await;
    let mut browser = Browser::default();
    browser.get(&app, "/login").await;
    let reply = browser.post(&app, "/login", &[("username", "ada"), ("password", PASSWORD), ("csrf", "00")]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(!browser.cookies.contains_key("flare_session"));
}

#[tokio::test]
async fn the_session_cookie_is_http_only_lax_and_secure() {
    let app = TestApp::new().await;
    let reply = Browser::default().sign_in(&app, "ada", PASSWORD).await;
    assert_eq!(reply.header("location"), Some("/form"));
    let cookie = reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("flare_session="))
        .unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn cookies_are_not_secure_when_configured_for_plain_http() {
    let app = TestApp::with(|c| c.secure_cookies = false).await;
    let reply = Browser::default().get(&app, "/login").await;
    assert!(!reply.header("set-cookie").unwrap().contains("Secure"));
}

#[tokio::test]
async fn the_form_sends_a_visitor_to_sign_in() {
    let app = TestApp::new().await;
    let reply = Browser::default().get(&app, "/form").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), Some("/login?next=%2Fform"));
}

#[tokio::test]
async fn a_forged_session_cookie_is_not_a_session() {
    let app = TestApp::new().await;
    let mut browser = Browser::default();
    browser.cookies.insert("flare_session".into(), format!("{}.{}", "61646100", "00".repeat(32)));
    assert_eq!(browser.get(&app, "/form").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_user_without_write_scope_cannot_use_the_form() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("bob").await;
    let reply = browser.get(&app, "/form").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.text().contains("incidents:write"));
}

#[tokio::test]
async fn a_form_post_without_its_csrf_token_is_refused_and_writes_nothing() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    let fields = [("title", "VPN down"), ("description", "d"), ("severity", "sev2")];
    let reply = browser.post(&app, "/form/open", &fields).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.text().contains("Reload the form"));
    assert_eq!(app.get(crate::support::ALL, Some(&app.reader)).await.json()["incidents"], json!([]));
}

#[tokio::test]
async fn a_csrf_token_from_another_session_is_refused() {
    let app = TestApp::new().await;
    let mut mine = app.signed_in("ada").await;
    let mut theirs = app.signed_in("ada").await;
    let (_, their_token) = theirs.form(&app).await;
    let fields = [("csrf", their_token.as_str()), ("title", "VPN down"), ("description", "d"), ("severity", "sev2")];
    assert_eq!(mine.post(&app, "/form/open", &fields).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_browser_api_call_needs_the_csrf_header_besides_the_cookie() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    let (_, csrf) = browser.form(&app).await;
    let cookie = browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let request = |token: Option<&str>| {
        let mut r = Request::builder()
            .method(Method::POST)
            .uri("/api/incidents")
            .header(header::COOKIE, cookie.clone())
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            r = r.header("x-csrf-token", t);
        }
        r.body(Body::from(open_body("VPN down").to_string())).unwrap()
    };
    assert_eq!(app.send(request(None)).await.status, StatusCode::FORBIDDEN);
    let reply = app.send(request(Some(&csrf))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.json()["incident"]["reporter"], "ada (test)");
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    let (_, csrf) = browser.form(&app).await;
    let reply = browser.post(&app, "/logout", &[("csrf", &csrf)]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(!browser.cookies.contains_key("flare_session"));
    assert_eq!(browser.get(&app, "/form").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_session_cookie_copied_before_sign_out_is_refused_after_it() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    let mut stolen = browser.clone();
    let (_, csrf) = browser.form(&app).await;
    assert_eq!(browser.post(&app, "/logout", &[("csrf", &csrf)]).await.status, StatusCode::SEE_OTHER);
    let page = stolen.get(&app, "/form").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.header("location"), Some("/login?next=%2Fform"));
    assert_eq!(stolen.get(&app, "/api/incidents").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signing_out_ends_the_users_sessions_on_every_browser() {
    let app = TestApp::new().await;
    let mut laptop = app.signed_in("ada").await;
    app.clock.set(crate::support::NOW + time::Duration::minutes(1));
    let mut phone = app.signed_in("ada").await;
    let (_, csrf) = phone.form(&app).await;
    phone.post(&app, "/logout", &[("csrf", &csrf)]).await;
    assert_eq!(laptop.get(&app, "/form").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_session_issued_before_sessions_valid_after_is_refused() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    end_sessions_of("ada", &app, crate::support::NOW + time::Duration::minutes(1)).await;
    app.clock.set(crate::support::NOW + time::Duration::minutes(2));
    assert_eq!(browser.get(&app, "/form").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_session_issued_after_sessions_valid_after_works() {
    let app = TestApp::new().await;
    end_sessions_of("ada", &app, crate::support::NOW).await;
    app.clock.set(crate::support::NOW + time::Duration::minutes(1));
    let mut browser = app.signed_in("ada").await;
    assert_eq!(browser.get(&app, "/form").await.status, StatusCode::OK);
}

#[tokio::test]
async fn signing_in_again_after_signing_out_works() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    let (_, csrf) = browser.form(&app).await;
    browser.post(&app, "/logout", &[("csrf", &csrf)]).await;
    app.clock.set(crate::support::NOW + time::Duration::seconds(1));
    let mut again = app.signed_in("ada").await;
    assert_eq!(again.get(&app, "/form").await.status, StatusCode::OK);
}

/// Does what `flare users passwd` does to sessions, at `at`.
async fn end_sessions_of(name: &str, app: &TestApp, at: time::OffsetDateTime) {
    let username = flare_core::Username::parse("username", name).unwrap();
    let mut user = app.store.get_user(&username).await.unwrap().unwrap();
    user.end_sessions(at);
    assert!(app.store.update_user(&user).await.unwrap());
}

#[tokio::test]
async fn a_session_expires() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    app.clock.set(crate::support::NOW + time::Duration::hours(13));
    assert_eq!(browser.get(&app, "/form").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_sign_in_never_redirects_off_site() {
    let app = TestApp::new().await;
    let mut browser = Browser::default();
    let page = browser.get(&app, "/login?next=//evil.example.com").await;
    let csrf = hidden(&page.text(), "csrf");
    let next = hidden(&page.text(), "next");
    assert_eq!(next, "/form");
    let reply = browser
        .post(
            &app,
            "/login",
            &[("username", "ada"), ("password", PASSWORD), ("csrf", &csrf), ("next", "https://evil.example.com")],
        )
        .await;
    assert_eq!(reply.header("location"), Some("/form"));
}
