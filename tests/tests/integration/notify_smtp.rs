//! The SMTP mailer against a real SMTP server: `scripts/smtp_sink.py` (aiosmtpd), started by `scripts/test`,
//! which exports its address and the directory it stores each received message in. Also the same mailer over
//! the development file outbox, in a temporary directory.
//!
//! Tests run in parallel against one sink, so each sends to recipients carrying its own tag and reads back only
//! the messages addressed to them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use flare_core::EmailAddress;
use flare_core::notify::{BulkMail, Mail, Mailer, Recipient, Subject};
use flare_core::retry::Backoff;
use flare_embedded::{FileOutbox, SmtpConfig, SmtpMailer, SmtpTls};

const ADDR_VAR: &str = "FLARE_TEST_SMTP_ADDR";
const DIR_VAR: &str = "FLARE_TEST_SMTP_DIR";

fn required(var: &str) -> String {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run the suite with scripts/test, which starts the SMTP sink"))
}

pub(crate) fn tag() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    format!("t{}x{nanos}x{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

fn email(raw: &str) -> EmailAddress {
    EmailAddress::parse("email", raw).unwrap()
}

pub(crate) fn mailer() -> SmtpMailer {
    let addr = required(ADDR_VAR);
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let config = SmtpConfig {
        host: host.to_string(),
        port: port.parse().unwrap(),
        tls: SmtpTls::None,
        user: None,
        password: None,
        from: email("flare@flare.example"),
        rate: 10_000.0,
    };
    SmtpMailer::new(&config).unwrap().with_backoff(Backoff {
        max_attempts: 2,
        base: Duration::from_millis(5),
        max_delay: Duration::from_millis(10),
    })
}

/// The messages the sink holds for recipients containing `tag`, as (envelope recipient, raw message), once
/// `count` are there; fails after a deadline with what it found.
pub(crate) async fn received(tag: &str, count: usize) -> Vec<(String, String)> {
    let dir = PathBuf::from(required(DIR_VAR));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "eml") {
                let raw = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
                let rcpt = raw.lines().find_map(|l| l.strip_prefix("X-Sink-Rcpt-To: ")).unwrap().to_string();
                if rcpt.contains(tag) {
                    found.push((rcpt, raw));
                }
            }
        }
        if found.len() >= count || Instant::now() > deadline {
            assert_eq!(found.len(), count, "messages for {tag} in the sink");
            return found;
        }
        // The sink writes each message as it is accepted; look again shortly, never blocking the runtime.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn register(mailer: &SmtpMailer, name: &str) {
    mailer.register_template(
        name,
        "{{ticket}} is down",
        "<p>Hi {{name}}</p><p><a href=\"{{unsubscribe_url}}\">Unsubscribe</a></p>",
        "Hi {{name}}\nUnsubscribe: {{unsubscribe_url}}",
    );
}

fn recipient(address: &str, name: &str, token: &str) -> Recipient {
    Recipient {
        email: email(address),
        data: BTreeMap::from([
            ("name".to_string(), name.to_string()),
            ("unsubscribe_url".to_string(), format!("https://flare.example/unsubscribe/{token}")),
        ]),
    }
}

#[tokio::test]
async fn a_bulk_mail_reaches_each_unique_recipient_once_with_their_own_escaped_data() {
    let tag = tag();
    let mailer = mailer();
    register(&mailer, "outage");
    let mut recipients: Vec<Recipient> = (0..100)
        .map(|i| recipient(&format!("user{i}-{tag}@example.org"), &format!("User {i}"), &format!("tok-{i:03}-end")))
        .collect();
    recipients[7] = recipient(&format!("user7-{tag}@example.org"), "<b>Eve</b>", "tok-007-end");
    // 20 more, already listed, in another case.
    recipients.extend((0..20).map(|i| recipient(&format!("USER{i}-{tag}@Example.ORG"), "Dup", "tok-dup")));
    assert_eq!(recipients.len(), 120);

    let mail = BulkMail {
        template: "outage".to_string(),
        shared: BTreeMap::from([("ticket".to_string(), "INC-1042".to_string())]),
        recipients,
    };
    let report = mailer.send_bulk(&mail).await.unwrap();
    assert_eq!(report.sent.len(), 100);
    assert!(report.failed.is_empty() && report.deferred.is_empty(), "{report:?}");

    let messages = received(&tag, 100).await;
    let rcpts: BTreeSet<&str> = messages.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(rcpts.len(), 100, "one message per unique recipient");
    for (rcpt, raw) in &messages {
        let i: usize = rcpt.strip_prefix("user").and_then(|r| r.split('-').next()).unwrap().parse().unwrap();
        assert!(raw.contains(&format!("unsubscribe/tok-{i:03}-end")), "{rcpt} lacks its own link:\n{raw}");
        assert!(!raw.contains("tok-dup"), "{rcpt} got a duplicate's data");
        assert!(raw.contains("Subject: INC-1042 is down\r\n"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
    }
    let (_, eve) = messages.iter().find(|(r, _)| r.starts_with("user7-")).unwrap();
    assert!(eve.contains("<p>Hi &lt;b&gt;Eve&lt;/b&gt;</p>"), "{eve}");
    assert!(!eve.contains("<p>Hi <b>Eve</b>"), "{eve}");
}

#[tokio::test]
async fn a_single_mail_arrives_with_text_and_html_parts_and_the_exact_subject() {
    let tag = tag();
    let subject = format!("INC-1042 resolved after 42 minutes {tag}");
    let mail = Mail {
        to: email(&format!("report-{tag}@example.org")),
        subject: Subject::parse("subject", &subject).unwrap(),
        html: "<h1>Post-incident report</h1>".to_string(),
        text: "Post-incident report".to_string(),
        inline: vec![],
    };
    mailer().send_one(&mail).await.unwrap();

    let messages = received(&tag, 1).await;
    let raw = &messages[0].1;
    assert!(raw.contains(&format!("\r\nSubject: {subject}\r\n")), "{raw}");
    assert!(raw.contains("X-Sink-Mail-From: flare@flare.example"), "{raw}");
    assert!(raw.contains("Content-Type: text/plain") && raw.contains("Post-incident report\r\n"), "{raw}");
    assert!(raw.contains("Content-Type: text/html") && raw.contains("<h1>Post-incident report</h1>"), "{raw}");
}

#[tokio::test]
async fn recipients_the_server_refuses_are_reported_failed_or_deferred_and_the_rest_sent() {
    let tag = tag();
    let mailer = mailer();
    register(&mailer, "outage");
    let mail = BulkMail {
        template: "outage".to_string(),
        shared: BTreeMap::from([("ticket".to_string(), "INC-7".to_string())]),
        recipients: vec![
            recipient(&format!("ok-{tag}@example.org"), "Ok", "a"),
            recipient(&format!("reject-{tag}@example.org"), "No", "b"),
            recipient(&format!("busy-{tag}@example.org"), "Later", "c"),
        ],
    };
    let report = mailer.send_bulk(&mail).await.unwrap();
    assert_eq!(report.sent, vec![email(&format!("ok-{tag}@example.org"))]);
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].0, email(&format!("reject-{tag}@example.org")));
    assert!(report.failed[0].1.contains("550") || report.failed[0].1.contains("permanent"), "{report:?}");
    assert_eq!(report.deferred, vec![email(&format!("busy-{tag}@example.org"))]);
    // One call each for the sent and the refused, two (the backoff's attempts) for the deferred.
    assert_eq!(report.calls, 4);
    received(&format!("ok-{tag}"), 1).await;
}

#[tokio::test]
async fn a_recipient_missing_a_placeholder_value_is_reported_and_the_rest_sent() {
    let tag = tag();
    let mailer = mailer();
    register(&mailer, "outage");
    let mut incomplete = recipient(&format!("partial-{tag}@example.org"), "P", "x");
    incomplete.data.remove("unsubscribe_url");
    let mail = BulkMail {
        template: "outage".to_string(),
        shared: BTreeMap::from([("ticket".to_string(), "INC-8".to_string())]),
        recipients: vec![incomplete, recipient(&format!("whole-{tag}@example.org"), "W", "y")],
    };
    let report = mailer.send_bulk(&mail).await.unwrap();
    assert_eq!(report.sent, vec![email(&format!("whole-{tag}@example.org"))]);
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0].1.contains("unsubscribe_url"), "{report:?}");
    received(&tag, 1).await;
}

#[tokio::test]
async fn the_file_outbox_writes_one_eml_file_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let outbox_dir = dir.path().join("outbox");
    let outbox = FileOutbox::outbox(&outbox_dir, &email("flare@flare.example")).unwrap();
    outbox.register_template("outage", "{{ticket}} is down", "<p>{{name}}</p>", "{{name}}");
    let mail = BulkMail {
        template: "outage".to_string(),
        shared: BTreeMap::from([("ticket".to_string(), "INC-9".to_string())]),
        recipients: vec![
            recipient("ada@example.org", "<i>Ada</i>", "a"),
            recipient("ADA@example.org", "Ada again", "a"),
            recipient("bob@example.org", "Bob", "b"),
        ],
    };
    let report = outbox.send_bulk(&mail).await.unwrap();
    assert_eq!(report.sent.len(), 2);
    let mail = Mail {
        to: email("carol@example.org"),
        subject: Subject::parse("subject", "INC-9 report").unwrap(),
        html: "<p>r</p>".to_string(),
        text: "r".to_string(),
        inline: vec![],
    };
    outbox.send_one(&mail).await.unwrap();

    let files: Vec<String> = std::fs::read_dir(&outbox_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert_eq!(files.len(), 3);
    for to in ["To: ada@example.org", "To: bob@example.org", "To: carol@example.org"] {
        assert_eq!(files.iter().filter(|f| f.contains(to)).count(), 1, "{to}");
    }
    assert!(files.iter().any(|f| f.contains("<p>&lt;i&gt;Ada&lt;/i&gt;</p>")));
}
