//! Answers to reads, kept until a write could have changed them: what lets the status page and its JSON hold up
//! when the whole company opens them during an outage. A request that finds its answer here costs no store read,
//! no serialisation and no hashing, and a client whose copy is current gets its 304 from the kept ETag.
//!
//! Every answer is tagged with the *generation* it was made in. A successful write through this process's routers
//! starts a new generation ([`invalidate_after_writes`]), so the next read makes its answer afresh. Writes this
//! process does not see (another Lambda instance, the notification worker linking a ticket, `flare` commands
//! beside `flare serve`) are caught by age: no answer is served more than [`FRESH_FOR`] after it was made.
//!
//! The generation is read before the store, so an answer made while a write commits is never kept past it.
//! One request makes a missing answer while the others asking for it wait and take it, so a crowd costs one store
//! read per answer and second, not one per request that arrived while it was being made. The map is bounded: when
//! it is full it is emptied, so a flood of distinct queries costs memory only up to [`MAX_ENTRIES`] answers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use flare_core::view::Audience;

use crate::error::ApiError;
use crate::state::AppState;

/// The longest an answer is served after it was made, for writes this process did not see.
pub(crate) const FRESH_FOR: Duration = Duration::from_secs(1);
/// The most answers kept at once.
pub(crate) const MAX_ENTRIES: usize = 512;

/// What names one answer: the route, who reads it, and the request's normalised parameters (the window's bounds
/// as resolved, not as written, so every client asking for "the last 7 days" in the same minute shares one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub(crate) route: &'static str,
    pub(crate) audience: Audience,
    pub(crate) params: String,
}

/// A made answer: its body and the strong ETag that names it.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) etag: HeaderValue,
    pub(crate) body: Bytes,
}

impl Answer {
    /// `body`, named by its hash.
    pub(crate) fn hashed(body: impl Into<Bytes>) -> Result<Self, ApiError> {
        let body = body.into();
        let etag = HeaderValue::from_str(&crate::pages::strong_etag(&body)).map_err(ApiError::internal)?;
        Ok(Self { etag, body })
    }
}

#[derive(Debug)]
struct Made {
    generation: u64,
    at: Instant,
    answer: Answer,
}

/// One key's answer, and the lock its maker holds so that others wait for it instead of making it too.
#[derive(Debug, Default)]
struct Slot {
    made: Mutex<Option<Made>>,
    making: tokio::sync::Mutex<()>,
}

impl Slot {
    fn current(&self, generation: u64) -> Option<Answer> {
        let made = self.made.lock().unwrap_or_else(PoisonError::into_inner);
        made.as_ref().filter(|m| m.generation == generation && m.at.elapsed() < FRESH_FOR).map(|m| m.answer.clone())
    }
}

#[derive(Debug, Default)]
pub(crate) struct ReadCache {
    generation: AtomicU64,
    slots: Mutex<HashMap<Key, Arc<Slot>>>,
}

impl ReadCache {
    /// Forgets every answer: the next read of each makes it again.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The kept answer for `key`, or the one `make` makes, which is then kept.
    pub(crate) async fn get_or_make<F, Fut>(&self, key: Key, make: F) -> Result<Answer, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Answer, ApiError>>,
    {
        let slot = self.slot(key);
        if let Some(answer) = slot.current(self.generation.load(Ordering::Acquire)) {
            return Ok(answer);
        }
        let _making = slot.making.lock().await;
        // Read before the store: a write that commits while this answer is made leaves it already stale.
        let generation = self.generation.load(Ordering::Acquire);
        // Whoever held the lock before may have just made it.
        if let Some(answer) = slot.current(generation) {
            return Ok(answer);
        }
        let answer = make().await?;
        let made = Made { generation, at: Instant::now(), answer: answer.clone() };
        *slot.made.lock().unwrap_or_else(PoisonError::into_inner) = Some(made);
        Ok(answer)
    }

    fn slot(&self, key: Key) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.len() >= MAX_ENTRIES && !slots.contains_key(&key) {
            slots.clear();
        }
        slots.entry(key).or_default().clone()
    }
}

/// Starts a new generation after every successful request that may write, so no read answers from before it.
pub(crate) async fn invalidate_after_writes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let response = next.run(request).await;
    // A refused write changed nothing; a redirect is how the form answers a successful post.
    if writes && (response.status().is_success() || response.status().is_redirection()) {
        state.read_cache().invalidate();
    }
    response
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn key(params: &str) -> Key {
        Key { route: "test", audience: Audience::Public, params: params.to_owned() }
    }

    async fn made(cache: &ReadCache, k: Key, calls: &AtomicUsize) -> Bytes {
        cache
            .get_or_make(k, || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                Answer::hashed(format!("answer {n}"))
            })
            .await
            .unwrap()
            .body
    }

    #[tokio::test]
    async fn a_second_read_is_answered_without_making_it_again() {
        let (cache, calls) = (ReadCache::default(), AtomicUsize::new(0));
        assert_eq!(made(&cache, key("a"), &calls).await, made(&cache, key("a"), &calls).await);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_write_makes_every_answer_afresh() {
        let (cache, calls) = (ReadCache::default(), AtomicUsize::new(0));
        let before = made(&cache, key("a"), &calls).await;
        cache.invalidate();
        assert_ne!(made(&cache, key("a"), &calls).await, before);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn answers_are_kept_per_key_and_per_audience() {
        let (cache, calls) = (ReadCache::default(), AtomicUsize::new(0));
        made(&cache, key("a"), &calls).await;
        made(&cache, key("b"), &calls).await;
        made(&cache, Key { audience: Audience::Staff, ..key("a") }, &calls).await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failed_make_keeps_nothing() {
        let (cache, calls) = (ReadCache::default(), AtomicUsize::new(0));
        let failed = cache
            .get_or_make(key("a"), || async { Err(ApiError::internal(std::io::Error::other("store down"))) })
            .await;
        assert!(failed.is_err());
        made(&cache, key("a"), &calls).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn readers_that_arrive_while_an_answer_is_made_wait_for_it_instead_of_making_it_too() {
        let (cache, calls) = (ReadCache::default(), AtomicUsize::new(0));
        let (release, released) = tokio::sync::watch::channel(false);
        let slow = || async {
            let mut released = released.clone();
            let _ = released.wait_for(|r| *r).await;
            calls.fetch_add(1, Ordering::SeqCst);
            Answer::hashed("made once")
        };
        let readers = futures::future::join_all((0..8).map(|_| cache.get_or_make(key("a"), slow)));
        let (answers, ()) = tokio::join!(readers, async {
            tokio::task::yield_now().await;
            let _ = release.send(true);
        });
        assert!(answers.iter().all(|a| a.as_ref().unwrap().body == "made once"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_full_cache_is_emptied_rather_than_grown() {
        let (cache, calls) = (ReadCache::default(), AtomicUsize::new(0));
        for n in 0..=MAX_ENTRIES {
            made(&cache, key(&n.to_string()), &calls).await;
        }
        assert!(cache.slots.lock().unwrap().len() <= MAX_ENTRIES);
        made(&cache, key("0"), &calls).await;
        assert_eq!(calls.load(Ordering::SeqCst), MAX_ENTRIES + 2);
    }
}
