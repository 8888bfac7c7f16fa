//! `#[tracing::instrument]` spans in Zipkin, through the tracing bridge: the same tree as
//! `local_span` gives, in the stand-in collector and in the real Zipkin.
//!
//! Every test here installs the bridge as the process's global subscriber (the first
//! install wins, and each installs the same), so this file holds only bridge tests. The
//! real-Zipkin test needs the jar (`scripts/zipkin-server fetch`); with `CI=true` a
//! missing jar or Java fails it, elsewhere it prints one skip line and passes.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use itests::caller::call;
use itests::trace_source::describe_spans;
use itests::tree::{assert_child_of, assert_shared_pair, assert_within};
use itests::{
    ArticleTrace, Chain, NameMatch, Service, StandInCollector, TraceTree, ZipkinApi, ZipkinServer,
    wait_for_trace_within, zipkin_scenarios,
};
use zipkin_reporter::{AsyncReporter, ReporterConfig};
use zipkin_tracing::{
    Call, Kind, TraceId, TracedRequest, Tracer, TracingBridge, ZipkinLayer, current_context,
    local_span,
};

const TEST: &str = "tracing_bridge";
const TIME_SCALE: f64 = 0.01;
const DEADLINE: Duration = Duration::from_secs(20);

fn install_bridge() {
    plumbing::init_logging("warn", Some(TracingBridge::new())).expect("the log filter");
}

/// One request through the chain, db_search spelled with `#[instrument]`, reporting to
/// `api`; the article's six spans as stored, checked as in every other article test.
async fn instrumented_article(api: &ZipkinApi, binaries: bool) -> ArticleTrace {
    let mut options = Chain::options(api.spans_endpoint())
        .time_scale(TIME_SCALE)
        .instrument();
    if binaries {
        options = options.binaries();
    }
    let trace_id = options.one_request(&[]).await.expect("one request");
    let spans = wait_for_trace_within(api, trace_id, 6, DEADLINE)
        .await
        .expect("the article's six spans");
    let mut tree = TraceTree::new(spans);
    let trace = ArticleTrace::take(&mut tree);
    tree.finish();
    assert_recorded_by_the_bridge(&trace);
    trace
}

/// Only the `#[instrument]`ed db_search records its argument, so this fails if service2
/// timed db_search with `local_span` after all.
fn assert_recorded_by_the_bridge(trace: &ArticleTrace) {
    assert_eq!(
        trace.db_search.tag("time_scale"),
        Some(TIME_SCALE.to_string().as_str()),
        "{:?}",
        trace.db_search
    );
}

#[tokio::test]
async fn an_instrumented_db_search_is_the_articles_db_search_in_the_stand_in() {
    install_bridge();
    let collector = StandInCollector::start().await.unwrap();
    let trace = instrumented_article(collector.api(), false).await;
    trace.assert_timing(TIME_SCALE, Duration::from_secs(1));
}

#[tokio::test]
async fn the_service2_binary_records_db_search_with_instrument_when_asked() {
    let collector = StandInCollector::start().await.unwrap();
    instrumented_article(collector.api(), true).await;
}

#[tokio::test]
async fn zipkin_stores_an_instrumented_db_search_as_the_articles() {
    install_bridge();
    let Some(zipkin) = ZipkinServer::shared_or_skip(TEST).await else {
        return;
    };
    let api = zipkin.api();
    let scenario = async move {
        let trace_id = Chain::options(api.spans_endpoint())
            .time_scale(TIME_SCALE)
            .instrument()
            .one_request(&[])
            .await?;
        let trace = zipkin_scenarios::stored_article(&api, trace_id).await?;
        assert_recorded_by_the_bridge(&trace);
        Ok(())
    };
    zipkin
        .assert_scenario("an #[instrument]ed db_search", scenario)
        .await;
}

/// The front end's handler: an `#[instrument]`ed function around a `local_span` around a
/// traced call.
#[tracing::instrument(skip(back_end))]
async fn fetch_item(back_end: String, item: u32) -> String {
    local_span("prepare_call", async {
        let response = reqwest::Client::new()
            .get(format!("{back_end}/item?id={item}"))
            .send_traced_as(Call::named("GET /item"))
            .await
            .expect("the back end answers");
        response.text().await.expect("a body")
    })
    .await
}

/// A front end calling a back end, both traced, reporting to `endpoint`; the trace id of
/// one request through them.
async fn front_and_back(endpoint: &str) -> anyhow::Result<TraceId> {
    let back_reporter = AsyncReporter::start(ReporterConfig::http(endpoint.parse()?))?;
    let back_tracer = Tracer::builder("backend")
        .reporter(back_reporter.clone())
        .build();
    let back_app = Router::new()
        .route("/item", get(|| async { "item" }))
        .layer(ZipkinLayer::new(back_tracer));
    let back_server = plumbing::Server::traced("backend", back_app, back_reporter.clone());
    let mut back = Service::spawn("backend", back_server, back_reporter).await?;

    let front_reporter = AsyncReporter::start(ReporterConfig::http(endpoint.parse()?))?;
    let front_tracer = Tracer::builder("frontend")
        .reporter(front_reporter.clone())
        .build();
    let back_end = back.url();
    let front_app = Router::new()
        .route(
            "/",
            get(move || {
                let back_end = back_end.clone();
                async move {
                    let body = fetch_item(back_end, 42).await;
                    // The trace id for the test to look up, as service1 sends it.
                    let trace_id = current_context().map(|context| context.trace_id.to_string());
                    ([("x-trace-id", trace_id.unwrap_or_default())], body)
                }
            }),
        )
        .layer(ZipkinLayer::new(front_tracer));
    let front_server = plumbing::Server::traced("frontend", front_app, front_reporter.clone());
    let mut front = Service::spawn("frontend", front_server, front_reporter).await?;

    let trace_id = call(&format!("{}/", front.url()), &[]).await?;
    front.stop(Duration::from_secs(10)).await?;
    back.stop(Duration::from_secs(10)).await?;
    Ok(trace_id)
}

/// Checks the tree of [`front_and_back`]: SERVER → `fetch_item` (with its field as a tag)
/// → `prepare_call` → CLIENT = the back end's SERVER.
async fn assert_front_and_back(api: &ZipkinApi, trace_id: TraceId, names: NameMatch) {
    let spans = wait_for_trace_within(api, trace_id, 5, DEADLINE)
        .await
        .expect("the five spans are stored");
    let listing = describe_spans(&spans);
    let mut tree = TraceTree::new(spans).with_names(names);
    let server = tree.take("frontend", Some(Kind::Server), "GET /");
    let fetch = tree.take("frontend", None, "fetch_item");
    let prepare = tree.take("frontend", None, "prepare_call");
    let client = tree.take("frontend", Some(Kind::Client), "GET /item");
    let back = tree.take("backend", Some(Kind::Server), "GET /item");
    tree.finish();
    assert_eq!(server.parent_id, None, "{listing}");
    assert_child_of(&fetch, &server);
    assert_child_of(&prepare, &fetch);
    assert_child_of(&client, &prepare);
    assert_shared_pair(&client, &back);
    for (child, parent) in [(&fetch, &server), (&prepare, &fetch), (&client, &prepare)] {
        assert_within(child, parent);
    }
    assert_eq!(fetch.tag("item"), Some("42"), "{listing}");
}

#[tokio::test]
async fn an_instrumented_function_around_a_local_span_around_a_call_nests_in_the_stand_in() {
    install_bridge();
    let collector = StandInCollector::start().await.unwrap();
    let api = collector.api();
    let trace_id = front_and_back(&api.spans_endpoint()).await.unwrap();
    assert_front_and_back(api, trace_id, NameMatch::Exact).await;
}

#[tokio::test]
async fn an_instrumented_function_around_a_local_span_around_a_call_nests_in_zipkin() {
    install_bridge();
    let Some(zipkin) = ZipkinServer::shared_or_skip(TEST).await else {
        return;
    };
    let api = zipkin.api();
    let scenario = async move {
        let trace_id = front_and_back(&api.spans_endpoint()).await?;
        assert_front_and_back(&api, trace_id, NameMatch::IgnoreCase).await;
        Ok(())
    };
    zipkin
        .assert_scenario("#[instrument] around local_span around a call", scenario)
        .await;
}
