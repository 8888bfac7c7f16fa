//! Zipkin tracing for axum and reqwest: the library behind the two-service demo.
//!
//! Each module is one concept of Dapper-style tracing, in the order a request meets them:
//!
//! | module | concept | py_zipkin counterpart |
//! |---|---|---|
//! | [`id`] | trace and span ids | `generate_random_64bit_string` |
//! | [`context`] | the propagated context | `ZipkinAttrs` |
//! | [`b3`] | B3 headers in and out | `create_http_headers_for_new_span` |
//! | [`sample`] | sampling decisions | `sample_rate` |
//! | [`tracer`] | per-service configuration | `zipkin_span(service_name=..., transport_handler=...)` |
//! | [`record`] | recording one span | the body of `zipkin_span` |
//! | [`finished`] | a finished span on its way to the reporter | the span `zipkin_span` hands to the transport |
//! | [`current`] | the current span | the thread-local `Stack` |
//! | [`local`] | local child spans | `with zipkin_span(...)` inside a request |
//! | [`server`] | SERVER spans for axum | `zipkin_span` around a Flask view |
//! | [`client`] | CLIENT spans for reqwest | the headers passed to `requests.get` |
//! | [`span`] | the Zipkin v2 JSON model | `encoding` |
//! | [`report`] | queuing and sending spans | `transport_handler`, `ZipkinBatchSender` |
//!
//! ```
//! use zipkin_tracing::{InMemoryReporter, Tracer, local_span};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let reporter = InMemoryReporter::new();
//! let tracer = Tracer::builder("service1").reporter(reporter.clone()).build();
//! tracer.in_span(None, "index", async {
//!     local_span("service_1_do_stuff", async { /* work */ }).await;
//! }).await;
//! assert_eq!(reporter.spans().len(), 2);
//! # }
//! ```

pub mod b3;
pub mod client;
pub mod context;
pub mod current;
pub mod finished;
mod finished_json;
pub mod http_tags;
pub mod id;
pub mod local;
pub mod record;
pub mod report;
pub mod sample;
pub mod server;
pub mod span;
pub mod tracer;

pub use b3::{B3Format, Extracted, extract, inject};
pub use client::{TracedRequest, describe_error, parse_http_url, send_with};
pub use context::{SamplingFlags, TraceContext};
pub use current::{current, current_context};
pub use finished::FinishedSpan;
pub use id::{IdParseError, SpanId, TraceId};
pub use local::local_span;
pub use record::OpenSpan;
pub use report::{
    HttpReporter, HttpReporterConfig, InMemoryReporter, NopReporter, Report, ReporterError,
    ReporterStats, encode_json,
};
pub use sample::{ProbabilitySampler, Sample};
pub use server::ZipkinLayer;
pub use span::{Annotation, Endpoint, Kind, Span};
pub use tracer::Tracer;
