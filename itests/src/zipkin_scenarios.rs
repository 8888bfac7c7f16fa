//! What a real Zipkin server must store of the article's chain, as scenarios that take any
//! Zipkin's API: the jar (`tests/real_zipkin.rs`) and the container
//! (`tests/zipkin_container.rs`) run the same ones. The query API has its own scenarios,
//! in [`zipkin_queries`](crate::zipkin_queries).
//!
//! Zipkin answers `POST /api/v2/spans` with 202 before it stores the spans, so every
//! scenario polls the query API with a deadline. It also lower-cases span and service
//! names on ingest (`GET /` comes back as `get /`): names are compared ignoring case;
//! ids, kinds, `shared`, tags and timings come back as sent and are compared exactly.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Context as _;
use zipkin_tracing::{Span, TraceId};

use crate::article::ArticleTrace;
use crate::caller::{Caller, call};
use crate::chain::Chain;
use crate::trace_source::{TraceSource as _, ZipkinApi, describe_spans, wait_until};
use crate::tree::{NameMatch, TraceTree};

/// The article's sleeps, scaled: the whole trace takes about 70 ms.
pub const TIME_SCALE: f64 = 0.01;

/// How long a trace may take to be stored: the reporter's 1 s batches, then Zipkin's own
/// asynchronous write, on a busy machine.
pub const STORE_DEADLINE: Duration = Duration::from_secs(20);

/// Reads trace `id` back from Zipkin once its six spans are stored whole and checks the
/// whole tree, as [`ArticleTrace::take`] does, with no span left over.
pub async fn stored_article(api: &ZipkinApi, id: TraceId) -> anyhow::Result<ArticleTrace> {
    let spans = wait_for_whole_article(api, id).await?;
    let mut tree = TraceTree::new(spans).with_names(NameMatch::IgnoreCase);
    anyhow::ensure!(
        tree.trace_id() == id,
        "asked for {id}:\n{}",
        tree.describe()
    );
    let trace = ArticleTrace::take(&mut tree);
    tree.finish();
    Ok(trace)
}

/// The six spans of trace `id` once each is written whole: a timestamp and a duration,
/// on a CLIENT or SERVER span its `http.method` and `http.path` tags, and the same answer
/// twice in a row. A storage may show a span before all of it: MySQL stores a span's row
/// and each of its tags and annotations (rows of another table) in separate statements,
/// so a read between them finds the span with only some of its tags.
pub async fn wait_for_whole_article(api: &ZipkinApi, id: TraceId) -> anyhow::Result<Vec<Span>> {
    let what = format!("the six spans of trace {id}, each written whole");
    let previous = std::sync::Mutex::new(Vec::new());
    wait_until(&what, STORE_DEADLINE, || async {
        let mut spans = api.trace(id).await.map_err(|error| format!("{error:#}"))?;
        spans.sort_by_key(|span| (span.id, span.kind.is_some(), span.shared));
        let written = |span: &Span| {
            span.timestamp.is_some()
                && span.duration.is_some()
                && (span.kind.is_none()
                    || ["http.method", "http.path"]
                        .iter()
                        .all(|key| span.tags.contains_key(*key)))
        };
        let mut previous = previous.lock().expect("the poll never panics holding it");
        let settled = spans.len() >= 6 && spans.iter().all(written) && *previous == spans;
        if settled {
            Ok(spans)
        } else {
            let listing = describe_spans(&spans);
            *previous = spans;
            Err(format!("\n{listing}"))
        }
    })
    .await
}

/// Sends one request through the in-process chain reporting to `api`'s Zipkin, stops the
/// chain (its spans flushed) and returns the article's trace as Zipkin stored it.
pub async fn one_request(api: &ZipkinApi) -> anyhow::Result<ArticleTrace> {
    let trace_id = Chain::options(api.spans_endpoint())
        .time_scale(TIME_SCALE)
        .one_request(&[])
        .await?;
    stored_article(api, trace_id).await
}

/// One request through the in-process chain: Zipkin stores the article's six spans, the
/// client and server halves of the call as two spans with one id, with their timings.
pub async fn article_chain(api: &ZipkinApi) -> anyhow::Result<()> {
    let trace = one_request(api).await?;
    anyhow::ensure!(
        trace.server1.parent_id.is_none(),
        "a request without B3 headers starts a root span:\n{}",
        describe_spans(&trace.all())
    );
    trace.assert_timing(TIME_SCALE, Duration::from_secs(1));
    Ok(())
}

/// A traced caller sends its ids in both B3 forms (multi headers, single `b3`) with 64-
/// and 128-bit trace ids; Zipkin stores each trace under the caller's id, at its width,
/// with service1 joining the caller's span. The services sample nothing themselves, so
/// only the caller's `sampled` flag can have recorded these traces.
pub async fn propagation(api: &ZipkinApi) -> anyhow::Result<()> {
    let mut chain = Chain::options(api.spans_endpoint())
        .time_scale(TIME_SCALE)
        .sample_rate(0.0)
        .start()
        .await?;
    let mut callers = Vec::new();
    for wide in [false, true] {
        for (form, caller) in [("multi", Caller::new(wide)), ("single", Caller::new(wide))] {
            let headers = if form == "multi" {
                caller.multi(Some("1"))
            } else {
                caller.single("1")
            };
            let answered = call(&chain.entry_url(), &headers).await?;
            anyhow::ensure!(
                answered == caller.trace_id,
                "{form}: service1 answered {answered}"
            );
            callers.push((form, caller));
        }
    }
    chain.stop().await?;
    for (form, caller) in callers {
        let root = stored_article(api, caller.trace_id).await?.server1;
        let width = if caller.trace_id.is_128() { 32 } else { 16 };
        anyhow::ensure!(
            root.trace_id.to_string().len() == width,
            "{form}: Zipkin changed the trace id's width: {root:?}"
        );
        anyhow::ensure!(
            root.id == caller.span_id && root.shared && root.parent_id == Some(caller.parent_id),
            "{form}: service1 must join the caller's span {} (parent {}): {root:?}",
            caller.span_id,
            caller.parent_id
        );
    }
    Ok(())
}

/// `requests` concurrent requests give as many distinct traces, each whole in Zipkin.
pub async fn concurrent_requests(api: &ZipkinApi, requests: usize) -> anyhow::Result<()> {
    let mut chain = Chain::options(api.spans_endpoint())
        .time_scale(TIME_SCALE)
        .start()
        .await?;
    let url = chain.entry_url();
    let calls: Vec<_> = (0..requests)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { call(&url, &[]).await })
        })
        .collect();
    let mut trace_ids = BTreeSet::new();
    for answer in calls {
        trace_ids.insert(answer.await.context("a request task panicked")??);
    }
    chain.stop().await?;
    anyhow::ensure!(
        trace_ids.len() == requests,
        "{requests} requests made {} distinct traces",
        trace_ids.len()
    );
    for id in trace_ids {
        let trace = stored_article(api, id).await?;
        anyhow::ensure!(trace.server1.parent_id.is_none(), "trace {id} has no root");
    }
    Ok(())
}
