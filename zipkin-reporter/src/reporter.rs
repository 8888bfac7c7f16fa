//! The reporter a service holds: [`AsyncReporter`], whatever carries its batches.
//!
//! A span handed to [`Report::report`] takes a place under the capacity, or is dropped and
//! counted; it is pushed onto its thread's lane, and once a batch's worth is waiting the
//! reporter's thread is woken to drain them. The name is Brave's: its `AsyncReporter`
//! plays the same part in front of a `Sender`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use zipkin_tracing::{FinishedSpan, Report};

use crate::config::{Destination, HttpCompression, ReporterConfig};
use crate::delivery::{Counters, Delivery, Held, ReporterStats, Retries, Transport};
use crate::drain::{Shared, Worker, lock};
use crate::error::ReporterError;
use crate::http::HttpTransport;
#[cfg(feature = "kafka")]
use crate::kafka::KafkaTransport;
use crate::lanes::Lanes;
#[cfg(feature = "rabbitmq")]
use crate::rabbitmq::RabbitMqTransport;

/// POSTs in flight at once, at most, each on a keep-alive connection of its own: while the
/// collector reads one batch, the other senders encode and send the next ones. Brave's
/// `OkHttpSender` allows 64; a few are enough to keep the senders busy. Brokers take one
/// batch at a time over their one connection.
const HTTP_IN_FLIGHT: usize = 4;

/// Sends spans to Zipkin in the background, over the transport its [`Destination`] names.
///
/// The sending runs on a thread of its own, named `zipkin-reporter`, with its own tokio
/// runtime: encoding and sending spans then never take a turn from the service's request
/// handlers, as with Brave's `AsyncReporter` and OpenTelemetry's batch processor. A broker
/// is connected to when the first batch is due, so starting never waits for one. Clones
/// share the lanes spans wait in; the thread ends when the last clone is gone and every
/// lane is empty.
///
/// ```no_run
/// use zipkin_reporter::{AsyncReporter, Destination, ReporterConfig};
/// use zipkin_tracing::Tracer;
///
/// # fn main() -> anyhow::Result<()> {
/// let endpoint = "http://127.0.0.1:9411/api/v2/spans".parse()?;
/// let reporter = AsyncReporter::start(ReporterConfig::new(Destination::Http(endpoint)))?;
/// let tracer = Tracer::builder("service1").reporter(reporter.clone()).build();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AsyncReporter {
    handle: Arc<Handle>,
}

/// What every clone of an [`AsyncReporter`] holds; dropping the last one closes it.
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

impl AsyncReporter {
    /// Checks `config`'s sizes and starts the reporter's thread. It does not connect: an
    /// unreachable collector or broker is an outage of the running reporter, not a
    /// start-up error.
    pub fn start(config: ReporterConfig) -> Result<Self, ReporterError> {
        if config.queue_capacity == 0 {
            return Err(ReporterError::Zero("queue capacity"));
        }
        if config.queue_max_bytes == 0 {
            return Err(ReporterError::Zero("queue bytes"));
        }
        if config.batch_size == 0 {
            return Err(ReporterError::Zero("batch size"));
        }
        let timeout = config.request_timeout;
        let http = matches!(config.destination, Destination::Http(_));
        if !config.http_headers.is_empty() && !http {
            return Err(ReporterError::BadHeaders(format!(
                "they are sent only over HTTP, and this reporter publishes to {}",
                config.destination
            )));
        }
        if config.http_compression != HttpCompression::None && !http {
            return Err(ReporterError::BadCompression(format!(
                "only HTTP bodies are compressed, and this reporter publishes to {}",
                config.destination
            )));
        }
        match &config.destination {
            Destination::Http(endpoint) => {
                let transport = HttpTransport::new(
                    endpoint.clone(),
                    &config.http_headers,
                    config.http_compression,
                    timeout,
                )?;
                // Clones share one client, and so its pool of keep-alive connections.
                start_with(&config, vec![transport; HTTP_IN_FLIGHT])
            }
            #[cfg(feature = "rabbitmq")]
            Destination::RabbitMq { uri, queue } => {
                let transport = RabbitMqTransport::new(uri.clone(), queue.clone(), timeout);
                start_with(&config, vec![transport])
            }
            #[cfg(feature = "kafka")]
            Destination::Kafka {
                bootstrap_servers,
                topic,
            } => {
                let transport =
                    KafkaTransport::new(bootstrap_servers.clone(), topic.clone(), timeout);
                start_with(&config, vec![transport])
            }
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> ReporterStats {
        let shared = &*self.handle.shared;
        shared.counters.stats(shared.lanes.queued())
    }

    /// Sends what is waiting now and waits until every span handed off before this call
    /// has been sent or given up, for at most `timeout`. Returns `false` on timeout.
    ///
    /// The reporter's thread answers once it has delivered a drain taken after the call:
    /// that drain holds every span handed off before it, and earlier drains are done.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let shared = &*self.handle.shared;
        let (done, delivered) = oneshot::channel();
        lock(&shared.flushes).push(done);
        shared.wake.notify_one();
        matches!(tokio::time::timeout(timeout, delivered).await, Ok(Ok(())))
    }
}

impl Report for AsyncReporter {
    /// Puts `span` on this thread's lane without waiting; drops and counts it when
    /// `queue_capacity` spans are already held.
    fn report(&self, span: FinishedSpan) {
        let shared = &*self.handle.shared;
        let Some(held) = shared.counters.hold(Held::of(&span).bytes) else {
            return;
        };
        shared.lanes.push(span);
        // Wake the reporter's thread each time the spans held reach another batch's worth;
        // otherwise its timer fetches them. A free sender also makes it drain again.
        if (held + 1) % shared.batch_size as u64 == 0 {
            shared.wake.notify_one();
        }
    }
}

/// Starts the reporter's thread for `config`, with `transports` at its end, one batch in
/// flight on each.
fn start_with<T: Transport>(
    config: &ReporterConfig,
    transports: Vec<T>,
) -> Result<AsyncReporter, ReporterError> {
    let destination = transports
        .first()
        .map(Transport::destination)
        .unwrap_or_default();
    let counters = Arc::new(Counters::new(config.queue_capacity, config.queue_max_bytes));
    let shared = Arc::new(Shared {
        lanes: Lanes::new(),
        counters: counters.clone(),
        wake: Notify::new(),
        closed: AtomicBool::new(false),
        batch_size: config.batch_size,
        flushes: Mutex::default(),
    });
    let retries = Retries {
        window: config.retry_window,
        initial_backoff: config.initial_backoff,
        max_backoff: config.max_backoff,
    };
    let worker = Worker {
        shared: shared.clone(),
        delivery: Arc::new(Delivery::new(retries, destination, counters)),
        interval: config.batch_interval,
        transports,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ReporterError::Thread)?;
    std::thread::Builder::new()
        .name("zipkin-reporter".to_owned())
        .spawn(move || runtime.block_on(worker.run()))
        .map_err(ReporterError::Thread)?;
    Ok(AsyncReporter {
        handle: Arc::new(Handle { shared }),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::sync::{Mutex, mpsc};

    use bytes::Bytes;
    use zipkin_tracing::{SamplingFlags, Span, TraceContext, Tracer};

    use super::*;
    use crate::delivery::Attempt;

    /// Takes every batch and passes its spans on to the test.
    struct Collecting(mpsc::Sender<Vec<Span>>);

    impl Transport for Collecting {
        fn destination(&self) -> String {
            "the test".to_owned()
        }

        async fn send(&mut self, batches: &[Bytes]) -> Attempt {
            for batch in batches {
                let spans = serde_json::from_slice(batch).expect("a batch is a JSON list of spans");
                let _ = self.0.send(spans);
            }
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

        async fn send(&mut self, _batches: &[Bytes]) -> Attempt {
            self.0.fetch_add(1, Ordering::Relaxed);
            std::future::pending().await
        }
    }

    /// Never answers the first batch that any transport sharing its `stalled` flag is
    /// given; passes every other batch on to the test.
    struct FirstStalls {
        stalled: Arc<AtomicBool>,
        collecting: Collecting,
    }

    impl Transport for FirstStalls {
        fn destination(&self) -> String {
            "a collector that stalls once".to_owned()
        }

        async fn send(&mut self, batches: &[Bytes]) -> Attempt {
            if !self.stalled.swap(true, Ordering::AcqRel) {
                std::future::pending::<()>().await;
            }
            self.collecting.send(batches).await
        }
    }

    /// Takes up to 2,000 bytes of queued batches per send, and tells the test each send's
    /// batch sizes in bytes and its spans.
    struct Joining(mpsc::Sender<(Vec<usize>, usize)>);

    impl Transport for Joining {
        const JOIN_BYTES: usize = 2_000;

        fn destination(&self) -> String {
            "a collector taking several batches at once".to_owned()
        }

        async fn send(&mut self, batches: &[Bytes]) -> Attempt {
            let sizes = batches.iter().map(Bytes::len).collect();
            let spans = batches
                .iter()
                .map(|batch| serde_json::from_slice::<Vec<Span>>(batch).map_or(0, |s| s.len()))
                .sum();
            let _ = self.0.send((sizes, spans));
            Attempt::Sent
        }
    }

    /// `count` transports of which the first to be given a batch stalls; their shared
    /// flag (set once it has stalled) and what the others deliver.
    fn first_stalls(
        count: usize,
    ) -> (Arc<AtomicBool>, mpsc::Receiver<Vec<Span>>, Vec<FirstStalls>) {
        let stalled = Arc::new(AtomicBool::new(false));
        let (sender, batches) = mpsc::channel();
        let transports = (0..count)
            .map(|_| FirstStalls {
                stalled: stalled.clone(),
                collecting: Collecting(sender.clone()),
            })
            .collect();
        (stalled, batches, transports)
    }

    /// Holds each batch for `delay` before taking it, and says when it has taken one.
    struct Slow {
        delay: Duration,
        delivered: Arc<AtomicBool>,
    }

    impl Transport for Slow {
        fn destination(&self) -> String {
            "a slow collector".to_owned()
        }

        async fn send(&mut self, _batches: &[Bytes]) -> Attempt {
            tokio::time::sleep(self.delay).await;
            self.delivered.store(true, Ordering::Release);
            Attempt::Sent
        }
    }

    /// A reporter holding at most `capacity` spans, in batches of at most `batch_size`,
    /// sent only when a batch is full or a flush asks, over `transports`.
    fn start<T: Transport>(
        capacity: usize,
        batch_size: usize,
        transports: Vec<T>,
    ) -> AsyncReporter {
        start_with(&config(capacity, batch_size), transports).expect("the reporter starts")
    }

    /// The settings [`start`] starts a reporter with.
    fn config(capacity: usize, batch_size: usize) -> ReporterConfig {
        ReporterConfig {
            queue_capacity: capacity,
            batch_size,
            batch_interval: Duration::from_secs(3600),
            retry_window: Duration::from_secs(1),
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
            ..ReporterConfig::http("http://unused/api/v2/spans".parse().expect("an endpoint"))
        }
    }

    /// A finished span of a new trace, as a tracer reports it.
    fn span() -> FinishedSpan {
        tagged_span("")
    }

    /// A finished span with a tag whose value is `value`.
    fn tagged_span(value: &str) -> FinishedSpan {
        let (sender, receiver) = mpsc::channel();
        struct Keep(Mutex<mpsc::Sender<FinishedSpan>>);
        impl Report for Keep {
            fn report(&self, span: FinishedSpan) {
                let _ = self.0.lock().expect("not poisoned").send(span);
            }
        }
        let tracer = Tracer::builder("svc")
            .reporter(Keep(Mutex::new(sender)))
            .build();
        let context = TraceContext::new_root(SamplingFlags::SAMPLED, true);
        let mut span = tracer.start(context, "work", None);
        if !value.is_empty() {
            span.tag("blob", value.to_owned());
        }
        span.finish();
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
        let reporter = start(10_000, 7, vec![Collecting(sender)]);
        let handed_off: Vec<Span> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let reporter = reporter.clone();
                    scope.spawn(move || {
                        (0..50)
                            .map(|_| {
                                let span = span();
                                let model = span.clone().into_span();
                                reporter.report(span);
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
        assert!(runtime().block_on(reporter.flush(Duration::from_secs(10))));
        let mut arrived: Vec<Span> = batches.try_iter().flatten().collect();
        assert!(batches.try_iter().next().is_none());
        let key = |span: &Span| (span.trace_id, span.id);
        arrived.sort_by_key(key);
        let mut expected = handed_off;
        expected.sort_by_key(key);
        assert_eq!(arrived, expected);
        let stats = reporter.stats();
        assert_eq!((stats.queued, stats.sent, stats.dropped), (200, 200, 0));
    }

    #[test]
    fn batches_hold_at_most_batch_size_spans() {
        let (sender, batches) = mpsc::channel();
        let reporter = start(10_000, 7, vec![Collecting(sender)]);
        for _ in 0..30 {
            reporter.report(span());
        }
        assert!(runtime().block_on(reporter.flush(Duration::from_secs(10))));
        let sizes: Vec<usize> = batches.try_iter().map(|batch| batch.len()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 30);
        assert!(sizes.iter().all(|&size| size <= 7), "{sizes:?}");
    }

    #[test]
    fn the_capacity_bounds_the_spans_held_across_threads_and_the_rest_are_counted() {
        let reporter = start(10, 3, vec![Stalled::default()]);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                let reporter = reporter.clone();
                scope.spawn(move || {
                    for _ in 0..25 {
                        reporter.report(span());
                    }
                });
            }
        });
        let stats = reporter.stats();
        assert_eq!((stats.queued, stats.dropped, stats.sent), (10, 90, 0));
    }

    #[test]
    fn the_byte_bound_drops_huge_spans_that_the_span_bound_would_keep() {
        let config = ReporterConfig {
            queue_max_bytes: 1_000_000,
            ..config(10_000, 100)
        };
        let reporter = start_with(&config, vec![Stalled::default()]).expect("it starts");
        // Each span carries 100 kB: nine fit in 1 MB, the rest are dropped and counted.
        let blob = "x".repeat(100_000);
        for _ in 0..100 {
            reporter.report(tagged_span(&blob));
        }
        let stats = reporter.stats();
        assert_eq!((stats.queued, stats.dropped, stats.sent), (9, 91, 0));
        // Ordinary spans still fit beside them.
        reporter.report(span());
        assert_eq!(reporter.stats().queued, 10);
    }

    #[test]
    fn a_byte_bound_of_zero_is_refused() {
        let config = ReporterConfig {
            queue_max_bytes: 0,
            ..config(10, 10)
        };
        let error = AsyncReporter::start(config).expect_err("zero bytes hold nothing");
        assert_eq!(error.to_string(), "queue bytes must be at least 1");
    }

    #[cfg(feature = "kafka")]
    #[test]
    fn headers_are_refused_for_a_broker() {
        let config = ReporterConfig {
            http_headers: "Authorization=s3cret".parse().expect("a header"),
            ..ReporterConfig::new(Destination::Kafka {
                bootstrap_servers: "127.0.0.1:9092".parse().expect("a server"),
                topic: "zipkin".parse().expect("a topic"),
            })
        };
        let error = AsyncReporter::start(config).expect_err("nothing would send them");
        let error = error.to_string();
        assert!(error.contains("sent only over HTTP"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn one_batch_is_in_flight_per_transport_at_once() {
        let started = Arc::new(AtomicUsize::new(0));
        let transports = (0..3).map(|_| Stalled(started.clone())).collect();
        let reporter = start(100, 1, transports);
        for _ in 0..10 {
            reporter.report(span());
        }
        // The flush cannot finish (nothing is ever answered); its time limit is the
        // window in which a fourth delivery could start, and must not.
        assert!(!runtime().block_on(reporter.flush(Duration::from_millis(500))));
        assert_eq!(started.load(Ordering::Relaxed), 3);
        assert_eq!(reporter.stats().queued, 10);
    }

    #[test]
    fn a_stalled_batch_holds_only_its_own_sender_and_the_others_go_on() {
        let (stalled, batches, transports) = first_stalls(3);
        let reporter = start(100, 1, transports);
        reporter.report(span());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !stalled.load(Ordering::Acquire) {
            assert!(std::time::Instant::now() < deadline, "no batch was sent");
            std::thread::sleep(Duration::from_millis(1));
        }
        // The first batch never ends; each later span is a batch of its own, delivered
        // by the other senders meanwhile.
        for _ in 0..5 {
            reporter.report(span());
        }
        let mut arrived = 0;
        while arrived < 5 {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match batches.recv_timeout(left) {
                Ok(batch) => arrived += batch.len(),
                Err(_) => panic!("{arrived} of 5 spans arrived while one batch stalled"),
            }
        }
        // The counter moves just after the batch is taken.
        while reporter.stats().sent < 5 {
            assert!(
                std::time::Instant::now() < deadline,
                "{:?}",
                reporter.stats()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let stats = reporter.stats();
        assert_eq!((stats.queued, stats.sent, stats.failed), (6, 5, 0));
    }

    #[test]
    fn a_flush_waits_for_an_earlier_batch_still_in_flight() {
        let (_stalled, batches, transports) = first_stalls(2);
        let reporter = start(100, 1, transports);
        reporter.report(span());
        reporter.report(span());
        // The second span's batch is delivered, the first's never is: a flush asked for
        // after both were handed off cannot succeed.
        let runtime = runtime();
        assert!(!runtime.block_on(reporter.flush(Duration::from_millis(500))));
        assert_eq!(
            batches.try_iter().map(|batch| batch.len()).sum::<usize>(),
            1
        );
    }

    #[test]
    fn a_joining_transport_takes_the_queued_batches_together_up_to_its_bytes() {
        let (sender, sends) = mpsc::channel();
        let reporter = start(10_000, 100, vec![Joining(sender)]);
        // Forty threads hand off two spans each: one drain, forty batches of two spans.
        std::thread::scope(|scope| {
            for _ in 0..40 {
                let reporter = reporter.clone();
                scope.spawn(move || {
                    reporter.report(span());
                    reporter.report(span());
                });
            }
        });
        assert!(runtime().block_on(reporter.flush(Duration::from_secs(10))));
        let sends: Vec<(Vec<usize>, usize)> = sends.try_iter().collect();
        assert_eq!(sends.iter().map(|(_, spans)| spans).sum::<usize>(), 80);
        let batches: usize = sends.iter().map(|(sizes, _)| sizes.len()).sum();
        assert_eq!(batches, 40);
        assert!(sends.len() > 1 && sends.len() < 40, "{sends:?}");
        for (sizes, _) in &sends {
            // A send stops taking batches once it carries the transport's bytes.
            let before_last: usize = sizes[..sizes.len() - 1].iter().sum();
            assert!(before_last < Joining::JOIN_BYTES, "{sizes:?}");
        }
    }

    #[test]
    fn the_thread_ends_when_the_last_handle_is_gone_and_sends_what_is_left() {
        let (sender, batches) = mpsc::channel();
        let reporter = start(100, 50, vec![Collecting(sender)]);
        for _ in 0..3 {
            reporter.report(span());
        }
        let clone = reporter.clone();
        drop(reporter);
        clone.report(span());
        drop(clone);
        // The worker drops its transport, and with it the sender, when it ends.
        let spans: usize = batches.iter().map(|batch| batch.len()).sum();
        assert_eq!(spans, 4);
    }

    #[test]
    fn every_span_of_threads_that_come_and_go_is_sent_once_or_counted() {
        // Each thread hands off a few spans and ends while the reporter drains: a lane
        // whose thread ended between two pushes and a drain must lose nothing. Bounded:
        // 600 threads, 8 at a time.
        let (sender, batches) = mpsc::channel();
        let reporter = start(100_000, 7, vec![Collecting(sender)]);
        for _wave in 0..75 {
            std::thread::scope(|scope| {
                for _ in 0..8 {
                    let reporter = reporter.clone();
                    scope.spawn(move || {
                        for _ in 0..3 {
                            reporter.report(span());
                        }
                    });
                }
            });
        }
        assert!(runtime().block_on(reporter.flush(Duration::from_secs(10))));
        let arrived: usize = batches.try_iter().map(|batch| batch.len()).sum();
        let stats = reporter.stats();
        assert_eq!(arrived, 1_800);
        assert_eq!(
            (stats.queued, stats.sent, stats.dropped, stats.failed),
            (1_800, 1_800, 0, 0)
        );
    }

    #[test]
    fn flush_returns_only_once_a_span_handed_off_before_it_is_delivered() {
        let delivered = Arc::new(AtomicBool::new(false));
        let slow = Slow {
            delay: Duration::from_millis(300),
            delivered: delivered.clone(),
        };
        let reporter = start(100, 50, vec![slow]);
        reporter.report(span());
        assert!(runtime().block_on(reporter.flush(Duration::from_secs(10))));
        assert!(delivered.load(Ordering::Acquire));
        assert_eq!(reporter.stats().sent, 1);
    }

    #[test]
    fn flush_gives_up_at_its_deadline_while_a_batch_is_stuck() {
        let reporter = start(100, 50, vec![Stalled::default()]);
        reporter.report(span());
        let started = std::time::Instant::now();
        assert!(!runtime().block_on(reporter.flush(Duration::from_millis(200))));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
