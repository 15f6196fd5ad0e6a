//! How an SDK error is classified: transient (worth retrying later) or permanent. The pacing types the SES and
//! SNS adapters use ([`RateLimiter`], [`Backoff`]) live in `flare_core::rate`, shared with the SMTP mailer, and
//! are re-exported here.

use aws_sdk_ses::config::http::HttpResponse;
use aws_sdk_ses::error::{ProvideErrorMetadata, SdkError};
use flare_core::notify::NotifyError;
pub use flare_core::{rate::RateLimiter, retry::Backoff};

/// Throttling, 5xx and transport failures are transient; any other answer from the service is permanent. Both
/// SDKs share the smithy error types, so this serves SES and SNS alike.
pub(crate) fn classify<E>(service: &'static str, error: SdkError<E, HttpResponse>) -> NotifyError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let transient = match &error {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            // SES v1 and SNS report throttling as HTTP 400 with these codes; the SDKs model no variant for them.
            status == 429
                || status >= 500
                || matches!(ctx.err().code(), Some("Throttling" | "ThrottlingException" | "ThrottledException"))
        }
        SdkError::ConstructionFailure(_) => false,
        _ => true,
    };
    let source = Box::new(error);
    if transient { NotifyError::Transient { service, source } } else { NotifyError::Permanent { service, source } }
}
