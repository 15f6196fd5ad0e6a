//! `notify-cost`: what does telling 10,000 people about one incident cost? Loads an audience into a fresh table
//! in DynamoDB Local, then, against moto's SES and SNS:
//!
//! 1. **baseline**: the same unique recipients sent straight through `SesMailer::send_bulk`, 50 a call, at the
//!    configured rate (no store, no ledger);
//! 2. **dispatch**: an incident affecting every system, delivered by `Dispatcher::dispatch` (SES at the same
//!    rate, SNS, the ledger);
//! 3. **redelivery**: the same event dispatched again, which must send nothing.
//!
//! Calls are counted three ways (Flare's own report, a probe on the SDK clients, moto's records), recipients
//! are checked against moto's records, and the send rate against when each call went out. Exits non-zero when
//! a target is missed.
//!
//! Run it through `scripts/bench-notify`, which starts DynamoDB Local and moto.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use clap::Parser;
use flare_aws::ses::BULK_MAX;
use flare_aws::{DynamoStore, SesMailer, SnsPublisher, local_client, local_ses_client, local_sns_client, schema};
use flare_bench::audience::{Audience, SECOND_SYSTEM_EVERY};
use flare_bench::moto::{BulkSends, MotoData};
use flare_bench::pacing::{BASE_SLACK, Lateness, Pacing};
use flare_bench::probe::{Call, CallProbe};
use flare_core::UnsubscribeKey;
use flare_core::notify::{BulkMail, Mailer, Publisher, Recipient};
use flare_core::text::{Description, Title};
use flare_core::{
    Actor, AffectedSystem, Channel, EmailAddress, EventKind, Impact, IncidentService, IncidentStore, OpenIncident,
    Severity, Source, SystemClock,
};
use flare_core::{Channels, DispatchReport, Dispatcher, Links, NOTICE};

const SES_BULK: &str = "SendBulkTemplatedEmail";
const SNS_BATCH: &str = "PublishBatch";
/// SNS accepts at most 10 entries in one PublishBatch call.
const SNS_BATCH_MAX: usize = flare_aws::sns::BATCH_MAX;
/// The issue's acceptance figure: 10,000 recipients in at most 200 SES calls.
const ISSUE_RECIPIENTS: usize = 10_000;
const ISSUE_SES_CALLS: usize = 200;
/// Below this share of the configured rate, the run says what held it back.
const RATE_REACHED: f64 = 0.95;
const BASE_URL: &str = "https://flare-bench.example";

#[derive(Debug, Parser)]
#[command(about = "Count the SES and SNS calls, and time, of notifying many recipients of one incident, on moto")]
struct Args {
    /// DynamoDB Local's endpoint, e.g. http://127.0.0.1:8000.
    #[arg(long, env = "FLARE_TEST_DYNAMODB_ENDPOINT")]
    dynamodb_endpoint: String,
    /// moto's server endpoint (SES and SNS), e.g. http://127.0.0.1:5000.
    #[arg(long, env = "FLARE_TEST_MOTO_ENDPOINT")]
    moto_endpoint: String,
    /// Unique recipients: people subscribed to the affected systems.
    #[arg(long, default_value_t = 10_000)]
    recipients: usize,
    /// Systems the incident affects; people are spread over them, every 10th following two.
    #[arg(long, default_value_t = 3)]
    systems: usize,
    /// The SES maximum send rate configured for the mailer, in recipients per second.
    #[arg(long, default_value_t = 500.0)]
    rate: f64,
    /// Subscriptions written at once while loading the audience.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

/// What the SES and SNS clients, and moto, saw during one phase.
#[derive(Debug)]
struct Phase {
    wall: Duration,
    pacing: Pacing,
    sns_calls: usize,
}

impl Phase {
    fn new(wall: Duration, calls: &[Call], rate: f64, lateness: Duration) -> Self {
        let sns_calls = calls.iter().filter(|c| c.action == SNS_BATCH).count();
        Self { wall, pacing: Pacing::of(calls, SES_BULK, rate, BASE_SLACK + lateness), sns_calls }
    }
}

/// The checks, printed as they are made.
#[derive(Debug, Default)]
struct Verdict {
    failed: usize,
}

impl Verdict {
    fn check(&mut self, pass: bool, what: String) {
        self.failed += usize::from(!pass);
        println!("{}  {what}", if pass { "PASS" } else { "FAIL" });
    }
}

/// The clock slack a pacing verdict allowed, and what it was made of.
fn slack_words(pacing: &Pacing, rate: f64) -> String {
    format!(
        "clock slack {:.1} ms per comparison ({:.0} ms for the probe's reading + the latest timer wake-up measured \
         in the phase), worth {:.1} recipients at {rate}/s{}",
        ms(pacing.slack),
        ms(BASE_SLACK),
        rate * pacing.slack.as_secs_f64(),
        if pacing.slack_is_telling(rate) { "" } else { ": too much jitter on this machine to judge the rate" }
    )
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

fn email(raw: &str) -> anyhow::Result<EmailAddress> {
    Ok(EmailAddress::parse("email", raw)?)
}

/// Each person once, with their own unsubscribe link and reason, as the dispatcher would address them.
fn recipients(audience: &Audience, links: &Links) -> Vec<Recipient> {
    let names: BTreeMap<_, _> = audience.systems.iter().map(|s| (&s.id, s.name.as_str())).collect();
    audience
        .people
        .iter()
        .map(|(email, systems)| {
            let followed: Vec<&str> = systems.iter().filter_map(|s| names.get(s).copied()).collect();
            Recipient {
                email: email.clone(),
                data: BTreeMap::from([
                    ("unsubscribe_url".to_string(), links.unsubscribe(email, systems)),
                    ("reason".to_string(), format!("you subscribe to {}", followed.join(", "))),
                ]),
            }
        })
        .collect()
}

/// The placeholders every recipient shares, filled as for an opening.
fn shared_data(audience: &Audience) -> BTreeMap<String, String> {
    let systems: Vec<&str> = audience.systems.iter().map(|s| s.id.as_str()).collect();
    [
        ("ticket", "INC-1".to_string()),
        ("headline", "Critical incident opened".to_string()),
        ("title", "Benchmark outage".to_string()),
        ("status", "investigating".to_string()),
        ("severity", "sev1 (Critical)".to_string()),
        ("systems", systems.join(", ")),
        ("started_at", "2026-11-22T09:00:00Z".to_string()),
        ("resolved_line", String::new()),
        ("message", "Everything the benchmark touches is down.".to_string()),
        ("link", format!("{BASE_URL}/incidents/INC-1")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The baseline: the recipients straight through the mailer, one `send_bulk` per 50, at the configured rate.
async fn baseline(
    mailer: &SesMailer,
    recipients: &[Recipient],
    shared: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    for chunk in recipients.chunks(BULK_MAX) {
        let mail = BulkMail { template: NOTICE.name.to_string(), shared: shared.clone(), recipients: chunk.to_vec() };
        let report = mailer.send_bulk(&mail).await.context("baseline send_bulk")?;
        ensure!(
            report.sent.len() == chunk.len(),
            "the baseline lost recipients: {} refused, {} deferred",
            report.failed.len(),
            report.deferred.len()
        );
    }
    Ok(())
}

fn print_row(name: &str, phase: &Phase, report: Option<&DispatchReport>, mailed: usize, baseline: Duration) {
    let p = &phase.pacing;
    let (sns_calls, sns_messages) = match report {
        Some(r) => (phase.sns_calls.to_string(), r.message.sent.to_string()),
        None => ("-".to_string(), "-".to_string()),
    };
    let rate = if mailed > 0 { format!("{:.1}", mailed as f64 / secs(phase.wall)) } else { "-".to_string() };
    let paced = p.paced_rate.map_or_else(|| "-".to_string(), |r| format!("{r:.1}"));
    let latency = if p.calls > 0 { format!("{:.1}", ms(p.mean_latency)) } else { "-".to_string() };
    println!(
        "{name:<11} {:>8.2} {:>9} {:>8} {:>9} {:>8} {:>8} {:>8} {:>12} {:>11.3}",
        secs(phase.wall),
        p.calls,
        mailed,
        sns_calls,
        sns_messages,
        rate,
        paced,
        latency,
        secs(phase.wall) / secs(baseline),
    );
}

/// Everyone in the audience appears exactly once, and no one else.
fn coverage(sends: &BulkSends, audience: &Audience) -> (Vec<String>, Vec<String>) {
    let missing =
        audience.people.keys().filter(|e| !sends.destinations.contains_key(e.as_str())).map(|e| e.to_string());
    let strangers = sends.destinations.keys().filter(|a| !email(a).is_ok_and(|e| audience.people.contains_key(&e)));
    (missing.collect(), strangers.cloned().collect())
}

fn sample(list: &[String]) -> String {
    let shown: Vec<&str> = list.iter().take(3).map(String::as_str).collect();
    if list.len() > shown.len() { format!("{}, …", shown.join(", ")) } else { shown.join(", ") }
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let total = Instant::now();
    let run = format!("{}-{}", std::process::id(), time::OffsetDateTime::now_utc().unix_timestamp());

    // Setup: the audience in a fresh table, verified senders, the template and a topic in moto.
    let audience = Audience::new(args.recipients, args.systems)?;
    let unique = audience.people.len();
    println!(
        "notify-cost: {unique} unique recipients from {} subscriptions over {} systems (every {SECOND_SYSTEM_EVERY}th \
         person follows two; the engineer is a subscriber too), SES max send rate {} recipients/s",
        audience.subscriptions.len(),
        audience.systems.len(),
        args.rate
    );
    let client = local_client(&args.dynamodb_endpoint);
    let table = format!("flare-notify-bench-{run}");
    schema::create_table(&client, &table).await.with_context(|| format!("create table {table}"))?;
    let store = DynamoStore::new(client, table.clone());
    let loaded = audience.load(&store, args.concurrency).await?;
    println!(
        "setup: table {table}; {} systems and {} subscriptions written in {:.1}s ({} in flight)",
        audience.systems.len(),
        audience.subscriptions.len(),
        secs(loaded),
        args.concurrency
    );

    let probe = CallProbe::default();
    let ses = local_ses_client(&args.moto_endpoint);
    let ses = aws_sdk_ses::Client::from_conf(ses.config().to_builder().interceptor(probe.clone()).build());
    let sns = local_sns_client(&args.moto_endpoint);
    let sns = aws_sdk_sns::Client::from_conf(sns.config().to_builder().interceptor(probe.clone()).build());
    let baseline_sender = email(&format!("baseline-{run}@flare-bench.example"))?;
    let dispatch_sender = email(&format!("dispatch-{run}@flare-bench.example"))?;
    for sender in [&baseline_sender, &dispatch_sender] {
        ses.verify_email_identity()
            .email_address(sender.as_str())
            .send()
            .await
            .with_context(|| format!("verify {sender} in moto"))?;
    }
    SesMailer::new(ses.clone(), dispatch_sender.clone(), args.rate)
        .ensure_template(NOTICE.name, NOTICE.subject, NOTICE.html, NOTICE.text)
        .await
        .context("register the notice template")?;
    let topic = sns.create_topic().name(format!("flare-bench-{run}")).send().await.context("create the topic")?;
    let arn = topic.topic_arn().context("moto returned no topic ARN")?.to_string();
    let http = reqwest::Client::new();
    let links = Links::new(BASE_URL, UnsubscribeKey::derive(b"flare-bench notify-cost"));
    probe.take();

    // Baseline.
    let list = recipients(&audience, &links);
    let shared = shared_data(&audience);
    println!("baseline: {unique} recipients through SesMailer::send_bulk, {BULK_MAX} a call …");
    let mailer = SesMailer::new(ses.clone(), baseline_sender.clone(), args.rate);
    let (started, lateness) = (Instant::now(), Lateness::start());
    baseline(&mailer, &list, &shared).await?;
    let base = Phase::new(started.elapsed(), &probe.take(), args.rate, lateness.stop().await);

    // Dispatch.
    let service = IncidentService::new(Arc::new(store.clone()), Arc::new(SystemClock));
    let first = audience.people.keys().next().context("no recipients")?.clone();
    let open = OpenIncident {
        title: Title::parse("title", "Benchmark outage: every system at once")?,
        description: Description::parse("description", "Opened by the notify-cost benchmark.")?,
        severity: Severity::Sev1,
        systems: audience
            .systems
            .iter()
            .map(|s| AffectedSystem { system: s.id.clone(), impact: Impact::MajorOutage })
            .collect(),
        engineer: None,
        engineer_email: Some(first),
        notify_emails: Vec::new(),
        started_at: None,
        detected_at: None,
        source: Source::new(Channel::Cli),
        notify: true,
    };
    let opened = service.open(open, &Actor::system("notify-cost"), None).await.context("open the incident")?;
    let ticket = opened.ticket;
    let seq = store
        .timeline(ticket)
        .await?
        .iter()
        .find(|e| e.kind == EventKind::Opened)
        .map(|e| e.seq)
        .context("the incident has no opening event")?;
    let mailer: Arc<dyn Mailer> = Arc::new(SesMailer::new(ses.clone(), dispatch_sender.clone(), args.rate));
    let publisher: Arc<dyn Publisher> = Arc::new(SnsPublisher::new(sns.clone(), arn.clone()));
    let channels = Channels { mailer: Some(mailer), publisher: Some(publisher), tickets: None };
    let dispatcher = Dispatcher::new(service, channels, links);
    println!("dispatch: {ticket} event {seq} through Dispatcher::dispatch (SES, SNS, ledger) …");
    let (started, lateness) = (Instant::now(), Lateness::start());
    let report = dispatcher.dispatch(ticket, seq).await.context("dispatch")?;
    let sent = Phase::new(started.elapsed(), &probe.take(), args.rate, lateness.stop().await);
    let after_dispatch = MotoData::fetch(&http, &args.moto_endpoint).await?;

    // Redelivery.
    println!("redelivery: {ticket} event {seq} again …");
    let started = Instant::now();
    let again = dispatcher.dispatch(ticket, seq).await.context("dispatch again")?;
    let resent = Phase::new(started.elapsed(), &probe.take(), args.rate, Duration::ZERO);
    let after_redelivery = MotoData::fetch(&http, &args.moto_endpoint).await?;

    let base_sends = after_dispatch.bulk_sends(baseline_sender.as_str())?;
    let sends = after_dispatch.bulk_sends(dispatch_sender.as_str())?;
    let messages = after_dispatch.topic_messages(&arn)?;
    let sends_later = after_redelivery.bulk_sends(dispatch_sender.as_str())?;
    let messages_later = after_redelivery.topic_messages(&arn)?;

    println!();
    println!(
        "{:<11} {:>8} {:>9} {:>8} {:>9} {:>8} {:>8} {:>8} {:>12} {:>11}",
        "phase",
        "wall s",
        "SES calls",
        "mailed",
        "SNS calls",
        "SNS msgs",
        "rate/s",
        "paced/s",
        "moto ms/call",
        "vs baseline"
    );
    print_row("baseline", &base, None, base.pacing.recipients, base.wall);
    print_row("dispatch", &sent, Some(&report), report.email.sent, base.wall);
    print_row("redelivery", &resent, Some(&again), again.email.sent, base.wall);
    println!();
    println!(
        "SES calls (dispatch): Flare's report {}, client probe {}, moto {}; moto destinations {} ({} distinct)",
        report.email.calls,
        sent.pacing.calls,
        sends.calls,
        sends.total(),
        sends.destinations.len()
    );
    println!(
        "SNS calls (dispatch): Flare's report {}, client probe {}; messages: report {}, moto {}",
        report.message.calls, sent.sns_calls, report.message.sent, messages
    );
    println!(
        "baseline in moto: {} calls, {} destinations ({} distinct)",
        base_sends.calls,
        base_sends.total(),
        base_sends.destinations.len()
    );
    println!(
        "redelivery: skipped {} addressees and {} message as already settled",
        again.email.skipped, again.message.skipped
    );
    for (name, phase) in [("baseline", &base), ("dispatch", &sent)] {
        let p = &phase.pacing;
        println!(
            "{name} pacing: {} calls over {:.2}s; worst stretch of calls {:.1} recipients over rate × elapsed \
             (allowed: its last call's batch, at most {}), {:.1} beyond that (allowed 0); busiest second {} \
             recipients (allowed {} + {} = {}); moto answered in {:.1} ms mean, {:.1} ms max, {:.2}s in all",
            p.calls,
            secs(p.span),
            p.worst_excess,
            p.batch,
            p.worst_overrun,
            p.busiest_second,
            args.rate,
            p.batch,
            p.busiest_allowed(args.rate),
            ms(p.mean_latency),
            ms(p.max_latency),
            secs(p.service_time())
        );
    }
    let p = &sent.pacing;
    let achieved = report.email.sent as f64 / secs(sent.wall);
    let ceiling = p.service_ceiling().map_or_else(|| "?".to_string(), |c| format!("{c:.0}"));
    for (name, phase, work) in [
        ("baseline", &base, "the client's own work"),
        ("dispatch", &sent, "the dispatcher's own work (store reads, a ledger write to DynamoDB Local per batch)"),
    ] {
        let p = &phase.pacing;
        let schedule = p.recipients as f64 / args.rate;
        println!(
            "{name} time: {:.2}s against the pacer's schedule of {schedule:.2}s ({} recipients at {}/s); within it, \
             moto answered for {:.2}s in all, and the rest is {work}",
            secs(phase.wall),
            p.recipients,
            args.rate,
            secs(p.service_time()),
        );
    }
    if p.paced_rate.unwrap_or(achieved) >= RATE_REACHED * args.rate {
        println!(
            "note: the limiter set the pace, not moto: at its mean answer time moto alone would allow about {ceiling} \
             recipients/s to one sequential sender, above the configured {}/s.",
            args.rate
        );
    } else {
        println!(
            "note: the configured rate was not reached ({achieved:.0}/s of {}/s overall): moto's answers (about \
             {ceiling} recipients/s at its mean answer time) and the dispatcher's own work took longer than the \
             pacer's gap between calls, and set the pace.",
            args.rate
        );
    }
    println!();

    let mut verdict = Verdict::default();
    let bound = unique.div_ceil(BULK_MAX);
    verdict
        .check(sends.calls <= bound, format!("SES bulk calls {} <= ceil({unique}/{BULK_MAX}) = {bound}", sends.calls));
    if unique == ISSUE_RECIPIENTS {
        verdict.check(
            sends.calls <= ISSUE_SES_CALLS,
            format!("SES bulk calls {} <= {ISSUE_SES_CALLS} for {ISSUE_RECIPIENTS} recipients", sends.calls),
        );
    }
    let sns_bound = report.message.sent.div_ceil(SNS_BATCH_MAX);
    verdict.check(
        sent.sns_calls <= sns_bound && report.message.sent == messages,
        format!(
            "SNS batch calls {} <= ceil({} messages/{SNS_BATCH_MAX}) = {sns_bound} (moto holds {messages})",
            sent.sns_calls, report.message.sent
        ),
    );
    verdict.check(
        report.email.calls == sends.calls
            && sent.pacing.calls == sends.calls
            && report.message.calls == sent.sns_calls
            && sent.pacing.recipients == sends.total(),
        "the counts agree: Flare's report, the client probe and moto".to_string(),
    );
    let duplicated = sends.duplicated();
    verdict.check(
        duplicated.is_empty(),
        format!(
            "no duplicates: {} addresses mailed more than once{}",
            duplicated.len(),
            duplicated.first().map(|(a, n)| format!(" (e.g. {a} x{n})")).unwrap_or_default()
        ),
    );
    let (missing, strangers) = coverage(&sends, &audience);
    verdict.check(
        missing.is_empty() && strangers.is_empty() && report.email.sent == unique,
        format!(
            "nobody missing: {} of {unique} mailed; missing {} [{}]; not in the audience {} [{}]",
            sends.destinations.len() - strangers.len(),
            missing.len(),
            sample(&missing),
            strangers.len(),
            sample(&strangers)
        ),
    );
    verdict.check(
        sent.pacing.kept(args.rate) && sent.pacing.slack_is_telling(args.rate),
        format!(
            "send rate kept: paced {}/s <= {rate}/s configured (the calls before the last, between the first and \
             the last call; {achieved:.1} recipients/s of wall time overall); no stretch of calls over rate × elapsed \
             by more than its last call's batch (worst {:.1} recipients, at most {} allowed; {:.1} beyond the batch); \
             busiest second {} <= {rate} + one batch of {} = {}; {}",
            sent.pacing.paced_rate.map_or_else(|| "-".to_string(), |r| format!("{r:.1}")),
            sent.pacing.worst_excess,
            sent.pacing.batch,
            sent.pacing.worst_overrun,
            sent.pacing.busiest_second,
            sent.pacing.batch,
            sent.pacing.busiest_allowed(args.rate),
            slack_words(&sent.pacing, args.rate),
            rate = args.rate
        ),
    );
    verdict.check(
        sends_later.calls == sends.calls
            && sends_later.total() == sends.total()
            && messages_later == messages
            && resent.pacing.calls == 0
            && resent.sns_calls == 0
            && again.email.sent == 0
            && again.message.sent == 0,
        format!(
            "redelivery sent nothing: SES +{} calls, +{} destinations; SNS +{} calls, +{} messages",
            sends_later.calls.saturating_sub(sends.calls),
            sends_later.total().saturating_sub(sends.total()),
            resent.sns_calls,
            messages_later.saturating_sub(messages)
        ),
    );
    let base_achieved = base.pacing.recipients as f64 / secs(base.wall);
    verdict.check(
        base_sends.calls == bound
            && base_sends.destinations.len() == unique
            && base_sends.duplicated().is_empty()
            && base.pacing.kept(args.rate)
            && base.pacing.slack_is_telling(args.rate),
        format!(
            "baseline sanity: {} calls, each of {unique} recipients once, send rate kept ({base_achieved:.1}/s \
             overall, worst stretch {:.1} beyond its last call's batch, busiest second {}; {})",
            base_sends.calls,
            base.pacing.worst_overrun,
            base.pacing.busiest_second,
            slack_words(&base.pacing, args.rate)
        ),
    );

    println!();
    println!(
        "wall time ratio dispatch/baseline: {:.3} ({:.2}s / {:.2}s); redelivery/baseline: {:.3}",
        secs(sent.wall) / secs(base.wall),
        secs(sent.wall),
        secs(base.wall),
        secs(resent.wall) / secs(base.wall)
    );
    println!("total {:.1}s", secs(total.elapsed()));
    let pass = verdict.failed == 0;
    if pass {
        println!("PASS");
    } else {
        println!("FAIL ({} checks)", verdict.failed);
    }
    Ok(if pass { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
