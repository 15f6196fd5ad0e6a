//! `flare serve` end to end: the real binary on a random port with a temporary database.
//!
//! - As a help-desk agent's browser uses it: a user added with `flare users add`, sign-in through the login page
//!   (cookie and CSRF token), an incident opened, updated and closed through the form, then read back from the
//!   JSON endpoint with its timeline.
//! - As its notification worker delivers: keys from `flare keys create`, systems and subscribers through the
//!   admin API, an incident opened through the API, and its notice received by the SMTP sink that
//!   `scripts/test` starts (shared by parallel tests, so recipients carry a tag of their own) and by a chat
//!   webhook on wiremock, then read back from the delivery ledger.
//! - As its poller runs: a sheet served by a local fixture server, polled on an interval, its row read back as an
//!   incident from the JSON endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

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

/// Starts `flare serve` with `args` on a free port and waits until it says where it listens. The environment's
/// `FLARE_*` variables are replaced by `env`, so a developer's own settings cannot add or move a channel.
fn serve(db: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut command = Command::new(FLARE);
    command.args(["--db", db.to_str().unwrap(), "serve", "--bind", "127.0.0.1:0"]).args(args);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FLARE_") {
            command.env_remove(name);
        }
    }
    let mut child = command.envs(env.iter().copied()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("flare serve: {line}");
            let _ = tx.send(line);
        }
    });
    let serving = Regex::new(r"serving on (http://127\.0\.0\.1:\d+)/ ").unwrap();
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
pub(crate) fn hidden(html: &str, action: &str, name: &str) -> String {
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
    let server = serve(&db, &["--demo"], &[]);
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

    // The signed-in agent reads as staff; an anonymous reader would see the public view, without the engineer.
    let reader = &browser;
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

/// A variable `scripts/test` sets; without it the test cannot run, and says so rather than pass unchecked.
fn required(var: &str) -> String {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run the suite with scripts/test, which starts the SMTP sink"))
}

/// Unique to this test run, for addresses in the SMTP sink that other tests share.
fn tag() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("t{}x{nanos}", std::process::id())
}

/// Creates an API key with `scope` and returns its token.
fn create_key(db: &Path, scope: &str) -> String {
    let out = Command::new(FLARE)
        .args(["--db", db.to_str().unwrap(), "keys", "create", "--name", scope, "--scope", scope])
        .env("FLARE_LOG", "off")
        .output()
        .unwrap();
    assert!(out.status.success(), "flare keys create failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The messages in the sink whose recipient carries `tag`, as (recipients, raw message), sorted by recipient.
fn mail_for(sink: &Path, tag: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(sink).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "eml") {
            let raw = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
            let rcpt = raw.lines().find_map(|l| l.strip_prefix("X-Sink-Rcpt-To: ")).unwrap().to_string();
            if rcpt.contains(tag) {
                found.push((rcpt, raw));
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn opening_an_incident_mails_each_subscriber_once_and_posts_once_to_chat() {
    let smtp = required("FLARE_TEST_SMTP_ADDR");
    let sink = PathBuf::from(required("FLARE_TEST_SMTP_DIR"));
    let (smtp_host, smtp_port) = smtp.rsplit_once(':').expect("FLARE_TEST_SMTP_ADDR is host:port");
    let tag = tag();
    let chat = MockServer::start().await;
    Mock::given(method("POST")).and(path("/hooks/network")).respond_with(ResponseTemplate::new(200)).mount(&chat).await;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flare.db");
    let admin = create_key(&db, "admin");
    let writer = create_key(&db, "incidents:write");
    let webhooks = format!("network={}/hooks/network", chat.uri());
    let server = serve(
        &db,
        &["--public-url", "http://flare.test", "--worker-poll-secs", "1"],
        &[
            ("FLARE_SMTP_HOST", smtp_host),
            ("FLARE_SMTP_PORT", smtp_port),
            ("FLARE_SMTP_TLS", "none"),
            ("FLARE_MAIL_FROM", "flare@flare.test"),
            ("FLARE_CHAT_WEBHOOKS", &webhooks),
        ],
    );
    let url = |path: &str| format!("{}{path}", server.base);
    let client = reqwest::Client::new();

    let ada = format!("ada-{tag}@example.org");
    let grace = format!("grace-{tag}@example.org");
    let linus = format!("linus-{tag}@example.org");
    let catalog = [
        ("network", "Network", json!([{ "email": ada, "name": "Ada" }, { "email": grace, "name": "Grace" }])),
        (
            "wifi",
            "Wi-Fi",
            json!([{ "email": grace, "name": "Grace" }, { "email": linus }, { "phone": "+14155550123" }]),
        ),
    ];
    for (id, name, subscribers) in catalog {
        let put = client.put(url(&format!("/api/systems/{id}"))).bearer_auth(&admin).json(&json!({ "name": name }));
        let put = put.send().await.unwrap();
        assert!(put.status().is_success(), "PUT /api/systems/{id}: {}", put.text().await.unwrap());
        let put = client
            .put(url(&format!("/api/systems/{id}/subscribers")))
            .bearer_auth(&admin)
            .json(&json!({ "subscribers": subscribers }))
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "PUT /api/systems/{id}/subscribers: {}", put.text().await.unwrap());
    }

    let opened = client
        .post(url("/api/incidents"))
        .bearer_auth(&writer)
        .json(&json!({
            "title": "Network and Wi-Fi down in building 2",
            "description": "Nothing in building 2 reaches the network, wired or not.",
            "severity": "sev2",
            "systems": [
                { "system": "network", "impact": "major_outage" },
                { "system": "wifi", "impact": "partial_outage" },
            ],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), reqwest::StatusCode::CREATED);
    let ticket = opened.json::<Value>().await.unwrap()["ticket"].as_str().unwrap().to_string();
    let link = format!("http://flare.test/incidents/{ticket}");

    // The ledger is written after each send, so once it shows everything the sink and wiremock have it too; a
    // duplicate would then show as one message or post too many.
    let deadline = Instant::now() + Duration::from_secs(15);
    let (mail, posts, deliveries) = loop {
        let mail = mail_for(&sink, &tag);
        let posts = chat.received_requests().await.unwrap_or_default();
        let deliveries: Value = client
            .get(url(&format!("/api/incidents/{ticket}/deliveries")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let totals = &deliveries["totals"];
        let done = totals["email"]["sent"].as_u64() >= Some(3) && totals["message"]["sent"].as_u64() >= Some(1);
        if (done && mail.len() >= 3 && !posts.is_empty()) || Instant::now() > deadline {
            break (mail, posts, deliveries);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let rcpts: Vec<&str> = mail.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(rcpts, [&ada, &grace, &linus], "one message per subscriber with an address, Grace once");
    for (rcpt, raw) in &mail {
        assert!(raw.contains(&format!("Details: {link}")), "{rcpt} lacks the incident's public link:\n{raw}");
    }
    assert_eq!(posts.len(), 1, "one chat post for the incident");
    let text = posts[0].body_json::<Value>().unwrap()["text"].as_str().unwrap().to_string();
    assert!(text.contains(&ticket) && text.contains(&link), "chat text: {text}");

    let totals = &deliveries["totals"];
    assert_eq!(totals["email"]["sent"], 3, "{deliveries}");
    assert_eq!(totals["email"]["refused"], 0, "{deliveries}");
    assert_eq!(totals["message"]["sent"], 1, "{deliveries}");
    assert_eq!(totals["message"]["refused"], 0, "{deliveries}");
    assert_eq!(totals["ticket"]["sent"], 0, "no ticketing system is configured: {deliveries}");
    let email = deliveries["deliveries"].as_array().unwrap().iter().find(|d| d["channel"] == "email").unwrap();
    assert_eq!(email["event"], "opened");
    assert_eq!(email["sent"], json!([ada, grace, linus]));
}

/// A sheet's timestamp a minute before now, in UTC, the way a US form writes it.
fn sheet_stamp() -> String {
    let t = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
    format!("{}/{}/{} {}:{:02}:{:02}", u8::from(t.month()), t.day(), t.year(), t.hour(), t.minute(), t.second())
}

#[tokio::test]
async fn serve_runs_the_poller_which_opens_an_incident_from_its_sheet() {
    let sheet = MockServer::start().await;
    let csv =
        format!("Timestamp,Action,Title,Systems,Severity\n{},Open,Printer on fire,Printers,sev2\n", sheet_stamp());
    Mock::given(method("GET"))
        .and(path("/sheet.csv"))
        .respond_with(ResponseTemplate::new(200).set_body_string(csv))
        .mount(&sheet)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flare.db");
    let store = flare_embedded::SqliteStore::open(&db).unwrap();
    let printers = flare_core::System {
        id: flare_core::SystemId::parse("id", "printers").unwrap(),
        name: flare_core::text::SystemName::parse("name", "Printers").unwrap(),
        owner: None,
        owner_email: None,
    };
    flare_core::CatalogStore::put_system(&store, &printers).await.unwrap();
    let sources = format!(
        r#"{{"sheets": [{{"name": "desk", "url": "{}/sheet.csv", "time_zone": "UTC"}}], "allowed_hosts": ["127.0.0.1"]}}"#,
        sheet.uri()
    );
    let server = serve(&db, &["--poll-interval-secs", "1"], &[("FLARE_POLL_SOURCES", sources.as_str())]);
    let client = reqwest::Client::new();

    let deadline = Instant::now() + Duration::from_secs(15);
    let list = loop {
        let list: Value =
            client.get(format!("{}/api/incidents", server.base)).send().await.unwrap().json().await.unwrap();
        if !list["incidents"].as_array().unwrap().is_empty() || Instant::now() > deadline {
            break list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    assert_eq!(list["incidents"][0]["title"], "Printer on fire");
    assert_eq!(list["incidents"][0]["systems"][0]["system"], "printers");
}
