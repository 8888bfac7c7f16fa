//! A collector that answers 500 for a while and then recovers, within the reporters'
//! retry window, ends up with every span of every trace exactly once: the reporters retry
//! the failed batch, keep the later ones queued behind it, and send nothing twice.

// Tests may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use itests::collector_double::ACCEPTED;
use itests::trace_source::{describe_spans, wait_until};
use itests::{ArticleTrace, Chain, CollectorDouble, TraceTree, wait_for_trace};
use zipkin_reporter::ReporterConfig;
use zipkin_tracing::TraceId;

/// Requests during the outage; at 3 spans per service each, several batches of
/// [`BATCH_SIZE`] wait behind the one being retried.
const REQUESTS: usize = 6;
const BATCH_SIZE: usize = 4;
/// Failed reports each service must have seen before the collector recovers: the first
/// attempt and at least two retries.
const FAILURES_BEFORE_RECOVERY: usize = 3;

/// Quick retries and a retry window much longer than the outage.
fn quick_retries(endpoint: String) -> ReporterConfig {
    ReporterConfig {
        batch_size: BATCH_SIZE,
        batch_interval: Duration::from_millis(20),
        retry_window: Duration::from_secs(20),
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        ..ReporterConfig::http(endpoint.parse().unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_outage_within_the_retry_window_every_span_arrives_exactly_once() {
    let collector = CollectorDouble::answering(500).await;
    let chain = Chain::options(collector.endpoint())
        .reporter(quick_retries(collector.endpoint()))
        .start()
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let mut trace_ids = Vec::new();
    for _ in 0..REQUESTS {
        let response = client.get(chain.entry_url()).send().await.unwrap();
        assert_eq!(response.status(), 200, "requests succeed during the outage");
        trace_ids.push(itests::trace_id_of(&response).unwrap());
    }

    let failed = wait_until(
        "each service's reporter to be refused three times",
        Duration::from_secs(10),
        || {
            let reports = collector.reports();
            async move {
                let failed = failures_by_service(&reports.map_err(|e| format!("{e:#}"))?);
                let enough = ["service1", "service2"]
                    .iter()
                    .all(|name| failed.get(*name) >= Some(&FAILURES_BEFORE_RECOVERY));
                if enough {
                    Ok(failed)
                } else {
                    Err(format!("failed reports so far: {failed:?}"))
                }
            }
        },
    )
    .await
    .unwrap();
    assert!(
        collector.spans().unwrap().is_empty(),
        "nothing is stored during the outage"
    );
    collector.answer(ACCEPTED);

    for &id in &trace_ids {
        wait_for_trace(&collector, id, 6).await.unwrap();
    }
    assert!(
        chain.flush(Duration::from_secs(10)).await,
        "the reporters finish with every span"
    );

    // Exactly once: six spans per trace, the article's tree, nothing extra or repeated.
    let accepted = collector.spans().unwrap();
    assert_eq!(
        accepted.len(),
        6 * REQUESTS,
        "each span once, after {failed:?} failed reports:\n{}",
        describe_spans(&accepted)
    );
    for &id in &trace_ids {
        let spans: Vec<_> = accepted
            .iter()
            .filter(|span| span.trace_id == id)
            .cloned()
            .collect();
        let mut tree = TraceTree::new(spans);
        ArticleTrace::take(&mut tree);
        tree.finish();
    }
    assert_every_failed_span_was_redelivered(&collector, &trace_ids);
    for service in chain.services() {
        let stats = service.stats();
        let recorded = 3 * REQUESTS as u64;
        assert_eq!(
            (stats.queued, stats.sent, stats.dropped, stats.failed),
            (recorded, recorded, 0, 0),
            "{}: every span sent, none given up: {stats:?}",
            service.name()
        );
    }
}

/// How many failed reports came from each service (named by their spans).
fn failures_by_service(
    reports: &[itests::collector_double::ReceivedReport],
) -> BTreeMap<String, usize> {
    let mut failed = BTreeMap::new();
    for report in reports.iter().filter(|report| !report.accepted()) {
        let service = report
            .spans
            .first()
            .and_then(|span| span.service_name())
            .unwrap_or("?");
        *failed.entry(service.to_owned()).or_default() += 1;
    }
    failed
}

/// Panics unless each span the collector refused belongs to the test's traces and was
/// later accepted: the retries, not only later batches, delivered the traces.
#[track_caller]
fn assert_every_failed_span_was_redelivered(collector: &CollectorDouble, trace_ids: &[TraceId]) {
    let accepted = collector.spans().unwrap();
    let reports = collector.reports().unwrap();
    let refused: Vec<_> = reports
        .iter()
        .filter(|report| !report.accepted())
        .flat_map(|report| report.spans.iter())
        .collect();
    assert!(!refused.is_empty());
    for span in refused {
        assert!(trace_ids.contains(&span.trace_id), "{span:?}");
        assert!(
            accepted.contains(span),
            "a refused span was never delivered: {span:?}"
        );
    }
}
