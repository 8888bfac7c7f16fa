//! Reporting: handing finished spans to whatever stores them.
//!
//! A tracer calls [`Report::report`] once per finished, sampled span, on the request path,
//! so a reporter must return at once: [`AsyncReporter`] only puts the span on its thread's
//! lane, and its own threads encode batches ([`encode_json`], the wire format, in
//! `json.rs`) and deliver them. The lanes, batches, retries and flush are written once
//! (`batching.rs`); a transport
//! (`http.rs`, and behind the `rabbitmq` and `kafka` features `rabbitmq.rs` and `kafka.rs`)
//! only delivers one encoded batch, so adding one is adding a file and a [`Destination`].
//! This is py_zipkin's `transport_handler` together with its `ZipkinBatchSender`.

mod batching;
mod destination;
mod http;
mod json;
#[cfg(feature = "kafka")]
mod kafka;
mod memory;
#[cfg(feature = "rabbitmq")]
mod rabbitmq;
mod reporter;

pub use self::batching::ReporterStats;
pub use self::destination::{
    AmqpUri, parse_amqp_uri, parse_bootstrap_servers, parse_queue_name, parse_topic_name,
};
pub use self::http::{describe_error, parse_http_url};
pub use self::json::encode_json;
pub use self::memory::InMemoryReporter;
pub use self::reporter::{AsyncReporter, Destination, ReporterConfig, ReporterError};

use crate::record::FinishedSpan;

/// Receives finished spans. Implementations must not block: this runs on the request path.
pub trait Report: Send + Sync + 'static {
    /// Takes one finished span. [`FinishedSpan::into_span`] gives its Zipkin v2 form;
    /// calling it here, rather than on a background thread, puts its cost on the request.
    fn report(&self, span: FinishedSpan);
}

/// Discards every span: tracing ids still propagate, nothing is stored.
#[derive(Debug, Clone, Copy, Default)]
pub struct NopReporter;

impl Report for NopReporter {
    fn report(&self, _span: FinishedSpan) {}
}

impl<R: Report + ?Sized> Report for std::sync::Arc<R> {
    fn report(&self, span: FinishedSpan) {
        (**self).report(span);
    }
}
