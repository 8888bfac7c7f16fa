//! The caller in front of service1: a user's browser sends no trace headers, but some
//! lessons are about what a caller sends (a debug flag, ids without a decision, a W3C
//! `traceparent`). [`caller_headers`] says what each lesson's caller sends; [`send`] sends
//! the one request and reads service1's answer: its status, time and `x-trace-id`.

use std::time::{Duration, Instant};

use zipkin_tracing::{SpanId, TraceId};

use super::Change;
use crate::error::DemoError;

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
/// service1's answer to the lesson's request.
pub(crate) struct Answer {
    /// The HTTP status.
    pub(crate) status: u16,
    /// How long service1 took, body included.
    pub(crate) took: Duration,
    /// The trace, from `x-trace-id`.
    pub(crate) trace_id: TraceId,
}

/// Sends `GET url` with the caller's `headers` and reads the whole answer.
pub(crate) async fn send(
    url: &str,
    headers: &[(&'static str, String)],
    timeout: Duration,
) -> Result<Answer, DemoError> {
    let failed = |error: reqwest::Error| DemoError::Request {
        url: url.to_owned(),
        reason: zipkin_tracing::describe_error(&error),
    };
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .map_err(failed)?;
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let started = Instant::now();
    let response = request.send().await.map_err(failed)?;
    let status = response.status();
    let trace_id = response
        .headers()
        .get(service1::TRACE_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse().ok());
    response.bytes().await.map_err(failed)?;
    let took = started.elapsed();
    let trace_id = trace_id.ok_or_else(|| DemoError::NoTraceId {
        url: url.to_owned(),
        status: status.to_string(),
    })?;
    Ok(Answer {
        status: status.as_u16(),
        took,
        trace_id,
    })
}
