//! Draining: when the reporter's thread takes the waiting spans, cuts them into batches and
//! hands them to its senders.
//!
//! The thread sleeps until a batch's worth of spans is waiting, a flush asks, a sender is
//! free again, or the batch interval passes (1 s by default, as in Brave's
//! `AsyncReporter`); then it drains every lane, cuts the spans into batches of at most
//! `batch_size` and queues them. Each transport is a sender: while batches are queued, a
//! free sender takes the next, encodes it ([`encode_json`]) and delivers it
//! ([`Delivery::deliver`]), so a slow batch holds only its own sender while the others go
//! on. Drains are numbered; a flush is answered once the drain taken after it, and every
//! drain before that one, is delivered. The thread ends once the reporter is closed and
//! nothing is left.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use zipkin_tracing::FinishedSpan;

use crate::delivery::{Counters, Delivery, Held, Transport};
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
    /// The transports not delivering right now: a sender takes one and gives it back once
    /// no batch is queued, so as many batches are in flight at once as there are
    /// transports.
    pub(crate) transports: Vec<T>,
}

impl<T: Transport> Worker<T> {
    /// Sleeps until a batch is ready, a flush is asked for, a sender is free or the
    /// interval passes; then drains the lanes, queues their batches and starts a sender
    /// on each free transport while batches are queued. Ends when the reporter is closed
    /// and nothing is left.
    pub(crate) async fn run(mut self) {
        let shared = self.shared.clone();
        let queue = Arc::new(Mutex::new(Queue::new(shared.batch_size)));
        let mut senders = JoinSet::new();
        // The first tick one period from now: at start there is nothing to send.
        let mut interval = tokio::time::interval_at(Instant::now() + self.interval, self.interval);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shared.wake.notified() => {}
                _ = interval.tick() => {}
                Some(finished) = senders.join_next() => match finished {
                    Ok(transport) => self.transports.push(transport),
                    // A sender panicked: so does the reporter's thread.
                    Err(error) => std::panic::resume_unwind(error.into_panic()),
                },
            }
            // Read before draining: once closed, no span can be handed off any more, so
            // an empty drain after it means nothing is left but what is queued.
            let closed = shared.closed.load(Ordering::Acquire);
            let drained = lock(&queue).drain(&shared);
            while !self.transports.is_empty() && !lock(&queue).batches.is_empty() {
                let Some(transport) = self.transports.pop() else {
                    break;
                };
                senders.spawn(send_batches(
                    transport,
                    queue.clone(),
                    self.delivery.clone(),
                ));
            }
            if closed && drained == 0 && senders.is_empty() {
                shared.lanes.abandon();
                return;
            }
        }
    }
}

/// Locks `mutex`; nothing panics while holding it, so a poisoned one is still good.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The batches waiting for a sender, and the drains whose batches are not all delivered.
struct Queue {
    batch_size: usize,
    batches: VecDeque<Batch>,
    /// Drains not yet delivered, oldest first; the front one is number `first`.
    drains: VecDeque<Drain>,
    first: u64,
    /// Emptied lane vectors, kept to swap for full ones, so that neither side allocates
    /// one per drain.
    empty_vectors: Vec<Vec<FinishedSpan>>,
}

/// One drain's progress: its batches not yet delivered, and the flushes waiting for it.
struct Drain {
    undelivered: usize,
    flushes: Vec<oneshot::Sender<()>>,
}

/// At most `batch_size` spans of one drained lane vector, which the batches of that
/// vector share; and the drain they came in.
struct Batch {
    vector: Arc<Vec<FinishedSpan>>,
    range: Range<usize>,
    drain: u64,
}

impl Batch {
    fn spans(&self) -> &[FinishedSpan] {
        &self.vector[self.range.clone()]
    }
}

impl Queue {
    fn new(batch_size: usize) -> Self {
        Queue {
            batch_size,
            batches: VecDeque::new(),
            drains: VecDeque::new(),
            first: 0,
            empty_vectors: Vec::new(),
        }
    }

    /// Takes the flushes asked for so far, then every waiting span, and queues the spans
    /// in batches of at most `batch_size`. Returns how many spans it took.
    fn drain(&mut self, shared: &Shared) -> usize {
        // Taken before the lanes: every span handed off before these flushes were asked
        // for is in this drain, or in an earlier one.
        let flushes = std::mem::take(&mut *lock(&shared.flushes));
        let full = shared.lanes.drain(&mut self.empty_vectors, || {});
        let number = self.first + self.drains.len() as u64;
        let mut drain = Drain {
            undelivered: 0,
            flushes,
        };
        let mut spans = 0;
        for vector in full {
            let vector = Arc::new(vector);
            for start in (0..vector.len()).step_by(self.batch_size) {
                let end = vector.len().min(start + self.batch_size);
                self.batches.push_back(Batch {
                    vector: vector.clone(),
                    range: start..end,
                    drain: number,
                });
                drain.undelivered += 1;
            }
            spans += vector.len();
        }
        // A drain that took nothing and has no flush to answer is not kept.
        if drain.undelivered > 0 || !drain.flushes.is_empty() {
            self.drains.push_back(drain);
            self.settle();
        }
        spans
    }

    /// Notes `batch` as delivered (sent or given up) and keeps its vector once no other
    /// batch uses it.
    fn delivered(&mut self, batch: Batch) {
        let index = (batch.drain - self.first) as usize;
        if let Some(drain) = self.drains.get_mut(index) {
            drain.undelivered -= 1;
        }
        if let Ok(mut vector) = Arc::try_unwrap(batch.vector) {
            vector.clear();
            // A vector keeps at most a batch's worth of room: one that grew in a burst
            // gives the rest back.
            vector.shrink_to(self.batch_size);
            self.empty_vectors.push(vector);
        }
        self.settle();
    }

    /// Answers the flushes of the oldest drains whose batches are all delivered.
    fn settle(&mut self) {
        while self
            .drains
            .front()
            .is_some_and(|drain| drain.undelivered == 0)
        {
            let Some(drain) = self.drains.pop_front() else {
                break;
            };
            self.first += 1;
            for flush in drain.flushes {
                // A flush that gave up waiting has dropped its receiver: nothing to tell.
                let _ = flush.send(());
            }
        }
    }
}

/// One sender: takes the next queued batch, encodes it, delivers it over `transport`, and
/// again until no batch is queued; then gives the transport back. A transport that
/// carries several batches in one request (see [`Transport::JOIN_BYTES`]) takes more
/// queued batches along, up to that many encoded bytes.
async fn send_batches<T: Transport>(
    mut transport: T,
    queue: Arc<Mutex<Queue>>,
    delivery: Arc<Delivery>,
) -> T {
    // Sized like the last body per span, so that encoding seldom regrows it.
    let mut bytes_per_span = 0;
    let mut taken = Vec::new();
    let mut bodies = Vec::new();
    loop {
        let mut bytes = 0;
        let mut held = Held::default();
        while taken.is_empty() || bytes < T::JOIN_BYTES {
            let Some(batch) = lock(&queue).batches.pop_front() else {
                break;
            };
            let batch_spans = batch.spans();
            let mut body = Vec::with_capacity(bytes_per_span * batch_spans.len());
            encode_json(batch_spans, &mut body);
            bytes_per_span = body.len().div_ceil(batch_spans.len());
            bytes += body.len();
            for span in batch_spans {
                held.add(Held::of(span));
            }
            // The retries share these buffers; they are freed when the batches are done.
            bodies.push(Bytes::from(body));
            taken.push(batch);
        }
        if taken.is_empty() {
            return transport;
        }
        delivery.deliver(&mut transport, &bodies, held).await;
        bodies.clear();
        let mut queue = lock(&queue);
        for batch in taken.drain(..) {
            queue.delivered(batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lane_vector_that_grew_in_a_burst_keeps_only_a_batchs_room() {
        let mut queue = Queue::new(100);
        queue.drains.push_back(Drain {
            undelivered: 1,
            flushes: Vec::new(),
        });
        let burst: Vec<FinishedSpan> = Vec::with_capacity(100_000);
        queue.delivered(Batch {
            vector: Arc::new(burst),
            range: 0..0,
            drain: 0,
        });
        assert_eq!(queue.empty_vectors.len(), 1);
        assert!(queue.empty_vectors[0].capacity() <= 100);
        assert!(queue.drains.is_empty(), "the drain is delivered");
    }
}
