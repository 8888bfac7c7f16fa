//! The article's chain against a real Zipkin (`openzipkin/zipkin` in a container), read
//! back through Zipkin's own query API, `GET /api/v2/trace/{traceId}`, with the same
//! collector-neutral helper `stand_in_collector.rs` uses against the stand-in collector.
//!
//! Needs a Docker daemon, so it is ignored by default:
//! `cargo test -p itests -- --ignored`.

use std::time::Duration;

use itests::trace_source::wait_until;
use itests::{ArticleTrace, Chain, NameMatch, TraceTree, ZipkinApi, wait_for_trace_within};
use testcontainers::core::{IntoContainerPort as _, WaitFor};
use testcontainers::runners::AsyncRunner as _;
use testcontainers::{GenericImage, ImageExt as _};

const TIME_SCALE: f64 = 0.01;
const ZIPKIN_PORT: u16 = 9411;

#[tokio::test]
#[ignore = "needs a Docker daemon: run with cargo test -p itests -- --ignored"]
async fn a_real_zipkin_stores_the_articles_trace() {
    let zipkin = GenericImage::new("openzipkin/zipkin", "3")
        .with_exposed_port(ZIPKIN_PORT.tcp())
        .with_wait_for(WaitFor::message_on_stdout("Started ZipkinServer"))
        .with_startup_timeout(Duration::from_secs(120))
        .start()
        .await
        .expect("Docker can start openzipkin/zipkin");
    let host = zipkin.get_host().await.unwrap();
    let port = zipkin.get_host_port_ipv4(ZIPKIN_PORT.tcp()).await.unwrap();
    let base = format!("http://{host}:{port}");
    let health = format!("{base}/health");
    wait_until("Zipkin's /health", Duration::from_secs(30), || async {
        match reqwest::get(&health).await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(format!("status {}", response.status())),
            Err(error) => Err(error.to_string()),
        }
    })
    .await
    .unwrap();

    let api = ZipkinApi::new(base);
    let mut chain = Chain::options(api.spans_endpoint())
        .time_scale(TIME_SCALE)
        .start()
        .await
        .unwrap();
    let response = reqwest::get(chain.entry_url()).await.unwrap();
    assert_eq!(response.status(), 200);
    let trace_id = itests::trace_id_of(&response).unwrap();
    chain.stop().await.unwrap();

    // Zipkin stores asynchronously even after accepting a POST: poll its query API.
    let spans = wait_for_trace_within(&api, trace_id, 6, Duration::from_secs(20))
        .await
        .unwrap();
    // Zipkin lowercases span names and service names on ingestion ("GET /" comes back
    // as "get /"), so names are compared ignoring case; ids, kinds, `shared`, timestamps,
    // durations and tags come back as sent and are compared exactly.
    let mut tree = TraceTree::new(spans).with_names(NameMatch::IgnoreCase);
    assert_eq!(tree.trace_id(), trace_id);
    let trace = ArticleTrace::take(&mut tree);
    tree.finish();
    assert_eq!(trace.server1.parent_id, None);
    trace.assert_timing(TIME_SCALE, Duration::from_secs(1));
}
