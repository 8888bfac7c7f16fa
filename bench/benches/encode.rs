//! The cost of turning finished spans into the JSON body of a `POST /api/v2/spans`.
//!
//! This runs off the request path (in the reporter's or processor's background thread),
//! but it bounds how many spans a service can ship. Both columns start from each
//! library's own finished-span value and end with the JSON bytes, the batch freed:
//!
//! - `ours`: what `AsyncReporter`'s worker does before its POST: `encode_json`
//!   writes the JSON straight from the `FinishedSpan`s the request path handed over (epoch
//!   timestamps, ids as hex, tags sorted, strings escaped); the batch is dropped, as the
//!   worker drops it.
//! - `ours_via_span_model`: the same bytes through the Zipkin v2 `Span` model
//!   (`FinishedSpan::into_span`: owned strings, a sorted tag map) and `serde_json::to_vec`,
//!   as the worker did before; kept to show what the direct encoder saves.
//! - `otel_zipkin`: `ZipkinExporter::export` of `opentelemetry-zipkin` 0.33, reached
//!   through its public `SpanExporter` API with [`NopHttpClient`] as its HTTP client. It
//!   converts each `SpanData` to its Zipkin model (ids to hex, attributes to a string
//!   map, plus an `otel.library.name` tag), encodes the batch with `serde_json::to_vec`,
//!   builds an `http::Request` and hands it to the client, which drops it. That request
//!   and the boxed future are extra work ours does not have here (ours builds its request
//!   later, in reqwest); they are a fixed cost per batch, small next to encoding 100
//!   spans. Its export future completes at once, so it is polled once, without a runtime.
//!
//! The spans are what `span.rs` records: `GET /items/{id}`, three string tags, a parent
//! (the batch's spans are children of one root), recorded by each library's own tracer.
//! The JSON is not byte-for-byte the same: `opentelemetry-zipkin` 0.33 writes no
//! `localEndpoint.serviceName` (it has no setting for it) and adds the scope tag; the
//! bench prints each column's body size once. Groups: `encode_span` (a batch of one,
//! which a reporter sends when traffic is light) and `encode_batch_100` (a full batch).
//!
//! `opentelemetry-zipkin` 0.33 marks its whole API deprecated in favour of OTLP export
//! (Zipkin accepts OTLP natively); it is still the Zipkin JSON encoder OpenTelemetry's
//! Rust SDK ships, hence the `allow`.
//!
//! Run: `cargo bench -p bench --bench encode`.

#![allow(deprecated)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use opentelemetry_zipkin::ZipkinExporter;
use zipkin_reporter::encode_json;
use zipkin_tracing::{FinishedSpan, Report, Span, Tracer};

/// The span's name, as in `span.rs`.
const NAME: &str = "GET /items/{id}";
/// The three tags, as in `span.rs`.
const TAGS: [(&str, &str); 3] = [
    ("http.method", "GET"),
    ("http.path", "/items/42"),
    ("component", "bench"),
];
/// Spans in a full batch: `AsyncReporter`'s default batch size.
const BATCH: usize = 100;

/// An HTTP client for the Zipkin exporter that answers 202 at once and keeps only the
/// size of the last body, so the exporter's encoding can be timed without a network.
#[derive(Debug, Clone, Default)]
struct NopHttpClient {
    last_body_len: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl HttpClient for NopHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        self.last_body_len
            .store(request.body().len(), Ordering::Relaxed);
        Ok(Response::builder().status(202).body(Bytes::new())?)
    }
}

/// An exporter that keeps every finished span, to get real `SpanData` out of the SDK.
#[derive(Debug, Clone, Default)]
struct CollectingExporter {
    spans: Arc<Mutex<Vec<SpanData>>>,
}

impl SpanExporter for CollectingExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.spans
            .lock()
            .expect("no panic while holding the lock")
            .extend(batch);
        Ok(())
    }
}

/// A reporter that keeps the finished spans as the request path hands them over.
#[derive(Debug, Clone, Default)]
struct CollectingReporter {
    spans: Arc<Mutex<Vec<FinishedSpan>>>,
}

impl Report for CollectingReporter {
    fn report(&self, span: FinishedSpan) {
        self.spans
            .lock()
            .expect("no panic while holding the lock")
            .push(span);
    }
}

/// Runs a future that never waits (the exporter with [`NopHttpClient`]) to completion.
fn poll_once<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut TaskContext::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the export future waits on nothing, so it is ready at once"),
    }
}

/// `count` of our spans as the tracer records them: children of one root.
fn our_spans(count: usize) -> Vec<FinishedSpan> {
    let reporter = CollectingReporter::default();
    let tracer = Tracer::builder("service1")
        .reporter(reporter.clone())
        .build();
    let root = tracer.new_trace();
    for _ in 0..count {
        let mut span = tracer.start(tracer.child(&root), NAME, None);
        for (key, value) in TAGS {
            span.tag(key, value);
        }
        span.finish();
    }
    let spans = std::mem::take(
        &mut *reporter
            .spans
            .lock()
            .expect("no panic while holding the lock"),
    );
    assert_eq!(spans.len(), count, "every span was reported");
    spans
}

/// `count` OpenTelemetry spans as its SDK records them: children of one root.
fn otel_spans(count: usize) -> Vec<SpanData> {
    let exporter = CollectingExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("bench");
    let root = Context::new().with_span(tracer.start("root"));
    for _ in 0..count {
        let mut span = tracer.start_with_context(NAME, &root);
        for (key, value) in TAGS {
            span.set_attribute(KeyValue::new(key, value));
        }
        span.end();
    }
    let spans = std::mem::take(
        &mut *exporter
            .spans
            .lock()
            .expect("no panic while holding the lock"),
    );
    assert_eq!(spans.len(), count, "every child span was exported");
    spans
}

/// Encodes `batch` as `AsyncReporter`'s worker does (`encode_json`, straight from
/// the recorded spans), then frees it; returns the body size.
fn our_encode(batch: Vec<FinishedSpan>) -> usize {
    let mut body = Vec::new();
    encode_json(&batch, &mut body);
    drop(batch);
    body.len()
}

/// The same through the span model: `into_span`, then serde_json. What the worker did
/// before it encoded recorded spans directly; kept as a column to show the difference.
fn our_encode_via_span_model(batch: Vec<FinishedSpan>) -> usize {
    let spans: Vec<Span> = batch.into_iter().map(FinishedSpan::into_span).collect();
    let body = serde_json::to_vec(&spans).expect("our spans always encode");
    drop(spans);
    body.len()
}

/// One group: ours and the Zipkin exporter on batches of `size` spans.
fn bench_batches(c: &mut Criterion, group_name: &str, size: usize) {
    let ours = our_spans(size);
    let otel = otel_spans(size);
    let client = NopHttpClient::default();
    let exporter = ZipkinExporter::builder()
        .with_http_client(client.clone())
        .with_collector_endpoint("http://127.0.0.1:9411/api/v2/spans")
        .build()
        .expect("a static loopback endpoint and a client make a valid exporter");

    if let Err(error) = poll_once(exporter.export(otel.clone())) {
        panic!("the Zipkin exporter accepts the bench spans: {error}");
    }
    eprintln!(
        "  {group_name}: JSON body of ours {} bytes, of otel_zipkin {} bytes",
        our_encode(ours.clone()),
        client.last_body_len.load(Ordering::Relaxed)
    );

    let mut group = c.benchmark_group(group_name);
    group.bench_function("ours", |b| {
        b.iter_batched(
            || ours.clone(),
            |batch| our_encode(black_box(batch)),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("ours_via_span_model", |b| {
        b.iter_batched(
            || ours.clone(),
            |batch| our_encode_via_span_model(black_box(batch)),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("otel_zipkin", |b| {
        b.iter_batched(
            || otel.clone(),
            |batch| poll_once(exporter.export(black_box(batch))),
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

/// A batch of one span.
fn encode_span(c: &mut Criterion) {
    bench_batches(c, "encode_span", 1);
}

/// A full batch of 100 spans.
fn encode_batch_100(c: &mut Criterion) {
    bench_batches(c, "encode_batch_100", BATCH);
}

/// Short runs: the machine is shared.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = encode_span, encode_batch_100
}
criterion_main!(benches);
