//! A tiny queue in front of a stalled collector: once it is full, each further span is
//! dropped and counted, never waited for, and requests through the chain stay as prompt
//! as with a working collector.

// Tests may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use itests::collector_double::Answer;
use itests::latency::{compare, timed_get};
use itests::trace_source::wait_until;
use itests::{Chain, CollectorDouble};
use zipkin_reporter::ReporterConfig;

const QUEUE_CAPACITY: usize = 5;
/// One span per batch: each stalled attempt holds exactly one span.
const BATCH_SIZE: usize = 1;
/// POSTs an `AsyncReporter` keeps in flight at once, at most (its HTTP transport's limit).
const IN_FLIGHT: usize = 4;
/// Timed requests through each chain, after the first one that stalls the reporters.
const ROUNDS: usize = 40;
/// Spans each service records per request (see the article's trace).
const SPANS_PER_SERVICE: u64 = 3;

/// A tiny queue, and a request timeout far beyond the test, so the first attempt stalls.
fn tiny_queue(endpoint: String) -> ReporterConfig {
    ReporterConfig {
        queue_capacity: QUEUE_CAPACITY,
        batch_size: BATCH_SIZE,
        request_timeout: Duration::from_secs(600),
        ..ReporterConfig::http(endpoint.parse().unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts_the_excess_while_requests_stay_prompt() {
    let stalled = CollectorDouble::answering(Answer::Hang).await;
    let collector = CollectorDouble::start().await;
    let healthy = Chain::options(collector.endpoint())
        .reporter(tiny_queue(collector.endpoint()))
        .start()
        .await
        .unwrap();
    let stuck = Chain::options(stalled.endpoint())
        .reporter(tiny_queue(stalled.endpoint()))
        .start()
        .await
        .unwrap();
    let client = reqwest::Client::new();

    // The first request's spans go out at once and stall in each reporter's POSTs.
    timed_get(&client, &stuck.entry_url()).await.unwrap();
    wait_until(
        "both reporters to connect to the stalled collector",
        Duration::from_secs(10),
        || {
            let connected = stalled.connections().len();
            async move {
                if connected >= 2 {
                    Ok(())
                } else {
                    Err(format!("{connected} connections"))
                }
            }
        },
    )
    .await
    .unwrap();

    let comparison = compare(
        &client,
        &healthy.entry_url(),
        &stuck.entry_url(),
        ROUNDS,
        |_| {},
    )
    .await
    .unwrap();
    comparison.assert_faulty_like_healthy();

    let recorded = SPANS_PER_SERVICE * (1 + ROUNDS) as u64;
    // The stalled batch counts against the capacity until it is sent or given up.
    let held = QUEUE_CAPACITY as u64;
    for service in stuck.services() {
        let name = service.name();
        let stats = wait_until(
            &format!("{name}'s reporter to take or drop all {recorded} spans"),
            Duration::from_secs(10),
            || {
                let stats = service.stats();
                async move {
                    if stats.queued + stats.dropped >= recorded {
                        Ok(stats)
                    } else {
                        Err(format!("{stats:?}"))
                    }
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(
            (stats.queued, stats.dropped, stats.sent, stats.failed),
            (held, recorded - held, 0, 0),
            "{name}: {QUEUE_CAPACITY} spans, the stalled batches included, are kept, every \
             other span is dropped and counted: {stats:?}"
        );
    }
    let connections = stalled.connections().len();
    assert!(
        (2..=2 * IN_FLIGHT).contains(&connections),
        "each reporter is still stuck in its first attempts, at most {IN_FLIGHT} of them: \
         {connections} connections"
    );
}
