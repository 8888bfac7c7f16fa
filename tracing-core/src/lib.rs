#![doc = include_str!("../README.md")]
//! Zipkin tracing for axum and reqwest: the library behind the two-service demo.
//!
//! Each module is one concept of Dapper-style tracing. They are private and listed here in
//! the order a request meets them; each imports only modules above it. Every public item
//! is re-exported at the crate root, which is its one path.
//!
//! | module | concept | py_zipkin counterpart |
//! |---|---|---|
//! | `id` | trace and span ids ([`TraceId`], [`SpanId`]) | `generate_random_64bit_string`, `generate_random_128bit_string` |
//! | `context` | the propagated context ([`TraceContext`]) | `ZipkinAttrs` |
//! | `b3` | **where headers are read and written**: [`extract`], [`inject`] | `create_http_headers_for_new_span`; its Flask example parses them by hand |
//! | `carrier` | B3 in a message's headers, or any string-keyed [`Carrier`] ([`extract_from`], [`inject_into`]) | — |
//! | `sample` | sampling decisions ([`ProbabilitySampler`], [`RuleSampler`]) | `sample_rate` |
//! | `w3c` | W3C Trace Context, OpenTelemetry's headers: `traceparent` and `tracestate` | — |
//! | `propagation` | which formats a service reads and writes ([`Propagation`]: `b3`, `w3c`, `b3,w3c`) | — |
//! | `clock` | epoch microseconds from a monotonic clock | `time.time()` |
//! | `model` | the Zipkin v2 JSON model ([`Span`]) the collector decodes | `encoding` |
//! | `record` | a finished span, as recorded ([`FinishedSpan`]) | the span `zipkin_span` hands to the transport |
//! | `report` | **where finished spans go**: the [`Report`] trait, [`NopReporter`], [`InMemoryReporter`] | `transport_handler` |
//! | `span` | an open span being recorded ([`OpenSpan`]) | the body of `zipkin_span` |
//! | `tracer` | **where a span is created**: per-service settings ([`Tracer`]) | `zipkin_span(service_name=..., transport_handler=...)` |
//! | `current` | the current span of a task ([`current_context`], [`with_current_span`], [`ParentSpan`]) | the thread-local `Stack` |
//! | `local` | local child spans ([`local_span`], [`try_local_span`], [`root_span`]) | `with zipkin_span(...)` inside a request |
//! | `message` | a trace across a broker: PRODUCER and CONSUMER spans ([`producer_span`], [`consumer_span`]) | — |
//! | `bridge` | `#[tracing::instrument]` spans as Zipkin spans ([`TracingBridge`], feature `tracing-bridge`) | `@zipkin_span` on a function |
//! | `server` | SERVER spans for axum ([`ZipkinLayer`]) | `zipkin_span` around a Flask view |
//! | `client` | CLIENT spans for reqwest ([`TracedRequest`], [`Call`]) | the headers passed to `requests.get` |
//!
//! The path of one span, from a request to the [`Report`] a service uses (`zipkin-reporter`'s
//! `AsyncReporter`, whose lanes, batches, JSON, retries and senders take it to the collector):
//!
//! ```text
//!  request ──► server: b3::extract ──► Tracer::start ──► OpenSpan (tags, annotations)
//!                                                            │ finish or drop
//!                                                            ▼
//!                                                   Report::report ◄── FinishedSpan
//! ```

mod id;

mod context;

mod b3;
mod carrier;
mod sample;
mod w3c;

mod propagation;

mod clock;
mod model;
mod record;
mod report;
mod span;
mod tracer;

mod current;
mod local;
mod message;

#[cfg(feature = "tracing-bridge")]
mod bridge;
mod http_tags;

mod client;
mod server;

pub use b3::{B3Format, Extracted, extract, inject};
#[cfg(feature = "tracing-bridge")]
pub use bridge::TracingBridge;
pub use carrier::{Carrier, extract_from, inject_into};
pub use client::{Call, TracedRequest, describe_error, send_with};
pub use context::{SamplingFlags, TraceContext};
pub use current::{ParentSpan, current_context, with_current_span};
pub use id::{IdParseError, SpanId, TraceId};
pub use local::{local_span, root_span, try_local_span};
pub use message::{consumer_span, producer_span};
pub use model::{Annotation, Endpoint, Kind, Span};
pub use propagation::Propagation;
pub use record::FinishedSpan;
pub use report::{InMemoryReporter, NopReporter, Report};
pub use sample::{ProbabilitySampler, RuleSampler, Sample, SampleRateError};
pub use server::{ResponseFuture, ZipkinLayer, ZipkinService};
pub use span::OpenSpan;
pub use tracer::{Tracer, TracerBuilder};
