//! People and API keys.

use flare_core::text::PersonName;
use flare_core::{ApiKey, ApiKeyHash, Scope, StoreError, User, Username};
use time::Duration;

use crate::support::{Backend, NOW};

fn ada() -> User {
    User {
        username: Username::parse("username", "ada").unwrap(),
        display_name: PersonName::parse("name", "Ada Lovelace").unwrap(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        scopes: vec![Scope::IncidentsWrite],
        created_at: NOW,
        disabled: false,
        sessions_valid_after: None,
    }
}

pub async fn a_username_is_taken_once(b: Backend) {
    let user = ada();
    b.store.create_user(&user).await.unwrap();
    let again = b.store.create_user(&user).await.unwrap_err();
    assert!(matches!(again, StoreError::AlreadyExists { .. }), "{again:?}");
    assert_eq!(b.store.get_user(&user.username).await.unwrap(), Some(user));
    assert!(b.store.get_user(&Username::parse("username", "eve").unwrap()).await.unwrap().is_none());
}

pub async fn api_keys_are_found_by_hash_and_revoked_once(b: Backend) {
    let name = |n: &str| PersonName::parse("name", n).unwrap();
    let (monitoring, token) = ApiKey::generate(name("monitoring"), vec![Scope::IncidentsWrite], NOW);
    let (dashboard, _) = ApiKey::generate(name("dashboard"), vec![Scope::IncidentsRead], NOW);
    b.store.create_api_key(&monitoring).await.unwrap();
    b.store.create_api_key(&dashboard).await.unwrap();

    let found = b.store.find_api_key(&ApiKeyHash::of_token(&token)).await.unwrap();
    assert_eq!(found.as_ref(), Some(&monitoring));
    assert!(b.store.find_api_key(&ApiKeyHash::of_token("fk_0.guess")).await.unwrap().is_none());

    assert!(b.store.revoke_api_key(&monitoring.id, NOW).await.unwrap());
    assert!(b.store.revoke_api_key(&monitoring.id, NOW + Duration::hours(1)).await.unwrap());
    assert!(!b.store.revoke_api_key("fk_unknown", NOW).await.unwrap());
    let revoked = b.store.find_api_key(&monitoring.hash).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(NOW), "revoking twice keeps the first time");
    assert!(!revoked.allows(Scope::IncidentsWrite));

    let mut ids: Vec<_> = b.store.list_api_keys().await.unwrap().into_iter().map(|k| k.id).collect();
    let mut expected = vec![monitoring.id.clone(), dashboard.id.clone()];
    expected.sort();
    ids.sort();
    assert_eq!(ids, expected);
}

pub async fn an_updated_user_reads_back_as_replaced(b: Backend) {
    let mut user = ada();
    b.store.create_user(&user).await.unwrap();
    user.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$bmV3".into();
    user.scopes = vec![];
    user.disabled = true;
    user.sessions_valid_after = Some(NOW + Duration::nanoseconds(1_500));
    assert!(b.store.update_user(&user).await.unwrap());
    assert_eq!(b.store.get_user(&user.username).await.unwrap(), Some(user));
}

pub async fn updating_an_unknown_user_is_false_and_creates_nobody(b: Backend) {
    let user = ada();
    assert!(!b.store.update_user(&user).await.unwrap());
    assert!(b.store.get_user(&user.username).await.unwrap().is_none());
}
