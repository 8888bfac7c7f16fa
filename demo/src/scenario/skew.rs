//! The clock-skew lesson's collector: the stand-in's store behind an ingest endpoint that
//! moves service2's spans 50 ms later, as if service2's host clock ran 50 ms ahead.
//!
//! The services run in one process, on one clock, so real skew cannot happen here. A
//! tracing library cannot fake it either (its finished spans are not to be rewritten), so
//! the demo shifts the timestamps where spans enter the collector: `timestamp` and the
//! annotations of every span whose `localEndpoint.serviceName` is service2. Durations are
//! untouched, as with real skew: only positions are off.

use std::future::Future;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use collector::{Collector, decode_spans};
use tokio::net::TcpListener;

/// How far ahead service2's clock runs, in microseconds (50 ms).
pub(crate) const SKEW_MICROS: u64 = 50_000;

/// Serves `POST /api/v2/spans` (JSON v2, as the services' reporters send) into
/// `collector`, shifting service2's spans, until `shutdown`.
pub(crate) async fn serve(
    listener: TcpListener,
    collector: Collector,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/api/v2/spans", post(ingest))
        .with_state(collector);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Stores the spans of `body`, service2's moved [`SKEW_MICROS`] later.
async fn ingest(State(collector): State<Collector>, body: Bytes) -> (StatusCode, String) {
    let mut spans = match decode_spans(&body) {
        Ok(spans) => spans,
        Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()),
    };
    for span in &mut spans {
        if span.service_name() == Some(service2::SERVICE_NAME) {
            span.timestamp = span.timestamp.map(|t| t + SKEW_MICROS);
            for annotation in &mut span.annotations {
                annotation.timestamp += SKEW_MICROS;
            }
        }
    }
    collector.ingest(spans);
    (StatusCode::ACCEPTED, String::new())
}

#[cfg(test)]
mod tests {
    use zipkin_tracing::{Endpoint, SpanId, TraceId};

    use super::*;

    #[tokio::test]
    async fn only_service2s_spans_move_and_keep_their_duration() {
        let trace_id: TraceId = "463ac35c9f6413ad48485a3953bb6124".parse().unwrap();
        let spans: Vec<zipkin_tracing::Span> = ["service1", "service2"]
            .into_iter()
            .zip(1u64..)
            .map(|(service, id)| {
                let mut span = zipkin_tracing::Span::new(trace_id, SpanId::new(id).unwrap());
                span.timestamp = Some(1_000_000);
                span.duration = Some(10);
                span.local_endpoint = Some(Endpoint::service(service));
                span
            })
            .collect();
        let collector = Collector::new(collector::CollectorConfig::default());
        let body = Bytes::from(serde_json::to_vec(&spans).unwrap());
        let (status, _) = ingest(State(collector.clone()), body).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let stored = collector.trace(&trace_id).unwrap();
        let at = |service| {
            let span = stored.iter().find(|s| s.service_name() == Some(service));
            span.map(|s| (s.timestamp, s.duration)).unwrap()
        };
        assert_eq!(at("service1"), (Some(1_000_000), Some(10)));
        assert_eq!(at("service2"), (Some(1_000_000 + SKEW_MICROS), Some(10)));
    }
}
