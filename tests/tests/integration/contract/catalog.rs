//! The systems catalog and its subscribers.

use flare_core::text::{PersonName, SystemName};
use flare_core::{EmailAddress, PhoneNumber, Subscriber, System};

use crate::support::{Backend, system};

fn a_system(id: &str, name: &str) -> System {
    System {
        id: system(id),
        name: SystemName::parse("name", name).unwrap(),
        owner: Some(PersonName::parse("owner", "Grace Hopper").unwrap()),
        owner_email: Some(EmailAddress::parse("owner_email", "grace@example.com").unwrap()),
    }
}

fn subscriber(sys: &str, email: Option<&str>, phone: Option<&str>, name: Option<&str>) -> Subscriber {
    Subscriber::new(
        system(sys),
        email.map(|e| EmailAddress::parse("email", e).unwrap()),
        phone.map(|p| PhoneNumber::parse("phone", p).unwrap()),
        name.map(|n| PersonName::parse("name", n).unwrap()),
    )
    .unwrap()
}

pub async fn systems_are_created_replaced_and_listed_by_id(b: Backend) {
    b.store.put_system(&a_system("vpn", "VPN")).await.unwrap();
    b.store.put_system(&a_system("crm", "CRM")).await.unwrap();
    b.store.put_system(&a_system("vpn", "Remote access VPN")).await.unwrap();
    let ids: Vec<_> = b.store.list_systems().await.unwrap().into_iter().map(|s| s.id.to_string()).collect();
    assert_eq!(ids, vec!["crm", "vpn"]);
    let vpn = b.store.get_system(&system("vpn")).await.unwrap().unwrap();
    assert_eq!(vpn, a_system("vpn", "Remote access VPN"));
    assert!(b.store.get_system(&system("nope")).await.unwrap().is_none());
}

pub async fn subscribers_are_listed_per_system_and_replaced_by_contact(b: Backend) {
    b.store.put_subscriber(&subscriber("vpn", Some("bob@example.com"), None, None)).await.unwrap();
    b.store.put_subscriber(&subscriber("vpn", Some("amy@example.com"), None, None)).await.unwrap();
    b.store.put_subscriber(&subscriber("vpn", None, Some("+14155550123"), None)).await.unwrap();
    b.store.put_subscriber(&subscriber("crm", Some("bob@example.com"), None, None)).await.unwrap();
    let renamed = subscriber("vpn", Some("bob@example.com"), Some("+14155550199"), Some("Bob"));
    b.store.put_subscriber(&renamed).await.unwrap();
    let vpn = b.store.subscribers(&system("vpn")).await.unwrap();
    let keys: Vec<_> = vpn.iter().map(Subscriber::contact_key).collect();
    assert_eq!(keys, vec!["email:amy@example.com", "email:bob@example.com", "phone:+14155550123"]);
    assert_eq!(vpn[1], renamed);
    assert_eq!(b.store.subscribers(&system("crm")).await.unwrap().len(), 1);
    assert!(b.store.subscribers(&system("none")).await.unwrap().is_empty());
}

pub async fn a_removed_subscriber_is_gone_and_removing_it_again_is_false(b: Backend) {
    let amy = subscriber("vpn", Some("amy@example.com"), None, None);
    let bob = subscriber("vpn", Some("bob@example.com"), None, None);
    let amy_elsewhere = subscriber("crm", Some("amy@example.com"), None, None);
    for s in [&amy, &bob, &amy_elsewhere] {
        b.store.put_subscriber(s).await.unwrap();
    }
    assert!(b.store.remove_subscriber(&system("vpn"), &amy.contact_key()).await.unwrap());
    assert!(!b.store.remove_subscriber(&system("vpn"), &amy.contact_key()).await.unwrap());
    assert_eq!(b.store.subscribers(&system("vpn")).await.unwrap(), [bob]);
    assert_eq!(b.store.subscribers(&system("crm")).await.unwrap(), [amy_elsewhere]);
    assert!(!b.store.remove_subscriber(&system("none"), "email:nobody@example.com").await.unwrap());
}
