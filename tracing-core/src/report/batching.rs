//! The batching pipeline every reporter shares: a bounded queue, a thread that drains it in
//! batches, retries with backoff, one warning per outage, counters and flush.
//!
//! The request path only does a non-blocking `try_send` ([`Pipeline::hand_off`]); when the
//! queue is full the span is dropped and counted, never waited for. The reporter's own
//! thread wakes when a batch's worth of spans has been queued, or once per interval, encodes
//! what is queued ([`encode_json`]) and hands each batch to a [`Transport`], which only
//! knows how to deliver one encoded batch once. Waking the thread once per batch rather
//! than once per span keeps a wake-up off the request path, as OpenTelemetry's batch
//! processor and Brave's `AsyncReporter` do too.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::json::encode_json;
use crate::record::FinishedSpan;

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

/// The request side of the pipeline: the queue and the counters. Clones share them.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    queue: mpsc::Sender<FinishedSpan>,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    queued: AtomicU64,
    sent: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    /// Spans the worker has finished with (sent or failed): `flush` waits on this.
    done: AtomicU64,
    done_changed: Notify,
    flush_requested: Notify,
    /// Signalled each time another `batch_size` spans have been queued.
    batch_ready: Notify,
    batch_size: u64,
}

impl Pipeline {
    /// Starts the reporter's thread (named `thread_name`, with its own single-threaded
    /// runtime, so that encoding and sending never take a turn from request handlers) and
    /// returns the queue's sending side. The thread ends when every clone is gone and the
    /// queue is empty.
    pub(crate) fn start(
        capacity: usize,
        batching: Batching,
        transport: impl Transport,
        thread_name: &str,
    ) -> std::io::Result<Self> {
        let (queue, receiver) = mpsc::channel(capacity);
        let shared = Arc::new(Shared {
            batch_size: batching.batch_size as u64,
            ..Shared::default()
        });
        let worker = Worker {
            batching,
            transport,
            shared: shared.clone(),
            outage: None,
            body: Vec::new(),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name(thread_name.to_owned())
            .spawn(move || runtime.block_on(worker.run(receiver)))?;
        Ok(Pipeline { queue, shared })
    }

    /// Queues `span` without waiting; drops and counts it when the queue is full.
    pub(crate) fn hand_off(&self, span: FinishedSpan) {
        match self.queue.try_send(span) {
            Ok(()) => {
                let queued = self.shared.queued.fetch_add(1, Ordering::Release) + 1;
                // Wake the worker once per batch; otherwise its timer fetches the spans.
                if queued.is_multiple_of(self.shared.batch_size) {
                    self.shared.batch_ready.notify_one();
                }
            }
            Err(_) => {
                // Full (or the worker is gone): drop rather than wait. Not logged per span;
                // the counter and the outage warning tell the story.
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The counters so far.
    pub(crate) fn stats(&self) -> ReporterStats {
        ReporterStats {
            queued: self.shared.queued.load(Ordering::Relaxed),
            sent: self.shared.sent.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            failed: self.shared.failed.load(Ordering::Relaxed),
        }
    }

    /// Sends what is queued now and waits until every span queued before this call has
    /// been sent or given up, for at most `timeout`. Returns `false` on timeout.
    pub(crate) async fn flush(&self, timeout: Duration) -> bool {
        let target = self.shared.queued.load(Ordering::Acquire);
        self.shared.flush_requested.notify_one();
        let wait = async {
            loop {
                let changed = self.shared.done_changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if self.shared.done.load(Ordering::Acquire) >= target {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}

/// Moves up to `limit` queued spans into `batch` without waiting. Returns whether the
/// queue is closed (every sender gone) and empty.
fn take_batch(
    receiver: &mut mpsc::Receiver<FinishedSpan>,
    batch: &mut Vec<FinishedSpan>,
    limit: usize,
) -> bool {
    while batch.len() < limit {
        match receiver.try_recv() {
            Ok(span) => batch.push(span),
            Err(mpsc::error::TryRecvError::Empty) => return false,
            Err(mpsc::error::TryRecvError::Disconnected) => return true,
        }
    }
    false
}

/// An outage in progress: when it started and how many spans it has cost.
struct Outage {
    since: Instant,
    lost: u64,
}

/// The reporter's thread: drains the queue in batches and delivers them.
struct Worker<T> {
    batching: Batching,
    transport: T,
    shared: Arc<Shared>,
    outage: Option<Outage>,
    /// Where each batch's JSON is written, kept between batches so that encoding never
    /// regrows a buffer; the batch then goes out as one copy of it, which retries share.
    body: Vec<u8>,
}

impl<T: Transport> Worker<T> {
    /// Sleeps until a batch is ready, a flush is asked for or the interval passes, then
    /// sends everything queued, in batches. Ends when every sender is gone and the queue
    /// is empty.
    ///
    /// The worker never waits in `recv`: a receiver waiting there is woken by every span
    /// sent, which would put a thread wake-up on the request path of each span.
    async fn run(mut self, mut receiver: mpsc::Receiver<FinishedSpan>) {
        let mut batch = Vec::with_capacity(self.batching.batch_size);
        let period = self.batching.batch_interval;
        // The first tick one period from now: at start there is nothing to send.
        let mut interval = tokio::time::interval_at(Instant::now() + period, period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.shared.batch_ready.notified() => {}
                () = self.shared.flush_requested.notified() => {}
                _ = interval.tick() => {}
            }
            loop {
                let closed = take_batch(&mut receiver, &mut batch, self.batching.batch_size);
                if batch.is_empty() {
                    if closed {
                        return;
                    }
                    break;
                }
                // The JSON is written here, off the request path, straight from the
                // recorded spans: no `Span` is built for it.
                self.body.clear();
                encode_json(&batch, &mut self.body);
                let count = batch.len() as u64;
                batch.clear();
                // A copy the retries can share, so that `self.body` stays for reuse.
                let body = Bytes::copy_from_slice(&self.body);
                self.deliver(body, count).await;
                self.shared.done.fetch_add(count, Ordering::Release);
                self.shared.done_changed.notify_waiters();
            }
        }
    }

    /// Delivers one batch of `count` spans, encoded as `body`, retrying failures with
    /// backoff until the retry window closes.
    async fn deliver(&mut self, body: Bytes, count: u64) {
        let give_up_at = Instant::now() + self.batching.retry_window;
        let mut backoff = self.batching.initial_backoff;
        loop {
            match self.transport.send(body.clone()).await {
                Attempt::Sent => {
                    self.shared.sent.fetch_add(count, Ordering::Relaxed);
                    if let Some(outage) = self.outage.take() {
                        tracing::info!(
                            endpoint = %self.transport.destination(),
                            lost_spans = outage.lost,
                            "Zipkin collector reachable again after {:.1?}",
                            outage.since.elapsed()
                        );
                    }
                    return;
                }
                Attempt::Rejected(reason) => {
                    tracing::warn!(
                        endpoint = %self.transport.destination(),
                        "Zipkin collector rejected a batch of {count} spans, dropping it: {reason}"
                    );
                    self.shared.failed.fetch_add(count, Ordering::Relaxed);
                    return;
                }
                Attempt::Failed(reason) => {
                    if self.outage.is_none() {
                        tracing::warn!(
                            endpoint = %self.transport.destination(),
                            "Zipkin collector unavailable ({reason}); retrying each batch for up to {:?}, further failures are not logged until it recovers",
                            self.batching.retry_window
                        );
                        self.outage = Some(Outage {
                            since: Instant::now(),
                            lost: 0,
                        });
                    }
                    if Instant::now() + backoff >= give_up_at {
                        tracing::debug!("giving up a batch of {count} spans: {reason}");
                        self.shared.failed.fetch_add(count, Ordering::Relaxed);
                        if let Some(outage) = &mut self.outage {
                            outage.lost += count;
                        }
                        return;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.batching.max_backoff);
                }
            }
        }
    }
}
