//! Many requests at once: each gets its own complete, well-formed trace, and no span lands
//! in another request's trace (the current span is per request, not per thread).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use itests::trace_source::{describe_spans, wait_until};
use itests::{ArticleTrace, Chain, CollectorDouble, TraceTree};
use zipkin_tracing::{Span, TraceId};

const REQUESTS: usize = 100;
const TIME_SCALE: f64 = 0.001;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_get_distinct_complete_traces() {
    let collector = CollectorDouble::start().await;
    let mut chain = Chain::options(collector.endpoint())
        .time_scale(TIME_SCALE)
        .start()
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let requests = (0..REQUESTS).map(|_| {
        let request = client.get(chain.entry_url()).send();
        tokio::spawn(async move {
            let response = request.await.expect("service1 answers");
            assert_eq!(response.status(), 200);
            itests::trace_id_of(&response).expect("x-trace-id")
        })
    });
    let mut trace_ids = BTreeSet::new();
    for request in requests.collect::<Vec<_>>() {
        trace_ids.insert(request.await.unwrap());
    }
    assert_eq!(
        trace_ids.len(),
        REQUESTS,
        "every request starts its own trace"
    );

    let expected = REQUESTS * 6;
    wait_until(
        &format!("{expected} spans"),
        Duration::from_secs(15),
        || async {
            let count = collector.spans().map_err(|e| e.to_string())?.len();
            if count >= expected {
                Ok(())
            } else {
                Err(format!("{count} spans"))
            }
        },
    )
    .await
    .unwrap();
    chain.stop().await.unwrap();

    let mut by_trace: BTreeMap<TraceId, Vec<Span>> = BTreeMap::new();
    for span in collector.spans().unwrap() {
        by_trace.entry(span.trace_id).or_default().push(span);
    }
    let reported: BTreeSet<TraceId> = by_trace.keys().copied().collect();
    assert_eq!(
        reported, trace_ids,
        "the reported traces are exactly the answered ones"
    );
    for (trace_id, spans) in by_trace {
        assert_eq!(
            spans.len(),
            6,
            "trace {trace_id}:\n{}",
            describe_spans(&spans)
        );
        let mut tree = TraceTree::new(spans);
        let trace = ArticleTrace::take(&mut tree);
        tree.finish();
        assert_eq!(trace.server1.parent_id, None);
    }
}
