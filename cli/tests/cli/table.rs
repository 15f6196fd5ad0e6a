//! `flare --table`: the real binary administering a fresh table in DynamoDB Local, made from the one schema
//! (`flare_aws::schema`). `scripts/test` starts DynamoDB Local and exports its endpoint; the child gets the AWS
//! settings an admin's shell would have (endpoint, credentials, region) explicitly, and none of the developer's.
//! What it wrote is read back through `flare_aws::DynamoStore` and checked the way Flare's HTTP layer checks it:
//! a user signs in through the login page of a router on that store, a key's token is looked up by its hash.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flare_aws::DynamoStore;
use flare_core::{AccessStore, ApiKeyHash, CatalogStore, IncidentService, Scope, SystemClock, SystemId};
use flare_http::{AppState, HttpConfig};

use crate::serve::hidden;

const FLARE: &str = env!("CARGO_BIN_EXE_flare");
/// The variable through which `scripts/test` hands DynamoDB Local's endpoint to the tests.
const DYNAMODB_ENDPOINT_VAR: &str = "FLARE_TEST_DYNAMODB_ENDPOINT";
const PASSWORD: &str = "correct horse battery staple";

fn endpoint() -> String {
    std::env::var(DYNAMODB_ENDPOINT_VAR).unwrap_or_else(|_| {
        panic!("{DYNAMODB_ENDPOINT_VAR} is not set: run the suite with scripts/test, which starts DynamoDB Local")
    })
}

/// A table name no other test in this run uses.
fn unique_table() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("flare-cli-{}-{nanos}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A fresh table in DynamoDB Local, and the store the tests read it back with.
async fn table() -> DynamoStore {
    let client = flare_aws::local_client(&endpoint());
    let name = unique_table();
    flare_aws::schema::create_table(&client, &name).await.expect("a table in DynamoDB Local");
    DynamoStore::new(client, name)
}

/// `flare --table TABLE ARGS`, with `stdin` written to its standard input. `aws` is the AWS environment the
/// child gets; the developer's own `AWS_*` and `FLARE_*` variables and AWS files are kept from it, so they
/// cannot point it at a real account.
fn flare(table: &str, args: &[&str], stdin: &str, aws: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(FLARE);
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if name_text.starts_with("AWS_") || name_text.starts_with("FLARE_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .arg("--table")
        .arg(table)
        .args(args)
        .envs(aws.iter().copied())
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("FLARE_LOG", "off")
        .current_dir(home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// The settings of an admin pointed at DynamoDB Local.
fn local_aws() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint()),
        ("AWS_ACCESS_KEY_ID", "local".into()),
        ("AWS_SECRET_ACCESS_KEY", "local".into()),
        ("AWS_REGION", "us-east-1".into()),
    ]
}

/// `flare --table TABLE ARGS` as an admin pointed at DynamoDB Local; fails the test unless it succeeds.
fn admin(table: &str, args: &[&str], stdin: &str) -> Output {
    let aws = local_aws();
    let aws: Vec<(&str, &str)> = aws.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let output = flare(table, args, stdin, &aws);
    assert!(output.status.success(), "flare {args:?} failed: {}", text(&output.stderr));
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Flare's form and API on `store`, served on a free port; its base URL.
async fn serve_on(store: &DynamoStore) -> String {
    let service = IncidentService::new(Arc::new(store.clone()), Arc::new(SystemClock));
    // Plain HTTP on loopback, so the session cookie must not be Secure for the client to send it back.
    let app = flare_http::app(AppState::new(service, HttpConfig { secure_cookies: false, ..HttpConfig::default() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// The key `flare keys create` printed the token of, as the HTTP layer finds it: by the token's hash.
async fn key_of(store: &DynamoStore, token: &str) -> flare_core::ApiKey {
    store.find_api_key(&ApiKeyHash::of_token(token)).await.unwrap().expect("the key of the printed token")
}

#[tokio::test]
async fn users_add_on_a_table_creates_a_user_who_signs_in_with_the_password_from_standard_input() {
    let store = table().await;
    admin(store.table(), &["users", "add", "agent", "--display-name", "Help Desk"], &format!("{PASSWORD}\n"));

    let base = serve_on(&store).await;
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let login = browser.get(format!("{base}/login")).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&login, "/login", "csrf");
    let signed_in = browser
        .post(format!("{base}/login"))
        .form(&[("csrf", csrf.as_str()), ("next", "/form"), ("username", "agent"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.url().path(), "/form", "the password from standard input signs the user in");
}

#[tokio::test]
async fn keys_create_on_a_table_prints_a_token_the_table_authenticates_with_its_scopes() {
    let store = table().await;
    let created = admin(store.table(), &["keys", "create", "--name", "monitoring", "--scope", "incidents:write"], "");
    let token = text(&created.stdout).trim().to_string();

    let key = key_of(&store, &token).await;
    assert_eq!(key.name.as_str(), "monitoring");
    assert!(key.allows(Scope::IncidentsWrite), "{key:?}");
    assert!(!key.allows(Scope::Admin), "{key:?}");
}

/// `flare keys create` on the table for one scope: the token it printed, and the id of the key it stored.
async fn create_key(store: &DynamoStore, name: &str, scope: &str) -> (String, String) {
    let created = admin(store.table(), &["keys", "create", "--name", name, "--scope", scope], "");
    let token = text(&created.stdout).trim().to_string();
    let id = key_of(store, &token).await.id;
    (token, id)
}

#[tokio::test]
async fn keys_list_on_a_table_shows_each_key_by_id_and_never_its_token() {
    let store = table().await;
    let (_, id) = create_key(&store, "dashboard", "incidents:read").await;

    let listed = text(&admin(store.table(), &["keys", "list"], "").stdout);
    assert_eq!(listed.trim(), format!("{id}\tdashboard\tincidents:read\tactive"));
}

#[tokio::test]
async fn a_key_revoked_on_a_table_no_longer_authenticates() {
    let store = table().await;
    let (token, id) = create_key(&store, "monitoring", "incidents:write").await;

    admin(store.table(), &["keys", "revoke", &id], "");
    let key = key_of(&store, &token).await;
    assert!(key.revoked_at.is_some() && !key.allows(Scope::IncidentsWrite), "{key:?}");
}

#[tokio::test]
async fn systems_import_on_a_table_fills_the_stacks_catalog() {
    let store = table().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("subscribers.csv");
    std::fs::write(&csv, "system,system_name,email\nvpn,VPN,ada@example.com\n").unwrap();

    admin(store.table(), &["systems", "import", path(&csv)], "");
    let vpn = SystemId::parse("system", "vpn").unwrap();
    assert_eq!(store.get_system(&vpn).await.unwrap().expect("the system vpn").name.as_str(), "VPN");
    let subscribers: Vec<String> = store.subscribers(&vpn).await.unwrap().iter().map(|s| s.contact_key()).collect();
    assert_eq!(subscribers, ["email:ada@example.com"]);
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test]
async fn a_table_that_does_not_exist_is_named_with_where_to_find_the_right_one() {
    let missing = unique_table();
    let aws = local_aws();
    let aws: Vec<(&str, &str)> = aws.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let output = flare(&missing, &["keys", "list"], "", &aws);

    let err = text(&output.stderr);
    assert!(!output.status.success(), "{err}");
    assert!(err.contains(&format!("there is no DynamoDB table {missing}")), "{err}");
    assert!(err.contains("TableName output") && err.contains("aws cloudformation describe-stacks"), "{err}");
}

#[test]
fn without_aws_credentials_the_cli_says_to_set_a_profile_or_run_aws_sso_login() {
    let output = flare("flare-prod-Table", &["keys", "list"], "", &[("AWS_REGION", "us-east-1")]);

    let err = text(&output.stderr);
    assert!(!output.status.success(), "{err}");
    assert!(err.contains("no usable AWS credentials: set AWS_PROFILE") && err.contains("aws sso login"), "{err}");
}

#[test]
fn the_commands_that_run_flare_refuse_a_table_and_name_what_runs_it_on_aws() {
    for (args, on_aws) in [
        (&["serve"][..], "on AWS the stack's Lambda functions serve Flare"),
        (&["poll", "once"][..], "on AWS the flare-poller function"),
        (&["report", "due"][..], "on AWS the flare-reporter function"),
    ] {
        let output = flare("flare-prod-Table", args, "", &[]);

        let err = text(&output.stderr);
        assert!(!output.status.success(), "{args:?}: {err}");
        assert!(err.contains(&format!("`flare {}` works only on the SQLite database", args[0])), "{err}");
        assert!(err.contains(on_aws), "{err}");
    }
}
