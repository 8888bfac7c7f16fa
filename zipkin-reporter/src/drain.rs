//! Draining: when the reporter's thread wakes, takes every waiting span and cuts batches.
//!
//! The thread sleeps until a batch's worth of spans is waiting, a flush asks, or the batch
//! interval passes (1 s by default, as in Brave's `AsyncReporter`); then it drains every
//! lane and cuts the spans into batches of at most `batch_size`. Senders, one per
//! transport, take the next batch in turn, encode it ([`encode_json`]) and deliver it
//! ([`Delivery::deliver`]), so that while one batch travels the next is encoded. A flush is
//! answered once the drain taken after it is delivered. The thread drains again until the
//! lanes are empty, and ends once the reporter is closed and nothing is left.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use zipkin_tracing::FinishedSpan;

use crate::delivery::{Counters, Delivery, Transport};
use crate::json::encode_json;
use crate::lanes::Lanes;

/// What the request side and the reporter's thread share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) lanes: Lanes,
    pub(crate) counters: Arc<Counters>,
    /// Wakes the reporter's thread: a batch is ready, a flush is asked for, or the
    /// reporter closed.
    pub(crate) wake: Notify,
    pub(crate) closed: AtomicBool,
    /// Spans per batch, at most: the hand-off wakes the thread once this many wait.
    pub(crate) batch_size: usize,
    /// Flushes waiting for the next drain to be delivered.
    pub(crate) flushes: Mutex<Vec<oneshot::Sender<()>>>,
}

/// The reporter's thread: drains the lanes and hands the batches to its senders.
pub(crate) struct Worker<T> {
    pub(crate) shared: Arc<Shared>,
    pub(crate) delivery: Arc<Delivery>,
    /// How long a span waits, at most, for a batch to fill.
    pub(crate) interval: Duration,
    /// The transports not delivering right now: each sender takes one and gives it back,
    /// so as many batches are in flight at once as there are transports.
    pub(crate) transports: Vec<T>,
    /// Emptied lane vectors, kept to swap for full ones, so that neither side allocates
    /// one per drain.
    pub(crate) empty_vectors: Vec<Vec<FinishedSpan>>,
}

impl<T: Transport> Worker<T> {
    /// Sleeps until a batch is ready, a flush is asked for or the interval passes, then
    /// sends everything waiting, in batches, until the lanes are empty. Ends when the
    /// reporter is closed and nothing is left.
    pub(crate) async fn run(mut self) {
        let shared = self.shared.clone();
        // The first tick one period from now: at start there is nothing to send.
        let mut interval = tokio::time::interval_at(Instant::now() + self.interval, self.interval);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shared.wake.notified() => {}
                _ = interval.tick() => {}
            }
            loop {
                // Read before draining: once closed, no span can be handed off any more,
                // so an empty drain after it means nothing is left.
                let closed = shared.closed.load(Ordering::Acquire);
                // Taken before draining: every span handed off before these flushes were
                // asked for is in this drain, or was delivered by an earlier one.
                let flushes = std::mem::take(&mut *lock(&shared.flushes));
                let full = shared.lanes.drain(&mut self.empty_vectors, || {});
                let empty = full.is_empty();
                if !empty {
                    self.deliver_all(full).await;
                }
                for flush in flushes {
                    // A flush that gave up waiting has dropped its receiver: nothing to tell.
                    let _ = flush.send(());
                }
                if empty {
                    if closed {
                        shared.lanes.abandon();
                        return;
                    }
                    break;
                }
            }
        }
    }

    /// Delivers the spans of `full` in batches of at most `batch_size`, then keeps the
    /// emptied vectors for the next drain.
    ///
    /// One sender per transport takes the next batch, encodes it and delivers it, until
    /// none is left; while one sender waits for the collector, the others encode and send.
    async fn deliver_all(&mut self, full: Vec<Vec<FinishedSpan>>) {
        let drained = Arc::new(Batches::new(full, self.shared.batch_size));
        let senders_needed = drained.batches.len().min(self.transports.len());
        let mut senders = tokio::task::JoinSet::new();
        for transport in self.transports.drain(..senders_needed) {
            senders.spawn(send_batches(
                transport,
                drained.clone(),
                self.delivery.clone(),
            ));
        }
        while let Some(finished) = senders.join_next().await {
            match finished {
                Ok(transport) => self.transports.push(transport),
                // A sender panicked: so does the reporter's thread.
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            }
        }
        // Every sender has ended and let go of the spans: their vectors are reused.
        if let Ok(drained) = Arc::try_unwrap(drained) {
            for mut vector in drained.vectors {
                vector.clear();
                self.empty_vectors.push(vector);
            }
        }
    }
}

/// Locks `mutex`; nothing panics while holding it, so a poisoned one is still good.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The spans of one drain, cut into batches that the senders take in turn.
struct Batches {
    vectors: Vec<Vec<FinishedSpan>>,
    /// Each batch: a vector's index and a range of its spans, at most `batch_size` long.
    batches: Vec<(usize, Range<usize>)>,
    /// The next batch to take.
    next: AtomicUsize,
}

impl Batches {
    fn new(vectors: Vec<Vec<FinishedSpan>>, batch_size: usize) -> Self {
        let mut batches = Vec::new();
        for (index, vector) in vectors.iter().enumerate() {
            for start in (0..vector.len()).step_by(batch_size) {
                batches.push((index, start..vector.len().min(start + batch_size)));
            }
        }
        Batches {
            vectors,
            batches,
            next: AtomicUsize::new(0),
        }
    }

    /// The spans of the next batch no sender has taken yet.
    fn take(&self) -> Option<&[FinishedSpan]> {
        let next = self.next.fetch_add(1, Ordering::Relaxed);
        let (index, range) = self.batches.get(next)?;
        Some(&self.vectors[*index][range.clone()])
    }
}

/// One sender: takes the next batch, encodes it, delivers it over `transport`, and again
/// until no batch is left; then gives the transport back.
async fn send_batches<T: Transport>(
    mut transport: T,
    batches: Arc<Batches>,
    delivery: Arc<Delivery>,
) -> T {
    // Sized like the last body per span, so that encoding seldom regrows it.
    let mut bytes_per_span = 0;
    while let Some(spans) = batches.take() {
        let mut body = Vec::with_capacity(bytes_per_span * spans.len());
        encode_json(spans, &mut body);
        bytes_per_span = body.len().div_ceil(spans.len());
        // The retries share this one buffer; it is freed when the batch is done.
        let body = Bytes::from(body);
        delivery
            .deliver(&mut transport, body, spans.len() as u64)
            .await;
    }
    transport
}
