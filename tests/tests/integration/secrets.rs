//! The functions' secrets read from Secrets Manager (moto's server, started by `scripts/test`) and laid over
//! the environment, as every function does at cold start.

use flare_aws::secrets::{Secrets, SecretsError, local_secrets_client};

/// The environment variable through which `scripts/test` hands moto's endpoint to the tests.
const MOTO_ENDPOINT_VAR: &str = "FLARE_TEST_MOTO_ENDPOINT";

fn moto() -> String {
    std::env::var(MOTO_ENDPOINT_VAR).unwrap_or_else(|_| {
        panic!("{MOTO_ENDPOINT_VAR} is not set: run the suite with scripts/test, which starts moto")
    })
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The environment the dispatcher would otherwise see.
fn plain(name: &str) -> Option<String> {
    match name {
        "FLARE_TICKETS" => Some("servicenow".into()),
        "FLARE_SERVICENOW_PASSWORD" => Some("stale-plain-value".into()),
        _ => None,
    }
}

#[tokio::test]
async fn the_secret_is_read_by_its_arn_and_wins_over_the_environment() {
    let client = local_secrets_client(&moto());
    let created = client
        .create_secret()
        .name(unique("flare-dispatcher"))
        .secret_string(r#"{"FLARE_SERVICENOW_PASSWORD": "from-secrets-manager", "FLARE_SERVICENOW_USER": "flare"}"#)
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap();

    let secrets = Secrets::load(&client, arn).await.unwrap();
    assert_eq!(secrets.names().collect::<Vec<_>>(), ["FLARE_SERVICENOW_PASSWORD", "FLARE_SERVICENOW_USER"]);
    let env = secrets.over(plain);
    assert_eq!(env.optional("FLARE_SERVICENOW_PASSWORD").as_deref(), Some("from-secrets-manager"));
    assert_eq!(env.optional("FLARE_SERVICENOW_USER").as_deref(), Some("flare"));
    assert_eq!(env.optional("FLARE_TICKETS").as_deref(), Some("servicenow"));
    assert!(!format!("{secrets:?}").contains("from-secrets-manager"));
}

#[tokio::test]
async fn several_secrets_are_read_in_order_and_the_later_wins_a_name_both_hold() {
    let client = local_secrets_client(&moto());
    let mut arns = Vec::new();
    for text in [
        r#"{"FLARE_SESSION_KEY": "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83v", "FLARE_TICKETS": "jira"}"#,
        r#"{"FLARE_TICKETS": "servicenow", "FLARE_SERVICENOW_PASSWORD": "from-the-second"}"#,
    ] {
        let created = client.create_secret().name(unique("flare-many")).secret_string(text).send().await.unwrap();
        arns.push(created.arn().unwrap().to_string());
    }

    let secrets = Secrets::load_all(&client, &arns).await.unwrap();
    let env = secrets.over(|_| None);
    assert_eq!(env.optional("FLARE_TICKETS").as_deref(), Some("servicenow"));
    assert_eq!(env.optional("FLARE_SERVICENOW_PASSWORD").as_deref(), Some("from-the-second"));
    let key = flare_core::SessionKey::from_env(&env).unwrap();
    assert_eq!(key.expose_bytes().len(), 33, "the session key came from the first secret");
}

#[tokio::test]
async fn a_missing_secret_fails_the_start_naming_it() {
    let client = local_secrets_client(&moto());
    let missing = unique("flare-missing");
    let e = Secrets::load(&client, &missing).await.unwrap_err();
    assert!(matches!(e, SecretsError::Read { .. }), "{e:?}");
    assert!(e.to_string().contains(&missing), "{e}");
}

#[tokio::test]
async fn a_secret_that_is_not_a_json_object_fails_the_start_without_showing_it() {
    let client = local_secrets_client(&moto());
    let name = unique("flare-plain");
    client.create_secret().name(&name).secret_string("just-the-password").send().await.unwrap();
    let e = Secrets::load(&client, &name).await.unwrap_err();
    assert!(matches!(e, SecretsError::NotAnObject { .. }), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("just-the-password"));
}
