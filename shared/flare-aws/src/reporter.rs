//! The reporter Lambda's configuration and its one job per schedule: the hourly rule sends the post-incident
//! reports that are due, the weekly rule last week's digest. Each EventBridge rule passes a constant input
//! naming its job (`{"job": "reports"}`, `{"job": "digest"}`; samples in `events/`), so one function serves
//! both without reading rule names.

use flare_core::EmailAddress;
use flare_core::config::{ConfigError, Env};
use flare_core::report::{DigestRun, ReportError, ReportSettings, Reporter, ReportsRun};
use serde::Deserialize;

use crate::lambda::{FunctionConfig, ses_sender};

/// What the reporter needs.
///
/// | variable | holds |
/// |---|---|
/// | `FLARE_TABLE` | the table |
/// | `FLARE_SENDER` | the verified SES address reports come from |
/// | `FLARE_SES_MAX_SEND_RATE` | the account's SES maximum send rate, recipients per second |
/// | `FLARE_PUBLIC_URL` | Flare's public `https://` address, for the links in reports |
/// | `FLARE_REPORT_DELAY_HOURS` | hours after a resolution before its report goes out (default 24) |
/// | `FLARE_REPORT_STAKEHOLDERS` | comma-separated addresses that get every report and digest |
#[derive(Debug, Clone)]
pub struct ReporterConfig {
    pub table: String,
    pub sender: EmailAddress,
    pub max_send_rate: f64,
    pub settings: ReportSettings,
}

impl ReporterConfig {
    pub fn from<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        const URL: &str = "FLARE_PUBLIC_URL";
        const URL_EXPECTED: &str = "Flare's public https:// address, e.g. https://flare.example.com";
        let table = FunctionConfig::from(env)?.table;
        let (sender, max_send_rate) = ses_sender(env)?;
        let public_url = env.required(URL, URL_EXPECTED)?;
        flare_core::config::https_or_loopback(&public_url)
            .map_err(|_| ConfigError::Invalid { name: URL, expected: URL_EXPECTED })?;
        Ok(Self { table, sender, max_send_rate, settings: ReportSettings::from_env(env, &public_url)? })
    }
}

/// Which job a schedule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    Reports,
    Digest,
}

/// The event a schedule sends: its constant input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct JobEvent {
    pub job: Job,
}

/// What a run did, as the function's answer (and its log line).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobSummary {
    pub job: &'static str,
    pub sent: usize,
    pub failed: usize,
}

/// Why a run failed as a whole; a failed recipient is not one (it is in the ledger and the summary).
#[derive(Debug, thiserror::Error)]
#[error("the {job} run failed")]
pub struct JobError {
    job: &'static str,
    #[source]
    source: ReportError,
}

/// Runs one job. An error makes the invocation fail, so Lambda retries it and, past its retries, hands the
/// event to the dead-letter queue; the ledger keeps a retried report run from sending anything twice.
pub async fn run(reporter: &Reporter, event: JobEvent) -> Result<JobSummary, JobError> {
    match event.job {
        Job::Reports => {
            let ReportsRun { sent, failed, .. } =
                reporter.send_due_reports().await.map_err(|source| JobError { job: "reports", source })?;
            Ok(JobSummary { job: "reports", sent: sent.len(), failed: failed.len() })
        }
        Job::Digest => {
            let DigestRun { sent, failed, .. } =
                reporter.send_digest().await.map_err(|source| JobError { job: "digest", source })?;
            Ok(JobSummary { job: "digest", sent: sent.len(), failed: failed.len() })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_sample_schedule_inputs_name_their_jobs() {
        let reports: JobEvent = serde_json::from_str(include_str!("../../../events/reporter-reports.json")).unwrap();
        let digest: JobEvent = serde_json::from_str(include_str!("../../../events/reporter-digest.json")).unwrap();
        assert_eq!((reports.job, digest.job), (Job::Reports, Job::Digest));
    }

    #[test]
    fn a_reporter_without_a_public_url_names_the_variable() {
        let env = Env::from_lookup(|name: &str| match name {
            "FLARE_TABLE" => Some("flare".to_string()),
            "FLARE_SENDER" => Some("flare@example.org".to_string()),
            "FLARE_SES_MAX_SEND_RATE" => Some("14".to_string()),
            _ => None,
        });
        let e = ReporterConfig::from(&env).unwrap_err();
        assert!(matches!(e, ConfigError::Missing { name: "FLARE_PUBLIC_URL", .. }), "{e}");
    }
}
