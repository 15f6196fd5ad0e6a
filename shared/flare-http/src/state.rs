//! The state every handler shares: the incident service (and through it the store and the clock), the checked
//! configuration and the keys derived from it. Cheap to clone.

use std::sync::Arc;

use axum::http::HeaderValue;
use flare_core::IncidentService;
use flare_core::ports::Store;
use flare_core::unsubscribe::UnsubscribeKey;
use time::OffsetDateTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use tracing::warn;

use crate::config::{DEFAULT_MAX_BODY_BYTES, HttpConfig, parse_origin};

#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    service: IncidentService,
    config: HttpConfig,
    cors_origins: Vec<HeaderValue>,
    unsubscribe_key: UnsubscribeKey,
    /// Password checks in flight: each costs tens of MiB and a core for a while, so they are capped to the
    /// machine's parallelism and a flood of sign-ins cannot exhaust memory.
    password_checks: Arc<Semaphore>,
}

impl AppState {
    /// Never fails: a CORS origin that is not a bare origin is left out with a warning, and a zero body limit
    /// becomes the default. Entry points that would rather stop call [`HttpConfig::validate`] first
    /// ([`HttpConfig::from_env`] does).
    pub fn new(service: IncidentService, mut config: HttpConfig) -> Self {
        if config.max_body_bytes == 0 {
            warn!(default = DEFAULT_MAX_BODY_BYTES, "the request body limit was 0; using the default");
            config.max_body_bytes = DEFAULT_MAX_BODY_BYTES;
        }
        let cors_origins = config
            .cors_origins
            .iter()
            .filter_map(|o| match parse_origin(o) {
                Ok(v) => Some(v),
                Err(e) => {
                    warn!(error = %e, "CORS origin left out");
                    None
                }
            })
            .collect();
        let parallelism = std::thread::available_parallelism().map_or(2, usize::from);
        let password_checks = Arc::new(Semaphore::new(parallelism));
        let unsubscribe_key = crate::unsubscribe::unsubscribe_key(&config.session_key);
        Self { inner: Arc::new(Inner { service, config, cors_origins, unsubscribe_key, password_checks }) }
    }

    pub(crate) fn service(&self) -> &IncidentService {
        &self.inner.service
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        self.inner.service.store()
    }

    pub(crate) fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// The key `GET /unsubscribe/{token}` verifies with: the one [`crate::unsubscribe_key`] derives from this
    /// state's session key, so whoever signs the links (the dispatcher) can share it.
    pub fn unsubscribe_key(&self) -> &UnsubscribeKey {
        &self.inner.unsubscribe_key
    }

    /// A permit to check a password, or `None` when as many checks as the machine has cores are running.
    pub(crate) fn password_check_permit(&self) -> Option<OwnedSemaphorePermit> {
        self.inner.password_checks.clone().try_acquire_owned().ok()
    }

    pub(crate) fn cors_origins(&self) -> &[HeaderValue] {
        &self.inner.cors_origins
    }

    /// The service's clock, so that tests control session expiry and default windows too.
    pub(crate) fn now(&self) -> OffsetDateTime {
        self.inner.service.clock().now()
    }
}
