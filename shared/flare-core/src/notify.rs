//! The notification ports: [`Mailer`] (bulk mail to subscribers, single mail for reports) and [`Publisher`]
//! (short messages to a topic that SMS, chat and webhook subscribers filter by attribute).
//!
//! Adapters live in `flare-aws` (SES, SNS) and `flare-embedded` (SMTP). This module holds no network code: only
//! the traits, what they carry, and the error every adapter maps its failures to. Deciding *who* is told and
//! recording *that* they were told (the ledger) belong to the dispatcher, not here.

use std::collections::BTreeMap;
use std::error::Error as StdError;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use crate::error::FieldError;
use crate::ledger::BATCH_MAX;
use crate::text::Line;
use crate::timeline::EventKind;
use crate::values::EmailAddress;
use crate::values::{Severity, SystemId};

/// The longest mail subject, in characters.
pub const SUBJECT_MAX: usize = 200;
/// The longest [`Notification`] message: one SMS.
pub const SMS_MAX: usize = 160;

/// A mail subject: one line, so a title cannot inject headers.
pub type Subject = Line<SUBJECT_MAX>;

/// Why a mailer or publisher call failed.
///
/// [`NotifyError::Transient`] may succeed if tried again later; the others need a person (a missing identity or
/// template, a refused parameter). Recipients refused one by one are not errors: they are reported in
/// [`BulkReport::failed`].
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Throttling, timeouts, connection failures and 5xx, once the adapter's own retries are spent.
    #[error("the {service} service is unavailable")]
    Transient {
        service: &'static str,
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The service refused the request itself; sending it again will not help.
    #[error("the {service} service rejected the request")]
    Permanent {
        service: &'static str,
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The request could not be built (bad template data, an unencodable message).
    #[error("invalid notification: {0}")]
    Invalid(String),
}

impl NotifyError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}

/// One recipient of a bulk mail, with the values only they get (their unsubscribe link, their name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub email: EmailAddress,
    pub data: BTreeMap<String, String>,
}

/// One templated mail to many recipients. The template (subject, HTML and text parts) is registered with the
/// mailer beforehand under `template`; `shared` fills the placeholders common to everyone, each
/// [`Recipient::data`] those that differ, and wins on a clash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkMail {
    pub template: String,
    pub shared: BTreeMap<String, String>,
    pub recipients: Vec<Recipient>,
}

impl BulkMail {
    /// The recipients, each address once (the first listing wins): however often someone is listed, across
    /// systems or by mistake, they get one copy. Addresses are stored lowercased, so this is case-blind.
    pub fn unique_recipients(&self) -> Vec<&Recipient> {
        let mut seen = std::collections::BTreeSet::new();
        self.recipients.iter().filter(|r| seen.insert(&r.email)).collect()
    }
}

/// What became of a bulk mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkReport {
    /// Accepted by the service.
    pub sent: Vec<EmailAddress>,
    /// Refused for good, with the service's status; retrying will not help.
    pub failed: Vec<(EmailAddress, String)>,
    /// Still throttled after the adapter's retries: not sent, to be tried again later. Never silently dropped.
    pub deferred: Vec<EmailAddress>,
    /// Calls made to the service, retries included.
    pub calls: usize,
}

/// One mail to one address (post-incident reports, digests), with an HTML part and its text alternative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: EmailAddress,
    pub subject: Subject,
    pub html: String,
    pub text: String,
    /// Images the HTML part shows inline, each referenced from it as `cid:<content_id>`.
    pub inline: Vec<InlineImage>,
}

/// A PNG shown inside the HTML part of a [`Mail`] (the digest's chart).
#[derive(Clone, PartialEq, Eq)]
pub struct InlineImage {
    /// Without angle brackets: the HTML refers to it as `cid:<content_id>`.
    pub content_id: String,
    pub png: Vec<u8>,
}

impl std::fmt::Debug for InlineImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineImage").field("content_id", &self.content_id).field("bytes", &self.png.len()).finish()
    }
}

impl Mail {
    /// The MIME message every mailer sends for this mail, written by lettre: multipart/alternative (text, then
    /// the preferred HTML), the HTML wrapped in multipart/related with its inline images when it has any.
    /// lettre encodes non-ASCII headers and picks each part's transfer encoding; the subject is a one-line
    /// [`Subject`], so nothing supplied can add a header.
    pub fn message(&self, from: &Mailbox) -> Result<lettre::Message, NotifyError> {
        let to: Mailbox =
            self.to.as_str().parse().map_err(|e| NotifyError::Invalid(format!("recipient address: {e}")))?;
        let builder = lettre::Message::builder().from(from.clone()).to(to).subject(self.subject.as_str());
        let body = if self.inline.is_empty() {
            MultiPart::alternative_plain_html(self.text.clone(), self.html.clone())
        } else {
            let png = ContentType::parse("image/png").map_err(|e| NotifyError::Invalid(e.to_string()))?;
            let related = self.inline.iter().fold(
                MultiPart::related().singlepart(SinglePart::html(self.html.clone())),
                |related, image| {
                    related.singlepart(
                        Attachment::new_inline(image.content_id.clone()).body(image.png.clone(), png.clone()),
                    )
                },
            );
            MultiPart::alternative().singlepart(SinglePart::plain(self.text.clone())).multipart(related)
        };
        builder.multipart(body).map_err(|e| NotifyError::Invalid(e.to_string()))
    }
}

/// Sends mail.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends `mail` to every recipient, each at most once. Recipients the service refuses for good are reported,
    /// not errors; throttled ones are retried.
    async fn send_bulk(&self, mail: &BulkMail) -> Result<BulkReport, NotifyError>;

    /// How many recipients the dispatcher hands over per [`Mailer::send_bulk`] call, and so records per ledger
    /// entry. A crash between a call and its record sends that call's mail again, so a mailer whose messages
    /// each go out on their own (SMTP) asks for as many as it sends at once, not a bulk call's worth. At most
    /// [`BATCH_MAX`], which is also the default.
    fn batch_size(&self) -> usize {
        BATCH_MAX
    }

    /// Sends one mail.
    async fn send_one(&self, mail: &Mail) -> Result<(), NotifyError>;
}

/// Holders of a mailer (the reporter) print as holding one: adapters carry clients and credentials, never shown.
impl std::fmt::Debug for dyn Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mailer")
    }
}

/// A short message of at most [`SMS_MAX`] characters: ticket, status, one line, link.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShortMessage(String);

impl ShortMessage {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        Line::<SMS_MAX>::parse(field, raw).map(|l| Self(l.as_str().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One message for the topic, with the attributes subscribers filter on. An incident affecting several systems
/// is one message listing them all (an SNS `String.Array` attribute), so someone who filters on severity alone
/// gets it once, not once per system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub message: ShortMessage,
    pub systems: Vec<SystemId>,
    pub severity: Severity,
    pub event: EventKind,
}

/// What became of a publish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// Notifications accepted, by their index in the input.
    pub published: Vec<usize>,
    /// Notifications refused for good, by index, with the service's reason.
    pub failed: Vec<(usize, String)>,
    /// Notifications still refused transiently after the adapter's retries, by index: to be tried again later.
    pub deferred: Vec<usize>,
    /// Calls made to the service, retries included.
    pub calls: usize,
}

/// Publishes notifications to a topic.
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes every notification at most once; entries refused transiently are retried.
    async fn publish(&self, notes: &[Notification]) -> Result<PublishReport, NotifyError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipient_listed_twice_in_any_case_is_mailed_once() {
        let recipient = |email: &str, n: &str| Recipient {
            email: EmailAddress::parse("email", email).unwrap(),
            data: BTreeMap::from([("n".to_string(), n.to_string())]),
        };
        let mail = BulkMail {
            template: "t".into(),
            shared: BTreeMap::new(),
            recipients: vec![
                recipient("ada@example.com", "1"),
                recipient("bob@example.com", "2"),
                recipient("ADA@Example.com", "3"),
            ],
        };
        let unique: Vec<_> = mail.unique_recipients().into_iter().map(|r| r.data["n"].as_str()).collect();
        assert_eq!(unique, ["1", "2"], "the first listing wins");
    }

    #[test]
    fn a_short_message_longer_than_one_sms_is_rejected() {
        let long = "x".repeat(SMS_MAX + 1);
        assert!(ShortMessage::parse("message", &long).is_err());
        assert!(ShortMessage::parse("message", &"x".repeat(SMS_MAX)).is_ok());
    }

    #[test]
    fn a_subject_with_a_line_break_is_rejected() {
        assert!(Subject::parse("subject", "Hello\r\nBcc: evil@example.com").is_err());
    }
}
