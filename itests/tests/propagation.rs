//! A caller sends B3 headers to service1: the trace id and the parent link continue, and
//! the caller's sampling decision is honoured (sampled, unsampled, deferred, debug).
//! Malformed headers have their own file, `malformed_b3.rs`.

use itests::caller::Caller;
use itests::stand_in::header;
use itests::trace_source::describe_spans;
use itests::{ArticleTrace, Chain, CollectorDouble, Service2StandIn, TraceTree, wait_for_trace};
use zipkin_tracing::{Span, SpanId, TraceId};

const TIME_SCALE: f64 = 0.001;

/// Sends `GET /` with `headers`; panics unless it answers 200 with a trace id.
async fn call(url: &str, headers: &[(&str, String)]) -> TraceId {
    itests::caller::call(url, headers)
        .await
        .expect("service1 answers 200 with x-trace-id")
}

/// Checks that `spans` are the article's trace, joined to `caller`'s span.
#[track_caller]
fn assert_joined(spans: Vec<Span>, caller: &Caller, debug: bool, decided: bool) {
    let mut tree = TraceTree::new(spans);
    assert_eq!(tree.trace_id(), caller.trace_id);
    let trace = ArticleTrace::take(&mut tree);
    tree.finish();
    let root = &trace.server1;
    assert_eq!(root.id, caller.span_id, "service1 joins the caller's span");
    // A caller that left the sampling decision open may not have recorded its half of the
    // span, so service1's half is marked shared only when the caller had decided.
    assert_eq!(
        root.shared, decided,
        "the joined SERVER span is shared exactly when the caller decided: {root:?}"
    );
    assert_eq!(
        root.parent_id,
        Some(caller.parent_id),
        "the parent link continues"
    );
    for span in trace.all() {
        assert_eq!(span.debug, debug, "debug flag on {span:?}");
    }
}

/// Checks that the collector holds nothing of `unreported`, after proving that it does
/// receive the traces of `reported` (sent after them, so they were queued after them).
async fn assert_never_reported(
    collector: &CollectorDouble,
    mut chain: Chain,
    unreported: &[TraceId],
    reported: &[TraceId],
) {
    for &id in reported {
        wait_for_trace(collector, id, 6)
            .await
            .expect("the sampled trace arrives");
    }
    // Stopping flushes every span still queued: absence after it is absence for good.
    chain.stop().await.expect("the services stop cleanly");
    let spans = collector.spans().expect("valid reports");
    let leaked: Vec<Span> = spans
        .iter()
        .filter(|span| unreported.contains(&span.trace_id))
        .cloned()
        .collect();
    assert!(
        leaked.is_empty(),
        "unsampled traces were reported:\n{}",
        describe_spans(&leaked)
    );
    assert_eq!(
        spans.len(),
        6 * reported.len(),
        "{}",
        describe_spans(&spans)
    );
}

#[tokio::test]
async fn sampled_contexts_continue_the_callers_trace_in_both_forms_and_widths() {
    let collector = CollectorDouble::start().await;
    // Sample rate 0: only the caller's "sampled" decision can make these traces recorded.
    let options = Chain::options(collector.endpoint()).time_scale(TIME_SCALE);
    let mut chain = options.sample_rate(0.0).start().await.unwrap();
    let mut cases = Vec::new();
    for wide in [true, false] {
        for form in ["multi", "multi legacy true", "single"] {
            let caller = Caller::new(wide);
            let headers = match form {
                "multi" => caller.multi(Some("1")),
                "multi legacy true" => caller.multi(Some("true")),
                _ => caller.single("1"),
            };
            let answered = call(&chain.entry_url(), &headers).await;
            assert_eq!(answered, caller.trace_id, "{form}, 128-bit: {wide}");
            cases.push(caller);
        }
    }
    for caller in &cases {
        let spans = wait_for_trace(&collector, caller.trace_id, 6)
            .await
            .unwrap();
        assert_joined(spans, caller, false, true);
    }
    chain.stop().await.unwrap();
    assert_eq!(collector.spans().unwrap().len(), 6 * cases.len());
}

#[tokio::test]
async fn unsampled_traces_report_nothing_anywhere() {
    let collector = CollectorDouble::start().await;
    let options = Chain::options(collector.endpoint()).time_scale(TIME_SCALE);
    let chain = options.start().await.unwrap();
    let (multi, single) = (Caller::new(true), Caller::new(false));
    let mut unreported = vec![
        call(&chain.entry_url(), &multi.multi(Some("0"))).await,
        call(&chain.entry_url(), &single.single("0")).await,
        call(&chain.entry_url(), &multi.multi(Some("false"))).await,
    ];
    assert_eq!(
        unreported,
        [multi.trace_id, single.trace_id, multi.trace_id]
    );
    // A sampling decision alone starts new ids that keep it.
    unreported.push(call(&chain.entry_url(), &[("b3", "0".to_owned())]).await);
    unreported.push(call(&chain.entry_url(), &[("X-B3-Sampled", "0".to_owned())]).await);
    let sampled = call(&chain.entry_url(), &[]).await;
    assert_never_reported(&collector, chain, &unreported, &[sampled]).await;
}

#[tokio::test]
async fn unsampled_traces_still_propagate_their_ids_downstream() {
    let collector = CollectorDouble::start().await;
    let service2 = Service2StandIn::start().await;
    let mut chain = Chain::options(collector.endpoint())
        .time_scale(TIME_SCALE)
        .service2_url(service2.url())
        .start()
        .await
        .unwrap();
    let url = chain.entry_url();
    let callers = [Caller::new(true), Caller::new(false)];
    call(&url, &callers[0].multi(Some("0"))).await;
    call(&url, &callers[1].single("0")).await;

    let received = service2.received_headers().await.unwrap();
    assert_eq!(received.len(), 2);
    for (caller, headers) in callers.iter().zip(&received) {
        let trace_id = caller.trace_id.to_string();
        assert_eq!(
            header(headers, "x-b3-traceid"),
            Some(trace_id.as_str()),
            "{headers:?}"
        );
        assert_eq!(header(headers, "x-b3-sampled"), Some("0"), "{headers:?}");
        assert_ne!(header(headers, "x-b3-flags"), Some("1"), "{headers:?}");
        let span_id: SpanId = header(headers, "x-b3-spanid").unwrap().parse().unwrap();
        assert_ne!(
            span_id, caller.span_id,
            "the call to service2 is a new span"
        );
        let parent: SpanId = header(headers, "x-b3-parentspanid")
            .unwrap()
            .parse()
            .unwrap();
        assert_ne!(
            parent, caller.parent_id,
            "its parent is a span inside service1"
        );
    }
    // Stopping flushes: whatever service1 had queued has been sent by now.
    chain.stop().await.unwrap();
    let spans = collector.spans().unwrap();
    assert!(spans.is_empty(), "unsampled:\n{}", describe_spans(&spans));
}

#[tokio::test]
async fn deferred_decisions_follow_service1s_sample_rate() {
    let collector = CollectorDouble::start().await;
    let mut always = Chain::options(collector.endpoint())
        .time_scale(TIME_SCALE)
        .start()
        .await
        .unwrap();
    let caller = Caller::new(true);
    assert_eq!(
        call(&always.entry_url(), &caller.multi(None)).await,
        caller.trace_id
    );
    let spans = wait_for_trace(&collector, caller.trace_id, 6)
        .await
        .unwrap();
    assert_joined(spans, &caller, false, false);
    always.stop().await.unwrap();

    let collector = CollectorDouble::start().await;
    let options = Chain::options(collector.endpoint()).time_scale(TIME_SCALE);
    let never = options.sample_rate(0.0).start().await.unwrap();
    let (deferred, forced) = (Caller::new(true), Caller::new(true));
    assert_eq!(
        call(&never.entry_url(), &deferred.multi(None)).await,
        deferred.trace_id
    );
    let b3_deferred = Caller::new(false);
    let single = vec![(
        "b3",
        format!("{}-{}", b3_deferred.trace_id, b3_deferred.span_id),
    )];
    assert_eq!(
        call(&never.entry_url(), &single).await,
        b3_deferred.trace_id
    );
    call(&never.entry_url(), &forced.multi(Some("1"))).await;
    assert_never_reported(
        &collector,
        never,
        &[deferred.trace_id, b3_deferred.trace_id],
        &[forced.trace_id],
    )
    .await;
}

#[tokio::test]
async fn debug_traces_are_reported_even_at_sample_rate_zero() {
    let collector = CollectorDouble::start().await;
    let options = Chain::options(collector.endpoint()).time_scale(TIME_SCALE);
    let mut chain = options.sample_rate(0.0).start().await.unwrap();
    let (multi, single) = (Caller::new(true), Caller::new(false));
    let mut flags = multi.multi(Some("0"));
    flags.push(("X-B3-Flags", "1".to_owned()));
    assert_eq!(call(&chain.entry_url(), &flags).await, multi.trace_id);
    assert_eq!(
        call(&chain.entry_url(), &single.single("d")).await,
        single.trace_id
    );
    for caller in [&multi, &single] {
        let spans = wait_for_trace(&collector, caller.trace_id, 6)
            .await
            .unwrap();
        assert_joined(spans, caller, true, true);
    }
    chain.stop().await.unwrap();
}
