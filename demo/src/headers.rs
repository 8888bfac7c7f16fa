//! What crossed the wire: the B3 headers service2 received, captured in-process.
//!
//! Tracing across services works only because the caller writes its span's context into
//! the request and the callee reads it back. [`CaptureB3Layer`] wraps service2's router,
//! outside its `ZipkinLayer`, and copies the `X-B3-*` and `b3` headers of every request
//! that carries a trace context into a [`HeaderLog`], keyed by trace id, so the demo can
//! print exactly what service1 sent next to the trace it produced.
//!
//! ```
//! use axum::{Router, routing::get};
//! use demo::headers::HeaderLog;
//!
//! let log = HeaderLog::new();
//! let app: Router = Router::new()
//!     .route("/service/", get(|| async { "OK" }))
//!     .layer(log.layer());
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use http::{HeaderMap, Request};
use tower::{Layer, Service};
use zipkin_tracing::{Extracted, TraceId};

/// The trace headers, as stored (lower case) and as their specification spells them: B3,
/// then W3C Trace Context (sent with `PROPAGATION=w3c,b3`).
const B3_HEADERS: [(&str, &str); 8] = [
    ("x-b3-traceid", "X-B3-TraceId"),
    ("x-b3-spanid", "X-B3-SpanId"),
    ("x-b3-parentspanid", "X-B3-ParentSpanId"),
    ("x-b3-sampled", "X-B3-Sampled"),
    ("x-b3-flags", "X-B3-Flags"),
    ("b3", "b3"),
    ("traceparent", "traceparent"),
    ("tracestate", "tracestate"),
];

/// The B3 headers of one request, as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedRequest {
    /// The request method, e.g. `GET`.
    pub method: String,
    /// The request path, e.g. `/service/`.
    pub path: String,
    /// Each B3 header present, named as the B3 specification spells it, in the
    /// specification's order: `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-ParentSpanId`,
    /// `X-B3-Sampled`, `X-B3-Flags`, `b3`; then W3C's `traceparent` and `tracestate`.
    pub headers: Vec<(String, String)>,
    /// The caller's sampling decision: `Some(false)` when it sent "do not record"
    /// (`X-B3-Sampled: 0`), `None` when it left the decision to the callee.
    pub sampled: Option<bool>,
}

impl CapturedRequest {
    /// The value of the header `name` (any case), if it was sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn of(method: String, path: String, headers: &HeaderMap, sampled: Option<bool>) -> Self {
        let mut found = Vec::new();
        for (stored, spelled) in B3_HEADERS {
            for value in headers.get_all(stored) {
                // Values that are not text are shown with their bytes escaped.
                let text = String::from_utf8_lossy(value.as_bytes());
                found.push((spelled.to_owned(), text.escape_debug().to_string()));
            }
        }
        CapturedRequest {
            method,
            path,
            headers: found,
            sampled,
        }
    }
}

/// The captured requests by trace id. Clones share one log.
#[derive(Debug, Clone, Default)]
pub struct HeaderLog {
    requests: Arc<Mutex<HashMap<TraceId, Vec<CapturedRequest>>>>,
}

impl HeaderLog {
    /// An empty log.
    pub fn new() -> Self {
        HeaderLog::default()
    }

    /// A layer that records into this log.
    pub fn layer(&self) -> CaptureB3Layer {
        CaptureB3Layer { log: self.clone() }
    }

    /// Removes and returns the requests of `trace_id`, oldest first (none if it had none).
    /// Taking them keeps the log small in a demo that serves for hours.
    pub fn take(&self, trace_id: &TraceId) -> Vec<CapturedRequest> {
        self.lock().remove(trace_id).unwrap_or_default()
    }

    /// The sampling decision the first request of `trace_id` carried, if it was recorded
    /// and carried one.
    pub fn sampled(&self, trace_id: &TraceId) -> Option<bool> {
        let requests = self.lock();
        requests.get(trace_id)?.first()?.sampled
    }

    /// Records `request` if its headers carry a valid trace context; requests without one
    /// have no trace to file them under (the service starts a new trace for them).
    fn record<B>(&self, request: &Request<B>) {
        let Extracted::Context(context) = zipkin_tracing::extract(request.headers()) else {
            return;
        };
        let captured = CapturedRequest::of(
            request.method().to_string(),
            request.uri().path().to_owned(),
            request.headers(),
            // Debug implies sampled.
            if context.flags.debug {
                Some(true)
            } else {
                context.flags.sampled
            },
        );
        self.lock()
            .entry(context.trace_id)
            .or_default()
            .push(captured);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TraceId, Vec<CapturedRequest>>> {
        // A panic elsewhere cannot leave a half-written entry: each push is one step.
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Wraps services in [`CaptureB3`], which records B3 headers into a [`HeaderLog`].
#[derive(Debug, Clone)]
pub struct CaptureB3Layer {
    log: HeaderLog,
}

impl<S> Layer<S> for CaptureB3Layer {
    type Service = CaptureB3<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CaptureB3 {
            inner,
            log: self.log.clone(),
        }
    }
}

/// Records the B3 headers of each request, then passes it on unchanged.
#[derive(Debug, Clone)]
pub struct CaptureB3<S> {
    inner: S,
    log: HeaderLog,
}

impl<S, B> Service<Request<B>> for CaptureB3<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.log.record(&request);
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::{Router, routing::get};
    use tower::ServiceExt;

    const TRACE: &str = "463ac35c9f6413ad48485a3953bb6124";

    async fn send(log: &HeaderLog, headers: &[(&str, &str)]) {
        let app: Router = Router::new()
            .route("/service/", get(|| async { "OK" }))
            .layer(log.layer());
        let mut request = Request::get("/service/");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = app
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    #[tokio::test]
    async fn records_b3_headers_by_trace_id_in_spec_order() {
        let log = HeaderLog::new();
        send(
            &log,
            &[
                ("X-B3-Flags", "0"),
                ("X-B3-Sampled", "1"),
                ("X-B3-SpanId", "a2fb4a1d1a96d312"),
                ("X-B3-ParentSpanId", "0020000000000001"),
                ("X-B3-TraceId", TRACE),
                ("accept", "*/*"),
            ],
        )
        .await;
        let trace_id: TraceId = TRACE.parse().unwrap();
        let requests = log.take(&trace_id);
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("GET", "/service/")
        );
        let names: Vec<&str> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "X-B3-TraceId",
                "X-B3-SpanId",
                "X-B3-ParentSpanId",
                "X-B3-Sampled",
                "X-B3-Flags"
            ]
        );
        assert_eq!(request.header("x-b3-spanid"), Some("a2fb4a1d1a96d312"));
        assert_eq!(request.sampled, Some(true));
        assert!(log.take(&trace_id).is_empty(), "take removes the entry");
        assert_eq!(log.sampled(&trace_id), None);
    }

    #[tokio::test]
    async fn the_callers_sampling_decision_is_kept_with_the_request() {
        let log = HeaderLog::new();
        let unsampled = format!("{TRACE}-a2fb4a1d1a96d312-0");
        send(&log, &[("b3", &unsampled)]).await;
        let trace_id: TraceId = TRACE.parse().unwrap();
        assert_eq!(log.sampled(&trace_id), Some(false));
        assert_eq!(log.take(&trace_id)[0].sampled, Some(false));
        let deferred = format!("{TRACE}-a2fb4a1d1a96d312");
        send(&log, &[("b3", &deferred)]).await;
        assert_eq!(log.sampled(&trace_id), None);
    }

    #[tokio::test]
    async fn single_header_form_is_recorded_and_requests_without_context_are_not() {
        let log = HeaderLog::new();
        send(&log, &[("b3", &format!("{TRACE}-a2fb4a1d1a96d312-1"))]).await;
        send(&log, &[]).await;
        send(&log, &[("X-B3-TraceId", TRACE)]).await; // half a context: invalid
        let requests = log.take(&TRACE.parse().unwrap());
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].headers.len(), 1);
        assert!(
            requests[0]
                .header("B3")
                .is_some_and(|v| v.starts_with(TRACE))
        );
        assert!(log.lock().is_empty());
    }
}
