//! The collector on a real socket, and waiting for a trace through the handle.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

mod common;

use std::time::Duration;

use collector::{Collector, CollectorConfig, WaitError, serve};
use common::{TRACE, article_trace, raw_http};
use zipkin_tracing::{Span, TraceId};

fn article() -> Vec<Span> {
    serde_json::from_value(article_trace(TRACE)).unwrap()
}

#[tokio::test]
async fn serve_answers_on_a_socket_and_stops_on_shutdown() {
    let collector = Collector::new(CollectorConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, collector.clone(), async {
        let _ = stopped.await;
    }));

    let body = article_trace(TRACE).to_string();
    assert_eq!(raw_http(addr, "POST", "/api/v2/spans", &body).await.0, 202);
    let (status, json) = raw_http(addr, "GET", &format!("/api/v2/trace/{TRACE}"), "").await;
    assert_eq!(status, 200);
    let spans: Vec<Span> = serde_json::from_str(&json).unwrap();
    assert_eq!(spans.len(), 6);
    assert_eq!(
        collector.span_count(),
        6,
        "the handle sees what the socket stored"
    );

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn waiting_wakes_when_the_last_span_arrives() {
    let collector = Collector::default();
    let trace_id: TraceId = TRACE.parse().unwrap();
    let waiter = tokio::spawn({
        let collector = collector.clone();
        async move {
            collector
                .wait_for_trace(&trace_id, 6, Duration::from_secs(30))
                .await
        }
    });
    let spans = article();
    collector.ingest(spans[..2].to_vec());
    collector.ingest(Vec::new());
    collector.ingest(spans[2..].to_vec());
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(got.len(), 6);
    assert_eq!(
        got[0].name.as_deref(),
        Some("GET /"),
        "sorted by start time"
    );
    // Already complete: returns at once.
    let again = collector.wait_for_trace(&trace_id, 6, Duration::ZERO).await;
    assert_eq!(again.unwrap().len(), 6);
}

#[tokio::test(start_paused = true)]
async fn waiting_gives_up_at_the_deadline() {
    let collector = Collector::default();
    let trace_id: TraceId = TRACE.parse().unwrap();
    collector.ingest(article()[..4].to_vec());
    let err = collector
        .wait_for_trace(&trace_id, 6, Duration::from_secs(5))
        .await
        .unwrap_err();
    let WaitError::Timeout { seen, wanted, .. } = &err;
    assert_eq!((*seen, *wanted), (4, 6));
    assert_eq!(
        err.to_string(),
        format!("trace {TRACE} had 4 of 6 spans after 5s")
    );
}

#[tokio::test]
async fn subscribers_see_every_ingest() {
    let collector = Collector::default();
    let mut changes = collector.subscribe();
    assert!(!changes.has_changed().unwrap());
    collector.ingest(article());
    assert!(changes.has_changed().unwrap());
    changes.mark_unchanged();
    collector.ingest(Vec::new());
    assert!(
        !changes.has_changed().unwrap(),
        "nothing stored, nothing to see"
    );
}
