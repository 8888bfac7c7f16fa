//! Sampling by request: `SAMPLER_RULES` keeps a rate per route under load, never stores
//! health checks, and never overrides a caller that decided; a firehose receives every span
//! while the collector receives none. A service of the test's own, called in process at
//! 1,000 requests a second, reports through the real reporter to the stand-in collector.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::Request;
use itests::StandInCollector;
use tower::ServiceExt;
use zipkin_reporter::AsyncReporter;
use zipkin_tracing::{ProbabilitySampler, Tracer, ZipkinLayer, local_span};

const FLUSH: Duration = Duration::from_secs(10);

/// The test's service: `POST /orders` with a local span inside, `GET /health`, all traced.
fn app(tracer: Tracer) -> Router {
    Router::new()
        .route(
            "/orders",
            post(|| local_span("store_order", async { "stored" })),
        )
        .route("/health", get(|| async { "OK" }))
        .layer(ZipkinLayer::new(tracer))
}

/// Calls `app` in process; `b3`, if given, is the caller's single B3 header.
async fn call(app: &Router, method: &str, path: &str, b3: Option<&str>) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(b3) = b3 {
        request = request.header("b3", b3);
    }
    let request = request.body(Body::empty()).expect("a valid request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    assert!(
        response.status().is_success(),
        "{method} {path}: {}",
        response.status()
    );
}

/// A reporter to the stand-in, and settings with `rules` parsed as `SAMPLER_RULES` is.
async fn reporting(rules: &str) -> (StandInCollector, plumbing::TracingArgs, AsyncReporter) {
    let collector = StandInCollector::start().await.expect("the stand-in");
    let endpoint = collector
        .api()
        .spans_endpoint()
        .parse()
        .expect("an endpoint");
    let mut tracing = plumbing::TracingArgs::new(endpoint);
    tracing.sampler_rules = Some(rules.parse().expect("the rules parse"));
    let reporter = tracing.start_reporter().expect("a reporter");
    (collector, tracing, reporter)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_rule_keeps_its_rate_under_load_and_health_checks_store_nothing() {
    let (collector, tracing, reporter) = reporting("GET /health=0, POST /orders=10/s").await;
    let app = app(tracing.tracer("orders", reporter.clone()));

    // 1,000 requests a second for 3 s, one in ten a health check.
    let (mut orders, mut checks) = (0, 0);
    let mut ticks = tokio::time::interval(Duration::from_millis(1));
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        ticks.tick().await;
        if (orders + checks) % 10 == 9 {
            call(&app, "GET", "/health", None).await;
            checks += 1;
        } else {
            call(&app, "POST", "/orders", None).await;
            orders += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        orders + checks >= 2_700,
        "{} requests in {seconds:.2} s",
        orders + checks
    );
    assert!(reporter.flush(FLUSH).await, "the reporter flushes");
    // 10 a second for 3 s, and the one a full bucket holds at the start.
    let traces = collector.store().trace_count();
    assert!(
        (27..=33).contains(&traces),
        "{traces} traces stored of {orders} orders in {seconds:.2} s, expected 30 ± 3"
    );
    // Each stored trace is an order: its SERVER span and its local span, no health check.
    assert_eq!(
        collector.store().span_count(),
        2 * traces,
        "{checks} health checks"
    );
}

#[tokio::test]
async fn a_caller_that_decided_wins_over_every_rule() {
    let (collector, tracing, reporter) = reporting("GET /health=0, POST /orders=0/s").await;
    let app = app(tracing.tracer("orders", reporter.clone()));
    let sampled = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1";
    call(&app, "GET", "/health", Some(sampled)).await;
    let debug = "80f198ee56343ba864fe8b2a57d3eff8-e457b5a2e4d86bd2-d";
    call(&app, "POST", "/orders", Some(debug)).await;
    // A caller that left the decision to us gets the rule's: not sampled.
    call(
        &app,
        "POST",
        "/orders",
        Some("80f198ee56343ba8-e457b5a2e4d86bd3"),
    )
    .await;
    assert!(reporter.flush(FLUSH).await, "the reporter flushes");
    for trace in [
        "80f198ee56343ba864fe8b2a57d3eff7",
        "80f198ee56343ba864fe8b2a57d3eff8",
    ] {
        let stored = collector.store().trace(&trace.parse().expect("a trace id"));
        assert!(
            stored.is_some(),
            "the caller's sampled trace {trace} is stored"
        );
    }
    assert_eq!(collector.store().trace_count(), 2);
}

#[tokio::test]
async fn at_sample_rate_zero_a_firehose_receives_every_span_and_zipkin_none() {
    let (collector, _, reporter) = reporting("*=0").await;
    let (firehose_collector, _, firehose) = reporting("*=0").await;
    let tracer = Tracer::builder("orders")
        .sampler(ProbabilitySampler::never())
        .reporter(reporter.clone())
        .firehose(firehose.clone())
        .build();
    let app = app(tracer);
    for _ in 0..50 {
        call(&app, "POST", "/orders", None).await;
        call(&app, "GET", "/health", None).await;
    }
    assert!(reporter.flush(FLUSH).await && firehose.flush(FLUSH).await);
    assert_eq!(
        collector.store().span_count(),
        0,
        "nothing sampled reaches Zipkin"
    );
    let firehosed = firehose_collector.store();
    assert_eq!(
        (firehosed.trace_count(), firehosed.span_count()),
        (100, 150)
    );
}
