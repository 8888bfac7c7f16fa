//! The article's call chain at `TIME_SCALE=0.01`, against a mock Zipkin: exactly the six
//! spans of the article (see the README), in one trace, with the right tree, kinds, names, tags and timing.

use std::time::Duration;

use itests::{ArticleTrace, Chain, CollectorDouble, TraceTree, wait_for_trace};

const TIME_SCALE: f64 = 0.01;

#[tokio::test]
async fn one_request_reports_the_articles_six_span_trace() {
    let collector = CollectorDouble::start().await;
    let mut chain = Chain::options(collector.endpoint())
        .time_scale(TIME_SCALE)
        .start()
        .await
        .unwrap();

    let response = reqwest::get(chain.entry_url()).await.unwrap();
    assert_eq!(response.status(), 200);
    let trace_id = itests::trace_id_of(&response).unwrap();
    assert!(trace_id.is_128(), "new traces use 128-bit ids: {trace_id}");
    assert_eq!(response.text().await.unwrap(), "OK");

    // The spans arrive about a second later (the reporter batches); then stopping both
    // services flushes anything still queued, so a seventh span could not hide.
    wait_for_trace(&collector, trace_id, 6).await.unwrap();
    chain.stop().await.unwrap();
    let everything = collector.spans().unwrap();
    assert_eq!(
        everything.len(),
        6,
        "exactly six spans, all of trace {trace_id}:\n{}",
        itests::trace_source::describe_spans(&everything)
    );

    let mut tree = TraceTree::new(everything);
    assert_eq!(
        tree.trace_id(),
        trace_id,
        "the x-trace-id header names the trace"
    );
    let trace = ArticleTrace::take(&mut tree);
    tree.finish();

    assert_eq!(
        trace.server1.parent_id, None,
        "no B3 came in: service1 starts the trace"
    );
    assert!(!trace.server1.shared);
    for span in trace.all() {
        assert!(!span.debug, "nothing asked for debug: {span:?}");
        assert!(
            span.timestamp.is_some_and(|ts| ts > 1_500_000_000_000_000),
            "epoch µs: {span:?}"
        );
    }
    // Timing: every span lasts at least its scaled sleep; upper bounds are generous.
    trace.assert_timing(TIME_SCALE, Duration::from_secs(1));
}
