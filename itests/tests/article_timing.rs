//! The article's real timings, once: at `TIME_SCALE=1` a request takes about 7 s, and each
//! span lasts at least its sleep (root 7 s, `service_1_do_stuff` 6 s, the call 4 s,
//! `service_2_do_stuff` 4 s, `db_search` 2 s starting 2 s in), with generous upper bounds.

use std::time::{Duration, Instant};

use itests::{ArticleTrace, Chain, CollectorDouble, TraceTree, wait_for_trace};

/// How much longer than its sleep a span may last on a busy, shared machine.
const SLACK: Duration = Duration::from_secs(3);

#[tokio::test]
async fn at_time_scale_one_the_spans_last_as_long_as_the_articles_sleeps() {
    let collector = CollectorDouble::start().await;
    let mut chain = Chain::options(collector.endpoint())
        .time_scale(1.0)
        .start()
        .await
        .unwrap();

    let started = Instant::now();
    let response = reqwest::get(chain.entry_url()).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 200);
    assert!(
        elapsed >= Duration::from_secs(7) && elapsed <= Duration::from_secs(7) + SLACK,
        "the request took {elapsed:?}, expected about 7 s"
    );
    let trace_id = itests::trace_id_of(&response).unwrap();

    let spans = wait_for_trace(&collector, trace_id, 6).await.unwrap();
    chain.stop().await.unwrap();
    let mut tree = TraceTree::new(spans);
    let trace = ArticleTrace::take(&mut tree);
    tree.finish();
    trace.assert_timing(1.0, SLACK);
}
