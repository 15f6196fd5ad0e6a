//! Flare's dispatcher Lambda: delivers each new timeline event on the table's DynamoDB stream to the ticketing
//! system, to mail (SES) and to the topic (SNS).
//!
//! Only wiring: logging, the Secrets Manager secret laid over the environment, configuration, clients, then the
//! shared stream handler under `lambda_runtime`. Delivering lives in `flare_core::dispatch`, reading the stream
//! and reporting partial failures in `flare_aws::stream`, where tests reach them.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use flare_aws::lambda::DispatcherConfig;
use flare_aws::secrets::Secrets;
use flare_aws::{SesMailer, SnsPublisher};
use flare_core::config::Env;
use flare_core::notify::Publisher;
use flare_core::{Channels, Dispatcher, Links, NOTICE};
use flare_core::{IncidentService, SystemClock};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    flare_aws::lambda::init_logging();
    let secrets = Secrets::from_env(&Env::process()).await?;
    let env = secrets.over_process_env();
    let config = DispatcherConfig::from(&env)?;
    let tickets = flare_tickets::from_env(&env)?;

    let store = flare_aws::DynamoStore::new(flare_aws::dynamodb_client(), config.table);
    let service = IncidentService::new(Arc::new(store), Arc::new(SystemClock));
    // No SES call at cold start: the template goes under a name versioned by its content, created by the first
    // send that finds it missing, so a deploy never mails with an old one.
    let mailer = SesMailer::new(flare_aws::ses_client(), config.sender, config.max_send_rate).with_template(
        NOTICE.name,
        NOTICE.subject,
        NOTICE.html,
        NOTICE.text,
    )?;
    let publisher =
        config.topic_arn.map(|arn| Arc::new(SnsPublisher::new(flare_aws::sns_client(), arn)) as Arc<dyn Publisher>);
    let channels = Channels { mailer: Some(Arc::new(mailer)), publisher, tickets: tickets.map(Arc::from) };
    tracing::info!(?channels, "dispatcher ready");
    let dispatcher = Dispatcher::new(service, channels, Links::new(&config.public_url, config.unsubscribe));

    let dispatcher = &dispatcher;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let response = flare_aws::stream::handle(event.payload, |ticket, seq| dispatcher.dispatch(ticket, seq)).await;
        Ok::<_, lambda_runtime::Error>(response)
    }))
    .await
}
