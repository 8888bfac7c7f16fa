//! Instructions per delivered span, end to end, for callgrind: spans recorded (started,
//! three tags, finished), handed off, encoded as Zipkin v2 JSON and POSTed over loopback
//! to an in-process sink that counts them, by `AsyncReporter` (`ours`) or by the
//! OpenTelemetry SDK's batch processor and Zipkin exporter (`otel`).
//!
//! ```sh
//! cargo build --release -p bench --example span_cost
//! valgrind --tool=callgrind target/release/examples/span_cost ours 0
//! valgrind --tool=callgrind target/release/examples/span_cost ours 20000
//! ```
//!
//! Both runs first deliver 1,000 warm-up spans (connections, pools, lazy statics), then
//! `N` more; the difference in instructions over `N` is the cost of one span, start-up
//! and warm-up excluded. Spans are produced in rounds of 1,000, each followed by a flush
//! that waits for the sink's answers, so no queue overflows; the run fails unless every
//! span produced was counted by the sink and none was dropped.
//!
//! The span is `benches/span.rs`'s: a root span `GET /items/{id}` with three string tags, the
//! same in both libraries. (service2's spans, in `bench::spans`, are joined, shared and
//! carry a remote endpoint, which the two APIs express differently.)

mod otel;

use std::hint::black_box;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use bench::backend::{Backend, BackendKind};
use opentelemetry::trace::TracerProvider as _;
use zipkin_reporter::{AsyncReporter, ReporterConfig};
use zipkin_tracing::{ProbabilitySampler, Tracer};

/// The span's name, as in `benches/span.rs`.
const NAME: &str = "GET /items/{id}";
/// The three tags of every span, as in `benches/span.rs`.
const TAGS: [(&str, &str); 3] = [
    ("http.method", "GET"),
    ("http.path", "/items/42"),
    ("component", "bench"),
];
/// Spans delivered before the measured ones, in both runs.
const WARM_UP: u64 = 1_000;
/// Spans produced between two flushes: under the SDK's default queue of 2,048 and
/// `AsyncReporter`'s of 10,000, so neither drops a span.
const ROUND: u64 = 1_000;
/// How long one flush may take under callgrind, which runs the process tens of times slower.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(120);

fn main() -> anyhow::Result<()> {
    const USAGE: &str = "usage: span_cost ours|otel SPANS";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [library, n] = args.as_slice() else {
        anyhow::bail!("{USAGE}");
    };
    let n: u64 = n
        .parse()
        .with_context(|| format!("{n:?} is not a number of spans; {USAGE}"))?;
    let total = WARM_UP + n;
    // The sink keeps nothing, so the stand-in's span limit does not apply.
    let sink = Backend::start(BackendKind::Sink, 0)?;
    match library.as_str() {
        "ours" => run_ours(&sink, total)?,
        "otel" => run_otel(&sink, total)?,
        other => anyhow::bail!("unknown library {other:?}; {USAGE}"),
    }
    let received = sink.stop()?;
    let delivered = received.spans;
    println!(
        "{library}: {total} spans produced, {delivered} delivered in {} POSTs, {} bytes",
        received.posts, received.bytes,
    );
    ensure!(
        delivered == total,
        "the sink counted {delivered} spans of {total} produced"
    );
    Ok(())
}

/// Our span: started, three tags, finished (which hands it to the reporter). Not inlined,
/// so that callgrind's report names its cost.
#[inline(never)]
fn record_ours(tracer: &Tracer) {
    let mut span = tracer.start(tracer.new_trace(), black_box(NAME), None);
    for (key, value) in TAGS {
        span.tag(black_box(key), black_box(value));
    }
    span.finish();
}

/// `total` spans through a default `AsyncReporter`, flushed every [`ROUND`].
fn run_ours(sink: &Backend, total: u64) -> anyhow::Result<()> {
    let endpoint = sink
        .endpoint()
        .parse()
        .context("the sink's endpoint parses")?;
    let reporter = AsyncReporter::start(ReporterConfig::http(endpoint))?;
    let tracer = Tracer::builder("service1")
        .sampler(ProbabilitySampler::always())
        .reporter(reporter.clone())
        .build();
    // Only to wait for flushes; the reporter sends from its own thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for round in rounds(total) {
        for _ in 0..round {
            record_ours(&tracer);
        }
        ensure!(
            runtime.block_on(reporter.flush(FLUSH_TIMEOUT)),
            "the reporter did not flush within {FLUSH_TIMEOUT:?}"
        );
        ensure!(
            sink.sink_spans() == reporter.stats().sent,
            "the sink counted {} spans, the reporter says {} were sent",
            sink.sink_spans(),
            reporter.stats().sent
        );
    }
    let stats = reporter.stats();
    ensure!(
        stats.dropped == 0 && stats.failed == 0 && stats.sent == total,
        "of {total} spans the reporter sent {}, dropped {}, gave up {}",
        stats.sent,
        stats.dropped,
        stats.failed
    );
    Ok(())
}

/// `total` spans through the SDK's batch processor and Zipkin exporter, flushed every
/// [`ROUND`].
fn run_otel(sink: &Backend, total: u64) -> anyhow::Result<()> {
    // The exporter's HTTP client sends from this runtime's one worker thread.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("otel-http")
        .enable_all()
        .build()?;
    let client = otel::RuntimeClient::new(runtime.handle().clone())?;
    let provider = otel::provider(sink.endpoint(), client)?;
    let tracer = provider.tracer("bench");
    for round in rounds(total) {
        for _ in 0..round {
            otel::record(&tracer);
        }
        provider
            .force_flush()
            .context("the batch processor's flush failed")?;
    }
    provider
        .shutdown()
        .context("the tracer provider's shutdown failed")?;
    Ok(())
}

/// `total` cut into rounds of at most [`ROUND`] spans, the warm-up first.
fn rounds(total: u64) -> impl Iterator<Item = u64> {
    (0..total.div_ceil(ROUND)).map(move |i| ROUND.min(total - i * ROUND))
}
