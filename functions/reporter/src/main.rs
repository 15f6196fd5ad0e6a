//! Flare's reporter Lambda: on its hourly schedule, the post-incident reports that are due; on its weekly
//! schedule, last week's digest; both mailed through SES (`SendRawEmail`).
//!
//! Only wiring: logging, the Secrets Manager secret laid over the environment, configuration, clients, then the
//! shared job runner under `lambda_runtime`. What a report says and when it goes out live in
//! `flare_core::report`, the schedule's input and the job runner in `flare_aws::reporter`, where tests reach them.

use std::sync::Arc;

use flare_aws::reporter::{JobEvent, ReporterConfig};
use flare_aws::secrets::Secrets;
use flare_aws::{DynamoStore, SesMailer};
use flare_core::config::Env;
use flare_core::report::Reporter;
use flare_core::{IncidentService, SystemClock};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    flare_aws::lambda::init_logging();
    let secrets = Secrets::from_env(&Env::process()).await?;
    let config = ReporterConfig::from(&secrets.over_process_env())?;

    let store = DynamoStore::new(flare_aws::dynamodb_client(), config.table);
    let service = IncidentService::new(Arc::new(store), Arc::new(SystemClock));
    let mailer = SesMailer::new(flare_aws::ses_client(), config.sender, config.max_send_rate);
    let reporter = Reporter::new(service, Arc::new(mailer), config.settings);
    tracing::info!("reporter ready");

    let reporter = &reporter;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<JobEvent>| async move {
        let summary = flare_aws::reporter::run(reporter, event.payload).await?;
        tracing::info!(?summary, "reporter run done");
        Ok::<_, lambda_runtime::Error>(summary)
    }))
    .await
}
