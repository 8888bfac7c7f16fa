//! A collector that accepts connections and never answers does not hurt the traced
//! services: requests answer as fast as with a working collector, the reporter's request
//! timeout ends every attempt, and while requests keep coming the reporters hold no more
//! spans than their queue (plus the one batch being sent), counting the rest as dropped.

// Tests may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use itests::latency::compare;
use itests::trace_source::wait_until;
use itests::{HangingCollector, MockCollector, TunedChain};
use zipkin_tracing::HttpReporterConfig;

/// Timed requests through each chain.
const ROUNDS: usize = 60;
/// Spans each service records per request (see the article's trace).
const SPANS_PER_SERVICE: u64 = 3;
const QUEUE_CAPACITY: usize = 20;
const BATCH_SIZE: usize = 5;
/// The reporter's limit on one POST: all a hanging collector can take from it.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(250);
/// How much longer than [`REQUEST_TIMEOUT`] an attempt may be seen to last on a busy
/// machine (the collector notes the hang-up when its task gets to run).
const HANG_UP_SLACK: Duration = Duration::from_secs(1);

/// A small queue, small batches and a short timeout, so the queue fills within the test.
fn short_timeouts(endpoint: String) -> HttpReporterConfig {
    HttpReporterConfig {
        queue_capacity: QUEUE_CAPACITY,
        batch_size: BATCH_SIZE,
        batch_interval: Duration::from_millis(20),
        request_timeout: REQUEST_TIMEOUT,
        retry_window: Duration::from_secs(1),
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        ..HttpReporterConfig::new(endpoint)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_collector_neither_slows_requests_nor_grows_the_queue() {
    let hanging = HangingCollector::start().await.unwrap();
    let collector = MockCollector::start().await;
    let healthy = TunedChain::start(&short_timeouts(collector.endpoint()), 0.0)
        .await
        .unwrap();
    let stuck = TunedChain::start(&short_timeouts(hanging.endpoint()), 0.0)
        .await
        .unwrap();
    let client = reqwest::Client::new();

    // After every pair of requests: how many spans each reporter holds, queued but neither
    // sent nor given up.
    let mut most_held = [0u64; 2];
    let comparison = compare(
        &client,
        &healthy.entry_url(),
        &stuck.entry_url(),
        ROUNDS,
        |_| {
            for (most, service) in most_held.iter_mut().zip(stuck.services()) {
                let stats = service.stats();
                let held = stats.queued.saturating_sub(stats.sent + stats.failed);
                *most = (*most).max(held);
            }
        },
    )
    .await
    .unwrap();
    comparison.assert_faulty_like_healthy();

    let recorded = SPANS_PER_SERVICE * ROUNDS as u64;
    let bound = (QUEUE_CAPACITY + BATCH_SIZE) as u64;
    for (most, service) in most_held.iter().zip(stuck.services()) {
        let name = service.name();
        assert!(
            *most <= bound,
            "{name}: the reporter held {most} spans at once, more than its queue of \
             {QUEUE_CAPACITY} plus one batch of {BATCH_SIZE}"
        );
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
        assert_eq!(stats.queued + stats.dropped, recorded, "{name}: {stats:?}");
        assert_eq!(stats.sent, 0, "{name}: {stats:?}");
        assert!(
            stats.dropped > 0,
            "{name}: {recorded} spans cannot fit a queue of {QUEUE_CAPACITY} that a \
             hanging collector drains one timed-out batch at a time: {stats:?}"
        );
    }

    // Each reporter gives up on an attempt after its request timeout, and tries again.
    let connections = wait_until(
        "the reporters to hang up on three connections",
        Duration::from_secs(10),
        || {
            let connections = hanging.connections();
            async move {
                let closed = connections.iter().filter(|c| c.closed.is_some()).count();
                if closed >= 3 {
                    Ok(connections)
                } else {
                    Err(format!("{closed} closed of {}", connections.len()))
                }
            }
        },
    )
    .await
    .unwrap();
    let longest = connections
        .iter()
        .map(itests::hanging_collector::HeldConnection::held_for)
        .max()
        .unwrap();
    assert!(
        longest <= REQUEST_TIMEOUT + HANG_UP_SLACK,
        "a reporter kept a connection to the hanging collector open for {longest:?}, \
         beyond its request timeout of {REQUEST_TIMEOUT:?}; connections: {connections:?}"
    );
}
