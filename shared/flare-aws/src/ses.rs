//! The SES (v1) adapter of [`Mailer`]: mass notification through SendBulkTemplatedEmail, single mail (reports)
//! through SendRawEmail, and the templates those bulk sends name.
//!
//! It owns batching (at most [`BULK_MAX`] destinations per call), reading each destination's status, retrying
//! throttled destinations with backoff, and pacing sends under the account's maximum send rate. It does not
//! decide who is told or remember who was: that is the dispatcher and its ledger.
//!
//! Templates cost a function no call at cold start. [`SesMailer::with_template`] names a template after a digest
//! of its content, so a deploy that changes the content sends under a new name and one that does not finds its
//! template already there. The first bulk send that SES answers with `TemplateDoesNotExist` creates it and is
//! sent again, once. Nothing is ever updated in place, so a function still running the previous build keeps
//! mailing its own version.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ses::Client;
use aws_sdk_ses::operation::create_template::CreateTemplateError;
use aws_sdk_ses::operation::send_bulk_templated_email::SendBulkTemplatedEmailError;
use aws_sdk_ses::primitives::Blob;
use aws_sdk_ses::types::{BulkEmailDestination, BulkEmailStatus, Destination, RawMessage, Template};
use flare_core::EmailAddress;
use flare_core::notify::{BulkMail, BulkReport, Mail, Mailer, NotifyError, Recipient};
use lettre::Message;
use lettre::message::Mailbox;
use sha2::{Digest, Sha256};
use tracing::{info, instrument, warn};

use crate::client::{Limits, Service, local_sdk_config, sdk_config};
use crate::rate::{Backoff, RateLimiter, classify};

/// SES accepts at most 50 destinations in one SendBulkTemplatedEmail call.
pub const BULK_MAX: usize = 50;

const SERVICE: &str = "SES";

/// SES: a bulk call carries 50 destinations, so it may take a little longer than a DynamoDB call; a whole
/// dispatch still fits a stream-triggered invocation.
const LIMITS: Limits = Limits { attempt: Duration::from_secs(10), total: Duration::from_secs(25) };

/// The SES client Flare's functions use (see [`crate::client`]).
pub fn ses_client() -> Client {
    Client::new(&sdk_config(Service { env: "SES", limits: LIMITS }))
}

/// An SES client for a local emulator at `endpoint`. Tests only.
pub fn local_ses_client(endpoint: &str) -> Client {
    Client::new(&local_sdk_config(endpoint, LIMITS))
}

/// Hex digits of the content digest in a versioned template name: 48 bits, so two contents of one template
/// never meet by chance, and the name stays well inside SES's 64 characters.
const VERSION_DIGITS: usize = 12;

/// Sends Flare's mail through SES v1 from one verified sender.
#[derive(Debug)]
pub struct SesMailer {
    client: Client,
    sender: EmailAddress,
    limiter: RateLimiter,
    backoff: Backoff,
    templates: Vec<Versioned>,
}

/// A template Flare's code knows by `name`, sent in SES under a name that carries a digest of its content.
#[derive(Debug, Clone)]
struct Versioned {
    name: String,
    template: Template,
}

impl Versioned {
    fn in_ses(&self) -> &str {
        self.template.template_name()
    }
}

/// `name` followed by the first [`VERSION_DIGITS`] hex digits of the SHA-256 of the three parts, each length
/// prefixed so that moving text from one part to the next changes the name.
pub fn versioned_template_name(name: &str, subject: &str, html: &str, text: &str) -> String {
    let mut digest = Sha256::new();
    for part in [subject, html, text] {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    let hex = hex::encode(digest.finalize());
    format!("{name}-{}", &hex[..VERSION_DIGITS])
}

fn template(name: &str, subject: &str, html: &str, text: &str) -> Result<Template, NotifyError> {
    Template::builder()
        .template_name(name)
        .subject_part(subject)
        .html_part(html)
        .text_part(text)
        .build()
        .map_err(|e| NotifyError::Invalid(e.to_string()))
}

impl SesMailer {
    /// `max_send_rate` is the account's SES maximum send rate, in recipients per second.
    pub fn new(client: Client, sender: EmailAddress, max_send_rate: f64) -> Self {
        Self {
            client,
            sender,
            limiter: RateLimiter::per_second(max_send_rate),
            backoff: Backoff::default(),
            templates: Vec::new(),
        }
    }

    /// Bulk mail naming template `name` is sent under its versioned name ([`versioned_template_name`]), which
    /// is created in SES by the first send that finds it missing. No call is made here.
    pub fn with_template(mut self, name: &str, subject: &str, html: &str, text: &str) -> Result<Self, NotifyError> {
        let template = template(&versioned_template_name(name, subject, html, text), subject, html, text)?;
        self.templates.retain(|t| t.name != name);
        self.templates.push(Versioned { name: name.to_string(), template });
        Ok(self)
    }

    fn registered(&self, name: &str) -> Option<&Versioned> {
        self.templates.iter().find(|t| t.name == name)
    }

    /// The name SES knows template `name` by: its versioned name when registered, else `name` itself.
    pub fn template_in_ses<'a>(&'a self, name: &'a str) -> &'a str {
        self.registered(name).map_or(name, Versioned::in_ses)
    }

    /// Creates a versioned template; another instance having created it first is as good.
    #[instrument(skip_all, fields(template = %versioned.in_ses()))]
    async fn create_versioned(&self, versioned: &Versioned) -> Result<(), NotifyError> {
        match self.client.create_template().template(versioned.template.clone()).send().await {
            Ok(_) => {
                info!("mail template created");
                Ok(())
            }
            Err(e) if matches!(e.as_service_error(), Some(CreateTemplateError::AlreadyExistsException(_))) => Ok(()),
            Err(e) => Err(classify(SERVICE, e)),
        }
    }

    /// Replaces the retry schedule for throttled destinations.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Creates the template under `name` as given, or updates it when it exists. For tests and benchmarks that
    /// name their own templates; the functions use [`Self::with_template`], which costs no call at cold start.
    #[instrument(skip_all, fields(template = %name))]
    pub async fn ensure_template(&self, name: &str, subject: &str, html: &str, text: &str) -> Result<(), NotifyError> {
        let template = template(name, subject, html, text)?;
        match self.client.create_template().template(template.clone()).send().await {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.as_service_error(), Some(CreateTemplateError::AlreadyExistsException(_))) => self
                .client
                .update_template()
                .template(template)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify(SERVICE, e)),
            Err(e) => Err(classify(SERVICE, e)),
        }
    }

    /// Sends one chunk of at most [`BULK_MAX`] recipients, retrying its throttled destinations.
    async fn send_chunk(
        &self,
        mail: &BulkMail,
        shared: &str,
        chunk: &[&Recipient],
        report: &mut BulkReport,
    ) -> Result<(), NotifyError> {
        let mut pending: Vec<&Recipient> = chunk.to_vec();
        let mut waits = self.backoff.delays();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            if attempt > 1 {
                let Some(wait) = waits.next() else {
                    // Never dropped: the caller sees them and tries again later.
                    warn!(count = pending.len(), "destinations still throttled after retries");
                    report.deferred.extend(pending.iter().map(|r| r.email.clone()));
                    return Ok(());
                };
                tokio::time::sleep(wait).await;
            }
            self.limiter.acquire(pending.len()).await;
            let mut request = self
                .client
                .send_bulk_templated_email()
                .source(self.sender.as_str())
                .template(self.template_in_ses(&mail.template))
                .default_template_data(shared);
            for recipient in &pending {
                let data = serde_json::to_string(&recipient.data).map_err(|e| NotifyError::Invalid(e.to_string()))?;
                request = request.destinations(
                    BulkEmailDestination::builder()
                        .destination(Destination::builder().to_addresses(recipient.email.as_str()).build())
                        .replacement_template_data(data)
                        .build(),
                );
            }
            report.calls += 1;
            let mut sent = request.clone().send().await;
            if let Err(e) = &sent
                && matches!(e.as_service_error(), Some(SendBulkTemplatedEmailError::TemplateDoesNotExistException(_)))
                && let Some(versioned) = self.registered(&mail.template)
            {
                // The first send of a new deploy's template: SES refused the whole call, so nobody was mailed.
                self.create_versioned(versioned).await?;
                report.calls += 1;
                sent = request.send().await;
            }
            let output = match sent {
                Ok(output) => output,
                Err(e) => {
                    let error = classify(SERVICE, e);
                    if error.is_transient() {
                        warn!(error = ?error, attempt, "bulk send failed; retrying");
                        continue;
                    }
                    return Err(error);
                }
            };
            let statuses = output.status();
            let mut retry = Vec::new();
            for (i, recipient) in pending.iter().enumerate() {
                let entry = statuses.get(i);
                match entry.and_then(|s| s.status()) {
                    Some(BulkEmailStatus::Success) => report.sent.push(recipient.email.clone()),
                    // A message id without a status still means SES accepted the destination (moto answers so).
                    None if entry.and_then(|s| s.message_id()).is_some() => report.sent.push(recipient.email.clone()),
                    Some(BulkEmailStatus::AccountThrottled | BulkEmailStatus::TransientFailure) => {
                        retry.push(*recipient)
                    }
                    Some(other) => {
                        let detail = entry.and_then(|s| s.error()).unwrap_or_default();
                        let status = if detail.is_empty() {
                            other.as_str().to_string()
                        } else {
                            format!("{}: {detail}", other.as_str())
                        };
                        report.failed.push((recipient.email.clone(), status));
                    }
                    // SES answered without a status for this destination: it may have been sent, so it is not
                    // retried (no duplicates) but reported.
                    None => report.failed.push((recipient.email.clone(), "no status returned".to_string())),
                }
            }
            pending = retry;
        }
        Ok(())
    }
}

#[async_trait]
impl Mailer for SesMailer {
    #[instrument(skip_all, fields(template = %mail.template, recipients = mail.recipients.len()))]
    async fn send_bulk(&self, mail: &BulkMail) -> Result<BulkReport, NotifyError> {
        let shared = serde_json::to_string(&mail.shared).map_err(|e| NotifyError::Invalid(e.to_string()))?;
        let unique = mail.unique_recipients();
        let mut report = BulkReport::default();
        for chunk in unique.chunks(BULK_MAX) {
            self.send_chunk(mail, &shared, chunk, &mut report).await?;
        }
        Ok(report)
    }

    /// One SES bulk call's worth, so N recipients cost ⌈N/50⌉ calls and one ledger record each.
    fn batch_size(&self) -> usize {
        BULK_MAX
    }

    #[instrument(skip_all)]
    async fn send_one(&self, mail: &Mail) -> Result<(), NotifyError> {
        let raw = raw_message(&self.sender, mail)?.formatted();
        let message =
            RawMessage::builder().data(Blob::new(raw)).build().map_err(|e| NotifyError::Invalid(e.to_string()))?;
        self.limiter.acquire(1).await;
        self.client
            .send_raw_email()
            .source(self.sender.as_str())
            .destinations(mail.to.as_str())
            .raw_message(message)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(SERVICE, e))
    }
}

/// The message for one [`Mail`], from Flare's sender: [`Mail::message`] is the one MIME builder every mailer uses.
fn raw_message(sender: &EmailAddress, mail: &Mail) -> Result<Message, NotifyError> {
    let from = sender.as_str().parse::<Mailbox>().map_err(|e| NotifyError::Invalid(format!("sender address: {e}")))?;
    mail.message(&from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(subject: &str) -> String {
        let mail = Mail {
            to: EmailAddress::parse("to", "ada@example.org").unwrap_or_else(|e| panic!("{e:?}")),
            subject: flare_core::notify::Subject::parse("subject", subject).unwrap_or_else(|e| panic!("{e:?}")),
            html: "<p>Mail is back.</p>".to_string(),
            text: "Mail is back.".to_string(),
            inline: vec![],
        };
        let sender = EmailAddress::parse("sender", "flare@example.org").unwrap_or_else(|e| panic!("{e:?}"));
        let message = raw_message(&sender, &mail).unwrap_or_else(|e| panic!("{e:?}"));
        String::from_utf8(message.formatted()).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn the_versioned_name_is_the_same_for_the_same_content_and_changes_with_any_part() {
        let name = |s: &str, h: &str, t: &str| versioned_template_name("flare-notice-v1", s, h, t);
        let base = name("{{ticket}}", "<p>h</p>", "t");
        assert_eq!(base, name("{{ticket}}", "<p>h</p>", "t"));
        assert!(base.starts_with("flare-notice-v1-") && base.len() == "flare-notice-v1-".len() + VERSION_DIGITS);
        for other in [
            name("{{ticket}} ", "<p>h</p>", "t"),
            name("{{ticket}}", "<p>H</p>", "t"),
            name("{{ticket}}", "<p>h</p>", ""),
        ] {
            assert_ne!(base, other);
        }
        assert_ne!(name("ab", "c", "t"), name("a", "bc", "t"), "text moved between parts is another content");
    }

    #[test]
    fn the_notice_template_fits_the_64_characters_ses_allows() {
        let notice = flare_core::NOTICE;
        let name = versioned_template_name(notice.name, notice.subject, notice.html, notice.text);
        assert!(name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{name}");
    }

    #[test]
    fn bulk_mail_names_a_registered_template_by_its_versioned_name_and_others_as_given() {
        let sender = EmailAddress::parse("sender", "flare@example.org").unwrap_or_else(|e| panic!("{e:?}"));
        let mailer = SesMailer::new(local_ses_client("http://127.0.0.1:9"), sender, 1.0)
            .with_template("notice", "s", "<p>h</p>", "t")
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(mailer.template_in_ses("notice"), versioned_template_name("notice", "s", "<p>h</p>", "t"));
        assert_eq!(mailer.template_in_ses("other"), "other");
    }

    #[test]
    fn a_report_is_a_text_part_and_an_html_alternative() {
        let raw = report("INC-1042 resolved: mail is back");
        assert!(raw.contains("Subject: INC-1042 resolved: mail is back\r\n"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        let (text, html) = (raw.find("text/plain"), raw.find("text/html"));
        assert!(matches!((text, html), (Some(t), Some(h)) if t < h), "text first, then the preferred HTML: {raw}");
    }

    #[test]
    fn a_non_ascii_subject_is_encoded_and_every_header_line_stays_ascii() {
        let raw = report("Störung: Übertragung läuft wieder – E-Mail und Kalender sind erreichbar ✓");
        let headers = raw.split("\r\n\r\n").next().unwrap_or_default();
        assert!(headers.to_ascii_lowercase().contains("subject: =?utf-8?"), "{headers}");
        assert!(headers.is_ascii() && headers.lines().all(|l| l.len() <= 998), "{headers}");
    }

    /// SES statuses for a bulk call, in destination order, as SES v1's query protocol answers them.
    fn bulk_answer(statuses: &[&str]) -> wiremock::ResponseTemplate {
        let members: String = statuses
            .iter()
            .map(|s| match *s {
                "Success" => "<member><Status>Success</Status><MessageId>m</MessageId></member>".to_string(),
                other => format!("<member><Status>{other}</Status><Error>because</Error></member>"),
            })
            .collect();
        let body = format!(
            "<SendBulkTemplatedEmailResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\">\
             <SendBulkTemplatedEmailResult><Status>{members}</Status></SendBulkTemplatedEmailResult>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></SendBulkTemplatedEmailResponse>"
        );
        wiremock::ResponseTemplate::new(200).set_body_raw(body, "text/xml")
    }

    fn quick() -> Backoff {
        Backoff { max_attempts: 3, base: Duration::from_millis(1), max_delay: Duration::from_millis(2) }
    }

    fn mail(n: usize) -> BulkMail {
        let recipients = (0..n)
            .map(|i| Recipient {
                email: EmailAddress::parse("email", &format!("r{i}@example.org")).unwrap_or_else(|e| panic!("{e:?}")),
                data: std::collections::BTreeMap::new(),
            })
            .collect();
        BulkMail { template: "t".to_string(), shared: std::collections::BTreeMap::new(), recipients }
    }

    async fn mailer_at(server: &wiremock::MockServer) -> SesMailer {
        let sender = EmailAddress::parse("sender", "flare@example.org").unwrap_or_else(|e| panic!("{e:?}"));
        SesMailer::new(local_ses_client(&server.uri()), sender, 10_000.0).with_backoff(quick())
    }

    #[tokio::test]
    async fn a_throttled_destination_is_retried_alone_and_a_rejected_one_is_recorded() {
        use wiremock::matchers::{body_string_contains, method};
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(method("POST"))
            .and(body_string_contains("r0%40example.org"))
            .respond_with(bulk_answer(&["Success", "AccountThrottled", "MessageRejected"]))
            .expect(1)
            .mount(&server)
            .await;
        wiremock::Mock::given(method("POST")).respond_with(bulk_answer(&["Success"])).expect(1).mount(&server).await;

        let report = mailer_at(&server).await.send_bulk(&mail(3)).await.unwrap_or_else(|e| panic!("{e:?}"));

        let sent: Vec<&str> = report.sent.iter().map(|e| e.as_str()).collect();
        assert_eq!(sent, ["r0@example.org", "r1@example.org"]);
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].0.as_str(), "r2@example.org");
        assert!(report.failed[0].1.starts_with("MessageRejected"), "{:?}", report.failed);
        assert_eq!(report.calls, 2);
        let requests = server.received_requests().await.unwrap_or_default();
        let retry = String::from_utf8_lossy(&requests[1].body).to_string();
        assert!(retry.contains("r1%40example.org") && !retry.contains("r0%40") && !retry.contains("r2%40"), "{retry}");
    }

    #[tokio::test]
    async fn a_destination_throttled_on_every_attempt_is_deferred_not_lost() {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .respond_with(bulk_answer(&["TransientFailure"]))
            .mount(&server)
            .await;

        let report = mailer_at(&server).await.send_bulk(&mail(1)).await.unwrap_or_else(|e| panic!("{e:?}"));

        assert!(report.sent.is_empty() && report.failed.is_empty());
        assert_eq!(report.deferred.len(), 1);
        assert_eq!(report.calls, quick().max_attempts as usize);
    }
}
