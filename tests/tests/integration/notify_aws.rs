//! The SES mailer and SNS publisher against moto's server (started by `scripts/test`, which exports its
//! endpoint). Assertions read what moto recorded from `GET /moto-api/data.json`.
//!
//! Tests run in parallel in one process against one moto, so nothing is reset: each test uses its own sender,
//! template and topic, and reads back only what carries them.

use std::collections::{BTreeMap, BTreeSet};

use flare_aws::{SesMailer, SnsPublisher, local_ses_client, local_sns_client};
use flare_core::notify::{BulkMail, Mail, Mailer, Notification, Publisher, Recipient, ShortMessage, Subject};
use flare_core::{EmailAddress, EventKind, Severity, SystemId};
use serde_json::Value;

/// The environment variable through which `scripts/test` hands moto's endpoint to the tests.
const MOTO_ENDPOINT_VAR: &str = "FLARE_TEST_MOTO_ENDPOINT";

/// Far above anything a test sends, so no test waits on the limiter (its pacing is unit-tested with paused time).
const FAST: f64 = 10_000.0;

fn moto() -> String {
    std::env::var(MOTO_ENDPOINT_VAR).unwrap_or_else(|_| {
        panic!("{MOTO_ENDPOINT_VAR} is not set: run the suite with scripts/test, which starts moto")
    })
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    format!("{prefix}-{}-{nanos}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

fn email(raw: &str) -> EmailAddress {
    EmailAddress::parse("email", raw).unwrap()
}

async fn moto_data(endpoint: &str) -> Value {
    reqwest::get(format!("{endpoint}/moto-api/data.json")).await.unwrap().json().await.unwrap()
}

/// What moto recorded under `service` → `kind`, keeping the records whose `field` is `value`.
fn records<'a>(data: &'a Value, service: &str, kind: &str, field: &str, value: &str) -> Vec<&'a Value> {
    data[service][kind].as_array().into_iter().flatten().filter(|r| r[field] == value).collect()
}

/// A mailer whose sender moto has verified.
async fn mailer(endpoint: &str) -> (SesMailer, EmailAddress) {
    let client = local_ses_client(endpoint);
    let sender = email(&format!("{}@flare.example", unique("sender")));
    client.verify_email_identity().email_address(sender.as_str()).send().await.unwrap();
    (SesMailer::new(client, sender.clone(), FAST), sender)
}

fn recipients(n: usize) -> Vec<Recipient> {
    (0..n)
        .map(|i| Recipient {
            email: email(&format!("user{i}@example.org")),
            data: BTreeMap::from([(
                "unsubscribe_url".to_string(),
                format!("https://flare.example/unsubscribe/tok{i}"),
            )]),
        })
        .collect()
}

#[tokio::test]
async fn bulk_mail_to_120_recipients_takes_3_calls_covering_each_once_with_their_own_unsubscribe_link() {
    let endpoint = moto();
    let (mailer, sender) = mailer(&endpoint).await;
    let template = unique("incident-opened");
    mailer
        .ensure_template(
            &template,
            "{{ticket}} opened",
            "<p>{{ticket}}</p><a href=\"{{unsubscribe_url}}\">x</a>",
            "{{unsubscribe_url}}",
        )
        .await
        .unwrap();
    let mail = BulkMail {
        template: template.clone(),
        shared: BTreeMap::from([("ticket".to_string(), "INC-1042".to_string())]),
        recipients: recipients(120),
    };

    let report = mailer.send_bulk(&mail).await.unwrap();

    assert_eq!(report.calls, 3);
    assert_eq!(report.sent.len(), 120);
    assert!(report.failed.is_empty() && report.deferred.is_empty(), "{report:?}");
    let data = moto_data(&endpoint).await;
    let calls = records(&data, "ses", "BulkTemplateMessage", "source", sender.as_str());
    assert_eq!(calls.len(), 3, "⌈120/50⌉ bulk calls");
    let mut seen = BTreeMap::new();
    for call in &calls {
        assert_eq!(call["template"], template.as_str());
        assert_eq!(
            serde_json::from_str::<Value>(call["template_data"].as_str().unwrap()).unwrap()["ticket"],
            "INC-1042"
        );
        let destinations = call["destinations"].as_array().unwrap();
        assert!(destinations.len() <= 50);
        for d in destinations {
            let to = d["Destination"]["ToAddresses"].as_array().unwrap();
            assert_eq!(to.len(), 1);
            let replacement: Value = serde_json::from_str(d["ReplacementTemplateData"].as_str().unwrap()).unwrap();
            let previous = seen.insert(to[0].as_str().unwrap().to_string(), replacement["unsubscribe_url"].clone());
            assert!(previous.is_none(), "{} was sent twice", to[0]);
        }
    }
    assert_eq!(seen.len(), 120);
    for (i, recipient) in mail.recipients.iter().enumerate() {
        assert_eq!(seen[recipient.email.as_str()], format!("https://flare.example/unsubscribe/tok{i}"));
    }
}

#[tokio::test]
async fn a_recipient_listed_twice_is_mailed_once() {
    let endpoint = moto();
    let (mailer, sender) = mailer(&endpoint).await;
    let template = unique("dup");
    mailer.ensure_template(&template, "s", "<p>h</p>", "t").await.unwrap();
    let mut list = recipients(3);
    list.push(list[0].clone());

    let report = mailer.send_bulk(&BulkMail { template, shared: BTreeMap::new(), recipients: list }).await.unwrap();

    assert_eq!(report.sent.len(), 3);
    let data = moto_data(&endpoint).await;
    let calls = records(&data, "ses", "BulkTemplateMessage", "source", sender.as_str());
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["destinations"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn ensuring_a_template_twice_creates_it_once_and_updates_it_in_place() {
    let endpoint = moto();
    let (mailer, _) = mailer(&endpoint).await;
    let name = unique("resolved");

    mailer.ensure_template(&name, "v1 {{ticket}}", "<p>v1</p>", "v1").await.unwrap();
    mailer.ensure_template(&name, "v2 {{ticket}}", "<p>v2</p>", "v2").await.unwrap();
    mailer.ensure_template(&name, "v2 {{ticket}}", "<p>v2</p>", "v2").await.unwrap();

    let client = local_ses_client(&endpoint);
    let got = client.get_template().template_name(&name).send().await.unwrap();
    let template = got.template().unwrap();
    assert_eq!(template.subject_part(), Some("v2 {{ticket}}"));
    assert_eq!(template.html_part(), Some("<p>v2</p>"));
    let listed = client.list_templates().send().await.unwrap();
    let same_name = listed.templates_metadata().iter().filter(|t| t.name() == Some(name.as_str())).count();
    assert_eq!(same_name, 1);
}

#[tokio::test]
async fn a_registered_template_is_created_by_the_first_send_that_finds_it_missing_and_that_send_goes_out() {
    let endpoint = moto();
    let (mailer, sender) = mailer(&endpoint).await;
    let name = unique("notice");
    let mailer = mailer.with_template(&name, "{{ticket}} opened", "<p>{{ticket}}</p>", "{{ticket}}").unwrap();
    let in_ses = mailer.template_in_ses(&name).to_string();
    let mail = |n| BulkMail {
        template: name.clone(),
        shared: BTreeMap::from([("ticket".to_string(), "INC-7".to_string())]),
        recipients: recipients(n),
    };

    let first = mailer.send_bulk(&mail(2)).await.unwrap();
    let second = mailer.send_bulk(&mail(3)).await.unwrap();

    assert_eq!((first.sent.len(), first.calls), (2, 2), "refused for the missing template, then sent: {first:?}");
    assert_eq!((second.sent.len(), second.calls), (3, 1), "the template is there now: {second:?}");
    let got = local_ses_client(&endpoint).get_template().template_name(&in_ses).send().await.unwrap();
    assert_eq!(got.template().and_then(|t| t.subject_part()), Some("{{ticket}} opened"));
    let data = moto_data(&endpoint).await;
    let calls = records(&data, "ses", "BulkTemplateMessage", "source", sender.as_str());
    assert!(calls.len() == 2 && calls.iter().all(|c| c["template"] == in_ses.as_str()), "{calls:?}");
}

#[tokio::test]
async fn a_single_mail_is_a_raw_multipart_alternative_message_with_an_encoded_subject() {
    let endpoint = moto();
    let (mailer, sender) = mailer(&endpoint).await;
    let mail = Mail {
        to: email("manager@example.org"),
        subject: Subject::parse("subject", "Rapport: Störung behoben – INC-1042").unwrap(),
        html: "<h1>Report</h1>".to_string(),
        text: "Report".to_string(),
        inline: vec![],
    };

    mailer.send_one(&mail).await.unwrap();

    let data = moto_data(&endpoint).await;
    let sent = records(&data, "ses", "RawMessage", "source", sender.as_str());
    assert_eq!(sent.len(), 1);
    let raw = sent[0]["raw_data"].as_str().unwrap();
    // MIME names charsets and encodings case-insensitively (RFC 2045, RFC 2047); lettre writes them lower case.
    let folded = raw.to_ascii_lowercase();
    assert!(folded.contains("content-type: multipart/alternative;"), "{raw}");
    assert!(folded.contains("content-type: text/plain; charset=utf-8"), "{raw}");
    assert!(folded.contains("content-type: text/html; charset=utf-8"), "{raw}");
    let subject = raw.lines().find(|l| l.starts_with("Subject: ")).unwrap();
    assert!(subject.is_ascii() && subject.to_ascii_lowercase().contains("=?utf-8?b?"), "{subject}");
    assert!(raw.contains("To: manager@example.org"));
}

#[test]
fn a_subject_that_would_inject_a_header_cannot_be_built() {
    assert!(Subject::parse("subject", "Outage\r\nBcc: everyone@example.org").is_err());
}

fn notification(i: usize) -> Notification {
    let (severity, event) = if i.is_multiple_of(2) {
        (Severity::ALL[0], EventKind::Opened)
    } else {
        (Severity::ALL[1], EventKind::Resolved)
    };
    Notification {
        message: ShortMessage::parse(
            "message",
            &format!("INC-{} open: mail is down https://flare.example/i/{i}", 1000 + i),
        )
        .unwrap(),
        systems: vec![
            SystemId::parse("system", &format!("mail-{}", i % 3)).unwrap(),
            SystemId::parse("system", "vpn").unwrap(),
        ],
        severity,
        event,
    }
}

#[tokio::test]
async fn publishing_25_notifications_takes_3_batches_carrying_the_filter_attributes() {
    let endpoint = moto();
    let client = local_sns_client(&endpoint);
    let topic = client.create_topic().name(unique("flare-incidents")).send().await.unwrap();
    let arn = topic.topic_arn().unwrap().to_string();
    let publisher = SnsPublisher::new(client, arn.clone());
    let notes: Vec<Notification> = (0..25).map(notification).collect();

    let report = publisher.publish(&notes).await.unwrap();

    assert_eq!(report.calls, 3, "⌈25/10⌉ batch calls");
    assert_eq!(report.published.iter().copied().collect::<BTreeSet<_>>(), (0..25).collect());
    let data = moto_data(&endpoint).await;
    let topics = records(&data, "sns", "Topic", "arn", &arn);
    assert_eq!(topics.len(), 1);
    let sent = topics[0]["sent_notifications"].as_array().unwrap();
    assert_eq!(sent.len(), 25);
    for (i, note) in notes.iter().enumerate() {
        let found: Vec<&Value> = sent.iter().filter(|s| s[1] == note.message.as_str()).collect();
        assert_eq!(found.len(), 1, "notification {i} published once");
        let attributes = &found[0][3];
        assert_eq!(attributes["system"]["Type"], "String.Array");
        let systems: Vec<String> = serde_json::from_str(attributes["system"]["Value"].as_str().unwrap()).unwrap();
        assert_eq!(systems, note.systems.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(attributes["severity"]["Value"], note.severity.as_str());
        assert_eq!(attributes["event"]["Value"], note.event.as_str());
    }
}
