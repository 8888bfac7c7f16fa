//! The article's call chain against the stand-in collector, read back through its Zipkin
//! query API (`GET /api/v2/trace/{id}`) with the same assertions as against the mock: the
//! collector that `cargo run` uses stores and returns the trace as Zipkin would.

use std::time::Duration;

use itests::{ArticleTrace, Chain, TraceSource, TraceTree, ZipkinApi, wait_for_trace};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const TIME_SCALE: f64 = 0.01;

#[tokio::test]
async fn the_stand_in_collector_returns_the_articles_trace_through_its_query_api() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let store = collector::Collector::new(collector::CollectorConfig::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(collector::serve(listener, store.clone(), async {
        let _ = stopped.await;
    }));

    let api = ZipkinApi::new(&base);
    let mut chain = Chain::options(api.spans_endpoint())
        .time_scale(TIME_SCALE)
        .start()
        .await
        .unwrap();
    let response = reqwest::get(chain.entry_url()).await.unwrap();
    assert_eq!(response.status(), 200);
    let trace_id = itests::trace_id_of(&response).unwrap();

    wait_for_trace(&api, trace_id, 6).await.unwrap();
    // Stopping flushes both reporters: nothing else may arrive for this trace.
    chain.stop().await.unwrap();
    let spans = api.trace(trace_id).await.unwrap();
    assert_eq!(
        spans.len(),
        6,
        "{}",
        itests::trace_source::describe_spans(&spans)
    );
    assert_eq!(store.span_count(), 6, "no span of another trace was stored");

    let mut tree = TraceTree::new(spans);
    assert_eq!(tree.trace_id(), trace_id);
    let trace = ArticleTrace::take(&mut tree);
    tree.finish();
    assert_eq!(trace.server1.parent_id, None);
    trace.assert_timing(TIME_SCALE, Duration::from_secs(1));

    // The query API lists both services, as the Zipkin UI's service picker needs.
    let body = reqwest::get(format!("{base}/api/v2/services"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let services: Vec<String> = serde_json::from_slice(&body).unwrap();
    assert_eq!(services, ["service1", "service2"]);

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
