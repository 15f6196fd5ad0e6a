//! Flare's poller Lambda: on each EventBridge schedule event, polls every configured sheet and runs every
//! probe once.
//!
//! Only wiring: logging, the Secrets Manager secret laid over the environment, configuration, the store, then
//! `flare_poll::Poller::run_scheduled` under `lambda_runtime`; with `bad_rows_to` configured, an SES mailer for
//! the help desk's bad-row mail. A run where a source failed returns an error, so
//! the asynchronous invocation is retried and, if it keeps failing, lands in the dead-letter queue.

use std::sync::Arc;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use flare_aws::lambda::FunctionConfig;
use flare_aws::secrets::Secrets;
use flare_core::config::Env;
use flare_core::{IncidentService, SystemClock};
use flare_poll::{BadRowMail, PollConfig, Poller, TrustRoots};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    flare_aws::lambda::init_logging();
    let secrets = Secrets::from_env(&Env::process()).await?;
    let env = secrets.over_process_env();
    let config = FunctionConfig::from(&env)?;
    let mut sources = PollConfig::from_env(&env)?;
    // The poller reaches only public hosts (it runs outside any VPC), so Mozilla's roots, compiled in, spare
    // every cold start from parsing the image's trust store. Where the function's own environment names a bundle
    // or a directory of certificates (a private authority shipped in a layer, say), the platform's store reads it.
    if ["SSL_CERT_FILE", "SSL_CERT_DIR"].iter().all(|name| std::env::var_os(name).is_none()) {
        sources.policy.roots = TrustRoots::Public;
    }
    tracing::info!(sheets = sources.sheets.len(), probes = sources.probes.len(), "poller ready");

    let store = flare_aws::DynamoStore::new(flare_aws::dynamodb_client(), config.table);
    let service = IncidentService::new(Arc::new(store), Arc::new(SystemClock));
    let bad_rows_to = sources.bad_rows_to.clone();
    let mut poller = Poller::new(service, sources)?;
    if let Some(to) = bad_rows_to {
        let mailer = Arc::new(flare_aws::lambda::ses_mailer(&env)?);
        poller = poller.with_bad_row_mail(BadRowMail { mailer, to });
    }

    let poller = &poller;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<EventBridgeEvent>| async move {
        poller.run_scheduled().await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
