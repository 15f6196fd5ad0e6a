//! `smtp-cost`: how fast does the SMTP mailer send, against the configured rate and against the sink itself?
//! Against a running SMTP sink (`scripts/smtp_sink.py`):
//!
//! 1. **lettre's pooled transport** as released (0.11.23), one message at a time and then as many at once as
//!    the pool holds: what each message costs when the socket leaves Nagle on (the ~40 ms delayed-ACK stall);
//! 2. **`SmtpMailer::send_bulk`** with Flare's own pool (TCP_NODELAY, messages sent over every connection at
//!    once), at each configured rate: messages per second and the ratio to the rate.
//!
//! The sink's own floor (Python's `smtplib` over one connection) is measured by `scripts/bench-smtp` in the
//! same run. Exits non-zero when the mailer stays under 0.8× a configured rate of at most 200 per second.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, ensure};
use clap::Parser;
use flare_core::EmailAddress;
use flare_core::notify::{BulkMail, Mailer, Recipient};
use flare_embedded::{POOL_SIZE, SmtpConfig, SmtpMailer, SmtpTls};
use futures::{StreamExt, TryStreamExt, stream};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// The rate up to which the mailer must keep pace.
const PACED_UP_TO: f64 = 200.0;
/// The share of the configured rate it must reach there.
const PACE_TARGET: f64 = 0.8;

#[derive(Debug, Parser)]
struct Args {
    /// The SMTP sink, host:port.
    #[arg(long, env = "FLARE_TEST_SMTP_ADDR")]
    smtp: String,
    /// Messages per configured rate.
    #[arg(long, default_value_t = 2000)]
    messages: usize,
    /// Configured rates (FLARE_MAIL_RATE), messages per second.
    #[arg(long, value_delimiter = ',', default_value = "50,100,200,1000")]
    rates: Vec<f64>,
    /// Messages sent through lettre's released pooled transport, per concurrency.
    #[arg(long, default_value_t = 100)]
    lettre_messages: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let (host, port) = args.smtp.rsplit_once(':').context("--smtp must be host:port")?;
    let port: u16 = port.parse().context("--smtp must end in a port number")?;

    println!(
        "| path | at once | configured rate | messages | seconds | messages/s | ms per message per connection | × rate |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let stock = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .pool_config(PoolConfig::new().max_size(POOL_SIZE))
        .build();
    for at_once in [1, POOL_SIZE as usize] {
        let n = args.lettre_messages;
        let messages = (0..n).map(probe_message).collect::<anyhow::Result<Vec<_>>>()?;
        let start = Instant::now();
        stream::iter(messages.into_iter().map(|m| stock.send(m)))
            .buffer_unordered(at_once)
            .try_for_each(|_| async { Ok(()) })
            .await
            .context("lettre's transport failed")?;
        let s = start.elapsed().as_secs_f64();
        let per = s * 1000.0 * at_once as f64 / n as f64;
        println!("| lettre 0.11.23 pool | {at_once} | none | {n} | {s:.2} | {:.0} | {per:.1} | |", n as f64 / s);
    }

    let mut pass = true;
    for &rate in &args.rates {
        let from = EmailAddress::parse("from", "flare@flare.example")?;
        let config = SmtpConfig { host: host.into(), port, tls: SmtpTls::None, user: None, password: None, from, rate };
        let mailer = SmtpMailer::new(&config)?;
        mailer.register_template("probe", "Probe {{n}}", "<p>Probe {{n}}</p>", "Probe {{n}}");
        let recipients = (0..args.messages)
            .map(|i| {
                Ok(Recipient {
                    email: EmailAddress::parse("to", &format!("probe{i}@example.org"))?,
                    data: BTreeMap::from([("n".to_string(), i.to_string())]),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mail = BulkMail { template: "probe".into(), shared: BTreeMap::new(), recipients };
        let start = Instant::now();
        let report = mailer.send_bulk(&mail).await?;
        let s = start.elapsed().as_secs_f64();
        ensure!(report.sent.len() == args.messages, "not every message was accepted: {report:?}");
        let per_second = args.messages as f64 / s;
        let ratio = per_second / rate;
        let per = s * 1000.0 * POOL_SIZE as f64 / args.messages as f64;
        println!(
            "| Flare SmtpMailer | {POOL_SIZE} | {rate} | {} | {s:.2} | {per_second:.0} | {per:.1} | {ratio:.2} |",
            args.messages
        );
        if rate <= PACED_UP_TO && ratio < PACE_TARGET {
            println!("FAIL: {per_second:.0} messages/s is under {PACE_TARGET}× the configured {rate}");
            pass = false;
        }
    }
    Ok(pass)
}

fn probe_message(i: usize) -> anyhow::Result<Message> {
    Ok(Message::builder()
        .from("flare@flare.example".parse()?)
        .to(format!("probe{i}@example.org").parse()?)
        .subject("Probe")
        .body("Probe line.\r\n".repeat(100))?)
}
