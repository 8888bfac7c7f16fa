//! The HTTP reporter: spans go to a bounded queue, a background task POSTs them in batches.
//!
//! The request path only does a non-blocking `try_send`; when the queue is full the span is
//! dropped and counted, never waited for. The background task wakes when a batch's worth of
//! spans (100) has been queued, or once a second, and sends what is queued in batches; it
//! retries outages with backoff for a bounded time, and logs an outage once rather than
//! once per span. Waking it once per batch rather than once per span keeps a thread wake-up
//! off the request path, as OpenTelemetry's batch processor and Brave's reporter do too.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::Report;
use crate::finished::FinishedSpan;

/// Settings of an [`HttpReporter`]. The defaults follow the project's reporter rules.
#[derive(Debug, Clone)]
pub struct HttpReporterConfig {
    /// Where to POST spans, e.g. `http://127.0.0.1:9411/api/v2/spans`.
    pub endpoint: String,
    /// Spans waiting to be sent, at most; more are dropped and counted. Default 10,000.
    pub queue_capacity: usize,
    /// Spans per POST, at most. Default 100.
    pub batch_size: usize,
    /// How long a span waits, at most, for a batch to fill before what is queued is sent.
    /// Default 1 s.
    pub batch_interval: Duration,
    /// Time limit of one POST, connection included. Default 5 s.
    pub request_timeout: Duration,
    /// How long a batch is retried after failures before it is given up. Default 30 s.
    pub retry_window: Duration,
    /// The first pause between retries; it doubles up to `max_backoff`. Default 100 ms.
    pub initial_backoff: Duration,
    /// The longest pause between retries. Default 5 s.
    pub max_backoff: Duration,
}

impl HttpReporterConfig {
    /// The default settings for `endpoint`.
    pub fn new(endpoint: impl Into<String>) -> Self {
        HttpReporterConfig {
            endpoint: endpoint.into(),
            queue_capacity: 10_000,
            batch_size: 100,
            batch_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            retry_window: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// The reporter cannot start with this configuration.
#[derive(Debug, thiserror::Error)]
pub enum ReporterError {
    /// The endpoint is not an absolute `http://` URL.
    #[error("invalid Zipkin endpoint {endpoint:?}: {reason}")]
    BadEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A size setting is zero.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// The sending thread or its runtime could not be started.
    #[error("cannot start the reporter's thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// What happened to the spans handed to a reporter so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReporterStats {
    /// Spans taken into the queue.
    pub queued: u64,
    /// Spans the collector acknowledged (2xx).
    pub sent: u64,
    /// Spans dropped because the queue was full, never sent.
    pub dropped: u64,
    /// Spans given up: rejected by the collector (4xx) or undeliverable within the retry
    /// window.
    pub failed: u64,
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

/// Sends spans to a Zipkin-compatible collector (`POST /api/v2/spans`) in the background.
///
/// The sending task runs on a thread of its own (`zipkin-reporter`), with its own
/// single-threaded tokio runtime: encoding and sending spans then never take a turn from
/// the service's request handlers, as with Brave's `AsyncReporter` and OpenTelemetry's
/// batch processor. Clones share the queue; the thread ends when the last clone is gone
/// and the queue is empty.
#[derive(Debug, Clone)]
pub struct HttpReporter {
    queue: mpsc::Sender<FinishedSpan>,
    shared: Arc<Shared>,
}

impl HttpReporter {
    /// Starts the reporter and its sending thread.
    pub fn start(config: HttpReporterConfig) -> Result<Self, ReporterError> {
        let url = crate::client::parse_http_url(&config.endpoint).map_err(|reason| {
            ReporterError::BadEndpoint {
                endpoint: config.endpoint.clone(),
                reason,
            }
        })?;
        if config.queue_capacity == 0 {
            return Err(ReporterError::Zero("queue capacity"));
        }
        if config.batch_size == 0 {
            return Err(ReporterError::Zero("batch size"));
        }
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .build()?;
        let (queue, receiver) = mpsc::channel(config.queue_capacity);
        let shared = Arc::new(Shared {
            batch_size: config.batch_size as u64,
            ..Shared::default()
        });
        let worker = Worker {
            config,
            url,
            client,
            shared: shared.clone(),
            outage: None,
            body: Vec::new(),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ReporterError::Thread)?;
        std::thread::Builder::new()
            .name("zipkin-reporter".to_owned())
            .spawn(move || runtime.block_on(worker.run(receiver)))
            .map_err(ReporterError::Thread)?;
        Ok(HttpReporter { queue, shared })
    }

    /// The counters so far.
    pub fn stats(&self) -> ReporterStats {
        ReporterStats {
            queued: self.shared.queued.load(Ordering::Relaxed),
            sent: self.shared.sent.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            failed: self.shared.failed.load(Ordering::Relaxed),
        }
    }

    /// Sends what is queued now and waits until every span queued before this call has
    /// been sent or given up, for at most `timeout`. Returns `false` on timeout.
    pub async fn flush(&self, timeout: Duration) -> bool {
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

impl Report for HttpReporter {
    fn report(&self, span: FinishedSpan) {
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

struct Worker {
    config: HttpReporterConfig,
    url: reqwest::Url,
    client: reqwest::Client,
    shared: Arc<Shared>,
    outage: Option<Outage>,
    /// Where each batch's JSON is written, kept between batches so that encoding never
    /// regrows a buffer; the batch then goes out as one copy of it, which retries share.
    body: Vec<u8>,
}

enum Attempt {
    Sent,
    Rejected(String),
    Failed(String),
}

impl Worker {
    /// Sleeps until a batch is ready, a flush is asked for or the interval passes, then
    /// sends everything queued, in batches. Ends when every `HttpReporter` is gone and the
    /// queue is empty.
    ///
    /// The worker never waits in `recv`: a receiver waiting there is woken by every span
    /// sent, which would put a thread wake-up on the request path of each span.
    async fn run(mut self, mut receiver: mpsc::Receiver<FinishedSpan>) {
        let mut batch = Vec::with_capacity(self.config.batch_size);
        let period = self.config.batch_interval;
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
                let closed = take_batch(&mut receiver, &mut batch, self.config.batch_size);
                if batch.is_empty() {
                    if closed {
                        return;
                    }
                    break;
                }
                // The JSON is written here, off the request path, straight from the
                // recorded spans: no `Span` is built for it.
                self.body.clear();
                crate::finished_json::encode_batch(&batch, &mut self.body);
                let count = batch.len() as u64;
                batch.clear();
                // A copy the retries can share, so that `self.body` stays for reuse.
                let body = bytes::Bytes::copy_from_slice(&self.body);
                self.deliver(body, count).await;
                self.shared.done.fetch_add(count, Ordering::Release);
                self.shared.done_changed.notify_waiters();
            }
        }
    }

    /// Sends one batch of `count` spans, encoded as `body`, retrying failures with backoff
    /// until the retry window closes.
    async fn deliver(&mut self, body: bytes::Bytes, count: u64) {
        let give_up_at = Instant::now() + self.config.retry_window;
        let mut backoff = self.config.initial_backoff;
        loop {
            match self.attempt(body.clone()).await {
                Attempt::Sent => {
                    self.shared.sent.fetch_add(count, Ordering::Relaxed);
                    if let Some(outage) = self.outage.take() {
                        tracing::info!(
                            endpoint = %self.url,
                            lost_spans = outage.lost,
                            "Zipkin collector reachable again after {:.1?}",
                            outage.since.elapsed()
                        );
                    }
                    return;
                }
                Attempt::Rejected(reason) => {
                    // The collector understood and refused: sending it again cannot help.
                    tracing::warn!(endpoint = %self.url, "Zipkin collector rejected a batch of {count} spans, dropping it: {reason}");
                    self.shared.failed.fetch_add(count, Ordering::Relaxed);
                    return;
                }
                Attempt::Failed(reason) => {
                    if self.outage.is_none() {
                        tracing::warn!(
                            endpoint = %self.url,
                            "Zipkin collector unavailable ({reason}); retrying each batch for up to {:?}, further failures are not logged until it recovers",
                            self.config.retry_window
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
                    backoff = (backoff * 2).min(self.config.max_backoff);
                }
            }
        }
    }

    async fn attempt(&self, body: bytes::Bytes) -> Attempt {
        let response = self
            .client
            .post(self.url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            // `b3: 0` tells a traced proxy or collector not to trace this request, so the
            // reporter never reports its own reporting.
            .header(crate::b3::SINGLE, "0")
            .body(body)
            .send()
            .await;
        match response {
            Ok(response) if response.status().is_success() => Attempt::Sent,
            // 408 and 429 say "not now" (a busy collector), not "never": retried like a 5xx.
            Ok(response)
                if response.status().is_client_error()
                    && response.status() != http::StatusCode::REQUEST_TIMEOUT
                    && response.status() != http::StatusCode::TOO_MANY_REQUESTS =>
            {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let text: String = text.chars().take(200).collect();
                Attempt::Rejected(format!("{status}: {text:?}"))
            }
            Ok(response) => Attempt::Failed(format!("status {}", response.status())),
            Err(error) => Attempt::Failed(crate::client::describe_error(&error)),
        }
    }
}
