//! Reporting: handing finished spans to whatever stores them.
//!
//! A tracer calls [`Report::report`] once per finished, sampled span, on the request path,
//! so a reporter must return at once: the HTTP reporter only queues the span and sends
//! batches from a background task. This is py_zipkin's `transport_handler` together with
//! its `ZipkinBatchSender`.

mod http;
mod memory;

pub use self::http::{HttpReporter, HttpReporterConfig, ReporterError, ReporterStats};
pub use self::memory::InMemoryReporter;
pub use crate::finished_json::encode_batch as encode_json;

use crate::finished::FinishedSpan;

/// Receives finished spans. Implementations must not block: this runs on the request path.
pub trait Report: Send + Sync + 'static {
    /// Takes one finished span. [`FinishedSpan::into_span`] gives its Zipkin v2 form;
    /// calling it here, rather than on a background task, puts its cost on the request.
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
