//! The real binaries, as a user runs them: two processes configured only through
//! environment variables, on free ports, reporting to a mock Zipkin. SIGTERM right after
//! a response stops both with exit code 0, and the spans still queued in their reporters
//! (which batch for a second) reach the collector on the way out. Each binary's start-up
//! line says where its spans go.

use std::time::Duration;

use itests::{ArticleTrace, Chain, CollectorDouble, TraceTree};

const TIME_SCALE: f64 = 0.01;

#[tokio::test]
async fn sigterm_after_a_request_exits_cleanly_and_flushes_every_span() {
    // Cargo builds the binaries (a no-op when they are up to date), so that
    // `cargo test -p itests` works on a clean clone.
    let collector = CollectorDouble::start().await;
    let mut chain = Chain::options(collector.endpoint())
        .time_scale(TIME_SCALE)
        .binaries()
        .start()
        .await
        .unwrap();

    let response = reqwest::get(chain.entry_url()).await.unwrap();
    assert_eq!(response.status(), 200, "{}", chain.describe_output());
    let trace_id = itests::trace_id_of(&response).unwrap();

    // Right away: the reporters are still holding the spans for their 1 s batch, so what
    // arrives from here on is sent by the shutdown flush.
    let before = collector.spans().unwrap().len();
    assert!(
        before < 6,
        "all spans arrived before SIGTERM ({before}); this run cannot show the flush"
    );
    chain.stop().await.unwrap();
    for service in chain.services() {
        let line = format!(
            "{} listening; spans go to {}",
            service.name(),
            collector.endpoint()
        );
        assert!(
            service.output().contains(&line),
            "{line}:\n{}",
            service.output()
        );
    }

    // Both processes have exited 0, so every span they will ever send has arrived.
    let spans = collector.spans().unwrap();
    assert_eq!(
        spans.len(),
        6,
        "all six spans, flushed at shutdown:\n{}\n{}",
        itests::trace_source::describe_spans(&spans),
        chain.describe_output()
    );
    let mut tree = TraceTree::new(spans);
    assert_eq!(tree.trace_id(), trace_id);
    let trace = ArticleTrace::take(&mut tree);
    tree.finish();
    trace.assert_timing(TIME_SCALE, Duration::from_secs(1));
}
