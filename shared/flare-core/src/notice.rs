//! What a notice says: the mail template's placeholders, the SMS-sized message and the links in both, for one
//! event and the incident as that event left it.
//!
//! Pure: no store, no clock, no network. Who receives a notice is [`crate::audience`]'s business, and sending it
//! and recording that it went out is the [`crate::dispatch`]er's.

use std::collections::BTreeMap;

use crate::incident::Incident;
use crate::notify::{SMS_MAX, ShortMessage};
use crate::timefmt::rfc3339;
use crate::timeline::{EventKind, TimelineEvent};
use crate::unsubscribe::UnsubscribeKey;
use crate::values::EmailAddress;
use crate::values::SystemId;
use crate::values::TicketNumber;

/// The mail template every notice uses: a subject, an HTML part and a text part with `{{name}}` placeholders,
/// kept as files beside this crate. SES registers it under [`MailTemplate::name`] (Handlebars, which escapes
/// values in the HTML part); the SMTP mailer renders it itself, escaping values in the HTML part. Values never
/// reach a header except through the subject, which is one line.
#[derive(Debug, Clone, Copy)]
pub struct MailTemplate {
    pub name: &'static str,
    pub subject: &'static str,
    pub html: &'static str,
    pub text: &'static str,
}

/// The incident notice. The name carries a version: change it when the placeholders change, so that a mailer
/// never renders new data with an old template.
pub const NOTICE: MailTemplate = MailTemplate {
    name: "flare-notice-v1",
    subject: include_str!("../templates/notice/subject.txt"),
    html: include_str!("../templates/notice/body.html"),
    text: include_str!("../templates/notice/body.txt"),
};

/// Where the links in a notice point.
#[derive(Debug, Clone)]
pub struct Links {
    /// The public address of Flare, without a trailing slash: `https://flare.example.com`.
    pub base_url: String,
    pub unsubscribe: UnsubscribeKey,
}

impl Links {
    pub fn new(base_url: &str, unsubscribe: UnsubscribeKey) -> Self {
        Self { base_url: base_url.trim_end_matches('/').to_string(), unsubscribe }
    }

    /// The incident's page.
    pub fn incident(&self, ticket: TicketNumber) -> String {
        format!("{}/incidents/{ticket}", self.base_url)
    }

    /// A recipient's link to stop hearing about `systems`.
    pub fn unsubscribe(&self, email: &EmailAddress, systems: &[SystemId]) -> String {
        format!("{}/unsubscribe/{}", self.base_url, self.unsubscribe.sign(email, systems))
    }
}

/// The placeholders every recipient of this event shares. `incident` is the incident as the event left it, so
/// a notice retried after later changes still describes its own moment.
pub fn shared_data(incident: &Incident, event: &TimelineEvent, links: &Links) -> BTreeMap<String, String> {
    let systems: Vec<&str> = incident.systems.iter().map(|s| s.system.as_str()).collect();
    let resolved = incident.resolved_at.map(|t| format!("Resolved: {}", rfc3339(t))).unwrap_or_default();
    // An opening has no message of its own: its description says what is wrong.
    let message = match (&event.message, event.kind) {
        (Some(m), _) => m.to_string(),
        (None, EventKind::Opened) => incident.description.to_string(),
        (None, _) => String::new(),
    };
    BTreeMap::from(
        [
            ("ticket", incident.ticket.to_string()),
            ("headline", headline(incident, event)),
            ("title", incident.title.to_string()),
            ("status", incident.status.to_string()),
            ("severity", format!("{} ({})", incident.severity, incident.severity.label())),
            ("systems", systems.join(", ")),
            ("started_at", rfc3339(incident.started_at)),
            ("resolved_line", resolved),
            ("message", message),
            ("link", links.incident(incident.ticket)),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    )
}

/// What happened, in one word, for the events that say it themselves; `None` for a plain change, which the
/// headline calls an update and the short message tells by the status it left.
fn happened(kind: EventKind) -> Option<&'static str> {
    match kind {
        EventKind::Opened => Some("opened"),
        EventKind::Resolved => Some("resolved"),
        EventKind::Reopened => Some("reopened"),
        EventKind::Updated | EventKind::Note | EventKind::TicketLinked => None,
    }
}

/// The first line of a notice: "Major incident opened", "Incident resolved".
pub fn headline(incident: &Incident, event: &TimelineEvent) -> String {
    let what = happened(event.kind).unwrap_or("updated");
    let severity = incident.severity.label();
    let mut line = format!("{severity} incident {what}");
    line[..1].make_ascii_uppercase();
    line
}

/// The SMS-sized message: ticket, severity, status, the title cut to fit, and the link. The link is never cut,
/// so the message is always usable; a base URL so long that nothing else fits gets a message without it.
pub fn short_message(incident: &Incident, event: &TimelineEvent, link: &str) -> ShortMessage {
    let status = happened(event.kind).unwrap_or(incident.status.as_str());
    let head = format!("{} {} {status}: ", incident.ticket, incident.severity.as_str().to_uppercase());
    let tail = format!(" {link}");
    let room = SMS_MAX.saturating_sub(head.chars().count() + tail.chars().count());
    let title = incident.title.as_str();
    let title = if title.chars().count() <= room {
        title.to_string()
    } else {
        let cut: String = title.chars().take(room.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    };
    let full = format!("{head}{title}{tail}");
    ShortMessage::parse("message", &full)
        .or_else(|_| ShortMessage::parse("message", &format!("{head}{title}")))
        .unwrap_or_else(|_| {
            // Head and title are bounded by construction; this only trims what cannot happen.
            let cut: String = full.chars().take(SMS_MAX).collect();
            ShortMessage::parse("message", &cut).unwrap_or_else(|_| unreachable!("{SMS_MAX} characters fit"))
        })
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::test_util::{event, incident};
    use crate::values::{Severity, Status};

    fn links() -> Links {
        Links::new("https://flare.example.com/", UnsubscribeKey::derive(b"a test key of thirty-two bytes!!"))
    }

    #[test]
    fn a_short_message_fits_one_sms() {
        let link = "https://flare.example.com/incidents/INC-1042";
        let long = incident().title(&"Every office printer ".repeat(9)).status(Status::Identified).build();
        let short = short_message(&long, &event(&long, EventKind::Updated), link);
        assert_eq!(short.as_str().chars().count(), SMS_MAX);
        assert!(short.as_str().starts_with("INC-1042 SEV2 identified: Every office printer"), "{}", short.as_str());
    }

    #[test]
    fn a_short_message_cuts_the_title_and_keeps_the_link() {
        let link = "https://flare.example.com/incidents/INC-1042";
        let long = incident().title(&"Every office printer ".repeat(9)).build();
        let short = short_message(&long, &event(&long, EventKind::Updated), link);
        assert!(short.as_str().ends_with(&format!("… {link}")), "{}", short.as_str());
    }

    #[test]
    fn a_short_message_names_what_happened() {
        let link = "https://flare.example.com/incidents/INC-1042";
        let i = incident().title("VPN down").build();
        let short = short_message(&i, &event(&i, EventKind::Opened), link);
        assert_eq!(short.as_str(), format!("INC-1042 SEV2 opened: VPN down {link}"));
    }

    #[test]
    fn a_headline_names_the_severity_and_what_happened() {
        let i = incident().severity(Severity::Sev2).build();
        assert_eq!(headline(&i, &event(&i, EventKind::Opened)), "Major incident opened");
        assert_eq!(headline(&i, &event(&i, EventKind::Resolved)), "Major incident resolved");
        assert_eq!(headline(&i, &event(&i, EventKind::Updated)), "Major incident updated");
    }

    #[test]
    fn a_notice_describes_the_incident_it_is_given_not_a_later_one() {
        let opened = incident().started_at(datetime!(2026-11-22 09:00 UTC)).build();
        let data = shared_data(&opened, &event(&opened, EventKind::Opened), &links());
        assert_eq!(data["status"], "investigating");
        assert_eq!(data["resolved_line"], "");
        assert_eq!(data["headline"], "Major incident opened");
        assert_eq!(data["started_at"], "2026-11-22T09:00:00Z");
    }

    #[test]
    fn an_opening_notice_carries_the_description_as_its_message() {
        let i = incident().description("No one can connect").build();
        let data = shared_data(&i, &event(&i, EventKind::Opened), &links());
        assert_eq!(data["message"], "No one can connect");
        assert_eq!(data["link"], "https://flare.example.com/incidents/INC-1042");
    }

    #[test]
    fn the_notice_templates_use_only_placeholders_the_dispatcher_fills() {
        let i = incident().build();
        let mut filled: Vec<String> = shared_data(&i, &event(&i, EventKind::Opened), &links()).into_keys().collect();
        // Filled per recipient, by the audience.
        filled.extend(["unsubscribe_url".to_string(), "reason".to_string()]);
        for part in [NOTICE.subject, NOTICE.html, NOTICE.text] {
            for piece in part.split("{{").skip(1) {
                let name = piece.split("}}").next().unwrap().trim();
                assert!(filled.iter().any(|f| f == name), "{name} is not filled");
            }
        }
        assert!(!NOTICE.subject.contains('\n'), "the subject is one line");
    }
}
