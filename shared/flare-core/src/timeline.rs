//! The timeline: every change to an incident is one event saying who did it, when, what changed and why.
//! Events are never rewritten; an incident's `version` is the `seq` of its latest event.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::access::Actor;
use crate::incident::Incident;
use crate::text::Message;
use crate::timefmt::serde_rfc3339;
use crate::values::TicketNumber;

crate::choice!(
    /// What kind of change an event records.
    EventKind {
        Opened = "opened",
        Updated = "updated",
        Resolved = "resolved",
        Reopened = "reopened",
        Note = "note",
        /// The dispatcher linked the incident to the ticket it opened or found in the ticketing system. It is
        /// bookkeeping of the dispatcher's own, so it is never delivered anywhere.
        TicketLinked = "ticket_linked",
    }
);

impl EventKind {
    /// The kind in words, for pages and mail: the wire name without its underscore.
    pub fn label(self) -> &'static str {
        match self {
            Self::TicketLinked => "ticket linked",
            other => other.as_str(),
        }
    }
}

/// One field's value before and after. Values are the field's JSON form; `null` means absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub from: Value,
    pub to: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub ticket: TicketNumber,
    /// 1 for the opening event, then one more per change: the incident's version after this event.
    pub seq: u64,
    #[serde(with = "serde_rfc3339")]
    pub at: OffsetDateTime,
    pub actor: Actor,
    pub kind: EventKind,
    pub changes: Vec<FieldChange>,
    pub message: Option<Message>,
    /// Whether the people affected are to be told about this event.
    pub notify: bool,
}

/// An event as the store keeps it: the event, and the incident as that event left it (its state at version
/// `seq`), so that whoever delivers the event later describes that moment, not whatever happened since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    pub event: TimelineEvent,
    /// `None` for events stored before the stores kept this state beside each event.
    pub incident: Option<Incident>,
}

/// The fields that differ between two JSON objects, in a stable order, leaving out bookkeeping fields.
pub(crate) fn diff(before: &Value, after: &Value, skip: &[&str]) -> Vec<FieldChange> {
    let empty = serde_json::Map::new();
    let (b, a) = (before.as_object().unwrap_or(&empty), after.as_object().unwrap_or(&empty));
    let mut fields: Vec<&String> = b.keys().chain(a.keys()).filter(|k| !skip.contains(&k.as_str())).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter_map(|f| {
            let (from, to) = (b.get(f).unwrap_or(&Value::Null), a.get(f).unwrap_or(&Value::Null));
            (from != to).then(|| FieldChange { field: f.clone(), from: from.clone(), to: to.clone() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_ticket_link_reads_as_words_on_a_page() {
        assert_eq!(EventKind::TicketLinked.label(), "ticket linked");
        assert_eq!(EventKind::Opened.label(), "opened");
    }

    #[test]
    fn diff_names_each_changed_field_once() {
        let before = json!({"title": "VPN slow", "severity": "sev3", "version": 1, "engineer": null});
        let after = json!({"title": "VPN down", "severity": "sev3", "version": 2, "engineer": "Ada"});
        let changes = diff(&before, &after, &["version"]);
        assert_eq!(
            changes,
            vec![
                FieldChange { field: "engineer".into(), from: Value::Null, to: json!("Ada") },
                FieldChange { field: "title".into(), from: json!("VPN slow"), to: json!("VPN down") },
            ]
        );
    }
}
