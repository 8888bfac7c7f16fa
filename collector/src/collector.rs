//! The collector handle: shared state for the HTTP routes and for code embedding it.
//!
//! A [`Collector`] is a cheap clone of one store behind a lock, plus a change counter on a
//! `tokio::sync::watch` channel that ticks on every ingest. Tests and the demo read traces
//! straight from it, and wait for a trace to be complete without sleeping or polling over
//! HTTP: [`Collector::wait_for_trace`] wakes on each ingest and checks again.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use zipkin_tracing::{Span, TraceId};

use crate::config::CollectorConfig;
use crate::store::Store;

/// Why [`Collector::wait_for_trace`] gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    /// The deadline passed before the trace had enough spans.
    #[error("trace {trace_id} had {seen} of {wanted} spans after {timeout:?}")]
    Timeout {
        /// The trace waited for.
        trace_id: TraceId,
        /// How many spans it had when the deadline passed (0 if unknown).
        seen: usize,
        /// How many were wanted.
        wanted: usize,
        /// How long the wait lasted.
        timeout: Duration,
    },
}

/// An in-memory Zipkin collector. Clones share the same store.
#[derive(Debug, Clone)]
pub struct Collector {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: CollectorConfig,
    store: Mutex<Store>,
    /// Counts ingests, so waiters can sleep until something new arrives.
    changes: watch::Sender<u64>,
}

impl Collector {
    /// An empty collector with the given settings.
    pub fn new(config: CollectorConfig) -> Self {
        Collector {
            inner: Arc::new(Inner {
                store: Mutex::new(Store::new(config.max_spans)),
                config,
                changes: watch::Sender::new(0),
            }),
        }
    }

    /// The settings this collector was built with.
    pub fn config(&self) -> &CollectorConfig {
        &self.inner.config
    }

    /// Stores `spans` as if they had been posted (merging repeated reports, evicting the
    /// oldest traces beyond the cap), then wakes every waiter. Performs no validation.
    pub fn ingest(&self, spans: Vec<Span>) {
        if spans.is_empty() {
            return;
        }
        let count = spans.len();
        let evicted = self.store().insert(spans);
        if evicted > 0 {
            tracing::debug!(evicted, "span cap reached: evicted the oldest traces");
        }
        tracing::trace!(count, "stored spans");
        self.inner.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The spans of a trace, merged and sorted by start time; `None` if unknown.
    pub fn trace(&self, trace_id: &TraceId) -> Option<Vec<Span>> {
        self.store().trace(trace_id)
    }

    /// The number of spans stored (after merging repeated reports).
    pub fn span_count(&self) -> usize {
        self.store().span_count()
    }

    /// The number of traces stored.
    pub fn trace_count(&self) -> usize {
        self.store().trace_count()
    }

    /// A receiver whose value changes on every ingest, for callers that want their own
    /// waiting logic; [`Collector::wait_for_trace`] covers the common case.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Waits until the trace has at least `min_spans` spans and returns them, or fails once
    /// `timeout` has passed. Wakes only when spans arrive; never sleeps on a timer.
    pub async fn wait_for_trace(
        &self,
        trace_id: &TraceId,
        min_spans: usize,
        timeout: Duration,
    ) -> Result<Vec<Span>, WaitError> {
        // Subscribe before the first look, so an ingest between the look and the wait is
        // still seen as a change.
        let mut changes = self.subscribe();
        let wait = async {
            loop {
                if let Some(spans) = self.trace(trace_id)
                    && spans.len() >= min_spans
                {
                    return spans;
                }
                if changes.changed().await.is_err() {
                    // Unreachable while `self` holds the sender; wait out the deadline.
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_elapsed| WaitError::Timeout {
                trace_id: *trace_id,
                seen: self.trace(trace_id).map_or(0, |spans| spans.len()),
                wanted: min_spans,
                timeout,
            })
    }

    /// Runs `read` on the store under the lock, for the query routes.
    pub(crate) fn with_store<T>(&self, read: impl FnOnce(&Store) -> T) -> T {
        read(&self.store())
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store inconsistent in a way
        // worse than losing one batch, so a poisoned lock is still used.
        self.inner
            .store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for Collector {
    fn default() -> Self {
        Collector::new(CollectorConfig::default())
    }
}
