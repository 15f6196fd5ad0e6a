//! The mail templates the self-hosted mailers render themselves, since SMTP has none: registered by name like
//! SES templates, with the same `{{placeholder}}` syntax, so one set of template files serves both adapters.
//!
//! It owns substitution (HTML-escaped in the HTML part, never in the text part) and the MIME message lettre
//! builds from the result. It does no I/O.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use flare_core::EmailAddress;
use flare_core::notify::{Mail, NotifyError, Subject};
use lettre::Message;
use lettre::message::Mailbox;

/// Why one recipient's mail could not be rendered; reported for that recipient, not for the whole send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RenderError {
    #[error("the template has no value for {{{{{0}}}}}")]
    Missing(String),
    #[error("the template has an unclosed placeholder")]
    Unclosed,
    #[error("the rendered subject is not one line of at most 200 characters")]
    Subject,
}

/// One registered template: subject, HTML and text parts with `{{name}}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Template {
    subject: String,
    html: String,
    text: String,
}

/// Templates by name. Registering a name again replaces it, like `ensure_template` on SES.
#[derive(Debug, Default)]
pub(crate) struct Templates(RwLock<HashMap<String, Template>>);

impl Templates {
    pub(crate) fn register(&self, name: &str, subject: &str, html: &str, text: &str) {
        let template = Template { subject: subject.to_string(), html: html.to_string(), text: text.to_string() };
        // A poisoned lock only means a writer panicked between two whole inserts; the map is still sound.
        self.0.write().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), template);
    }

    /// Renders `name` for one recipient: `data` wins over `shared` on a clash.
    pub(crate) fn render(
        &self,
        name: &str,
        shared: &BTreeMap<String, String>,
        data: &BTreeMap<String, String>,
    ) -> Result<Result<Rendered, RenderError>, NotifyError> {
        let templates = self.0.read().unwrap_or_else(|p| p.into_inner());
        let template = templates
            .get(name)
            .ok_or_else(|| NotifyError::Invalid(format!("no mail template named {name:?} is registered")))?;
        let lookup = |key: &str| data.get(key).or_else(|| shared.get(key)).map(String::as_str);
        Ok((|| {
            let subject = substitute(&template.subject, &lookup, false)?;
            let subject = Subject::parse("subject", &subject).map_err(|_| RenderError::Subject)?;
            let html = substitute(&template.html, &lookup, true)?;
            let text = substitute(&template.text, &lookup, false)?;
            Ok(Rendered { subject, html, text })
        })())
    }
}

/// One recipient's subject and parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rendered {
    pub(crate) subject: Subject,
    pub(crate) html: String,
    pub(crate) text: String,
}

/// Replaces every `{{ name }}` in `template` with its value, HTML-escaped when `escape` is set.
pub(crate) fn substitute<'a>(
    template: &str,
    lookup: &impl Fn(&str) -> Option<&'a str>,
    escape: bool,
) -> Result<String, RenderError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or(RenderError::Unclosed)?;
        let key = after[..close].trim();
        let value = lookup(key).ok_or_else(|| RenderError::Missing(key.to_string()))?;
        if escape {
            escape_html(value, &mut out);
        } else {
            out.push_str(value);
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Escapes the five characters that matter in HTML text and quoted attributes.
pub(crate) fn escape_html(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
}

/// A rendered notice as a message: the same builder as every single mail ([`Mail::message`]).
pub(crate) fn message(
    from: &Mailbox,
    to: &EmailAddress,
    subject: &Subject,
    html: &str,
    text: &str,
) -> Result<Message, NotifyError> {
    let mail = Mail {
        to: to.clone(),
        subject: subject.clone(),
        html: html.to_string(),
        text: text.to_string(),
        inline: vec![],
    };
    mail.message(from)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn placeholders_are_replaced_with_or_without_inner_spaces() {
        let data = map(&[("name", "Ada"), ("ticket", "INC-1")]);
        let got = substitute("{{ticket}}: hi {{ name }}!", &|k| data.get(k).map(String::as_str), false).unwrap();
        assert_eq!(got, "INC-1: hi Ada!");
    }

    #[test]
    fn values_are_escaped_in_html_only() {
        let data = map(&[("name", "<b>Eve</b> & 'co'")]);
        let lookup = |k: &str| data.get(k).map(String::as_str);
        assert_eq!(
            substitute("<p>{{name}}</p>", &lookup, true).unwrap(),
            "<p>&lt;b&gt;Eve&lt;/b&gt; &amp; &#x27;co&#x27;</p>"
        );
        assert_eq!(substitute("{{name}}", &lookup, false).unwrap(), "<b>Eve</b> & 'co'");
    }

    #[test]
    fn a_missing_value_or_an_unclosed_placeholder_is_an_error() {
        let none = |_: &str| None;
        assert_eq!(substitute("{{x}}", &none, false), Err(RenderError::Missing("x".to_string())));
        assert_eq!(substitute("a {{x", &none, false), Err(RenderError::Unclosed));
    }

    #[test]
    fn recipient_data_wins_over_shared_data() {
        let t = Templates::default();
        t.register("t", "{{ticket}} for {{name}}", "<p>{{name}}</p>", "{{name}}");
        let got =
            t.render("t", &map(&[("ticket", "INC-7"), ("name", "all")]), &map(&[("name", "Ada")])).unwrap().unwrap();
        assert_eq!(got.subject.as_str(), "INC-7 for Ada");
        assert_eq!(got.text, "Ada");
    }

    #[test]
    fn a_value_cannot_break_the_subject_onto_a_second_line() {
        let t = Templates::default();
        t.register("t", "Hi {{name}}", "", "");
        let got = t.render("t", &BTreeMap::new(), &map(&[("name", "x\r\nBcc: evil@example.com")])).unwrap();
        assert_eq!(got, Err(RenderError::Subject));
    }

    #[test]
    fn an_unknown_template_fails_the_whole_send() {
        assert!(Templates::default().render("nope", &BTreeMap::new(), &BTreeMap::new()).is_err());
    }

    #[test]
    fn a_message_has_a_text_and_an_html_part() {
        let from: Mailbox = "flare@example.org".parse().unwrap();
        let to = EmailAddress::parse("to", "ada@example.org").unwrap();
        let subject = Subject::parse("subject", "INC-1 resolved").unwrap();
        let raw = String::from_utf8(message(&from, &to, &subject, "<p>h</p>", "t").unwrap().formatted()).unwrap();
        assert!(raw.contains("Subject: INC-1 resolved\r\n"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("text/plain") && raw.contains("text/html"), "{raw}");
    }
}
