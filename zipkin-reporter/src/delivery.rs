//! Delivery: a send of one batch (or, for Kafka, of the batches queued together) to the
//! collector, retried with backoff, and the counters that account for every span.
//!
//! A sender ([`Transport`]) knows only how to deliver its encoded batches once and say how
//! it went. Everything else is here and shared by every transport: a failure (no connection,
//! a timeout, a 5xx) is retried with doubling pauses until the retry window closes; a
//! refusal (a 4xx) drops the batch at once; the first failure of an outage is logged once,
//! spans given up are logged as they go (at most once per retry window, with the count),
//! and the outage's end with what it cost. Every span handed to the reporter ends counted: sent,
//! dropped (no room), or failed (given up).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use zipkin_tracing::FinishedSpan;

/// What happened to the spans handed to a reporter so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReporterStats {
    /// Spans handed to the reporter and taken in (not dropped).
    pub queued: u64,
    /// Spans the collector acknowledged.
    pub sent: u64,
    /// Spans dropped because `queue_capacity` spans were already held, never sent.
    pub dropped: u64,
    /// Spans given up: rejected by the collector or undeliverable within the retry window.
    pub failed: u64,
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

/// Delivers encoded batches (each a JSON list of v2 spans) to a collector, once.
///
/// A transport delivers one send at a time (`&mut self`), so it may keep a connection
/// between sends; it connects when a send needs it, never at start, so that a broker that
/// is down when a service starts only costs the batches sent meanwhile.
pub(crate) trait Transport: Send + 'static {
    /// Encoded bytes one send may carry, in whole batches. A transport that puts several
    /// messages in one request (a Kafka produce request) gets the queued batches up to
    /// this many bytes together; 0, the default, gives every send one batch.
    const JOIN_BYTES: usize = 0;
    /// Where batches go, for log lines.
    fn destination(&self) -> String;
    /// Tries to deliver `batches` once, all of them or none, within the transport's own
    /// time limit. They are one batch unless [`JOIN_BYTES`](Self::JOIN_BYTES) is set.
    fn send(&mut self, batches: &[Bytes]) -> impl Future<Output = Attempt> + Send;
}

/// How long and how often a failed batch is retried.
#[derive(Debug, Clone)]
pub(crate) struct Retries {
    pub(crate) window: Duration,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
}

/// The places some spans take in the queue: how many, and their estimated bytes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Held {
    pub(crate) spans: u64,
    pub(crate) bytes: u64,
}

impl Held {
    /// The place of one finished span: its record (416 bytes on a 64-bit target, with
    /// room for four tags inline) and the text it carries. Static names and tags are
    /// counted too, though spans share them: the estimate errs on the side of less memory.
    pub(crate) fn of(span: &FinishedSpan) -> Held {
        const RECORD_BYTES: usize = 416;
        let tags: usize = span.tags().iter().map(|(k, v)| k.len() + v.len()).sum();
        let annotations: usize = span.annotations().map(|(_, value)| value.len() + 16).sum();
        Held {
            spans: 1,
            bytes: (RECORD_BYTES + span.name().len() + tags + annotations) as u64,
        }
    }

    /// These places and `other`'s.
    pub(crate) fn add(&mut self, other: Held) {
        self.spans += other.spans;
        self.bytes += other.bytes;
    }
}

/// Where every span handed to the reporter is counted, from hand-off to its end.
#[derive(Debug)]
pub(crate) struct Counters {
    /// Spans handed off and not yet sent or given up, wherever they are: at most
    /// `capacity`.
    held: AtomicU64,
    capacity: u64,
    /// The estimated bytes of those spans: at most `max_bytes`.
    held_bytes: AtomicU64,
    max_bytes: u64,
    sent: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

impl Counters {
    /// Counters for a reporter that holds at most `capacity` spans and `max_bytes` bytes.
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        Counters {
            held: AtomicU64::new(0),
            capacity: capacity as u64,
            held_bytes: AtomicU64::new(0),
            max_bytes: max_bytes as u64,
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Takes a place for one more span of `bytes` and returns how many spans were held
    /// before it; or, when `capacity` spans are already held or its bytes would go over
    /// `max_bytes`, counts the span as dropped and returns `None`.
    pub(crate) fn hold(&self, bytes: u64) -> Option<u64> {
        // The place is taken first, so that the bounds hold however many threads race.
        let held = self.held.fetch_add(1, Ordering::Relaxed);
        let held_bytes = self.held_bytes.fetch_add(bytes, Ordering::Relaxed);
        if held < self.capacity && held_bytes + bytes <= self.max_bytes {
            return Some(held);
        }
        self.held.fetch_sub(1, Ordering::Relaxed);
        self.held_bytes.fetch_sub(bytes, Ordering::Relaxed);
        // Not logged per span; the counter and the outage warning tell the story.
        self.dropped.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// The counters so far, with `queued` spans handed off.
    pub(crate) fn stats(&self, queued: u64) -> ReporterStats {
        ReporterStats {
            queued,
            sent: self.sent.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    /// Frees the places of spans that are done (sent or given up).
    fn done(&self, done: Held) {
        self.held.fetch_sub(done.spans, Ordering::Relaxed);
        self.held_bytes.fetch_sub(done.bytes, Ordering::Relaxed);
    }
}

/// An outage in progress: when it started and how many spans it has cost.
struct Outage {
    since: Instant,
    lost: u64,
    /// When spans given up were last logged: at most once per retry window.
    loss_logged: Option<Instant>,
}

/// What every sender shares: how to retry, where to count, and the outage in progress.
pub(crate) struct Delivery {
    retries: Retries,
    /// Where batches go, for log lines.
    destination: String,
    counters: std::sync::Arc<Counters>,
    /// Never held across a wait, so senders only ever wait for it for a moment.
    outage: Mutex<Option<Outage>>,
}

impl Delivery {
    /// Deliveries to `destination`, retried as `retries` says and counted in `counters`.
    pub(crate) fn new(
        retries: Retries,
        destination: String,
        counters: std::sync::Arc<Counters>,
    ) -> Self {
        Delivery {
            retries,
            destination,
            counters,
            outage: Mutex::new(None),
        }
    }

    /// Delivers the spans that hold `held`, encoded as `batches`, over `transport`,
    /// retrying failures with backoff until the retry window closes; then frees their
    /// places.
    pub(crate) async fn deliver<T: Transport>(
        &self,
        transport: &mut T,
        batches: &[Bytes],
        held: Held,
    ) {
        let count = held.spans;
        let give_up_at = Instant::now() + self.retries.window;
        let mut backoff = self.retries.initial_backoff;
        loop {
            match transport.send(batches).await {
                Attempt::Sent => {
                    self.counters.sent.fetch_add(count, Ordering::Relaxed);
                    let recovered = self.lock_outage().take();
                    if let Some(outage) = recovered {
                        tracing::info!(
                            endpoint = %self.destination,
                            lost_spans = outage.lost,
                            "Zipkin collector reachable again after {:.1?}",
                            outage.since.elapsed()
                        );
                    }
                    break;
                }
                Attempt::Rejected(reason) => {
                    tracing::warn!(
                        endpoint = %self.destination,
                        "Zipkin collector rejected a batch of {count} spans, dropping it: {reason}"
                    );
                    self.counters.failed.fetch_add(count, Ordering::Relaxed);
                    break;
                }
                Attempt::Failed(reason) => {
                    let give_up = Instant::now() + backoff >= give_up_at;
                    self.note_failure(&reason, if give_up { count } else { 0 });
                    if give_up {
                        tracing::debug!("giving up a batch of {count} spans: {reason}");
                        self.counters.failed.fetch_add(count, Ordering::Relaxed);
                        break;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.retries.max_backoff);
                }
            }
        }
        self.counters.done(held);
    }

    /// Starts an outage at the first failure, with its one warning, and adds `lost` spans
    /// (those of a batch given up) to it.
    fn note_failure(&self, reason: &str, lost: u64) {
        let mut outage = self.lock_outage();
        let outage = outage.get_or_insert_with(|| {
            tracing::warn!(
                endpoint = %self.destination,
                "Zipkin collector unavailable ({reason}); retrying each batch for up to {:?}, further failures are not logged until it recovers",
                self.retries.window
            );
            Outage {
                since: Instant::now(),
                lost: 0,
                loss_logged: None,
            }
        });
        outage.lost += lost;
        let window = self.retries.window;
        if lost > 0 && outage.loss_logged.is_none_or(|at| at.elapsed() >= window) {
            outage.loss_logged = Some(Instant::now());
            tracing::info!(
                endpoint = %self.destination,
                lost_spans = outage.lost,
                "gave up {lost} spans not delivered within {window:?}; {} lost since the collector became unavailable",
                outage.lost
            );
        }
    }

    fn lock_outage(&self) -> MutexGuard<'_, Option<Outage>> {
        // Nothing panics while holding it.
        self.outage.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Never gets a batch through.
    struct Down;

    impl Transport for Down {
        fn destination(&self) -> String {
            "nowhere".to_owned()
        }

        async fn send(&mut self, _batches: &[Bytes]) -> Attempt {
            Attempt::Failed("connection refused".to_owned())
        }
    }

    /// What the log says while `run` runs on this thread.
    fn logged(run: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Capture(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Capture {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .expect("not poisoned")
                    .extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, run);
        let bytes = capture.0.lock().expect("not poisoned").clone();
        String::from_utf8(bytes).expect("log lines are text")
    }

    #[test]
    fn spans_given_up_are_logged_with_their_count_at_most_once_per_window() {
        // The first pause is longer than the window: each batch is given up at once.
        let retries = Retries {
            window: Duration::from_secs(60),
            initial_backoff: Duration::from_secs(120),
            max_backoff: Duration::from_secs(120),
        };
        let counters = Arc::new(Counters::new(100, 1_000_000));
        let delivery = Delivery::new(retries, "nowhere".to_owned(), counters.clone());
        let log = logged(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime starts");
            runtime.block_on(async {
                for _ in 0..3 {
                    assert!(counters.hold(500).is_some());
                }
                let batch = [Bytes::from_static(b"[]")];
                let two = Held {
                    spans: 2,
                    bytes: 1_000,
                };
                delivery.deliver(&mut Down, &batch, two).await;
                let one = Held {
                    spans: 1,
                    bytes: 500,
                };
                delivery.deliver(&mut Down, &batch, one).await;
            });
        });
        let given_up: Vec<&str> = log.lines().filter(|l| l.contains("gave up")).collect();
        assert_eq!(given_up.len(), 1, "{log}");
        assert!(given_up[0].contains("gave up 2 spans"), "{log}");
        assert!(given_up[0].contains("lost_spans=2"), "{log}");
        assert_eq!(
            log.matches("Zipkin collector unavailable").count(),
            1,
            "{log}"
        );
        assert_eq!(counters.stats(3).failed, 3);
    }
}
