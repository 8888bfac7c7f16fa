//! The real-Zipkin scenarios of `real_zipkin.rs` against the `openzipkin/zipkin`
//! container instead of the jar: the image users run with `docker compose up` stores and
//! answers the same.
//!
//! Needs a Docker daemon, so it is ignored by default:
//! `cargo test -p itests -- --ignored`.

use std::time::Duration;

use itests::trace_source::wait_until;
use itests::{ZipkinApi, zipkin_queries, zipkin_scenarios};
use testcontainers::core::IntoContainerPort as _;
use testcontainers::runners::AsyncRunner as _;
use testcontainers::{GenericImage, ImageExt as _};

const ZIPKIN_PORT: u16 = 9411;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Docker daemon: run with cargo test -p itests -- --ignored"]
async fn the_zipkin_container_stores_and_answers_like_the_jar() {
    // Zipkin 3.6 logs no "Started ZipkinServer" line, so readiness is /health below.
    let zipkin = GenericImage::new("openzipkin/zipkin", "3")
        .with_exposed_port(ZIPKIN_PORT.tcp())
        .with_startup_timeout(Duration::from_secs(120))
        .start()
        .await
        .expect("Docker can start openzipkin/zipkin");
    let host = zipkin.get_host().await.unwrap();
    let port = zipkin.get_host_port_ipv4(ZIPKIN_PORT.tcp()).await.unwrap();
    let base = format!("http://{host}:{port}");
    let health = format!("{base}/health");
    wait_until("Zipkin's /health", Duration::from_secs(120), || async {
        match reqwest::get(&health).await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(format!("status {}", response.status())),
            Err(error) => Err(error.to_string()),
        }
    })
    .await
    .unwrap();

    // One after the other: the dependency count is exact only while nothing else runs,
    // since it counts every call in its time window.
    let api = ZipkinApi::new(base);
    zipkin_queries::dependencies(&api, 3).await.unwrap();
    zipkin_scenarios::article_chain(&api).await.unwrap();
    zipkin_scenarios::propagation(&api).await.unwrap();
    zipkin_scenarios::concurrent_requests(&api, 100)
        .await
        .unwrap();
    zipkin_queries::query_api(&api).await.unwrap();
}
