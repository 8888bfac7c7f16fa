//! The article's chain against the real Zipkin server, run from its jar by Java 17: what
//! Zipkin stores and what its query API answers, read back through its own API.
//!
//! Needs the jar (`scripts/zipkin-server fetch`). With `CI=true` a missing jar or Java
//! fails these tests; elsewhere each prints one line saying it was skipped, and passes.
//! The same scenarios run against the container in `zipkin_container.rs`.

use itests::{Chain, ZipkinServer, warning_lines, zipkin_queries, zipkin_scenarios};
use zipkin_reporter::{HttpCompression, ReporterConfig};

const TEST: &str = "real_zipkin";

#[tokio::test]
async fn zipkin_stores_the_articles_whole_tree() {
    let Some(zipkin) = ZipkinServer::shared_or_skip(TEST).await else {
        return;
    };
    let api = zipkin.api();
    let scenario = async move { zipkin_scenarios::article_chain(&api).await };
    zipkin
        .assert_scenario("the article's chain", scenario)
        .await;
}

#[tokio::test]
async fn zipkin_keeps_the_callers_ids_from_both_b3_forms_and_widths() {
    let Some(zipkin) = ZipkinServer::shared_or_skip(TEST).await else {
        return;
    };
    let api = zipkin.api();
    let scenario = async move { zipkin_scenarios::propagation(&api).await };
    zipkin.assert_scenario("B3 propagation", scenario).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_requests_are_a_hundred_whole_traces_in_zipkin() {
    let Some(zipkin) = ZipkinServer::shared_or_skip(TEST).await else {
        return;
    };
    let api = zipkin.api();
    let scenario = async move { zipkin_scenarios::concurrent_requests(&api, 100).await };
    zipkin
        .assert_scenario("100 concurrent requests", scenario)
        .await;
}

#[tokio::test]
async fn zipkins_query_api_finds_the_trace_by_service_span_name_duration_and_time() {
    let Some(zipkin) = ZipkinServer::shared_or_skip(TEST).await else {
        return;
    };
    let api = zipkin.api();
    let scenario = async move { zipkin_queries::query_api(&api).await };
    zipkin.assert_scenario("the query API", scenario).await;
}

#[tokio::test]
async fn zipkin_links_service1_to_service2_once_per_request() {
    // A Zipkin of its own: any other test's request would add to the count.
    let Some(zipkin) = ZipkinServer::start_or_skip(TEST, &[]).await else {
        return;
    };
    let api = zipkin.api();
    let scenario = async move { zipkin_queries::dependencies(&api, 3).await };
    zipkin
        .assert_scenario("the dependency link", scenario)
        .await;
}

#[tokio::test]
async fn the_service_binaries_report_the_article_to_zipkin_without_a_warning() {
    let Some(zipkin) = ZipkinServer::shared_or_skip(TEST).await else {
        return;
    };
    let api = zipkin.api();
    let scenario = async move {
        // Configured through the environment only, as a user runs them (TIME_SCALE=0).
        let mut chain = Chain::options(api.spans_endpoint())
            .binaries()
            .start()
            .await?;
        let id = itests::caller::call(&chain.entry_url(), &[]).await?;
        // SIGTERM flushes what the reporters still hold; exit 0 means it all went out.
        chain.stop().await?;
        let output = chain.describe_output();
        // A batch Zipkin rejected (400) would have been logged as a warning.
        anyhow::ensure!(
            warning_lines(&output).is_empty(),
            "the services warned:\n{output}"
        );
        let trace = zipkin_scenarios::stored_article(&api, id).await?;
        anyhow::ensure!(trace.server1.parent_id.is_none(), "{:?}", trace.server1);
        Ok(())
    };
    zipkin
        .assert_scenario("the binaries' chain", scenario)
        .await;
}

#[tokio::test]
async fn zipkin_stores_the_article_from_gzip_compressed_batches() {
    let Some(zipkin) = ZipkinServer::shared_or_skip(TEST).await else {
        return;
    };
    let api = zipkin.api();
    let scenario = async move {
        let endpoint = api.spans_endpoint();
        let config = ReporterConfig {
            http_compression: HttpCompression::Gzip,
            ..ReporterConfig::http(endpoint.parse()?)
        };
        let trace = Chain::options(&endpoint)
            .reporter(config)
            .one_request(&[])
            .await?;
        zipkin_scenarios::stored_article(&api, trace)
            .await
            .map(drop)
    };
    zipkin
        .assert_scenario("the article over gzip", scenario)
        .await;
}
