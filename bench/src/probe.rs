//! A client-side probe for the SES and SNS clients: an SDK interceptor that notes each request (retries
//! included) as its operation starts, which action it is, how many destinations or entries it carries, and how long the
//! service took to answer. The moto records say *what* arrived; this says *when*, which the send-rate check
//! needs, and how fast the emulator answers, which says whether it limited the run.
//!
//! It reads the request body that the SDK already built (SES and SNS use the query protocol, a form-encoded
//! body held in memory) and never changes anything.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_sdk_ses::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
    BeforeTransmitInterceptorContextRef,
};
use aws_sdk_ses::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ses::error::BoxError;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

/// One request as it went out.
#[derive(Debug, Clone)]
pub struct Call {
    /// The query protocol's `Action`, e.g. `SendBulkTemplatedEmail` or `PublishBatch`.
    pub action: String,
    /// When the operation started: the moment the sender's pacer let it go and it called the SDK, before the
    /// request was serialised and signed (work whose time varies from call to call and would blur the pacing).
    pub at: Instant,
    /// Destinations of a bulk mail, entries of a publish batch, 0 for anything else.
    pub items: usize,
    /// From the request being handed to the HTTP client until the response's head arrived; `None` when no
    /// response came.
    pub latency: Option<Duration>,
}

/// Shared between the clients it is installed on and the benchmark, which takes what it noted after each phase.
#[derive(Debug, Clone, Default)]
pub struct CallProbe {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl CallProbe {
    /// Everything noted since the last call, in the order the requests went out.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Which of the probe's entries the current attempt is, and when it went on the wire, kept in the attempt's
/// config bag.
#[derive(Debug, Clone, Copy)]
struct Noted(usize, Instant);

impl Storable for Noted {
    type Storer = StoreReplace<Self>;
}

/// When the operation started, kept in its config bag until its request is built.
#[derive(Debug, Clone, Copy)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// Parameter-name endings that occur once per destination or entry in the form body. Names are dotted paths,
/// which form encoding leaves as they are.
fn items_in(action: &str, body: &str) -> usize {
    let marker = match action {
        "SendBulkTemplatedEmail" => ".Destination.ToAddresses.member.1=",
        "PublishBatch" => ".Id=",
        _ => return 0,
    };
    body.matches(marker).count()
}

impl Intercept for CallProbe {
    fn name(&self) -> &'static str {
        "flare-bench call probe"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = context.request().body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
        let action = body.split('&').find_map(|pair| pair.strip_prefix("Action=")).unwrap_or("unknown").to_string();
        let items = items_in(&action, &body);
        let now = Instant::now();
        // A retry is its own attempt of the same operation: it counts from when it went out, not from the start.
        let at = match (cfg.load::<Started>(), cfg.load::<Noted>()) {
            (Some(&Started(started)), None) => started,
            _ => now,
        };
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        cfg.interceptor_state().store_put(Noted(calls.len(), now));
        calls.push(Call { action, at, items, latency: None });
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(&Noted(index, on_the_wire)) = cfg.load::<Noted>() {
            let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(call) = calls.get_mut(index) {
                call.latency = Some(on_the_wire.elapsed());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_and_entries_are_counted_from_the_form_body() {
        let bulk = "Action=SendBulkTemplatedEmail&Version=2010-12-01&Source=s%40x.org\
                    &Destinations.member.1.Destination.ToAddresses.member.1=a%40x.org\
                    &Destinations.member.1.ReplacementTemplateData=%7B%7D\
                    &Destinations.member.2.Destination.ToAddresses.member.1=b%40x.org";
        assert_eq!(items_in("SendBulkTemplatedEmail", bulk), 2);
        let batch = "Action=PublishBatch&TopicArn=t&PublishBatchRequestEntries.member.1.Id=n0\
                     &PublishBatchRequestEntries.member.1.Message=m\
                     &PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Name=system";
        assert_eq!(items_in("PublishBatch", batch), 1);
        assert_eq!(items_in("CreateTopic", batch), 0);
    }
}
