//! The batching pipeline every reporter shares: per-thread lanes, a thread that drains them,
//! senders that encode and deliver batches side by side, retries with backoff, one warning
//! per outage, counters and flush.
//!
//! Handing a span over must cost the request next to nothing, so each recording thread
//! has a lane of its own: a vector of finished spans behind a mutex that only that thread
//! and the reporter's thread ever take. A hand-off ([`Pipeline::hand_off`]) is a push onto
//! the thread's own lane; nothing is allocated per span, no other recording thread is met,
//! and the reporter's thread is woken once per batch's worth of spans (or by its timer),
//! as OpenTelemetry's batch processor and Brave's `AsyncReporter` wake theirs. The
//! reporter's thread swaps each lane's vector for an empty one it kept from before, so the
//! vectors go back and forth in bulk and the spans' memory never crosses threads span by
//! span (in glibc's malloc, a block freed by another thread takes the slow path). At most
//! `capacity` spans wait in all lanes and batches in flight together: above that a span
//! is dropped and counted, never waited for.
//!
//! The drained spans are cut into batches, which senders take in turn: each encodes its
//! batch ([`encode_json`](super::encode_json)) and hands it to its own [`Transport`], which
//! only knows how to deliver one batch once. The senders run on the reporter's runtime, one
//! thread per core, so a busy reporter encodes on several cores while earlier batches are
//! on their way.

use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::json::encode_list;
use crate::record::{FinishedSpan, Recorded};

/// What happened to the spans handed to a reporter so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReporterStats {
    /// Spans taken into the queue.
    pub queued: u64,
    /// Spans the collector acknowledged.
    pub sent: u64,
    /// Spans dropped because the queue was full, never sent.
    pub dropped: u64,
    /// Spans given up: rejected by the collector or undeliverable within the retry window.
    pub failed: u64,
}

/// How the pipeline batches and retries.
#[derive(Debug, Clone)]
pub(crate) struct Batching {
    pub(crate) batch_size: usize,
    pub(crate) batch_interval: Duration,
    pub(crate) retry_window: Duration,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
}

/// The outcome of delivering one batch once.
pub(crate) enum Attempt {
    /// The collector took the batch.
    Sent,
    /// The collector understood and refused it: sending it again cannot help.
    Rejected(String),
    /// The batch did not get through (no connection, a timeout, a busy collector).
    Failed(String),
}

/// Delivers one encoded batch (a JSON list of v2 spans) to a collector, once.
///
/// A transport runs on the reporter's thread only, so it may keep a connection between
/// batches (`&mut self`); it connects when a send needs it, never at start, so that a
/// broker that is down when a service starts only costs the batches sent meanwhile.
pub(crate) trait Transport: Send + 'static {
    /// Where batches go, for log lines.
    fn destination(&self) -> String;
    /// Tries to deliver `batch` once, within the transport's own time limit.
    fn send(&mut self, batch: Bytes) -> impl Future<Output = Attempt> + Send;
}

/// The request side of the pipeline: the lanes and the counters. Clones share them; when
/// the last one is gone, the reporter's thread sends what is left and ends.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    handle: Arc<Handle>,
    /// The threads the pipeline runs: its own and its senders'.
    threads: usize,
}

/// What every clone of a [`Pipeline`] holds; dropping the last one closes the pipeline.
#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }
}

/// What the request side and the reporter's thread share.
#[derive(Debug)]
struct Shared {
    /// Tells this pipeline's lanes apart from other pipelines' in a thread's [`LANES`].
    id: u64,
    /// Every recording thread's lane, for the reporter's thread to drain.
    lanes: Mutex<Vec<Arc<Lane>>>,
    /// The lane of a thread whose own lanes are gone (a span finished while the thread
    /// exits): spans are never lost for want of a lane.
    spare_lane: Lane,
    /// What the lanes of threads that have ended had counted, for [`ReporterStats::queued`].
    retired_queued: AtomicU64,
    /// Spans handed off and not yet sent or given up, wherever they are: at most `capacity`.
    held: AtomicU64,
    capacity: u64,
    batch_size: u64,
    sent: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    /// Spans the reporter's thread has finished with (sent or failed): `flush` waits on this.
    done: AtomicU64,
    done_changed: Notify,
    /// Wakes the reporter's thread: a batch is ready, a flush is asked for, or the
    /// pipeline closed.
    wake: Notify,
    closed: AtomicBool,
}

/// One recording thread's finished spans, waiting for the reporter's thread.
#[derive(Debug, Default)]
struct Lane {
    waiting: Mutex<Waiting>,
    /// Set when the reporter's thread has ended: the recording thread may forget the lane.
    abandoned: AtomicBool,
}

#[derive(Debug, Default)]
struct Waiting {
    spans: Vec<Recorded>,
    /// Spans ever pushed onto this lane: the lanes' sum is [`ReporterStats::queued`].
    queued: u64,
}

impl Lane {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // Nothing panics while holding it; a poisoned lane still holds good spans.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

thread_local! {
    /// This thread's lanes, one per pipeline it has handed spans to (a process usually
    /// has one), each with its pipeline's id.
    static LANES: RefCell<Vec<(u64, Arc<Lane>)>> = const { RefCell::new(Vec::new()) };
}

/// Gives each pipeline its id.
static NEXT_PIPELINE_ID: AtomicU64 = AtomicU64::new(0);

impl Pipeline {
    /// Starts the reporter's threads (all named `thread_name`, with their own runtime, so
    /// that encoding and sending never take a turn from request handlers): one that
    /// drains the lanes, and one sender thread per core, up to one per transport. Returns
    /// the request side. At most `capacity` spans wait at any time, and one batch is in
    /// flight per transport in `transports` (at least one).
    pub(crate) fn start<T: Transport>(
        capacity: usize,
        batching: Batching,
        transports: Vec<T>,
        thread_name: &str,
    ) -> std::io::Result<Self> {
        let destination = transports
            .first()
            .map(Transport::destination)
            .ok_or_else(|| std::io::Error::other("a reporter needs a transport"))?;
        let shared = Arc::new(Shared {
            id: NEXT_PIPELINE_ID.fetch_add(1, Ordering::Relaxed),
            lanes: Mutex::default(),
            spare_lane: Lane::default(),
            retired_queued: AtomicU64::new(0),
            held: AtomicU64::new(0),
            capacity: capacity as u64,
            batch_size: batching.batch_size as u64,
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            done: AtomicU64::new(0),
            done_changed: Notify::new(),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
        });
        // One thread per sender, up to one per core: encoding is what they do most.
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let worker = Worker {
            transports,
            delivery: Arc::new(Delivery {
                batching,
                destination,
                shared: shared.clone(),
                outage: Mutex::new(None),
                body_bytes_per_span: AtomicUsize::new(0),
            }),
            empty_vectors: Vec::new(),
        };
        let senders = worker.transports.len().min(cores);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(senders)
            .thread_name(thread_name)
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name(thread_name.to_owned())
            .spawn(move || runtime.block_on(worker.run()))?;
        Ok(Pipeline {
            handle: Arc::new(Handle { shared }),
            threads: 1 + senders,
        })
    }

    /// Puts `span` on this thread's lane without waiting; drops and counts it when
    /// `capacity` spans are already waiting.
    pub(crate) fn hand_off(&self, span: FinishedSpan) {
        let shared = &*self.handle.shared;
        // Take a place first, so that the bound holds however many threads race for it.
        let held = shared.held.fetch_add(1, Ordering::Relaxed);
        if held >= shared.capacity {
            shared.held.fetch_sub(1, Ordering::Relaxed);
            // Not logged per span; the counter and the outage warning tell the story.
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        shared.push(span.0);
        // Wake the reporter's thread once a batch's worth is waiting; otherwise its timer
        // fetches the spans. While it works it drains the lanes until they are empty.
        if held + 1 == shared.batch_size {
            shared.wake.notify_one();
        }
    }

    /// The threads the pipeline runs, all named as given to [`Pipeline::start`].
    pub(crate) fn threads(&self) -> usize {
        self.threads
    }

    /// The counters so far.
    pub(crate) fn stats(&self) -> ReporterStats {
        let shared = &*self.handle.shared;
        ReporterStats {
            queued: shared.queued(),
            sent: shared.sent.load(Ordering::Relaxed),
            dropped: shared.dropped.load(Ordering::Relaxed),
            failed: shared.failed.load(Ordering::Relaxed),
        }
    }

    /// Sends what is waiting now and waits until every span handed off before this call
    /// has been sent or given up, for at most `timeout`. Returns `false` on timeout.
    pub(crate) async fn flush(&self, timeout: Duration) -> bool {
        let shared = &*self.handle.shared;
        let target = shared.queued();
        shared.wake.notify_one();
        let wait = async {
            loop {
                let changed = shared.done_changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if shared.done.load(Ordering::Acquire) >= target {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}

impl Shared {
    /// Pushes `span` onto the calling thread's lane, making one the first time. It is
    /// unboxed here, so the box is freed by the thread that allocated it; it stays boxed
    /// until then, so that only a pointer moves on the way.
    fn push(&self, span: Box<Recorded>) {
        let mut span = Some(span);
        // `try_with`: a span may finish while the thread is exiting and its lanes are
        // gone; it then goes on the spare lane.
        let _ = LANES.try_with(|lanes| {
            let Ok(mut lanes) = lanes.try_borrow_mut() else {
                return;
            };
            let lane = match lanes.iter().position(|(id, _)| *id == self.id) {
                Some(index) => &lanes[index].1,
                None => {
                    // Lanes of pipelines that have ended are forgotten here.
                    lanes.retain(|(_, lane)| !lane.abandoned.load(Ordering::Relaxed));
                    let lane = Arc::new(Lane::default());
                    self.lanes
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(lane.clone());
                    lanes.push((self.id, lane));
                    &lanes[lanes.len() - 1].1
                }
            };
            if let Some(span) = span.take() {
                let mut waiting = lane.lock();
                waiting.spans.push(*span);
                waiting.queued += 1;
            }
        });
        if let Some(span) = span {
            let mut waiting = self.spare_lane.lock();
            waiting.spans.push(*span);
            waiting.queued += 1;
        }
    }

    /// Spans handed off so far: the sum of every lane's count.
    fn queued(&self) -> u64 {
        let lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        let retired = self.retired_queued.load(Ordering::Relaxed);
        lanes.iter().map(|lane| lane.lock().queued).sum::<u64>()
            + self.spare_lane.lock().queued
            + retired
    }
}

/// One sender: takes the next batch of `drained`, encodes it, delivers it over
/// `transport`, and again until no batch is left; then gives the transport back.
async fn send_batches<T: Transport>(
    mut transport: T,
    drained: Arc<Drained>,
    delivery: Arc<Delivery>,
) -> T {
    while let Some(spans) = drained.take_batch() {
        // Sized like the last body per span, so that encoding never regrows it.
        let per_span = delivery.body_bytes_per_span.load(Ordering::Relaxed);
        let body = encode_batch(spans, per_span * spans.len());
        let count = spans.len() as u64;
        delivery
            .body_bytes_per_span
            .store(body.len().div_ceil(spans.len()), Ordering::Relaxed);
        delivery.deliver(&mut transport, body, count).await;
        delivery.done(count);
    }
    transport
}

/// Encodes `spans` as one JSON list, the body of one delivery, into a buffer of
/// `capacity` bytes to start with.
fn encode_batch(spans: &[Recorded], capacity: usize) -> Bytes {
    let mut body = Vec::with_capacity(capacity);
    encode_list(spans, &mut body);
    // The retries share this one buffer; it is freed when the batch is done.
    Bytes::from(body)
}

/// An outage in progress: when it started and how many spans it has cost.
struct Outage {
    since: Instant,
    lost: u64,
}

/// The reporter's thread: drains the lanes and hands the spans to its senders.
struct Worker<T> {
    /// The transports not delivering right now: each sender takes one and gives it back,
    /// so as many batches are in flight at once as there are transports.
    transports: Vec<T>,
    delivery: Arc<Delivery>,
    /// Emptied lane vectors, kept to swap for full ones, so that neither side allocates
    /// one per drain.
    empty_vectors: Vec<Vec<Recorded>>,
}

/// What every sender shares: how to retry, where to count, and the outage in progress.
struct Delivery {
    batching: Batching,
    /// Where batches go, for log lines.
    destination: String,
    shared: Arc<Shared>,
    /// Never held across a wait, so senders on other threads only ever wait for a moment.
    outage: Mutex<Option<Outage>>,
    /// The last batch's JSON bytes per span, to size the next body.
    body_bytes_per_span: AtomicUsize,
}

/// The spans of one drain, cut into batches that the senders take in turn.
struct Drained {
    vectors: Vec<Vec<Recorded>>,
    /// Each batch: a vector's index and a range of its spans, at most `batch_size` long.
    batches: Vec<(usize, std::ops::Range<usize>)>,
    /// The next batch to take.
    next: AtomicUsize,
}

impl Drained {
    fn new(vectors: Vec<Vec<Recorded>>, batch_size: usize) -> Self {
        let mut batches = Vec::new();
        for (index, vector) in vectors.iter().enumerate() {
            for start in (0..vector.len()).step_by(batch_size) {
                batches.push((index, start..vector.len().min(start + batch_size)));
            }
        }
        Drained {
            vectors,
            batches,
            next: AtomicUsize::new(0),
        }
    }

    /// The spans of the next batch no sender has taken yet.
    fn take_batch(&self) -> Option<&[Recorded]> {
        let (index, range) = self
            .batches
            .get(self.next.fetch_add(1, Ordering::Relaxed))?;
        Some(&self.vectors[*index][range.clone()])
    }
}

impl<T: Transport> Worker<T> {
    /// Sleeps until a batch is ready, a flush is asked for or the interval passes, then
    /// sends everything waiting, in batches, until the lanes are empty. Ends when the
    /// pipeline is closed and nothing is left.
    async fn run(mut self) {
        let shared = self.delivery.shared.clone();
        let period = self.delivery.batching.batch_interval;
        // The first tick one period from now: at start there is nothing to send.
        let mut interval = tokio::time::interval_at(Instant::now() + period, period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shared.wake.notified() => {}
                _ = interval.tick() => {}
            }
            loop {
                // Read before draining: once closed, no span can be handed off any more,
                // so an empty drain after it means nothing is left.
                let closed = shared.closed.load(Ordering::Acquire);
                let full = self.drain_lanes();
                if full.is_empty() {
                    if closed {
                        self.abandon_lanes();
                        return;
                    }
                    break;
                }
                self.deliver_all(full).await;
            }
        }
    }

    /// Swaps every lane's vector of spans for an empty one and returns the full ones.
    /// Lanes whose thread has ended are removed once drained.
    fn drain_lanes(&mut self) -> Vec<Vec<Recorded>> {
        let shared = &*self.delivery.shared;
        let mut full = Vec::new();
        let mut take = |lane: &Lane, empty_vectors: &mut Vec<Vec<Recorded>>| {
            let mut vector = empty_vectors.pop().unwrap_or_default();
            std::mem::swap(&mut lane.lock().spans, &mut vector);
            if vector.is_empty() {
                empty_vectors.push(vector);
            } else {
                full.push(vector);
            }
        };
        let mut lanes = shared.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        for lane in lanes.iter() {
            take(lane, &mut self.empty_vectors);
        }
        take(&shared.spare_lane, &mut self.empty_vectors);
        // Only this list still holds the lane of a thread that has ended: its count goes
        // to the retired total and the lane goes away.
        lanes.retain(|lane| {
            if Arc::strong_count(lane) > 1 {
                return true;
            }
            let queued = lane.lock().queued;
            shared.retired_queued.fetch_add(queued, Ordering::Relaxed);
            false
        });
        full
    }

    /// Delivers the spans of `full` in batches of at most `batch_size`, then keeps the
    /// emptied vectors for the next drain.
    ///
    /// One sender per transport takes the next batch, encodes it and delivers it, until
    /// none is left. The senders are tasks of this reporter's runtime, whose threads (as
    /// many as there are cores, up to one per transport) encode side by side; and while
    /// one sender waits for the collector, the others encode and send.
    async fn deliver_all(&mut self, full: Vec<Vec<Recorded>>) {
        let drained = Arc::new(Drained::new(full, self.delivery.batching.batch_size));
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
                // A sender panicked: so does the reporter, as a single-threaded one would.
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

    /// Marks every lane as abandoned, so recording threads forget them, and frees the
    /// vectors they hold.
    fn abandon_lanes(&self) {
        let lanes = self
            .delivery
            .shared
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for lane in lanes.iter() {
            lane.lock().spans = Vec::new();
            lane.abandoned.store(true, Ordering::Relaxed);
        }
    }
}

impl Delivery {
    /// Delivers one batch of `count` spans, encoded as `body`, over `transport`, retrying
    /// failures with backoff until the retry window closes.
    async fn deliver<T: Transport>(&self, transport: &mut T, body: Bytes, count: u64) {
        let give_up_at = Instant::now() + self.batching.retry_window;
        let mut backoff = self.batching.initial_backoff;
        loop {
            match transport.send(body.clone()).await {
                Attempt::Sent => {
                    self.shared.sent.fetch_add(count, Ordering::Relaxed);
                    let recovered = self.lock_outage().take();
                    if let Some(outage) = recovered {
                        tracing::info!(
                            endpoint = %self.destination,
                            lost_spans = outage.lost,
                            "Zipkin collector reachable again after {:.1?}",
                            outage.since.elapsed()
                        );
                    }
                    return;
                }
                Attempt::Rejected(reason) => {
                    tracing::warn!(
                        endpoint = %self.destination,
                        "Zipkin collector rejected a batch of {count} spans, dropping it: {reason}"
                    );
                    self.shared.failed.fetch_add(count, Ordering::Relaxed);
                    return;
                }
                Attempt::Failed(reason) => {
                    let give_up = Instant::now() + backoff >= give_up_at;
                    self.note_failure(&reason, if give_up { count } else { 0 });
                    if give_up {
                        tracing::debug!("giving up a batch of {count} spans: {reason}");
                        self.shared.failed.fetch_add(count, Ordering::Relaxed);
                        return;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.batching.max_backoff);
                }
            }
        }
    }

    /// Starts an outage at the first failure, with its one warning, and adds `lost` spans
    /// (those of a batch given up) to it.
    fn note_failure(&self, reason: &str, lost: u64) {
        let mut outage = self.lock_outage();
        let outage = outage.get_or_insert_with(|| {
            tracing::warn!(
                endpoint = %self.destination,
                "Zipkin collector unavailable ({reason}); retrying each batch for up to {:?}, further failures are not logged until it recovers",
                self.batching.retry_window
            );
            Outage {
                since: Instant::now(),
                lost: 0,
            }
        });
        outage.lost += lost;
    }

    fn lock_outage(&self) -> MutexGuard<'_, Option<Outage>> {
        // Nothing panics while holding it.
        self.outage.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a batch of `count` spans as done (sent or given up), for `flush`.
    fn done(&self, count: u64) {
        self.shared.held.fetch_sub(count, Ordering::Relaxed);
        self.shared.done.fetch_add(count, Ordering::Release);
        self.shared.done_changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;
    use crate::context::{SamplingFlags, TraceContext};
    use crate::model::Span;
    use crate::tracer::Tracer;

    /// Takes every batch and passes its spans on to the test.
    struct Collecting(mpsc::Sender<Vec<Span>>);

    impl Transport for Collecting {
        fn destination(&self) -> String {
            "the test".to_owned()
        }

        async fn send(&mut self, batch: Bytes) -> Attempt {
            let spans = serde_json::from_slice(&batch).expect("a batch is a JSON list of spans");
            let _ = self.0.send(spans);
            Attempt::Sent
        }
    }

    /// Never answers: each batch it takes stays in delivery. Counts the deliveries it has
    /// started.
    #[derive(Default)]
    struct Stalled(Arc<AtomicUsize>);

    impl Transport for Stalled {
        fn destination(&self) -> String {
            "nowhere".to_owned()
        }

        async fn send(&mut self, _batch: Bytes) -> Attempt {
            self.0.fetch_add(1, Ordering::Relaxed);
            std::future::pending().await
        }
    }

    fn batching(batch_size: usize) -> Batching {
        Batching {
            batch_size,
            batch_interval: Duration::from_secs(3600),
            retry_window: Duration::from_secs(1),
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
        }
    }

    /// A finished span of a new trace, as a tracer reports it.
    fn span() -> FinishedSpan {
        let (sender, receiver) = mpsc::channel();
        struct Keep(Mutex<mpsc::Sender<FinishedSpan>>);
        impl crate::report::Report for Keep {
            fn report(&self, span: FinishedSpan) {
                let _ = self.0.lock().expect("not poisoned").send(span);
            }
        }
        let tracer = Tracer::builder("svc")
            .reporter(Keep(Mutex::new(sender)))
            .build();
        let context = TraceContext::new_root(SamplingFlags::SAMPLED, true);
        tracer.start(context, "work", None).finish();
        receiver.recv().expect("a sampled span is reported")
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime starts")
    }

    #[test]
    fn spans_from_many_threads_arrive_once_each_even_after_their_threads_end() {
        let (sender, batches) = mpsc::channel();
        let pipeline = Pipeline::start(10_000, batching(7), vec![Collecting(sender)], "t").unwrap();
        let handed_off: Vec<Span> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let pipeline = pipeline.clone();
                    scope.spawn(move || {
                        (0..50)
                            .map(|_| {
                                let span = span();
                                let model = span.clone().into_span();
                                pipeline.hand_off(span);
                                model
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            threads
                .into_iter()
                .flat_map(|t| t.join().unwrap())
                .collect()
        });
        // Every thread has ended; its lane still holds whatever was not yet sent.
        assert!(runtime().block_on(pipeline.flush(Duration::from_secs(10))));
        let mut arrived: Vec<Span> = batches.try_iter().flatten().collect();
        assert!(batches.try_iter().next().is_none());
        let key = |span: &Span| (span.trace_id, span.id);
        arrived.sort_by_key(key);
        let mut expected = handed_off;
        expected.sort_by_key(key);
        assert_eq!(arrived, expected);
        let stats = pipeline.stats();
        assert_eq!((stats.queued, stats.sent, stats.dropped), (200, 200, 0));
    }

    #[test]
    fn batches_hold_at_most_batch_size_spans() {
        let (sender, batches) = mpsc::channel();
        let pipeline = Pipeline::start(10_000, batching(7), vec![Collecting(sender)], "t").unwrap();
        for _ in 0..30 {
            pipeline.hand_off(span());
        }
        assert!(runtime().block_on(pipeline.flush(Duration::from_secs(10))));
        let sizes: Vec<usize> = batches.try_iter().map(|batch| batch.len()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 30);
        assert!(sizes.iter().all(|&size| size <= 7), "{sizes:?}");
    }

    #[test]
    fn the_capacity_bounds_the_spans_held_across_threads_and_the_rest_are_counted() {
        let pipeline = Pipeline::start(10, batching(3), vec![Stalled::default()], "t").unwrap();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                let pipeline = pipeline.clone();
                scope.spawn(move || {
                    for _ in 0..25 {
                        pipeline.hand_off(span());
                    }
                });
            }
        });
        let stats = pipeline.stats();
        assert_eq!((stats.queued, stats.dropped, stats.sent), (10, 90, 0));
    }

    #[test]
    fn one_batch_is_in_flight_per_transport_at_once() {
        let started = Arc::new(AtomicUsize::new(0));
        let transports = (0..3).map(|_| Stalled(started.clone())).collect();
        let pipeline = Pipeline::start(100, batching(1), transports, "t").unwrap();
        for _ in 0..10 {
            pipeline.hand_off(span());
        }
        // The flush cannot finish (nothing is ever answered); its time limit is the
        // window in which a fourth delivery could start, and must not.
        assert!(!runtime().block_on(pipeline.flush(Duration::from_millis(500))));
        assert_eq!(started.load(Ordering::Relaxed), 3);
        assert_eq!(pipeline.stats().queued, 10);
    }

    #[test]
    fn the_thread_ends_when_the_last_handle_is_gone_and_sends_what_is_left() {
        let (sender, batches) = mpsc::channel();
        let pipeline = Pipeline::start(100, batching(50), vec![Collecting(sender)], "t").unwrap();
        for _ in 0..3 {
            pipeline.hand_off(span());
        }
        let clone = pipeline.clone();
        drop(pipeline);
        clone.hand_off(span());
        drop(clone);
        // The worker drops its transport, and with it the sender, when it ends.
        let spans: usize = batches.iter().map(|batch| batch.len()).sum();
        assert_eq!(spans, 4);
    }
}
