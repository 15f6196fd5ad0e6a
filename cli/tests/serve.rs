//! `flare serve` end to end, as a help-desk agent's browser uses it: the real binary on a random port with a
//! temporary database, a user added with `flare users add`, sign-in through the login page (cookie and CSRF
//! token), an incident opened, updated and closed through the form, then read back from the JSON endpoint with
//! its timeline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use regex::Regex;
use serde_json::Value;

const FLARE: &str = env!("CARGO_BIN_EXE_flare");
const PASSWORD: &str = "correct horse battery staple";

/// The server process, stopped when the test ends however it ends.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn add_user(db: &Path, name: &str, display: &str) {
    let mut child = Command::new(FLARE)
        .args(["--db", db.to_str().unwrap(), "users", "add", name, "--display-name", display])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "flare users add failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Starts `flare serve --demo` on a free port and waits until it says where it listens.
fn serve(db: &Path) -> Server {
    let mut child = Command::new(FLARE)
        .args(["--db", db.to_str().unwrap(), "serve", "--bind", "127.0.0.1:0", "--demo"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("flare serve: {line}");
            let _ = tx.send(line);
        }
    });
    let serving = Regex::new(r"serving on (http://127\.0\.0\.1:\d+)/form").unwrap();
    let mut server = Server { child, base: String::new() };
    while server.base.is_empty() {
        let line = rx.recv_timeout(Duration::from_secs(60)).expect("flare serve did not say where it listens");
        if let Some(c) = serving.captures(&line) {
            server.base = c[1].to_string();
        }
    }
    server
}

/// The value of the hidden input `name` inside the form that posts to `action`.
fn hidden(html: &str, action: &str, name: &str) -> String {
    let form_start = html.find(&format!("action=\"{action}\"")).unwrap_or_else(|| panic!("no form for {action}"));
    let form = &html[form_start..];
    let form = &form[..form.find("</form>").unwrap()];
    let re = Regex::new(&format!(r#"name="{name}" value="([^"]*)""#)).unwrap();
    re.captures(form).unwrap_or_else(|| panic!("no {name} in the form for {action}"))[1].to_string()
}

#[tokio::test]
async fn an_agent_signs_in_and_opens_updates_and_closes_an_incident_through_the_form() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flare.db");
    add_user(&db, "agent", "Help Desk Agent");
    let server = serve(&db);
    let url = |path: &str| format!("{}{path}", server.base);
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();

    let form = browser.get(url("/form")).send().await.unwrap();
    assert!(form.url().path().starts_with("/login"), "the form asks a stranger to sign in first");
    let login = form.text().await.unwrap();
    let csrf = hidden(&login, "/login", "csrf");
    let signed_in = browser
        .post(url("/login"))
        .form(&[("csrf", csrf.as_str()), ("next", "/form"), ("username", "agent"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.url().path(), "/form", "signing in leads back to the form");
    let page = signed_in.text().await.unwrap();

    let opened = browser
        .post(url("/form/open"))
        .form(&[
            ("csrf", hidden(&page, "/form/open", "csrf").as_str()),
            ("idempotency_key", hidden(&page, "/form/open", "idempotency_key").as_str()),
            ("title", "Printers on floor 2 print blank pages"),
            ("description", "Every job sent to the floor 2 printers comes out blank."),
            ("severity", "sev3"),
            ("engineer", "Grace Hopper"),
            ("impact.wifi", "degraded"),
            ("started_at", ""),
            ("tz_offset", "+00:00"),
            ("notify", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert!(opened.status().is_success(), "{}", opened.status());
    let ticket = Regex::new(r"/incidents/(INC-\d+)").unwrap().captures(opened.url().path()).unwrap()[1].to_string();
    assert!(opened.text().await.unwrap().contains(&ticket));

    let page = browser.get(url("/form")).send().await.unwrap().text().await.unwrap();
    let updated = browser
        .post(url("/form/update"))
        .form(&[
            ("csrf", hidden(&page, "/form/update", "csrf").as_str()),
            ("idempotency_key", hidden(&page, "/form/update", "idempotency_key").as_str()),
            ("ticket", ticket.as_str()),
            ("status", "identified"),
            ("message", "A bad driver update; rolling it back."),
            ("notify", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert!(updated.status().is_success(), "{}: {}", updated.status(), updated.text().await.unwrap());

    let page = browser.get(url("/form")).send().await.unwrap().text().await.unwrap();
    let closed = browser
        .post(url("/form/close"))
        .form(&[
            ("csrf", hidden(&page, "/form/close", "csrf").as_str()),
            ("idempotency_key", hidden(&page, "/form/close", "idempotency_key").as_str()),
            ("ticket", ticket.as_str()),
            ("message", "Driver rolled back; printing works."),
            ("resolved_at", ""),
            ("tz_offset", "+00:00"),
        ])
        .send()
        .await
        .unwrap();
    assert!(closed.status().is_success(), "{}: {}", closed.status(), closed.text().await.unwrap());

    let reader = reqwest::Client::new();
    let list: Value = reader.get(url("/api/incidents")).send().await.unwrap().json().await.unwrap();
    let listed = list["incidents"].as_array().unwrap().iter().find(|i| i["ticket"] == ticket.as_str()).unwrap();
    assert_eq!(listed["status"], "resolved");
    assert_eq!(listed["engineer"], "Grace Hopper");
    assert_eq!(listed["systems"][0]["system"], "wifi");

    let one: Value = reader.get(url(&format!("/api/incidents/{ticket}"))).send().await.unwrap().json().await.unwrap();
    let timeline = one["timeline"].as_array().unwrap();
    let kinds: Vec<_> = timeline.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["opened", "updated", "resolved"]);
    assert!(timeline.iter().all(|e| e["actor"]["kind"] == "user" && e["actor"]["name"] == "Help Desk Agent"));
    assert_eq!(timeline[1]["message"], "A bad driver update; rolling it back.");
}
