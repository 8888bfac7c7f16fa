//! The caller in front of service1: a user's browser sends no trace headers, but some
//! lessons are about what a caller sends (a debug flag, ids without a decision, a W3C
//! `traceparent`). [`caller_headers`] says what each lesson's caller sends.

use zipkin_tracing::{SpanId, TraceId};

use super::Change;

/// The headers of the caller in front of service1: none, as a user's browser, unless the
/// lesson is about what a caller sends.
pub(crate) fn caller_headers(change: Change) -> Vec<(&'static str, String)> {
    match change {
        Change::Debug => vec![("X-B3-Flags", "1".into())],
        Change::Deferred => vec![
            ("X-B3-TraceId", TraceId::random_128().to_string()),
            ("X-B3-SpanId", SpanId::random().to_string()),
        ],
        Change::W3cCaller => {
            let (trace, span) = (TraceId::random_128(), SpanId::random());
            vec![("traceparent", format!("00-{trace}-{span}-01"))]
        }
        _ => Vec::new(),
    }
}
