//! service2 failing behind the real service1 binary: refusing connections, slower than
//! service1's `CLIENT_TIMEOUT_SECS`, or answering 503. service1 answers 502 or 504
//! promptly, and reports one well-formed trace of three spans: its SERVER span, tagged with
//! the status it answered, `service_1_do_stuff`, and the failed CLIENT span with an `error`.

// Tests may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use itests::tree::{assert_child_of, assert_duration, assert_within};
use itests::{Chain, CollectorDouble, TraceTree, free_port};
use reqwest::StatusCode;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use zipkin_tracing::{Kind, Span, SpanId};

/// service1's `CLIENT_TIMEOUT_SECS`: how long it waits for service2.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(300);
/// Room for a busy machine on top of every upper bound.
const SLACK: Duration = Duration::from_secs(5);
/// How long the slow stand-in holds its answer: far past the client timeout, and past the
/// 10 s default, so a timeout setting that is ignored shows as a late answer.
const STAND_IN_DELAY: Duration = Duration::from_secs(20);

/// What one request through a failing service2 gave.
struct Failed {
    status: StatusCode,
    body: String,
    elapsed: Duration,
    /// service1's spans, all of them: read after it exited, so nothing is still queued.
    spans: Vec<Span>,
    output: String,
}

/// Runs service1 (no sleeps) against `service2_url`, sends it one `GET /`, then stops it
/// with SIGTERM so that every span it recorded has reached the collector.
async fn request_through(service2_url: &str) -> Failed {
    let collector = CollectorDouble::start().await;
    let mut chain = Chain::options(collector.endpoint())
        .service2_url(service2_url)
        .client_timeout(CLIENT_TIMEOUT)
        .binaries()
        .start()
        .await
        .unwrap();

    let client = reqwest::Client::builder()
        .timeout(STAND_IN_DELAY)
        .build()
        .unwrap();
    let started = Instant::now();
    let response = client.get(chain.entry_url()).send().await.unwrap();
    let elapsed = started.elapsed();
    let status = response.status();
    let trace_id = itests::trace_id_of(&response).unwrap();
    let body = response.text().await.unwrap();

    chain.stop().await.unwrap();
    let spans = collector.spans().unwrap();
    assert!(
        spans.iter().all(|span| span.trace_id == trace_id),
        "spans of a trace other than x-trace-id {trace_id}:\n{}",
        itests::trace_source::describe_spans(&spans)
    );
    Failed {
        status,
        body,
        elapsed,
        spans,
        output: chain.service1.output(),
    }
}

/// Checks the answer and the whole trace: service1's SERVER span (the root, tagged with
/// `status`), `service_1_do_stuff` (whose `error` says what service2 did), and the CLIENT
/// span, whose `error` tag mentions `client_error`; nothing else. Returns the CLIENT span.
#[track_caller]
fn assert_failed_call(failed: Failed, status: StatusCode, client_error: &str) -> Span {
    assert_eq!(
        failed.status, status,
        "service1's status after this failure of service2; its body {:?}, its output:\n{}",
        failed.body, failed.output
    );
    assert!(
        failed.body.contains("service2"),
        "the answer names what failed: {:?}",
        failed.body
    );
    assert!(
        failed.elapsed <= CLIENT_TIMEOUT + SLACK,
        "service1 answered {status} only after {:?}",
        failed.elapsed
    );

    let mut tree = TraceTree::new(failed.spans);
    let root_id = tree.root().id;
    let server = tree.take("service1", Some(Kind::Server), "GET /");
    let work = tree.take("service1", None, "service_1_do_stuff");
    let client = tree.take("service1", Some(Kind::Client), "GET /service/");
    tree.finish();

    assert_eq!((server.id, server.parent_id), (root_id, None), "{server:?}");
    assert!(!server.shared, "{server:?}");
    assert_child_of(&work, &server);
    assert_child_of(&client, &work);
    assert_within(&work, &server);
    assert_within(&client, &work);
    let code = status.as_str();
    assert_eq!(server.tag("http.method"), Some("GET"), "{server:?}");
    assert_eq!(server.tag("http.path"), Some("/"), "{server:?}");
    assert_eq!(server.tag("http.status_code"), Some(code), "{server:?}");
    assert_eq!(server.tag("error"), Some(code), "{server:?}");
    let why = work.tag("error").unwrap_or_default();
    assert!(
        why.starts_with("service2 "),
        "do_stuff's Err marks its span: {work:?}"
    );
    assert_eq!(client.tag("http.method"), Some("GET"), "{client:?}");
    assert_eq!(client.tag("http.path"), Some("/service/"), "{client:?}");
    let error = client.tag("error").unwrap_or_default().to_lowercase();
    assert!(
        error.contains(client_error),
        "the CLIENT span's error tag should mention {client_error:?}: {client:?}"
    );
    client
}

/// A wiremock service2 whose `GET /service/` answers with `response`.
async fn stand_in(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/service/"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

/// Panics unless `stand_in` received exactly one call, made by the CLIENT span `client`.
async fn assert_called_once_by(stand_in: &MockServer, client: &Span) {
    let requests = stand_in.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let span_id: SpanId = requests[0].headers["x-b3-spanid"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(span_id, client.id, "the failed call is the CLIENT span's");
}

#[tokio::test]
async fn service2_refusing_connections_gives_502_and_a_client_span_with_an_error() {
    // A port nobody listens on: the connection is refused.
    let refused = format!("http://127.0.0.1:{}", free_port().unwrap());
    let failed = request_through(&refused).await;
    assert_failed_call(failed, StatusCode::BAD_GATEWAY, "refused");
}

#[tokio::test]
async fn service2_slower_than_the_client_timeout_gives_504_once_the_timeout_passes() {
    let slow = stand_in(ResponseTemplate::new(200).set_delay(STAND_IN_DELAY)).await;
    let failed = request_through(&slow.uri()).await;
    let elapsed = failed.elapsed;
    assert!(
        elapsed >= CLIENT_TIMEOUT,
        "service1 answered after {elapsed:?}, before its {CLIENT_TIMEOUT:?} timeout"
    );
    let client = assert_failed_call(failed, StatusCode::GATEWAY_TIMEOUT, "timed out");
    // The CLIENT span lasts the whole wait, and no longer than the timeout allows.
    assert_duration(&client, CLIENT_TIMEOUT, Some(CLIENT_TIMEOUT + SLACK));
    assert_called_once_by(&slow, &client).await;
}

#[tokio::test]
async fn service2_answering_503_gives_502_and_a_client_span_with_its_status() {
    let failing = stand_in(ResponseTemplate::new(503).set_body_string("overloaded")).await;
    let failed = request_through(&failing.uri()).await;
    let client = assert_failed_call(failed, StatusCode::BAD_GATEWAY, "503");
    assert_eq!(client.tag("http.status_code"), Some("503"), "{client:?}");
    assert_called_once_by(&failing, &client).await;
}
