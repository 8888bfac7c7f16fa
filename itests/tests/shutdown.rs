//! SIGTERM to the real binaries while requests are in flight: both services stop accepting,
//! finish every request they hold (each answers 200), deliver the spans of those requests
//! before they exit, and exit 0 promptly. With the collector down, the final flush gives up
//! after `FLUSH_TIMEOUT`, so the exit is still 0 and still bounded.

// Tests may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use itests::trace_source::{describe_spans, wait_until};
use itests::{ArticleTrace, Chain, CollectorDouble, TraceTree, free_port};
use plumbing::FLUSH_TIMEOUT;
use zipkin_tracing::{Span, TraceId};

/// The article's 7 s of sleeps become 1.75 s: long enough to signal mid-request.
const TIME_SCALE: f64 = 0.25;
/// How long one request takes at [`TIME_SCALE`], at least.
const REQUEST_TIME: Duration = Duration::from_millis(1750);
/// Requests in flight when the signal arrives.
const IN_FLIGHT: usize = 4;
/// Room for a busy machine on top of every upper bound.
const SLACK: Duration = Duration::from_secs(10);

/// What the test saw of one shutdown.
struct Shutdown {
    /// The status and trace id of each in-flight request, in the order they were sent.
    answers: Vec<(reqwest::StatusCode, Option<TraceId>)>,
    /// The time from the SIGTERMs to each service's exit: service1's, then service2's.
    exits: [Duration; 2],
    /// Spans at the collector when the signals were sent.
    spans_before: usize,
    /// Both services' output, for failure messages.
    output: String,
}

/// Starts service2 and service1 reporting to `zipkin_endpoint`, sends [`IN_FLIGHT`]
/// requests, SIGTERMs both services once every request is inside service2 (each still has
/// about a second to go in both), and waits for both to exit 0 within `exit_bound`.
async fn sigterm_with_requests_in_flight(
    zipkin_endpoint: &str,
    spans_now: impl AsyncFn() -> usize,
    exit_bound: Duration,
) -> Shutdown {
    let mut chain = Chain::options(zipkin_endpoint)
        .time_scale(TIME_SCALE)
        .binaries()
        .start()
        .await
        .unwrap();

    let client = reqwest::Client::new();
    let requests: Vec<_> = (0..IN_FLIGHT)
        .map(|_| tokio::spawn(client.get(chain.entry_url()).send()))
        .collect();
    // service2 logs each request it starts handling: once all are there, every request is
    // in flight in both services, with about a second of work left.
    let service2 = chain.service2.as_ref().unwrap();
    let handling = || service2.output().matches("handling GET /service/").count();
    wait_until("every request to reach service2", SLACK, || {
        let seen = handling();
        async move {
            if seen >= IN_FLIGHT {
                Ok(())
            } else {
                Err(format!("{seen} of {IN_FLIGHT} requests"))
            }
        }
    })
    .await
    .unwrap();
    let spans_before = spans_now().await;

    let signalled = Instant::now();
    let Chain { service1, service2 } = &mut chain;
    let service2 = service2.as_mut().unwrap();
    service1.terminate().unwrap();
    service2.terminate().unwrap();
    let mut exits = [Duration::ZERO; 2];
    for (exit, service) in exits.iter_mut().zip([service1, service2]) {
        service
            .wait_stopped(exit_bound)
            .await
            .unwrap_or_else(|error| panic!("{} did not exit cleanly: {error:#}", service.name()));
        *exit = signalled.elapsed();
    }

    let mut answers = Vec::new();
    for request in requests {
        let response = request
            .await
            .unwrap()
            .expect("an in-flight request gets an answer");
        answers.push((response.status(), itests::trace_id_of(&response).ok()));
    }
    Shutdown {
        answers,
        exits,
        spans_before,
        output: chain.describe_output(),
    }
}

/// Panics unless every in-flight request answered 200 and both exits came within `bound`.
#[track_caller]
fn assert_requests_finished_and_exits_bounded(shutdown: &Shutdown, bound: Duration) {
    for (index, (status, _)) in shutdown.answers.iter().enumerate() {
        assert_eq!(
            *status,
            reqwest::StatusCode::OK,
            "in-flight request {index} was not finished before the exit:\n{}",
            shutdown.output
        );
    }
    for (name, exit) in ["service1", "service2"].iter().zip(shutdown.exits) {
        assert!(
            exit <= bound,
            "{name} exited {exit:?} after SIGTERM, later than {bound:?}:\n{}",
            shutdown.output
        );
    }
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_and_flushes_their_spans_before_exiting() {
    let collector = CollectorDouble::start().await;
    let bound = REQUEST_TIME + SLACK;
    let spans_now = async || collector.spans().unwrap().len();
    let shutdown = sigterm_with_requests_in_flight(&collector.endpoint(), spans_now, bound).await;
    assert_requests_finished_and_exits_bounded(&shutdown, bound);
    assert_eq!(
        shutdown.spans_before, 0,
        "no span had finished when the signals were sent, so only the shutdown can send them"
    );

    // Both processes are gone: every span they will ever send has arrived.
    let spans = collector.spans().unwrap();
    let mut traces: BTreeMap<TraceId, Vec<Span>> = BTreeMap::new();
    for span in &spans {
        traces.entry(span.trace_id).or_default().push(span.clone());
    }
    let answered: BTreeSet<TraceId> = shutdown.answers.iter().filter_map(|a| a.1).collect();
    assert_eq!(
        answered.len(),
        IN_FLIGHT,
        "each request answered with its own trace id"
    );
    assert_eq!(
        traces.keys().copied().collect::<BTreeSet<_>>(),
        answered,
        "the collector holds exactly the traces of the in-flight requests:\n{}\n{}",
        describe_spans(&spans),
        shutdown.output
    );
    for (trace_id, spans) in traces {
        let listing = describe_spans(&spans);
        assert_eq!(
            spans.len(),
            6,
            "trace {trace_id} is incomplete after the exit: the shutdown lost spans:\n{listing}"
        );
        let mut tree = TraceTree::new(spans);
        let trace = ArticleTrace::take(&mut tree);
        tree.finish();
        // Full-length spans: the requests ran to the end rather than being cut short.
        trace.assert_timing(TIME_SCALE, SLACK);
    }
}

#[tokio::test]
async fn sigterm_with_the_collector_down_still_finishes_requests_and_exits_0_in_bounded_time() {
    // A port nobody listens on: every report is refused.
    let endpoint = format!("http://127.0.0.1:{}/api/v2/spans", free_port().unwrap());
    let bound = FLUSH_TIMEOUT + REQUEST_TIME + SLACK;
    let shutdown = sigterm_with_requests_in_flight(&endpoint, async || 0, bound).await;
    assert_requests_finished_and_exits_bounded(&shutdown, bound);
    for (index, (_, trace_id)) in shutdown.answers.iter().enumerate() {
        assert!(trace_id.is_some(), "request {index} has no x-trace-id");
    }
}
