//! The reporter end to end, with the test's clock: post-incident reports and the weekly digest from a real store
//! (SQLite, DynamoDB Local) through a real mailer (the SMTP sink, moto's SES `SendRawEmail`), the sent MIME parsed
//! back into its parts.
//!
//! Each test has its own store and its own tagged addresses, so tests run in parallel on one sink and one moto.

use std::sync::Arc;

use flare_aws::{SesMailer, local_ses_client};
use flare_core::notify::Mailer;
use flare_core::report::{DIGEST_CHART_CID, ReportLinks, ReportSettings, Reporter};
use flare_core::text::{Message, PersonName, SystemName};
use flare_core::{
    Command, DeliveryChannel, EmailAddress, IncidentService, ReopenIncident, ResolveIncident, Subscriber, System,
    TicketNumber,
};
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::support::{self, Backend, NOW, agent};

const DELAY: Duration = Duration::hours(4);

fn email(raw: &str) -> EmailAddress {
    EmailAddress::parse("email", raw).unwrap()
}

/// A catalog of one system, `vpn`, owned by `owner-<tag>`, with a subscriber who must never get a report.
async fn catalog(backend: &Backend, tag: &str) {
    let vpn = System {
        id: support::system("vpn"),
        name: SystemName::parse("name", "Remote access VPN").unwrap(),
        owner: Some(PersonName::parse("owner", "Grace Hopper").unwrap()),
        owner_email: Some(email(&format!("owner-{tag}@example.org"))),
    };
    backend.store.put_system(&vpn).await.unwrap();
    let subscriber = Subscriber::new(vpn.id, Some(email(&format!("subscriber-{tag}@example.org"))), None, None);
    backend.store.put_subscriber(&subscriber.unwrap()).await.unwrap();
}

fn reporter(backend: &Backend, mailer: Arc<dyn Mailer>, tag: &str) -> Reporter {
    reporter_for(backend, mailer, &[&format!("boss-{tag}@example.org")])
}

fn reporter_for(backend: &Backend, mailer: Arc<dyn Mailer>, stakeholders: &[&str]) -> Reporter {
    let settings = ReportSettings {
        delay: DELAY,
        stakeholders: stakeholders.iter().map(|s| email(s)).collect(),
        links: ReportLinks::new("https://flare.example.org"),
    };
    Reporter::new(backend.service(), mailer, settings)
}

/// Monday 2026-11-23, 07:00 UTC: the digest sent then covers the week of the 16th, which holds NOW (Sunday).
fn digest_monday() -> OffsetDateTime {
    OffsetDateTime::new_utc(time::macros::date!(2026 - 11 - 23), time::Time::from_hms(7, 0, 0).unwrap())
}

/// The catalog, and one incident on the VPN opened and resolved at the clock's time.
async fn one_resolved(backend: &Backend, tag: &str, title: &str) -> TicketNumber {
    catalog(backend, tag).await;
    let service = backend.service();
    let ticket = open(&service, title).await;
    resolve(&service, ticket).await;
    ticket
}

/// Opens an incident on the VPN at the clock's time.
async fn open(service: &IncidentService, title: &str) -> TicketNumber {
    let now = service.clock().now();
    service.open(support::open(title, now, &["vpn"]), &agent(), None).await.unwrap().ticket
}

async fn resolve(service: &IncidentService, ticket: TicketNumber) {
    let resolve = ResolveIncident {
        ticket,
        expected_version: None,
        resolved_at: None,
        message: Some(Message::parse("message", "The gateway was replaced.").unwrap()),
        root_cause: None,
        notify: false,
    };
    service.execute(Command::Resolve(resolve), &agent(), None).await.unwrap();
}

async fn reopen(service: &IncidentService, ticket: TicketNumber) {
    let reopen = ReopenIncident { ticket, expected_version: None, message: None, notify: false };
    service.execute(Command::Reopen(reopen), &agent(), None).await.unwrap();
}

/// The report deliveries of an incident in the ledger.
async fn report_deliveries(backend: &Backend, ticket: TicketNumber) -> Vec<flare_core::Delivery> {
    let all = backend.store.deliveries(ticket).await.unwrap();
    all.into_iter().filter(|d| d.channel == DeliveryChannel::Report).collect()
}

mod smtp {
    use super::*;
    use crate::notify_smtp::{mailer, received, tag};

    #[tokio::test]
    async fn no_report_goes_out_before_the_delay_has_passed() {
        let (backend, tag) = (support::sqlite().await, tag());
        catalog(&backend, &tag).await;
        let service = backend.service();
        let ticket = open(&service, "VPN down").await;
        backend.clock.set(NOW + Duration::hours(1));
        resolve(&service, ticket).await;
        backend.clock.set(NOW + Duration::hours(1) + DELAY - Duration::minutes(1));

        let run = reporter(&backend, Arc::new(mailer()), &tag).send_due_reports().await.unwrap();

        assert!(run.sent.is_empty(), "{run:?}");
        assert!(report_deliveries(&backend, ticket).await.is_empty());
    }

    #[tokio::test]
    async fn a_resolved_incident_gets_exactly_one_report_after_the_delay_containing_its_timeline() {
        let (backend, tag) = (support::sqlite().await, tag());
        catalog(&backend, &tag).await;
        let service = backend.service();
        let ticket = open(&service, "VPN down").await;
        backend.clock.set(NOW + Duration::hours(1));
        resolve(&service, ticket).await;
        backend.clock.set(NOW + Duration::hours(1) + DELAY);
        let reporter = reporter(&backend, Arc::new(mailer()), &tag);

        let first = reporter.send_due_reports().await.unwrap();
        let retried = reporter.send_due_reports().await.unwrap();

        assert_eq!((first.sent, retried.sent), (vec![ticket], vec![]));
        // The owner and the stakeholder, and never the subscriber (whose address carries the tag too).
        let mail = received(&tag, 2).await;
        let mut to: Vec<&str> = mail.iter().map(|(rcpt, _)| rcpt.split('-').next().unwrap()).collect();
        to.sort_unstable();
        assert_eq!(to, ["boss", "owner"]);
        let message = MessageParser::default().parse(mail[0].1.as_bytes()).unwrap();
        assert_eq!(message.subject(), Some(format!("Post-incident report {ticket}: VPN down").as_str()));
        let text = message.body_text(0).unwrap();
        assert!(text.contains("2026-11-22 13:00 UTC  resolved by contract-test"), "{text}");
        assert!(text.contains("The gateway was replaced."), "{text}");
        assert!(message.body_html(0).unwrap().contains("Remote access VPN — partial outage"));
        let ledger = report_deliveries(&backend, ticket).await;
        assert_eq!(ledger.iter().map(|d| (d.batch, d.sent.len())).collect::<Vec<_>>(), [(1, 0), (2, 2)]);
    }

    #[tokio::test]
    async fn a_reopen_and_resolve_within_the_delay_still_gives_one_report_after_the_last_resolution() {
        let (backend, tag) = (support::sqlite().await, tag());
        catalog(&backend, &tag).await;
        let service = backend.service();
        let ticket = open(&service, "VPN down").await;
        backend.clock.set(NOW + Duration::hours(1));
        resolve(&service, ticket).await;
        backend.clock.set(NOW + Duration::hours(2));
        reopen(&service, ticket).await;
        backend.clock.set(NOW + Duration::hours(3));
        resolve(&service, ticket).await;
        let reporter = reporter(&backend, Arc::new(mailer()), &tag);

        backend.clock.set(NOW + Duration::hours(1) + DELAY);
        let after_first_resolution = reporter.send_due_reports().await.unwrap();
        backend.clock.set(NOW + Duration::hours(3) + DELAY);
        let after_last_resolution = reporter.send_due_reports().await.unwrap();
        backend.clock.set(NOW + Duration::hours(30));
        let next_day = reporter.send_due_reports().await.unwrap();

        assert!(after_first_resolution.sent.is_empty());
        assert_eq!(after_last_resolution.sent, [ticket]);
        assert!(next_day.sent.is_empty());
        assert_eq!(received(&tag, 2).await.len(), 2, "one report to each of the owner and the stakeholder");
    }

    #[tokio::test]
    async fn a_recipient_the_server_defers_is_tried_again_on_later_runs_and_nobody_else_gets_a_second_copy() {
        let (backend, tag) = (support::sqlite().await, tag());
        let ticket = one_resolved(&backend, &tag, "VPN down").await;
        backend.clock.set(NOW + DELAY);
        let (busy, gone) = (format!("busy-{tag}@example.org"), format!("reject-{tag}@example.org"));
        let reporter = reporter_for(&backend, Arc::new(mailer()), &[&busy, &gone]);

        for hour in 0..6 {
            backend.clock.set(NOW + DELAY + Duration::hours(hour));
            reporter.send_due_reports().await.unwrap();
        }

        let owner_copies = received(&format!("owner-{tag}"), 1).await;
        assert_eq!(owner_copies.len(), 1);
        let ledger = report_deliveries(&backend, ticket).await;
        assert_eq!(ledger.len(), 2 * flare_core::report::ATTEMPTS_MAX as usize, "claim and result per attempt");
        let first: Vec<&str> = ledger[1].refused.iter().map(|r| r.to.as_str()).collect();
        assert_eq!(first, [busy.as_str(), gone.as_str()], "the first attempt: one deferred, one refused for good");
        for result in ledger.iter().skip(3).step_by(2) {
            let refused: Vec<&str> = result.refused.iter().map(|r| r.to.as_str()).collect();
            assert_eq!((result.sent.len(), refused), (0, vec![busy.as_str()]), "only the deferred one again");
        }
    }

    #[tokio::test]
    async fn two_overlapping_runs_send_each_report_once() {
        let (backend, tag) = (support::sqlite().await, tag());
        catalog(&backend, &tag).await;
        let service = backend.service();
        let mut tickets = Vec::new();
        for title in ["VPN down", "VPN slow", "VPN drops"] {
            let ticket = open(&service, title).await;
            resolve(&service, ticket).await;
            tickets.push(ticket);
        }
        backend.clock.set(NOW + DELAY);
        let (one, two) = (reporter(&backend, Arc::new(mailer()), &tag), reporter(&backend, Arc::new(mailer()), &tag));

        let (a, b) = tokio::join!(one.send_due_reports(), two.send_due_reports());

        let (a, b) = (a.unwrap(), b.unwrap());
        let mut sent: Vec<TicketNumber> = a.sent.iter().chain(&b.sent).copied().collect();
        sent.sort();
        assert_eq!(sent, tickets, "each report once, by one run or the other");
        assert_eq!(received(&tag, 6).await.len(), 6);
        for ticket in tickets {
            assert_eq!(report_deliveries(&backend, ticket).await.len(), 2, "one claim and one record of who got it");
        }
    }

    #[tokio::test]
    async fn two_overlapping_digest_runs_send_the_digest_once_and_the_ledger_shows_who_got_it() {
        let (backend, tag) = (support::sqlite().await, tag());
        one_resolved(&backend, &tag, "VPN down").await;
        backend.clock.set(digest_monday());
        let (one, two) = (reporter(&backend, Arc::new(mailer()), &tag), reporter(&backend, Arc::new(mailer()), &tag));

        let (a, b) = tokio::join!(one.send_digest(), two.send_digest());

        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!([a.sent_before, b.sent_before].iter().filter(|before| **before).count(), 1, "{a:?} {b:?}");
        assert_eq!(a.sent.len() + b.sent.len(), 2, "the owner and the stakeholder, once");
        assert_eq!(received(&tag, 2).await.len(), 2);
        let ledger = one.last_week_deliveries().await.unwrap();
        assert_eq!(ledger.iter().map(|d| d.batch).collect::<Vec<_>>(), [1, 2], "one claim and one result");
        let mut sent = ledger[1].sent.clone();
        sent.sort();
        assert_eq!(sent, [format!("boss-{tag}@example.org"), format!("owner-{tag}@example.org")]);
        assert!(one.send_digest().await.unwrap().sent_before, "a later run sends nothing");
    }
}

mod ses {
    use super::*;

    async fn moto_raw_messages(sender: &EmailAddress) -> Vec<Value> {
        support::moto_raw_messages(sender.as_str()).await
    }

    /// An SES mailer from a sender moto has verified.
    async fn ses_mailer() -> (Arc<dyn Mailer>, EmailAddress) {
        let client = local_ses_client(&support::moto_endpoint());
        let sender = email(&format!("reports-{}@flare.example", support::unique_suffix()));
        client.verify_email_identity().email_address(sender.as_str()).send().await.unwrap();
        (Arc::new(SesMailer::new(client, sender.clone(), 10_000.0)), sender)
    }

    #[tokio::test]
    async fn on_dynamodb_a_report_goes_out_once_through_ses_to_the_owner_and_the_stakeholder_only() {
        let backend = support::dynamodb().await;
        let tag = support::unique_suffix();
        let ticket = one_resolved(&backend, &tag, "VPN down").await;
        backend.clock.set(NOW + DELAY);
        let (mailer, sender) = ses_mailer().await;
        let reporter = reporter(&backend, mailer, &tag);

        let first = reporter.send_due_reports().await.unwrap();
        let again = reporter.send_due_reports().await.unwrap();

        assert_eq!((first.sent, again.sent), (vec![ticket], vec![]));
        let sent = moto_raw_messages(&sender).await;
        let mut to: Vec<String> = sent
            .iter()
            .map(|m| {
                let message = MessageParser::default().parse(m["raw_data"].as_str().unwrap().as_bytes()).unwrap();
                message.to().and_then(|a| a.first()).and_then(|a| a.address()).unwrap().to_string()
            })
            .collect();
        to.sort();
        assert_eq!(to, [format!("boss-{tag}@example.org"), format!("owner-{tag}@example.org")]);
    }

    #[tokio::test]
    async fn on_dynamodb_a_retried_digest_run_sends_nothing_again() {
        let backend = support::dynamodb().await;
        let tag = support::unique_suffix();
        one_resolved(&backend, &tag, "VPN down").await;
        backend.clock.set(digest_monday());
        let (mailer, sender) = ses_mailer().await;
        let reporter = reporter(&backend, mailer, &tag);

        let first = reporter.send_digest().await.unwrap();
        let retried = reporter.send_digest().await.unwrap();

        assert_eq!((first.sent.len(), first.sent_before), (2, false));
        assert_eq!((retried.sent.len(), retried.sent_before), (0, true));
        assert_eq!(moto_raw_messages(&sender).await.len(), 2, "one digest each for the owner and the stakeholder");
        let ledger = reporter.last_week_deliveries().await.unwrap();
        assert_eq!(ledger.iter().map(|d| (d.batch, d.sent.len())).collect::<Vec<_>>(), [(1, 0), (2, 2)]);
    }

    #[tokio::test]
    async fn the_digest_carries_its_chart_inline_and_escapes_a_hostile_title() {
        let backend = support::sqlite().await;
        let tag = support::unique_suffix();
        catalog(&backend, &tag).await;
        let service = backend.service();
        // NOW is Sunday 2026-11-22; the digest sent on Monday the 23rd covers the week of the 16th.
        let ticket = open(&service, "<img src=x onerror=alert(1)>").await;
        resolve(&service, ticket).await;
        backend.clock.set(digest_monday());
        let (mailer, sender) = ses_mailer().await;

        let run = reporter(&backend, mailer, &tag).send_digest().await.unwrap();

        assert_eq!(run.sent.len(), 2, "{run:?}");
        let sent = moto_raw_messages(&sender).await;
        let raw = sent[0]["raw_data"].as_str().unwrap();
        let message = MessageParser::default().parse(raw.as_bytes()).unwrap();
        assert_eq!(
            message.subject(),
            Some("Flare weekly digest: 2026-11-16 to 2026-11-22 (1 incident this week; 0 open now)")
        );
        assert!(message.body_text(0).unwrap().contains("Sun 22    1 #"), "{raw}");
        let html = message.body_html(0).unwrap();
        assert!(html.contains(&format!("src=\"cid:{DIGEST_CHART_CID}\"")), "{html}");
        assert!(html.contains("&#60;img src=x onerror=alert(1)&#62;") && !html.contains("<img src=x"), "{html}");
        let image = message.attachments().find(|p| p.content_id() == Some(DIGEST_CHART_CID)).expect("the inline chart");
        assert_eq!(&image.contents()[..8], b"\x89PNG\r\n\x1a\n");
    }
}
