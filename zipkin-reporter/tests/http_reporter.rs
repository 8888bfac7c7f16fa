//! The HTTP reporter against a mock collector: batching, headers, flush, retries, 4xx,
//! a full queue and a collector that is down.

// Test helpers outside #[test] functions may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read as _;
use std::time::Duration;

use common::span;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};
use zipkin_reporter::{AsyncReporter, HttpCompression, ReporterConfig};
use zipkin_tracing::{FinishedSpan, Report as _, Span};

fn config(server: &MockServer) -> ReporterConfig {
    ReporterConfig {
        initial_backoff: Duration::from_millis(10),
        ..ReporterConfig::http(format!("{}/api/v2/spans", server.uri()).parse().unwrap())
    }
}

fn decode(requests: &[Request]) -> Vec<Vec<Span>> {
    requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("a JSON list of spans"))
        .collect()
}

async fn accepting_collector() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/spans"))
        .and(header("content-type", "application/json"))
        .and(header("b3", "0"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn spans_arrive_in_batches_of_at_most_100_and_flush_sends_them_now() {
    let server = accepting_collector().await;
    let reporter = AsyncReporter::start(ReporterConfig {
        // Without flush, the last batch would wait a minute.
        batch_interval: Duration::from_secs(60),
        ..config(&server)
    })
    .unwrap();
    let sent: Vec<FinishedSpan> = (0..250).map(|_| span()).collect();
    for span in &sent {
        reporter.report(span.clone());
    }
    assert!(
        reporter.flush(Duration::from_secs(10)).await,
        "flush timed out"
    );

    let batches = decode(&server.received_requests().await.unwrap());
    assert!(batches.len() >= 3, "{} batches", batches.len());
    assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= 100));
    // Several POSTs are in flight at once, so batches may arrive in any order.
    let key = |span: &Span| (span.trace_id, span.id);
    let mut received: Vec<Span> = batches.into_iter().flatten().collect();
    received.sort_by_key(key);
    let mut sent: Vec<Span> = sent.into_iter().map(FinishedSpan::into_span).collect();
    sent.sort_by_key(key);
    assert_eq!(received, sent, "every span once");
    let stats = reporter.stats();
    assert_eq!(
        (stats.queued, stats.sent, stats.dropped, stats.failed),
        (250, 250, 0, 0)
    );
}

#[tokio::test]
async fn a_full_batch_is_sent_at_once_without_waiting_for_the_interval() {
    let server = accepting_collector().await;
    let reporter = AsyncReporter::start(ReporterConfig {
        batch_interval: Duration::from_secs(60),
        ..config(&server)
    })
    .unwrap();
    for _ in 0..100 {
        reporter.report(span());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while reporter.stats().sent < 100 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a full batch waited for the interval: {:?}",
            reporter.stats()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let batches = decode(&server.received_requests().await.unwrap());
    let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100]);
}

#[tokio::test]
async fn a_lone_span_is_sent_after_the_batch_interval_without_flush() {
    let server = accepting_collector().await;
    let reporter = AsyncReporter::start(ReporterConfig {
        batch_interval: Duration::from_millis(50),
        ..config(&server)
    })
    .unwrap();
    reporter.report(span());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while reporter.stats().sent == 0 {
        assert!(tokio::time::Instant::now() < deadline, "never sent");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_5xx_408_or_429_is_retried_until_the_collector_recovers_and_each_span_arrives_once() {
    for status in [503, 429, 408] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status))
            .up_to_n_times(2)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(202))
            .mount(&server)
            .await;
        let reporter = AsyncReporter::start(config(&server)).unwrap();
        let sent = span();
        reporter.report(sent.clone());
        assert!(reporter.flush(Duration::from_secs(10)).await, "{status}");

        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.len(), 3, "{status}: two failures, then success");
        let accepted = decode(&requests[2..]);
        assert_eq!(accepted, vec![vec![sent.into_span()]], "{status}");
        let stats = reporter.stats();
        assert_eq!((stats.sent, stats.failed), (1, 0), "{status}");
    }
}

#[tokio::test]
async fn a_4xx_drops_that_batch_and_later_batches_still_go() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string("bad span"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let reporter = AsyncReporter::start(config(&server)).unwrap();
    reporter.report(span());
    assert!(reporter.flush(Duration::from_secs(10)).await);
    reporter.report(span());
    assert!(reporter.flush(Duration::from_secs(10)).await);

    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "no retry of a 4xx"
    );
    let stats = reporter.stats();
    assert_eq!((stats.sent, stats.failed), (1, 1));
}

#[tokio::test]
async fn when_the_collector_is_down_flush_gives_up_at_its_deadline() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let reporter = AsyncReporter::start(ReporterConfig {
        retry_window: Duration::from_millis(300),
        initial_backoff: Duration::from_millis(10),
        ..ReporterConfig::http(format!("http://{closed}/api/v2/spans").parse().unwrap())
    })
    .unwrap();
    let started = std::time::Instant::now();
    reporter.report(span());
    // Within the retry window flush cannot succeed; after it, the batch is given up.
    assert!(!reporter.flush(Duration::from_millis(50)).await);
    assert!(reporter.flush(Duration::from_secs(10)).await);
    assert!(started.elapsed() < Duration::from_secs(5));
    let stats = reporter.stats();
    assert_eq!((stats.sent, stats.failed), (0, 1));
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_instead_of_waiting() {
    // A collector that accepts connections and never answers holds the first batch.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (accepted_tx, mut accepted_rx) = tokio::sync::mpsc::channel(8);
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
            let _ = accepted_tx.send(()).await;
        }
    });
    let reporter = AsyncReporter::start(ReporterConfig {
        queue_capacity: 4,
        batch_interval: Duration::from_millis(1),
        request_timeout: Duration::from_secs(60),
        ..ReporterConfig::http(format!("http://{address}/api/v2/spans").parse().unwrap())
    })
    .unwrap();
    reporter.report(span());
    accepted_rx.recv().await.expect("the reporter connects");

    let started = std::time::Instant::now();
    for _ in 0..10 {
        reporter.report(span());
    }
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "report never waits"
    );
    // The span in the held batch counts against the capacity until it is sent or given
    // up: three more fit, seven are dropped.
    let stats = reporter.stats();
    assert_eq!((stats.queued, stats.dropped), (4, 7), "{stats:?}");
    hold.abort();
}

#[test]
fn a_zero_size_is_refused_at_start() {
    let error = AsyncReporter::start(ReporterConfig {
        queue_capacity: 0,
        ..ReporterConfig::http("http://127.0.0.1:9411/api/v2/spans".parse().unwrap())
    })
    .unwrap_err();
    assert_eq!(error.to_string(), "queue capacity must be at least 1");
}

#[test]
fn the_reporter_starts_and_takes_spans_outside_any_tokio_runtime() {
    // Its sending thread brings its own runtime, so a plain thread can report.
    let reporter = AsyncReporter::start(ReporterConfig::http(
        "http://127.0.0.1:9/api/v2/spans".parse().unwrap(),
    ))
    .unwrap();
    reporter.report(span());
    assert_eq!(reporter.stats().queued, 1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Nothing listens on the discard port: the span is retried, so flush gives up.
    assert!(!runtime.block_on(reporter.flush(Duration::from_millis(50))));
}

#[tokio::test]
async fn extra_headers_go_with_every_post() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/spans"))
        .and(header("authorization", "Bearer abc"))
        .and(header("x-scope-orgid", "team-a"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let reporter = AsyncReporter::start(ReporterConfig {
        http_headers: "Authorization=Bearer%20abc,X-Scope-OrgID=team-a"
            .parse()
            .unwrap(),
        batch_size: 2,
        ..config(&server)
    })
    .unwrap();
    for _ in 0..5 {
        reporter.report(span());
    }
    assert!(reporter.flush(Duration::from_secs(10)).await);
    // A POST without the headers would match no mock: wiremock answers it 404, a refusal.
    let stats = reporter.stats();
    assert_eq!((stats.sent, stats.failed), (5, 0));
    assert!(server.received_requests().await.unwrap().len() >= 3);
}

#[tokio::test]
async fn gzip_bodies_say_so_and_inflate_to_the_spans() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/spans"))
        .and(header("content-encoding", "gzip"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let reporter = AsyncReporter::start(ReporterConfig {
        http_compression: HttpCompression::Gzip,
        ..config(&server)
    })
    .unwrap();
    let sent: Vec<FinishedSpan> = (0..30).map(|_| span()).collect();
    for span in &sent {
        reporter.report(span.clone());
    }
    assert!(reporter.flush(Duration::from_secs(10)).await);
    let mut arrived = Vec::new();
    let mut compressed = 0;
    for request in server.received_requests().await.unwrap() {
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(&request.body[..])
            .read_to_end(&mut json)
            .expect("a gzip body");
        compressed += request.body.len();
        let spans: Vec<Span> = serde_json::from_slice(&json).expect("a JSON list of spans");
        arrived.extend(spans);
    }
    let mut expected: Vec<Span> = sent.into_iter().map(FinishedSpan::into_span).collect();
    let key = |span: &Span| (span.trace_id, span.id);
    expected.sort_by_key(key);
    arrived.sort_by_key(key);
    assert_eq!(arrived, expected);
    let plain = serde_json::to_vec(&expected).unwrap().len();
    assert!(compressed < plain, "{compressed} bytes gzip, {plain} plain");
}
