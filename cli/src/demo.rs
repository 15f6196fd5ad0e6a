//! `flare serve --demo`: a catalog of eight systems and about ninety days of incidents, so a newcomer sees
//! what the dashboard is for at once: resolved and ongoing incidents, overlapping ones, every severity and every
//! impact, and days with none. Seeding is skipped when the database already holds systems, so restarting never
//! duplicates it.
//!
//! The history is a fixed table rather than random draws, so every start of the demo shows the same story and a
//! screenshot can be compared with the last one. Times are relative to the moment of seeding, and each change is
//! recorded at its own time in the past (a clock the seeding moves), so timelines, reports and the digest's
//! measures read as they would for real incidents.

use flare_core::text::{Description, Message, PersonName, SystemName, Title};
use flare_core::{
    Actor, ActorKind, AffectedSystem, Channel, Command, EmailAddress, Impact, IncidentService, OpenIncident,
    ResolveIncident, Severity, Source, Status, Subscriber, System, SystemId, UpdateIncident,
};
use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

const SYSTEMS: &[(&str, &str, &str)] = &[
    ("vpn", "Remote access VPN", "Network team"),
    ("mail", "Email", "Messaging team"),
    ("payroll", "Payroll", "HR systems"),
    ("wifi", "Office Wi-Fi", "Network team"),
    ("crm", "CRM", "Sales operations"),
    ("sso", "Single sign-on", "Identity team"),
    ("files", "File shares", "Infrastructure team"),
    ("phones", "Phone system", "Unified communications"),
];

use Impact::{Degraded as Deg, MajorOutage as Major, PartialOutage as Partial};
use Severity::{Sev1, Sev2, Sev3, Sev4};

/// One incident of the demo history.
struct Past {
    /// When it started, in hours before the moment of seeding.
    hours_ago: i64,
    /// How long it lasted in minutes; `None` while it is still going on.
    minutes: Option<i64>,
    severity: Severity,
    systems: &'static [(&'static str, Impact)],
    title: &'static str,
    description: &'static str,
    engineer: &'static str,
    /// An update posted once the cause is known, if any.
    update: Option<&'static str>,
    /// What the resolution said.
    fix: &'static str,
}

// A row of the table below: positional, so that each incident reads as one entry.
#[allow(clippy::too_many_arguments)]
const fn past(
    hours_ago: i64,
    minutes: Option<i64>,
    severity: Severity,
    systems: &'static [(&'static str, Impact)],
    title: &'static str,
    description: &'static str,
    engineer: &'static str,
    update: Option<&'static str>,
    fix: &'static str,
) -> Past {
    Past { hours_ago, minutes, severity, systems, title, description, engineer, update, fix }
}

/// Ninety days of history, oldest first.
#[rustfmt::skip]
const HISTORY: &[Past] = &[
    past(2140, Some(95), Sev2, &[("mail", Partial)], "Mail to some external domains bounces",
        "Messages to three partner domains bounce with a TLS error.", "Grace Hopper",
        Some("The partners rotated their certificates; our relay pins an old chain."), "The relay trusts the new chain."),
    past(2050, Some(40), Sev4, &[("phones", Deg)], "Voicemail notifications arrive late",
        "Voicemail-to-email notices arrive up to 20 minutes late.", "Alan Turing", None, "A stuck queue worker was restarted."),
    past(1990, Some(180), Sev1, &[("sso", Major), ("crm", Major), ("payroll", Major)], "Nobody can sign in",
        "Single sign-on rejects every login, so every system behind it is unreachable.", "Ada Lovelace",
        Some("The signing certificate expired at midnight; a new one is being issued."), "A new signing certificate is live."),
    past(1900, Some(30), Sev3, &[("wifi", Partial)], "Guest Wi-Fi portal down",
        "Visitors cannot reach the guest Wi-Fi sign-in page. Staff Wi-Fi works.", "Alan Turing", None, "The portal's VM was restarted."),
    past(1800, Some(300), Sev2, &[("files", Partial)], "File shares slow on the finance drive",
        "Opening files on the finance share takes minutes.", "Katherine Johnson",
        Some("A snapshot job is saturating the array; it is being paused."), "Snapshots moved to the night window."),
    past(1704, Some(55), Sev3, &[("vpn", Deg)], "VPN slow for staff abroad",
        "Staff connecting from outside Europe see slow VPN sessions.", "Ada Lovelace", None, "Traffic moved to the closer gateway."),
    past(1620, Some(20), Sev4, &[("crm", Deg)], "CRM reports take long to load",
        "Weekly pipeline reports take over a minute.", "Grace Hopper", None, "A missing index was added."),
    past(1500, Some(240), Sev1, &[("mail", Major)], "Email down for everyone",
        "No mail is sent or received. Calendars still work.", "Grace Hopper",
        Some("The mail store's disk filled up; space is being freed."), "The mail store has room again; queued mail delivered."),
    past(1497, Some(120), Sev3, &[("phones", Partial)], "Desk phones on floor 2 without dial tone",
        "About 40 desk phones on floor 2 have no dial tone.", "Alan Turing", None, "A PoE switch was power-cycled."),
    past(1390, Some(45), Sev2, &[("payroll", Partial)], "Payslips fail to open",
        "Some payslips show an error instead of the document.", "Katherine Johnson", None, "A corrupt template was restored."),
    past(1300, Some(15), Sev4, &[("wifi", Deg)], "Wi-Fi drops in the canteen",
        "Short drops on the canteen access point.", "Alan Turing", None, "The access point's firmware was updated."),
    past(1210, Some(150), Sev2, &[("vpn", Major)], "VPN refuses new connections",
        "New VPN sessions fail; existing ones stay up.", "Ada Lovelace",
        Some("The licence count was reached after the office move."), "Extra licences were added."),
    past(1100, Some(60), Sev3, &[("sso", Deg), ("crm", Deg)], "Slow sign-ins",
        "Sign-in takes 20 to 30 seconds.", "Ada Lovelace", None, "A directory server was taken out of rotation."),
    past(1010, Some(35), Sev3, &[("files", Partial)], "Home drives unavailable for some users",
        "About 5% of users cannot open their home drive.", "Katherine Johnson", None, "The DFS referral cache was cleared."),
    past(900, Some(420), Sev1, &[("wifi", Major), ("phones", Major), ("payroll", Major)], "Power cut at the head office",
        "A power cut takes down Wi-Fi, phones and payroll terminals at the head office.", "Alan Turing",
        Some("The generator failed to start; the utility expects power back within hours."), "Mains power is back; every switch checked."),
    past(810, Some(25), Sev4, &[("mail", Deg)], "Spam filter quarantines newsletters",
        "Internal newsletters land in quarantine.", "Grace Hopper", None, "A rule was corrected."),
    past(720, Some(90), Sev2, &[("crm", Major)], "CRM down after the upgrade",
        "The CRM answers with an error page after tonight's upgrade.", "Grace Hopper",
        Some("The upgrade is being rolled back."), "Rolled back; the upgrade is rescheduled."),
    past(640, Some(200), Sev3, &[("vpn", Partial)], "VPN drops every hour",
        "Sessions drop on the hour for staff on the Windows client.", "Ada Lovelace", None, "A client policy was fixed."),
    past(560, Some(50), Sev2, &[("sso", Partial), ("files", Deg)], "Password resets fail",
        "Self-service password resets end in an error.", "Katherine Johnson", None, "The reset service's credentials were renewed."),
    past(470, Some(30), Sev4, &[("phones", Deg)], "Call quality poor on conference phones",
        "Echo on calls from meeting rooms.", "Alan Turing", None, "Echo cancellation was re-enabled."),
    past(380, Some(140), Sev2, &[("mail", Partial), ("crm", Deg)], "Mail from the CRM is delayed",
        "Mail sent by the CRM arrives hours late.", "Grace Hopper", None, "The CRM's relay credentials were renewed."),
    past(300, Some(70), Sev3, &[("payroll", Deg)], "Payroll exports slow",
        "The monthly export takes three times as long as usual.", "Katherine Johnson", None, "The export server got more memory."),
    past(200, Some(600), Sev1, &[("files", Major), ("sso", Partial)], "File servers unreachable",
        "Every file share is unreachable; some sign-ins fail too.", "Katherine Johnson",
        Some("A storage controller failed; the standby is taking over."), "The standby controller serves every share."),
    past(190, Some(120), Sev3, &[("wifi", Partial)], "Wi-Fi authentication errors on floor 4",
        "Laptops on floor 4 fail to join the staff network.", "Alan Turing", None, "The RADIUS certificate was renewed."),
    past(150, Some(45), Sev4, &[("crm", Deg)], "CRM search misses recent records",
        "Records from today do not show in search.", "Grace Hopper", None, "The search index was rebuilt."),
    past(96, Some(360), Sev1, &[("payroll", Major), ("wifi", Major)], "Payroll and Wi-Fi down on floor 3",
        "A switch failure on floor 3 takes down Wi-Fi there and the payroll terminals.", "Ada Lovelace",
        Some("A replacement switch is on its way."), "The switch was replaced."),
    past(30, Some(240), Sev3, &[("mail", Deg)], "Outgoing email delayed",
        "Mail to external addresses is queued for up to an hour.", "Grace Hopper",
        Some("The relay's queue is draining."), "The relay's queue is drained; mail flows normally."),
    past(20, Some(35), Sev4, &[("phones", Deg)], "Phone directory out of date",
        "New starters are missing from the phone directory.", "Alan Turing", None, "The directory sync was re-run."),
    past(3, None, Sev2, &[("vpn", Partial)], "VPN drops remote staff every few minutes",
        "Remote staff lose their VPN connection every 5 to 10 minutes. Office staff are not affected.", "Ada Lovelace",
        Some("A failing gateway node; traffic is moving to the spare."), ""),
    past(1, None, Sev3, &[("files", Deg), ("sso", Deg)], "Slow access to the HR share",
        "Opening files on the HR share is slow since this morning.", "Katherine Johnson", None, ""),
];

/// Seeds the demo data unless the catalog is already populated. Returns whether it seeded.
pub(crate) async fn seed(service: &IncidentService) -> anyhow::Result<bool> {
    let store = service.store();
    if !store.list_systems().await?.is_empty() {
        return Ok(false);
    }
    for (id, name, owner) in SYSTEMS {
        let system = System {
            id: SystemId::parse("id", id)?,
            name: SystemName::parse("name", name)?,
            owner: Some(PersonName::parse("owner", owner)?),
            owner_email: None,
        };
        store.put_system(&system).await?;
        let email = EmailAddress::parse("email", &format!("{id}-users@example.com"))?;
        store.put_subscriber(&Subscriber::new(system.id, Some(email), None, None)?).await?;
    }
    let now = service.clock().now();
    let clock = Arc::new(PastClock(Mutex::new(now)));
    let past_service = IncidentService::new(store.clone(), clock.clone());
    for (n, past) in HISTORY.iter().enumerate() {
        let (id, name) = AGENTS[n % AGENTS.len()];
        let agent = Actor { kind: ActorKind::User, id: id.to_owned(), name: name.to_owned() };
        // Agents log an outage a few minutes after it starts, as a help desk does once the calls come in.
        let detected_after = Duration::minutes(4 + 3 * (n as i64 % 4));
        open(&past_service, &clock, past, now, detected_after, &agent).await?;
    }
    Ok(true)
}

/// The clock the demo's changes are recorded by: set to each change's moment in the past before it is made.
#[derive(Debug)]
struct PastClock(Mutex<OffsetDateTime>);

impl PastClock {
    fn set(&self, at: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }
}

impl flare_core::Clock for PastClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The service desk agents who log the demo's incidents, so its timelines name people as real ones do.
const AGENTS: &[(&str, &str)] =
    &[("sam.okafor", "Sam Okafor"), ("lena.fischer", "Lena Fischer"), ("raj.patel", "Raj Patel")];

/// Opens one incident of the history as `actor`, posts its update and resolves it when it is over, each at its
/// own time, never later than `now`.
async fn open(
    service: &IncidentService,
    clock: &PastClock,
    past: &Past,
    now: OffsetDateTime,
    detected_after: Duration,
    actor: &Actor,
) -> anyhow::Result<()> {
    let started_at = now - Duration::hours(past.hours_ago);
    let ended_at = past.minutes.map(|m| started_at + Duration::minutes(m));
    let opened_at = (started_at + detected_after).min(ended_at.unwrap_or(now)).min(now);
    let systems = past
        .systems
        .iter()
        .map(|(id, impact)| Ok(AffectedSystem { system: SystemId::parse("system", id)?, impact: *impact }))
        .collect::<Result<Vec<_>, flare_core::FieldError>>()?;
    let engineer = PersonName::parse("engineer", past.engineer)?;
    // example.com addresses go nowhere; the engineer's shows how a notified engineer looks.
    let engineer_email = format!("{}@example.com", past.engineer.to_ascii_lowercase().replace(' ', "."));
    let open = OpenIncident {
        title: Title::parse("title", past.title)?,
        description: Description::parse("description", past.description)?,
        severity: past.severity,
        systems,
        engineer: Some(engineer),
        engineer_email: Some(EmailAddress::parse("engineer_email", &engineer_email)?),
        notify_emails: Vec::new(),
        started_at: Some(started_at),
        detected_at: None,
        source: Source::new(Channel::Cli),
        notify: false,
    };
    clock.set(opened_at);
    let ticket = service.open(open, actor, None).await?.ticket;
    if let Some(update) = past.update {
        // The first update comes within the half hour, or halfway through a shorter outage.
        let half: Duration = (ended_at.unwrap_or(now) - opened_at) / 2;
        clock.set(opened_at + half.min(Duration::minutes(25)));
        let mut identified = UpdateIncident::new(ticket);
        identified.status = Some(Status::Identified);
        identified.message = Some(Message::parse("message", update)?);
        service.execute(Command::Update(Box::new(identified)), actor, None).await?;
    }
    if let Some(ended_at) = ended_at {
        clock.set(ended_at.max(opened_at));
        let resolve = ResolveIncident {
            ticket,
            expected_version: None,
            resolved_at: Some(ended_at),
            message: Some(Message::parse("message", past.fix)?),
            root_cause: None,
            notify: false,
        };
        service.execute(Command::Resolve(resolve), actor, None).await?;
    }
    Ok(())
}
