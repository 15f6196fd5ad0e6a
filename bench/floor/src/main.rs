//! The floor of the cold-start benchmark: a hello-world `lambda_runtime` function that answers every event with
//! the event itself. Nothing a Flare function does at init can cost less than this binary's start, so each
//! function's init is judged against it, measured in the same run (`scripts/bench-coldstart`), and each
//! function's bootstrap size against its size (`scripts/build-lambdas`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move { Ok::<_, Error>(event.payload) })).await
}
