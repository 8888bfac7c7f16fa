//! The cost of one span on the request path: start, three tags, finish, hand-off.
//!
//! Every column records the same span: a root span named `GET /items/{id}` (so each
//! library draws a new trace id, a span id and a sampling decision) with three
//! string tags set from literals, finished and handed to what a service would run in
//! production. Two groups, so criterion's numbers compare directly: `span_sampled`
//! (the sampler keeps everything) and `span_unsampled` (it keeps nothing: the ids are
//! drawn, nothing is recorded).
//!
//! Columns, and why each is the fair one:
//!
//! - `ours`: `Tracer::start` + `OpenSpan::tag` ×3 + `finish`, reported to the real
//!   `AsyncReporter` (default settings) POSTing to [`Backend`]'s sink, an HTTP server on a
//!   thread of its own that reads each body and answers 202. The request-path part is
//!   timed (a push onto this thread's lane, a counter, a wake-up once per batch); the
//!   reporter's threads encode and POST meanwhile, and the bench prints how many spans
//!   it took and dropped, so a column that measured the overload path shows it.
//! - `ours_http_reporter_queue_full`: the real `AsyncReporter` (default settings) pointed
//!   at a loopback port nobody listens on, so its queue is full after the warm-up and
//!   every span takes the overload path: dropped and counted on the request thread. It
//!   shows what tracing costs a service whose collector is down.
//! - `ours_nop_reporter`: the same span reported to `NopReporter`, as a baseline: the
//!   difference from `ours` is the hand-off.
//! - `otel_sdk`: `opentelemetry_sdk` 0.33 with the configuration its documentation
//!   recommends for production, a `BatchSpanProcessor` with default settings (queue
//!   2,048, batches of 512, its own thread), exporting to [`CountingExporter`], which
//!   counts and drops each batch. So, as for ours, the exporter's encoding and I/O are
//!   off the measured thread and only the hand-off is timed. Tags are
//!   `span.set_attribute(KeyValue::new("k", "v"))`, the usual idiom. Both libraries keep
//!   the `&'static str` names, keys and values used here without copying them.
//! - `tracing_otel`: the `tracing` API over `tracing-opentelemetry` 0.34, the way most
//!   Rust services use OpenTelemetry: `info_span!` with the three tags as fields, entered
//!   and dropped, under `Registry` + `OpenTelemetryLayer` (default layer settings, which
//!   add code location, thread and busy/idle-time attributes) on the same SDK set-up.
//!
//! The unsampled group uses `ProbabilitySampler::never()` for ours and `Sampler::AlwaysOff`
//! for OpenTelemetry. After each sampled column the bench prints how many spans reached
//! the exporter or queue and how many were dropped, so a column that silently measured
//! the overload path shows it.
//!
//! A third group, `span_child`, times a child span inside a sampled request three ways:
//! `local_span`, an `#[instrument]`-style `tracing` span through our `TracingBridge`, and
//! the same `tracing` span through `tracing-opentelemetry` (see [`span_child`]).
//!
//! Run: `cargo bench -p bench --bench span` (add `-- --quick` for a rough pass).

use std::cell::Cell;
use std::hint::black_box;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bench::backend::{Backend, BackendKind};
use bench::report::thousands;
use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider, SpanData, SpanExporter,
};
use tokio::runtime::Runtime;
use tracing_subscriber::layer::SubscriberExt as _;
use zipkin_reporter::{AsyncReporter, ReporterConfig};
use zipkin_tracing::{
    NopReporter, ProbabilitySampler, Tracer, TracingBridge, local_span, root_span,
};

/// The span's name: an HTTP route, as the server layer names spans.
const NAME: &str = "GET /items/{id}";
/// The three tags every column records.
const TAGS: [(&str, &str); 3] = [
    ("http.method", "GET"),
    ("http.path", "/items/42"),
    ("component", "bench"),
];

/// An OpenTelemetry exporter that counts and drops every batch: encoding and I/O happen
/// on the processor's thread in real use, not on the thread being timed.
#[derive(Debug, Clone, Default)]
struct CountingExporter {
    exported: Arc<AtomicU64>,
}

impl SpanExporter for CountingExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.exported
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// An SDK tracer provider as a production service configures it: a batch processor with
/// default settings in front of `exporter`.
fn otel_provider(sampler: Sampler, exporter: CountingExporter) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_span_processor(BatchSpanProcessor::builder(exporter).build())
        .build()
}

/// Times `iters` runs of `op`, adding the count to `total` (outside the timed loop) so
/// that the spans handed off can be compared with the spans created.
fn timed(iters: u64, total: &Cell<u64>, mut op: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        op();
    }
    let elapsed = start.elapsed();
    total.set(total.get() + iters);
    elapsed
}

/// Our span: start, three tags, finish (which reports it).
fn our_span(tracer: &Tracer) {
    let mut span = tracer.start(tracer.new_trace(), black_box(NAME), None);
    for (key, value) in TAGS {
        span.tag(black_box(key), black_box(value));
    }
    span.finish();
}

/// The same span through the OpenTelemetry SDK's API.
fn otel_span(tracer: &SdkTracer) {
    let mut span = tracer.start(black_box(NAME));
    for (key, value) in TAGS {
        span.set_attribute(KeyValue::new(black_box(key), black_box(value)));
    }
    span.end();
}

/// The same span through `tracing`: created with its fields, entered, left, dropped.
fn tracing_span() {
    let span = tracing::info_span!(
        "GET /items/{id}",
        http.method = black_box(TAGS[0].1),
        http.path = black_box(TAGS[1].1),
        component = black_box(TAGS[2].1),
    );
    let entered = span.enter();
    drop(entered);
    drop(span);
}

/// Says how many of `created` spans reached the queue or exporter, on stderr.
fn print_handed_off(column: &str, created: u64, handed_off: u64) {
    let dropped = created.saturating_sub(handed_off);
    eprintln!("  {column}: {handed_off} of {created} spans handed off, {dropped} dropped");
}

/// Says how many spans `reporter` took and dropped, and, after a flush, sent.
fn print_reporter_stats(column: &str, reporter: &AsyncReporter, runtime: &Runtime) {
    let before = reporter.stats();
    print_handed_off(column, before.queued + before.dropped, before.queued);
    if !runtime.block_on(reporter.flush(Duration::from_secs(30))) {
        eprintln!("  {column}: the reporter did not finish within 30 s");
    }
    let after = reporter.stats();
    eprintln!(
        "  {column}: {} sent, {} failed",
        thousands(after.sent),
        thousands(after.failed)
    );
}

/// Our columns, for a tracer built with `sampler`; `sampled` adds the reporter variants.
fn bench_ours(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &Runtime,
    sampler: ProbabilitySampler,
    sampled: bool,
) {
    let sink = Backend::start(BackendKind::Sink, 0).expect("the sink starts on loopback");
    let reporter = AsyncReporter::start(ReporterConfig::http(
        sink.endpoint().parse().expect("the sink's endpoint parses"),
    ))
    .expect("a loopback http endpoint is a valid reporter configuration");
    let tracer = Tracer::builder("service1")
        .sampler(sampler)
        .reporter(reporter.clone())
        .build();
    group.bench_function("ours", |b| b.iter(|| our_span(&tracer)));
    if !sampled {
        return;
    }
    print_reporter_stats("ours", &reporter, runtime);

    // A port that was free a moment ago: connections are refused, batches are retried
    // with backoff, and the queue stays full.
    let dead_port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("loopback has a free port")
        .port();
    // It sends from a thread and runtime of its own.
    let dead = format!("http://127.0.0.1:{dead_port}/api/v2/spans");
    let http = AsyncReporter::start(ReporterConfig::http(dead.parse().expect("an endpoint")))
        .expect("a loopback http endpoint is a valid reporter configuration");
    let tracer = Tracer::builder("service1").reporter(http.clone()).build();
    group.bench_function("ours_http_reporter_queue_full", |b| {
        b.iter(|| our_span(&tracer));
    });
    let stats = http.stats();
    print_handed_off(
        "ours_http_reporter_queue_full",
        stats.queued + stats.dropped,
        stats.queued,
    );

    let tracer = Tracer::builder("service1").reporter(NopReporter).build();
    group.bench_function("ours_nop_reporter", |b| b.iter(|| our_span(&tracer)));
}

/// The OpenTelemetry columns, SDK and `tracing`, for `sampler`; both print how many
/// spans reached the exporter when `sampled`.
fn bench_otel(group: &mut BenchmarkGroup<'_, WallTime>, sampler: Sampler, sampled: bool) {
    let exporter = CountingExporter::default();
    let provider = otel_provider(sampler.clone(), exporter.clone());
    let tracer = provider.tracer("bench");
    let created = Cell::new(0);
    group.bench_function("otel_sdk", |b| {
        b.iter_custom(|iters| timed(iters, &created, || otel_span(&tracer)));
    });
    if let Err(error) = provider.shutdown() {
        eprintln!("  otel_sdk: shutdown failed: {error}");
    }
    if sampled {
        print_handed_off(
            "otel_sdk",
            created.get(),
            exporter.exported.load(Ordering::Relaxed),
        );
    }

    let exporter = CountingExporter::default();
    let provider = otel_provider(sampler, exporter.clone());
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
    let created = Cell::new(0);
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("tracing_otel", |b| {
            b.iter_custom(|iters| timed(iters, &created, tracing_span));
        });
    });
    if let Err(error) = provider.shutdown() {
        eprintln!("  tracing_otel: shutdown failed: {error}");
    }
    if sampled {
        print_handed_off(
            "tracing_otel",
            created.get(),
            exporter.exported.load(Ordering::Relaxed),
        );
    }
}

/// Polls `future` once: every future benched here completes without waiting (no I/O, no
/// sleep), so a span around it is timed without an executor's own cost.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("a benched future waited"),
    }
}

/// A child span inside a sampled request, the way service2 times `db_search`: with
/// `local_span`, with `#[instrument]` through our tracing bridge (a `tracing` span
/// created, entered, left and closed, which is what `#[instrument]` expands to), and
/// with the same `tracing` span under `tracing-opentelemetry`, inside an entered request
/// span. Ours hand off to the real `AsyncReporter` (to the sink), OpenTelemetry to its
/// batch processor.
fn span_child(c: &mut Criterion) {
    let runtime = reporter_runtime();
    let mut group = c.benchmark_group("span_child");
    let sink = Backend::start(BackendKind::Sink, 0).expect("the sink starts on loopback");
    let reporter = AsyncReporter::start(ReporterConfig::http(
        sink.endpoint().parse().expect("the sink's endpoint parses"),
    ))
    .expect("a loopback http endpoint is a valid reporter configuration");
    let tracer = Tracer::builder("service2")
        .reporter(reporter.clone())
        .build();
    group.bench_function("local_span", |b| {
        b.iter_custom(|iters| {
            ready(root_span(&tracer, "request", async {
                let start = Instant::now();
                for _ in 0..iters {
                    local_span(black_box("db_search"), async {}).await;
                }
                start.elapsed()
            }))
        });
    });
    let bridged = tracing_subscriber::registry().with(TracingBridge::new().layer());
    tracing::subscriber::with_default(bridged, || {
        group.bench_function("bridged", |b| {
            b.iter_custom(|iters| {
                ready(root_span(&tracer, "request", async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        tracing::info_span!("db_search").in_scope(|| {});
                    }
                    start.elapsed()
                }))
            });
        });
    });

    print_reporter_stats("local_span and bridged", &reporter, &runtime);

    let provider = otel_provider(Sampler::AlwaysOn, CountingExporter::default());
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
    tracing::subscriber::with_default(subscriber, || {
        let request = tracing::info_span!("request");
        let _inside = request.enter();
        group.bench_function("tracing_otel", |b| {
            b.iter(|| tracing::info_span!("db_search").in_scope(|| {}));
        });
    });
    if let Err(error) = provider.shutdown() {
        eprintln!("  tracing_otel: shutdown failed: {error}");
    }
    group.finish();
}

/// Sampled spans: recorded and handed off, in every column.
fn span_sampled(c: &mut Criterion) {
    let runtime = reporter_runtime();
    let mut group = c.benchmark_group("span_sampled");
    bench_ours(&mut group, &runtime, ProbabilitySampler::always(), true);
    bench_otel(&mut group, Sampler::AlwaysOn, true);
    group.finish();
}

/// Unsampled spans: ids drawn and propagated, nothing recorded.
fn span_unsampled(c: &mut Criterion) {
    let runtime = reporter_runtime();
    let mut group = c.benchmark_group("span_unsampled");
    bench_ours(&mut group, &runtime, ProbabilitySampler::never(), false);
    bench_otel(&mut group, Sampler::AlwaysOff, false);
    group.finish();
}

/// A runtime to wait for a reporter's flush on; the reporter sends from its own thread.
fn reporter_runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts on this machine")
}

/// Short runs: these are nanosecond operations, and the machine is shared.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = span_sampled, span_unsampled, span_child
}
criterion_main!(benches);
