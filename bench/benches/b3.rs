//! The cost of B3 propagation: reading a request's headers and writing a call's headers.
//!
//! Ours is `zipkin_tracing::extract` and `inject`; the peer is the B3 propagator of
//! `opentelemetry-zipkin` 0.33, `Propagator::with_encoding(..)` used through
//! `TextMapPropagator` with `opentelemetry-http`'s `HeaderExtractor`/`HeaderInjector`
//! on the same `http::HeaderMap`s, which is how an axum or reqwest user wires it. Both
//! speak the same header format, so the columns of each group read the same bytes.
//!
//! Three groups, each with a `multi` (`X-B3-*` headers) and a `single` (`b3` header) case:
//!
//! - `b3_extract`: a server reads an incoming request's headers. The request carries
//!   what py_zipkin sends (trace id of 128 bits, span id, parent id, sampled, `X-B3-Flags:
//!   0`) among three ordinary headers. Ours returns an `Extracted` value; OpenTelemetry
//!   returns a `Context` holding the remote span context, which is what its API gives.
//! - `b3_inject`: a client writes its span's context into a new request's empty
//!   `HeaderMap` (created and dropped outside the timing; the map's first allocation is
//!   inside it, for both). The two do not write the same headers: ours writes the parent
//!   id and `X-B3-Flags: 0` as py_zipkin does (five headers in the multi form; the single
//!   form carries the parent id), OpenTelemetry writes only trace id, span id and
//!   sampled (three headers), so its multi column does less work.
//! - `b3_extract_inject`: both in a row, the propagation cost of a service that
//!   receives a traced request and makes one traced call (child-id generation excluded).
//!
//! `opentelemetry-zipkin` 0.33 marks its whole API deprecated in favour of OTLP export;
//! it is still the B3 implementation OpenTelemetry's Rust SDK ships, hence the `allow`.
//!
//! Run: `cargo bench -p bench --bench b3`.

#![allow(deprecated)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_zipkin::{B3Encoding, Propagator};
use zipkin_tracing::{B3Format, Extracted, TraceContext, extract, inject};

const TRACE_ID: &str = "463ac35c9f6413ad48485a3953bb6124";
const SPAN_ID: &str = "a2fb4a1d1a96d312";
const PARENT_ID: &str = "0020000000000001";

/// The two header forms, with their names in benchmark ids.
const FORMS: [(&str, B3Format, B3Encoding); 2] = [
    ("multi", B3Format::Multi, B3Encoding::MultipleHeader),
    ("single", B3Format::Single, B3Encoding::SingleHeader),
];

/// A request's headers: three ordinary ones, then the B3 headers in `format`.
fn incoming(format: B3Format) -> HeaderMap {
    let mut pairs = vec![
        ("host", "service2:6000".to_owned()),
        ("user-agent", "python-requests/2.31.0".to_owned()),
        ("accept", "*/*".to_owned()),
    ];
    match format {
        B3Format::Multi => pairs.extend([
            ("x-b3-traceid", TRACE_ID.to_owned()),
            ("x-b3-spanid", SPAN_ID.to_owned()),
            ("x-b3-parentspanid", PARENT_ID.to_owned()),
            ("x-b3-sampled", "1".to_owned()),
            ("x-b3-flags", "0".to_owned()),
        ]),
        B3Format::Single => {
            pairs.push(("b3", format!("{TRACE_ID}-{SPAN_ID}-1-{PARENT_ID}")));
        }
    }
    pairs
        .into_iter()
        .map(|(name, value)| {
            (
                HeaderName::from_static(name),
                HeaderValue::try_from(value).expect("test header values are visible ASCII"),
            )
        })
        .collect()
}

/// Our reading of `headers`, which must be a full context.
fn our_context(headers: &HeaderMap) -> TraceContext {
    match extract(headers) {
        Extracted::Context(context) => context,
        other => panic!("the bench headers hold a full B3 context, got {other:?}"),
    }
}

/// Servers reading a request's B3 headers.
fn b3_extract(c: &mut Criterion) {
    let mut group = c.benchmark_group("b3_extract");
    for (form, format, encoding) in FORMS {
        let headers = incoming(format);
        // Both must read a full context, or a column would time a failure path.
        our_context(&headers);
        let propagator = Propagator::with_encoding(encoding.clone());
        let read = propagator.extract(&HeaderExtractor(&headers));
        assert!(
            read.span().span_context().is_valid(),
            "OpenTelemetry reads {form}"
        );
        group.bench_with_input(BenchmarkId::new("ours", form), &headers, |b, headers| {
            b.iter(|| extract(black_box(headers)));
        });
        let propagator = Propagator::with_encoding(encoding);
        group.bench_with_input(
            BenchmarkId::new("otel_zipkin", form),
            &headers,
            |b, headers| b.iter(|| propagator.extract(&HeaderExtractor(black_box(headers)))),
        );
    }
    group.finish();
}

/// Clients writing a span's context into a new request's headers.
fn b3_inject(c: &mut Criterion) {
    let mut group = c.benchmark_group("b3_inject");
    for (form, format, encoding) in FORMS {
        let headers = incoming(format);
        let context = our_context(&headers);
        group.bench_function(BenchmarkId::new("ours", form), |b| {
            b.iter_batched_ref(
                HeaderMap::new,
                |out| inject(black_box(&context), format, out),
                BatchSize::SmallInput,
            );
        });
        let propagator = Propagator::with_encoding(encoding);
        let otel_context = propagator.extract(&HeaderExtractor(&headers));
        group.bench_function(BenchmarkId::new("otel_zipkin", form), |b| {
            b.iter_batched_ref(
                HeaderMap::new,
                |out| propagator.inject_context(black_box(&otel_context), &mut HeaderInjector(out)),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

/// A service that receives a traced request and makes one traced call: read, then write.
fn b3_extract_inject(c: &mut Criterion) {
    let mut group = c.benchmark_group("b3_extract_inject");
    for (form, format, encoding) in FORMS {
        let headers = incoming(format);
        group.bench_function(BenchmarkId::new("ours", form), |b| {
            b.iter_batched_ref(
                HeaderMap::new,
                |out| {
                    if let Extracted::Context(context) = extract(black_box(&headers)) {
                        inject(&context, format, out);
                    }
                },
                BatchSize::SmallInput,
            );
        });
        let propagator = Propagator::with_encoding(encoding);
        group.bench_function(BenchmarkId::new("otel_zipkin", form), |b| {
            b.iter_batched_ref(
                HeaderMap::new,
                |out| {
                    let context = propagator.extract(&HeaderExtractor(black_box(&headers)));
                    propagator.inject_context(&context, &mut HeaderInjector(out));
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
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
    targets = b3_extract, b3_inject, b3_extract_inject
}
criterion_main!(benches);
