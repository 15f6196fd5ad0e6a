//! The [`Reporter`]: finds the post-incident reports that are due and the week a digest covers, renders them,
//! and mails them through the [`Mailer`] port. Both hosts call it: the reporter Lambda on its schedules and
//! `flare serve` on an interval.
//!
//! Each report goes out once per incident. A run claims it in the delivery ledger (event 0, channel
//! [`DeliveryChannel::Report`], batch 1) before sending; the ledger refuses a second claim, so a retried or
//! overlapping run sends nothing, and a reopen and resolve later does not send another. Batch 2 records who got
//! it, who was refused for good, and who the mail service deferred (throttled or unreachable): a later run
//! sends to those alone, as batches 3 and 4 (claim, result), and so on up to [`ATTEMPTS_MAX`] attempts. The
//! price of claiming first is at most once: a crash between a claim and its result loses that attempt, which the
//! log shows; mailing everyone twice is the worse failure for a report. The weekly digest goes the same way,
//! recorded under its week ([`DigestDelivery`]) rather than under an incident.
//!
//! Finding candidates is a window read over the last [`LOOKBACK_DAYS`] days before the delay, never a scan.

use std::collections::BTreeSet;
use std::sync::Arc;

use time::{Duration, OffsetDateTime, Time};
use tracing::{error, info, instrument, warn};

use super::digest::{DIGEST_CHART_CID, Digest, DigestInput, render_digest};
use super::incident::{ReportInput, render_report};
use super::{RenderError, Rendered, ReportLinks};
use crate::catalog::System;
use crate::config::{ConfigError, Env};
use crate::error::{StoreError, error_chain};
use crate::field::ValidationErrors;
use crate::incident::Incident;
use crate::ledger::{Delivery, DeliveryChannel, DigestDelivery, Refused};
use crate::notify::{InlineImage, Mail, Mailer, NotifyError};
use crate::service::IncidentService;
use crate::values::{EmailAddress, Status, TicketNumber};
use crate::window::{Window, WindowQuery};

/// How far before the delay a run looks for resolved incidents: a reporter that was down for up to this long
/// still sends what fell due meanwhile.
pub const LOOKBACK_DAYS: i64 = 7;

/// The ledger's event number for what belongs to the incident as a whole rather than to one event.
const WHOLE_INCIDENT: u64 = 0;
/// How many times a report is sent at most: the first time, then again to whoever the mail service deferred.
pub const ATTEMPTS_MAX: u32 = 4;
/// How a result batch marks a recipient the mail service deferred (throttled, unreachable), to try again; the
/// other refusals are for good.
const DEFERRED: &str = "deferred: ";

/// The recipients a result batch deferred.
fn deferred(refused: &[Refused]) -> Vec<EmailAddress> {
    refused
        .iter()
        .filter(|r| r.reason.starts_with(DEFERRED))
        .filter_map(|r| EmailAddress::parse("to", &r.to).ok())
        .collect()
}

/// What a reporter is configured with.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    /// How long after an incident resolves its report goes out: time for a reopen, and for the engineer to
    /// record the root cause.
    pub delay: Duration,
    /// Who gets every report and digest besides the systems' owners (managers, the help desk lead).
    pub stakeholders: Vec<EmailAddress>,
    pub links: ReportLinks,
}

impl ReportSettings {
    /// The report delay when `FLARE_REPORT_DELAY_HOURS` is not set: a working day, so that a reopen the next
    /// morning still lands before the report, and the engineer has had time to record the root cause.
    pub const DEFAULT_DELAY_HOURS: i64 = 24;

    /// `FLARE_REPORT_DELAY_HOURS` (0 to 720) and `FLARE_REPORT_STAKEHOLDERS` (comma-separated addresses);
    /// `public_url` is Flare's address for the links.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>, public_url: &str) -> Result<Self, ConfigError> {
        const DELAY: &str = "FLARE_REPORT_DELAY_HOURS";
        const STAKEHOLDERS: &str = "FLARE_REPORT_STAKEHOLDERS";
        let delay = match env.optional(DELAY) {
            None => Self::DEFAULT_DELAY_HOURS,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|h| (0..=720).contains(h))
                .ok_or(ConfigError::Invalid { name: DELAY, expected: "a whole number of hours from 0 to 720" })?,
        };
        let stakeholders = env
            .list(STAKEHOLDERS)
            .iter()
            .enumerate()
            .map(|(n, raw)| {
                EmailAddress::parse(STAKEHOLDERS, raw).map_err(|_| ConfigError::Entry {
                    name: STAKEHOLDERS,
                    expected: "comma-separated email addresses",
                    number: n + 1,
                    problem: "is not an email address",
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { delay: Duration::hours(delay), stakeholders, links: ReportLinks::new(public_url) })
    }
}

/// Why a run could not do its work. Failures of single recipients are not errors: they are in the ledger and in
/// the run's summary.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the store failed")]
    Store(#[from] StoreError),
    #[error("a report could not be rendered")]
    Render(#[from] RenderError),
    #[error("the window to read is not valid")]
    Window(#[from] ValidationErrors),
}

/// What a report run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportsRun {
    /// Reports sent by this run.
    pub sent: Vec<TicketNumber>,
    /// Due reports another run had claimed already.
    pub already_claimed: usize,
    /// Recipients whose mail failed, with the incident.
    pub failed: Vec<(TicketNumber, EmailAddress)>,
}

/// What a digest run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestRun {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    pub sent: Vec<EmailAddress>,
    pub failed: Vec<EmailAddress>,
    /// The ledger shows this week's digest sent, or claimed by another run, already: this run sent nothing.
    pub sent_before: bool,
}

/// Sends post-incident reports and weekly digests.
#[derive(Debug, Clone)]
pub struct Reporter {
    service: IncidentService,
    mailer: Arc<dyn Mailer>,
    settings: ReportSettings,
}

impl Reporter {
    pub fn new(service: IncidentService, mailer: Arc<dyn Mailer>, settings: ReportSettings) -> Self {
        Self { service, mailer, settings }
    }

    /// Sends every report that is due now and not sent yet: incidents resolved at least the delay ago (by their
    /// latest resolution, so a reopen within the delay restarts the wait).
    #[instrument(skip_all)]
    pub async fn send_due_reports(&self) -> Result<ReportsRun, ReportError> {
        let now = self.service.clock().now();
        let due_by = now - self.settings.delay;
        let mut run = ReportsRun::default();
        for incident in self.resolved_since(due_by - Duration::days(LOOKBACK_DAYS), now).await? {
            if incident.status != Status::Resolved || incident.resolved_at.is_none_or(|r| r > due_by) {
                continue;
            }
            self.report(&incident, &mut run).await?;
        }
        Ok(run)
    }

    /// Every incident overlapping `[from, to)`, all pages.
    async fn resolved_since(&self, from: OffsetDateTime, to: OffsetDateTime) -> Result<Vec<Incident>, ReportError> {
        let mut query = WindowQuery::new(Window::new(from, to)?);
        query.status = Some(Status::Resolved);
        query.limit = crate::limits::PAGE_MAX;
        self.all_pages(query).await
    }

    async fn all_pages(&self, mut query: WindowQuery) -> Result<Vec<Incident>, ReportError> {
        let mut all = Vec::new();
        loop {
            let page = self.service.store().list_window(&query).await?;
            all.extend(page.items);
            match page.next {
                Some(cursor) => query.cursor = Some(cursor),
                None => return Ok(all),
            }
        }
    }

    /// One incident's report: rendered, claimed, sent and recorded, once. A later run sends it again only to
    /// recipients the mail service deferred (throttled, down), up to [`ATTEMPTS_MAX`] attempts.
    async fn report(&self, incident: &Incident, run: &mut ReportsRun) -> Result<(), ReportError> {
        let ticket = incident.ticket;
        let deliveries = self.service.store().deliveries(ticket).await?;
        let done: Vec<&Delivery> =
            deliveries.iter().filter(|d| d.channel == DeliveryChannel::Report && d.seq == WHOLE_INCIDENT).collect();
        // Checked before rendering, so a report already sent costs one ledger read per run, nothing more.
        let Some(owed) = owed(done.len(), done.last().map(|d| d.refused.as_slice())) else { return Ok(()) };
        let (rendered, systems) = self.render_with(incident, &deliveries).await?;
        let recipients = owed.recipients.unwrap_or_else(|| self.recipients(&systems));
        if recipients.is_empty() {
            warn!(%ticket, "no system owner or stakeholder to send the post-incident report to");
        }
        match self.send_attempt(Mailing::Report(ticket), owed.attempt, &rendered, &recipients, vec![]).await? {
            None => run.already_claimed += 1,
            Some((sent, failed)) => {
                info!(%ticket, attempt = owed.attempt + 1, sent = sent.len(), failed = failed.len(), "post-incident report sent");
                run.sent.push(ticket);
                run.failed.extend(failed.into_iter().map(|to| (ticket, to)));
            }
        }
        Ok(())
    }

    /// Attempt `attempt` (0, 1, …) of `mailing`: claimed in the ledger, mailed to `recipients`, and recorded
    /// with who got it. `None` when another run claimed this attempt first and nothing was sent.
    async fn send_attempt(
        &self,
        mailing: Mailing,
        attempt: u32,
        rendered: &Rendered,
        recipients: &[EmailAddress],
        inline: Vec<InlineImage>,
    ) -> Result<Option<(Vec<EmailAddress>, Vec<EmailAddress>)>, ReportError> {
        let now = self.service.clock().now();
        match self.record(mailing, 2 * attempt + 1, now, vec![], vec![]).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let (sent, failed) = self.mail(rendered, recipients, inline).await;
        let refused = failed
            .iter()
            .map(|(to, e)| {
                let reason = if e.is_transient() { format!("{DEFERRED}{e}") } else { e.to_string() };
                Refused { to: to.to_string(), reason }
            })
            .collect();
        let at = self.service.clock().now();
        let sent_to = sent.iter().map(ToString::to_string).collect();
        if let Err(e) = self.record(mailing, 2 * attempt + 2, at, sent_to, refused).await {
            // The mail went out and the claim stands, so nothing is sent twice; only the list of who got it is lost.
            error!(%mailing, error.cause_chain = error_chain(&e), "mail was sent but not recorded in the ledger");
        }
        Ok(Some((sent, failed.into_iter().map(|(to, _)| to).collect())))
    }

    /// Writes one batch of `mailing` to the ledger.
    async fn record(
        &self,
        mailing: Mailing,
        batch: u32,
        at: OffsetDateTime,
        sent: Vec<String>,
        refused: Vec<Refused>,
    ) -> Result<(), StoreError> {
        let calls = u32::try_from(sent.len() + refused.len()).unwrap_or(u32::MAX);
        let store = self.service.store();
        match mailing {
            Mailing::Report(ticket) => {
                let channel = DeliveryChannel::Report;
                let delivery = Delivery { ticket, seq: WHOLE_INCIDENT, channel, batch, at, sent, refused, calls };
                store.record_delivery(&delivery).await
            }
            Mailing::Digest(week) => {
                store.record_digest(&DigestDelivery { week, batch, at, sent, refused, calls }).await
            }
        }
    }

    /// Renders an incident's report as it would go out now, without claiming or sending it (`flare report
    /// preview`). `None` when there is no such incident.
    pub async fn render_incident(&self, ticket: TicketNumber) -> Result<Option<Rendered>, ReportError> {
        let store = self.service.store();
        let Some(incident) = store.get(ticket).await? else { return Ok(None) };
        let deliveries = store.deliveries(ticket).await?;
        Ok(Some(self.render_with(&incident, &deliveries).await?.0))
    }

    /// The report, and the catalog entries of the incident's systems (whose owners receive it).
    async fn render_with(
        &self,
        incident: &Incident,
        deliveries: &[Delivery],
    ) -> Result<(Rendered, Vec<System>), ReportError> {
        let timeline = self.service.store().timeline(incident.ticket).await?;
        let systems = self.systems_of(std::slice::from_ref(incident)).await?;
        let input =
            ReportInput { incident, timeline: &timeline, deliveries, systems: &systems, links: &self.settings.links };
        Ok((render_report(&input)?, systems))
    }

    /// The catalog entries of every system the incidents affect.
    async fn systems_of(&self, incidents: &[Incident]) -> Result<Vec<System>, ReportError> {
        let ids: BTreeSet<_> = incidents.iter().flat_map(|i| i.systems.iter().map(|s| &s.system)).collect();
        let mut systems = Vec::new();
        for id in ids {
            if let Some(system) = self.service.store().get_system(id).await? {
                systems.push(system);
            }
        }
        Ok(systems)
    }

    /// The owners of `systems` and the stakeholders, each once: never the subscribers.
    fn recipients(&self, systems: &[System]) -> Vec<EmailAddress> {
        let owners = systems.iter().filter_map(|s| s.owner_email.clone());
        let all: BTreeSet<EmailAddress> = owners.chain(self.settings.stakeholders.iter().cloned()).collect();
        all.into_iter().collect()
    }

    /// Mails `rendered` to each recipient on their own; returns who got it and who did not, with why.
    async fn mail(
        &self,
        rendered: &Rendered,
        recipients: &[EmailAddress],
        inline: Vec<InlineImage>,
    ) -> (Vec<EmailAddress>, Vec<(EmailAddress, NotifyError)>) {
        let (mut sent, mut failed) = (Vec::new(), Vec::new());
        for to in recipients {
            let mail = Mail {
                to: to.clone(),
                subject: rendered.subject.clone(),
                html: rendered.html.clone(),
                text: rendered.text.clone(),
                inline: inline.clone(),
            };
            match self.mailer.send_one(&mail).await {
                Ok(()) => sent.push(to.clone()),
                Err(e) => {
                    error!(error.cause_chain = error_chain(&e), "a report could not be mailed");
                    failed.push((to.clone(), e));
                }
            }
        }
        (sent, failed)
    }

    /// Sends the digest of the last whole week (Monday to Monday, UTC) before now to the stakeholders and the
    /// owners of the systems that had incidents that week, once: the ledger's claim makes a second run, or one
    /// overlapping this one, send nothing; a later run resends only to recipients the mail service deferred.
    #[instrument(skip_all)]
    pub async fn send_digest(&self) -> Result<DigestRun, ReportError> {
        let (from, to) = last_week(self.service.clock().now());
        let mut run = DigestRun { from, to, sent: vec![], failed: vec![], sent_before: false };
        let batches = self.service.store().digest_deliveries(from).await?;
        let Some(owed) = owed(batches.len(), batches.last().map(|b| b.refused.as_slice())) else {
            run.sent_before = true;
            return Ok(run);
        };
        let (digest, week) = self.digest(from, to).await?;
        let recipients = match owed.recipients {
            Some(deferred) => deferred,
            None => self.recipients(&self.systems_of(&week).await?),
        };
        let chart = InlineImage { content_id: DIGEST_CHART_CID.to_string(), png: digest.chart_png };
        let mailing = Mailing::Digest(from);
        match self.send_attempt(mailing, owed.attempt, &digest.rendered, &recipients, vec![chart]).await? {
            None => run.sent_before = true,
            Some((sent, failed)) => {
                info!(attempt = owed.attempt + 1, sent = sent.len(), failed = failed.len(), "weekly digest sent");
                (run.sent, run.failed) = (sent, failed);
            }
        }
        Ok(run)
    }

    /// The ledger's record of last week's digest, by batch: empty until a run has claimed it.
    pub async fn last_week_deliveries(&self) -> Result<Vec<DigestDelivery>, ReportError> {
        let (from, _) = last_week(self.service.clock().now());
        Ok(self.service.store().digest_deliveries(from).await?)
    }

    /// Renders last week's digest without sending it (`flare report preview`).
    pub async fn render_last_week(&self) -> Result<Digest, ReportError> {
        let (from, to) = last_week(self.service.clock().now());
        Ok(self.digest(from, to).await?.0)
    }

    /// The digest of the week `[from, to)`, and the incidents that started in it.
    async fn digest(&self, from: OffsetDateTime, to: OffsetDateTime) -> Result<(Digest, Vec<Incident>), ReportError> {
        let query = WindowQuery { limit: crate::limits::PAGE_MAX, ..WindowQuery::new(Window::new(from, to)?) };
        let incidents = self.all_pages(query).await?;
        let mut with_timelines = Vec::with_capacity(incidents.len());
        for incident in incidents {
            let timeline = self.service.store().timeline(incident.ticket).await?;
            with_timelines.push((incident, timeline));
        }
        let week: Vec<Incident> =
            with_timelines.iter().map(|(i, _)| i).filter(|i| i.started_at >= from).cloned().collect();
        let systems = self.service.store().list_systems().await?;
        let input =
            DigestInput { from, to, incidents: &with_timelines, systems: &systems, links: &self.settings.links };
        Ok((render_digest(&input)?, week))
    }
}

/// The whole week, Monday 00:00 to Monday 00:00 UTC, that ended most recently before `now`.
pub fn last_week(now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let now = now.to_offset(time::UtcOffset::UTC);
    let this_monday = now.date() - Duration::days(i64::from(now.weekday().number_days_from_monday()));
    let to = this_monday.with_time(Time::MIDNIGHT).assume_utc();
    (to - Duration::days(7), to)
}

/// Where one mailing's attempts are recorded: an incident's report, or the digest of the week starting then.
#[derive(Debug, Clone, Copy)]
enum Mailing {
    Report(TicketNumber),
    Digest(OffsetDateTime),
}

impl std::fmt::Display for Mailing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Report(ticket) => write!(f, "the post-incident report of {ticket}"),
            Self::Digest(week) => write!(f, "the digest of the week of {}", week.date()),
        }
    }
}

/// What is still owed of one mailing.
#[derive(Debug, PartialEq, Eq)]
struct Owed {
    /// The attempt to make: 0 for the first.
    attempt: u32,
    /// Whom to send it to: `None` for everyone (the first attempt), else those the mail service deferred.
    recipients: Option<Vec<EmailAddress>>,
}

/// What is owed of a mailing whose ledger holds `batches` batches, the last one's refusals being `last`: `None`
/// when nothing is. Batches come in pairs, a claim then its result. An odd count is an attempt under way, or one
/// that crashed between its claim and its result: either way not this run's to repeat.
fn owed(batches: usize, last: Option<&[Refused]>) -> Option<Owed> {
    let attempt = u32::try_from(batches / 2).unwrap_or(u32::MAX);
    if batches % 2 == 1 || attempt >= ATTEMPTS_MAX {
        return None;
    }
    match last {
        None => Some(Owed { attempt, recipients: None }),
        Some(refused) => {
            let deferred = deferred(refused);
            (!deferred.is_empty()).then_some(Owed { attempt, recipients: Some(deferred) })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_stakeholder_that_is_not_an_address_is_named_by_position() {
        let env = Env::from_lookup(|name: &str| {
            (name == "FLARE_REPORT_STAKEHOLDERS").then(|| "boss@example.org, not-an-address".to_string())
        });
        let e = ReportSettings::from_env(&env, "https://flare.example.org").unwrap_err();
        assert!(matches!(e, ConfigError::Entry { number: 2, .. }), "{e}");
    }

    #[test]
    fn the_report_delay_defaults_to_a_working_day() {
        let settings =
            ReportSettings::from_env(&Env::from_lookup(|_: &str| None), "https://flare.example.org").unwrap();
        assert_eq!(settings.delay, Duration::hours(24));
    }

    #[test]
    fn a_mailing_with_no_batches_is_owed_to_everyone() {
        assert_eq!(owed(0, None), Some(Owed { attempt: 0, recipients: None }));
    }

    #[test]
    fn a_claim_without_its_result_is_not_repeated() {
        assert_eq!(owed(1, Some(&[])), None);
    }

    #[test]
    fn only_the_recipients_the_mail_service_deferred_are_owed_again() {
        let refused = [
            Refused { to: "busy@example.org".into(), reason: format!("{DEFERRED}throttled") },
            Refused { to: "gone@example.org".into(), reason: "mailbox unavailable".into() },
        ];
        let again = owed(2, Some(&refused)).unwrap();
        assert_eq!(again.attempt, 1);
        assert_eq!(again.recipients.unwrap(), [EmailAddress::parse("to", "busy@example.org").unwrap()]);
        assert_eq!(owed(2, Some(&refused[1..])), None, "a refusal for good is not tried again");
        assert_eq!(owed(2 * ATTEMPTS_MAX as usize, Some(&refused)), None, "nor anything after the last attempt");
    }

    #[test]
    fn last_week_is_the_whole_monday_to_monday_week_before_now() {
        let (from, to) = last_week(datetime!(2026-12-02 08:00 UTC));
        assert_eq!((from, to), (datetime!(2026-11-23 00:00 UTC), datetime!(2026-11-30 00:00 UTC)));
        assert_eq!(last_week(datetime!(2026-11-30 00:00 UTC)), (from, to), "Monday at midnight is the new week");
    }
}
