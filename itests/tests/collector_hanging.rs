//! A collector that accepts connections and never answers does not hurt the traced
//! services: requests answer as fast as with a working collector while the reporters hang,
//! time out and retry; the request timeout ends every attempt; and while requests keep
//! coming the reporters hold no more spans than their queue plus the one batch being sent,
//! counting the rest as dropped.

// Tests may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use itests::collector_double::{Answer, HeldConnection};
use itests::latency::compare_while;
use itests::trace_source::wait_until;
use itests::{Chain, CollectorDouble};
use zipkin_reporter::ReporterConfig;

/// Timed requests through each chain once the reporters have timed out, at least...
const MIN_ROUNDS: usize = 60;
/// ... and more until the reporters have hung up on this many attempts (together: with the
/// settings below, each reporter gives its first batch up after three attempts, in about
/// a second, and tries the next one)...
const ATTEMPTS_CUT_OFF: usize = 8;
/// ... which must happen within this time (an attempt lasts the timeout of 250 ms, and a
/// batch is retried for 1 s).
const DEADLINE: Duration = Duration::from_secs(10);
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
fn short_timeouts(endpoint: String) -> ReporterConfig {
    ReporterConfig {
        queue_capacity: QUEUE_CAPACITY,
        batch_size: BATCH_SIZE,
        batch_interval: Duration::from_millis(20),
        request_timeout: REQUEST_TIMEOUT,
        retry_window: Duration::from_secs(1),
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        ..ReporterConfig::http(endpoint.parse().unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_collector_neither_slows_requests_nor_grows_the_queue() {
    let hanging = CollectorDouble::answering(Answer::Hang).await;
    let collector = CollectorDouble::start().await;
    let healthy = Chain::options(collector.endpoint())
        .reporter(short_timeouts(collector.endpoint()))
        .start()
        .await
        .unwrap();
    let stuck = Chain::options(hanging.endpoint())
        .reporter(short_timeouts(hanging.endpoint()))
        .start()
        .await
        .unwrap();
    let client = reqwest::Client::new();

    // While the reporters' first attempt hangs, then for at least MIN_ROUNDS more, until
    // they have hung up on a few attempts: requests meet the hang, the timeouts, the
    // backoff and the retries, each phase measured on its own.
    let (healthy_url, stuck_url) = (healthy.entry_url(), stuck.entry_url());
    let mut most_held = [0u64; 2];
    let started = Instant::now();
    let first_hang = compare_while(&client, &healthy_url, &stuck_url, |_| {
        observe(&stuck, &hanging, &mut most_held, started) == 0
    })
    .await
    .unwrap();
    first_hang.assert_faulty_like_healthy();
    let retrying = compare_while(&client, &healthy_url, &stuck_url, |round| {
        let cut_off = observe(&stuck, &hanging, &mut most_held, started);
        round + 1 < MIN_ROUNDS || cut_off < ATTEMPTS_CUT_OFF
    })
    .await
    .unwrap();
    retrying.assert_faulty_like_healthy();

    let requests = first_hang.faulty.len() + retrying.faulty.len();
    let recorded = SPANS_PER_SERVICE * requests as u64;
    // The batch being delivered counts against the capacity too.
    let bound = QUEUE_CAPACITY as u64;
    for (most, service) in most_held.iter().zip(stuck.services()) {
        let name = service.name();
        assert!(
            *most <= bound,
            "{name}: the reporter held {most} spans at once, more than its capacity of \
             {QUEUE_CAPACITY}"
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

    // Each attempt ended at the request timeout: none was held open longer.
    let connections = hanging.connections();
    let longest = connections
        .iter()
        .map(HeldConnection::held_for)
        .max()
        .unwrap();
    assert!(
        longest <= REQUEST_TIMEOUT + HANG_UP_SLACK,
        "a reporter kept a connection to the hanging collector open for {longest:?}, \
         beyond its request timeout of {REQUEST_TIMEOUT:?}; connections: {connections:?}"
    );
}

/// Notes in `most_held` how many spans each reporter holds (queued, neither sent nor given
/// up) and returns how many attempts the reporters have hung up on so far; fails
/// [`DEADLINE`] after `started`.
#[track_caller]
fn observe(
    stuck: &Chain,
    hanging: &CollectorDouble,
    most_held: &mut [u64; 2],
    started: Instant,
) -> usize {
    for (most, service) in most_held.iter_mut().zip(stuck.services()) {
        let stats = service.stats();
        let held = stats.queued.saturating_sub(stats.sent + stats.failed);
        *most = (*most).max(held);
    }
    let cut_off = hanging
        .connections()
        .iter()
        .filter(|connection| connection.closed.is_some())
        .count();
    assert!(
        started.elapsed() < DEADLINE,
        "after {DEADLINE:?}, the reporters have hung up on {cut_off} connections to the \
         hanging collector; their request timeout is {REQUEST_TIMEOUT:?}"
    );
    cut_off
}
