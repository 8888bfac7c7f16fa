//! A collector that rejects a report with 400 makes the real binaries drop that batch
//! (no retry: sending it again cannot help) and log a warning saying so, and the batches
//! of later requests still reach the collector once it accepts again.

// Tests may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use itests::collector_double::{ACCEPTED, ReceivedReport};
use itests::trace_source::wait_until;
use itests::{ArticleTrace, Chain, CollectorDouble, TraceTree, wait_for_trace, warning_lines};
use zipkin_tracing::TraceId;

/// Long enough for both services' first batch (sent after the default 1 s batch interval)
/// on a busy machine.
const DEADLINE: Duration = Duration::from_secs(10);

async fn request(chain: &Chain) -> TraceId {
    let response = reqwest::get(chain.entry_url()).await.unwrap();
    assert_eq!(response.status(), 200, "{}", chain.describe_output());
    itests::trace_id_of(&response).unwrap()
}

/// How many spans of `trace` the collector received, whatever it answered.
fn received_of(reports: &[ReceivedReport], trace: TraceId) -> usize {
    reports
        .iter()
        .flat_map(|report| &report.spans)
        .filter(|span| span.trace_id == trace)
        .count()
}

#[tokio::test]
async fn a_rejected_batch_is_dropped_and_logged_and_later_batches_still_go() {
    let collector = CollectorDouble::answering(400).await;
    let chain = Chain::options(collector.endpoint())
        .binaries()
        .start()
        .await
        .unwrap();

    let rejected = request(&chain).await;
    wait_until(
        "both services to report the first trace's six spans",
        DEADLINE,
        || {
            let reports = collector.reports();
            async move {
                let received = received_of(&reports.map_err(|e| format!("{e:#}"))?, rejected);
                if received >= 6 {
                    Ok(())
                } else {
                    Err(format!("{received} spans received"))
                }
            }
        },
    )
    .await
    .unwrap();
    collector.answer(ACCEPTED);

    let accepted = request(&chain).await;
    let spans = wait_for_trace(&collector, accepted, 6).await.unwrap();
    let mut tree = TraceTree::new(spans);
    ArticleTrace::take(&mut tree);
    tree.finish();

    // Each reporter sends its batches one after another, so a retry of the rejected batch
    // would have come before the later trace did.
    let reports = collector.reports().unwrap();
    assert_eq!(
        received_of(&reports, rejected),
        6,
        "the rejected spans are sent once, never retried: {reports:#?}"
    );
    assert!(
        reports
            .iter()
            .filter(|report| report.accepted())
            .all(|report| report.spans.iter().all(|span| span.trace_id != rejected)),
        "the rejected trace was never stored: {reports:#?}"
    );

    for service in chain.services() {
        let (name, output) = (service.name(), service.output());
        let warnings = warning_lines(&output);
        assert_eq!(
            warnings.len(),
            1,
            "{name} logs the rejected batch once, and nothing else:\n{output}"
        );
        assert!(
            warnings[0].contains("rejected") && warnings[0].contains("400"),
            "{name}'s warning says the collector rejected the batch, and how: {}",
            warnings[0]
        );
    }
}
