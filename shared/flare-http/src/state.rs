//! The state every handler shares: the incident service (and through it the store and the clock), the checked
//! configuration and the keys derived from it. Cheap to clone.

use std::sync::Arc;

use axum::http::HeaderValue;
use flare_core::IncidentService;
use flare_core::Store;
use flare_core::UnsubscribeKey;
use time::OffsetDateTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{CorsOrigin, HttpConfig};
use crate::read_cache::ReadCache;

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
    read_cache: ReadCache,
}

impl AppState {
    /// The state for `config`, which was checked when it was built: nothing here can fail or need a warning.
    pub fn new(service: IncidentService, config: HttpConfig) -> Self {
        let cors_origins = config.cors_origins.iter().map(CorsOrigin::header).cloned().collect();
        let parallelism = std::thread::available_parallelism().map_or(2, usize::from);
        let password_checks = Arc::new(Semaphore::new(parallelism));
        let unsubscribe_key = config.session_key.unsubscribe_key();
        let read_cache = ReadCache::default();
        Self { inner: Arc::new(Inner { service, config, cors_origins, unsubscribe_key, password_checks, read_cache }) }
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

    /// The key `GET /unsubscribe/{token}` verifies with: the one [`flare_core::SessionKey::unsubscribe_key`]
    /// derives from this state's session key, as the dispatcher does to sign the links.
    pub fn unsubscribe_key(&self) -> &UnsubscribeKey {
        &self.inner.unsubscribe_key
    }

    /// A permit to check a password, or `None` when as many checks as the machine has cores are running.
    pub(crate) fn password_check_permit(&self) -> Option<OwnedSemaphorePermit> {
        self.inner.password_checks.clone().try_acquire_owned().ok()
    }

    /// Read answers kept until a write.
    pub(crate) fn read_cache(&self) -> &ReadCache {
        &self.inner.read_cache
    }

    pub(crate) fn cors_origins(&self) -> &[HeaderValue] {
        &self.inner.cors_origins
    }

    /// The service's clock, so that tests control session expiry and default windows too.
    pub(crate) fn now(&self) -> OffsetDateTime {
        self.inner.service.clock().now()
    }
}
