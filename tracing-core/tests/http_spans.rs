//! The axum layer and the reqwest client helper, end to end on loopback: parent links,
//! kinds, tags, shared spans, status and errors.

// Test helpers outside #[test] functions may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::{spawn_server, tracer};
use zipkin_tracing::{Call, Kind, Span, TraceContext, send_with};

fn one(spans: &[Span], kind: Option<Kind>) -> &Span {
    let matching: Vec<_> = spans.iter().filter(|s| s.kind == kind).collect();
    assert_eq!(
        matching.len(),
        1,
        "one {kind:?} span expected in {spans:#?}"
    );
    matching[0]
}

/// Calls `path` on a traced server from a traced client; returns the client's root
/// context and the spans of both sides.
async fn call(path: &str) -> (TraceContext, reqwest::StatusCode, Vec<Span>, Vec<Span>) {
    let (client_tracer, client_spans) = tracer("caller");
    let (server_tracer, server_spans) = tracer("callee");
    let base = spawn_server(server_tracer).await;
    let root = client_tracer.new_trace();
    let response = send_with(
        &client_tracer,
        Some(&root),
        Call::default(),
        reqwest::Client::new().get(format!("{base}{path}?q=secret")),
    )
    .await
    .unwrap();
    (
        root,
        response.status(),
        client_spans.spans(),
        server_spans.spans(),
    )
}

#[tokio::test]
async fn the_server_joins_the_client_span() {
    let (root, status, client, server) = call("/ok").await;
    assert_eq!(status, 200);
    let client_span = one(&client, Some(Kind::Client));
    let server_span = one(&server, Some(Kind::Server));
    let local = one(&server, None);

    assert_eq!(client_span.trace_id, root.trace_id);
    assert_eq!(client_span.parent_id, Some(root.span_id));
    assert_eq!(server_span.trace_id, root.trace_id);
    assert_eq!(server_span.id, client_span.id);
    assert_eq!(server_span.parent_id, client_span.parent_id);
    assert!(server_span.shared && !client_span.shared);
    assert_eq!(local.parent_id, Some(server_span.id));

    // The client knows no route: unnamed, its span is named by the method, never the path.
    assert_eq!(client_span.name.as_deref(), Some("GET"));
    assert_eq!(server_span.name.as_deref(), Some("GET /ok"));
    for span in [client_span, server_span] {
        assert_eq!(span.tag("http.method"), Some("GET"));
        assert_eq!(span.tag("http.path"), Some("/ok"), "no query string");
        assert_eq!(span.tag("http.status_code"), None);
        assert_eq!(span.tag("error"), None);
    }
    assert_eq!(client_span.service_name(), Some("caller"));
    assert_eq!(server_span.service_name(), Some("callee"));
    // Each side records the other's address.
    let server_remote = server_span.remote_endpoint.as_ref().unwrap();
    assert_eq!(server_remote.ipv4, Some(std::net::Ipv4Addr::LOCALHOST));
    assert!(server_remote.port.is_some());
    let client_remote = client_span.remote_endpoint.as_ref().unwrap();
    assert_eq!(client_remote.ipv4, Some(std::net::Ipv4Addr::LOCALHOST));
}

#[tokio::test]
async fn spans_are_named_by_route_not_by_path() {
    let (_, _, _, server) = call("/items/42").await;
    assert_eq!(
        one(&server, Some(Kind::Server)).name.as_deref(),
        Some("GET /items/{id}")
    );
    assert_eq!(
        one(&server, Some(Kind::Server)).tag("http.path"),
        Some("/items/42")
    );
}

#[tokio::test]
async fn a_5xx_is_tagged_on_both_sides() {
    let (_, status, client, server) = call("/fail").await;
    assert_eq!(status, 500);
    for span in [
        one(&client, Some(Kind::Client)),
        one(&server, Some(Kind::Server)),
    ] {
        assert_eq!(span.tag("http.status_code"), Some("500"));
        assert_eq!(span.tag("error"), Some("500"));
    }
}

#[tokio::test]
async fn a_handler_renames_tags_and_marks_its_server_span_and_its_error_outlives_the_status() {
    let (_, status, _, server) = call("/edited").await;
    assert_eq!(status, 500);
    let span = one(&server, Some(Kind::Server));
    assert_eq!(span.name.as_deref(), Some("reserve stock"));
    assert_eq!(span.tag("stock.sku"), Some("A-42"));
    assert_eq!(span.annotations[0].value, "stock checked");
    assert_eq!(
        span.tag("error"),
        Some("out of stock"),
        "not the status code"
    );
    assert_eq!(span.tag("http.status_code"), Some("500"));
}

#[tokio::test]
async fn a_spawned_task_is_under_the_request_only_when_its_span_is_carried() {
    let (_, _, _, server) = call("/spawned").await;
    let request = one(&server, Some(Kind::Server));
    let carried = one(&server, None);
    assert_eq!(carried.name.as_deref(), Some("carried"));
    assert_eq!(carried.parent_id, Some(request.id));
    // The task spawned without it ran untraced: no `not_carried` span at all.
    assert_eq!(server.len(), 2, "{server:?}");
}

#[tokio::test]
async fn the_health_route_is_not_traced() {
    let (_, status, client, server) = call("/health").await;
    assert_eq!(status, 200);
    assert_eq!(client.len(), 1, "the client still records its call");
    assert!(server.is_empty());
}

#[tokio::test]
async fn a_refused_connection_is_an_error_on_the_client_span() {
    let (tracer, spans) = tracer("caller");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let result = send_with(
        &tracer,
        None,
        Call::default(),
        reqwest::Client::new().get(format!("http://{closed}/x")),
    )
    .await;
    assert!(result.is_err());
    let spans = spans.spans();
    let client = one(&spans, Some(Kind::Client));
    assert_eq!(
        client.parent_id, None,
        "no parent: the client span starts a trace"
    );
    assert!(
        client
            .tag("error")
            .unwrap()
            .to_lowercase()
            .contains("refused"),
        "{client:?}"
    );
    assert_eq!(
        client.remote_endpoint.as_ref().unwrap().port,
        Some(closed.port())
    );
}

#[tokio::test]
async fn a_timeout_is_an_error_on_the_client_span() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let (tracer, spans) = tracer("caller");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let result = send_with(
        &tracer,
        None,
        Call::default(),
        client.get(format!("http://{address}/slow")),
    )
    .await;
    assert!(result.unwrap_err().is_timeout());
    let spans = spans.spans();
    assert!(
        one(&spans, Some(Kind::Client))
            .tag("error")
            .unwrap()
            .contains("timed out")
    );
    hold.abort();
}

#[tokio::test]
async fn unsampled_traces_propagate_and_report_nothing() {
    let (client_tracer, client_spans) = tracer("caller");
    let (server_tracer, server_spans) = tracer("callee");
    let base = spawn_server(server_tracer).await;
    let root = client_tracer.new_trace_with(zipkin_tracing::SamplingFlags::NOT_SAMPLED);
    let response = send_with(
        &client_tracer,
        Some(&root),
        Call::default(),
        reqwest::Client::new().get(format!("{base}/ok")),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert!(client_spans.spans().is_empty());
    assert!(server_spans.spans().is_empty());
}

#[tokio::test]
async fn debug_is_carried_to_every_span() {
    let (client_tracer, client_spans) = tracer("caller");
    let (server_tracer, server_spans) = tracer("callee");
    let base = spawn_server(server_tracer).await;
    let root = client_tracer.new_trace_with(zipkin_tracing::SamplingFlags::DEBUG);
    send_with(
        &client_tracer,
        Some(&root),
        Call::default(),
        reqwest::Client::new().get(format!("{base}/ok")),
    )
    .await
    .unwrap();
    let all: Vec<Span> = client_spans
        .spans()
        .into_iter()
        .chain(server_spans.spans())
        .collect();
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|s| s.debug), "{all:#?}");
}

/// A server span ends when the handler has produced the response head, not when a
/// streamed body has been sent: the client's span on the other side ends at that head too,
/// so the server's half of the shared span stays inside the client's.
#[tokio::test]
async fn a_server_span_ends_at_the_response_head_not_at_the_end_of_a_streamed_body() {
    use axum::body::Body;
    use tokio_stream::StreamExt as _;
    use tokio_stream::wrappers::ReceiverStream;

    const BODY_TIME: Duration = Duration::from_millis(300);
    let (server_tracer, server_spans) = support::tracer("callee");
    let app = axum::Router::new()
        .route(
            "/stream",
            axum::routing::get(|| async {
                let (chunks, receiver) = tokio::sync::mpsc::channel::<&'static str>(2);
                tokio::spawn(async move {
                    chunks.send("first ").await.unwrap();
                    tokio::time::sleep(BODY_TIME).await;
                    chunks.send("last").await.unwrap();
                });
                let stream = ReceiverStream::new(receiver).map(Ok::<_, std::convert::Infallible>);
                Body::from_stream(stream)
            }),
        )
        .layer(zipkin_tracing::ZipkinLayer::new(server_tracer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let started = std::time::Instant::now();
    let body = reqwest::get(format!("http://{address}/stream"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "first last");
    assert!(started.elapsed() >= BODY_TIME);
    let spans = server_spans
        .wait_for(1, Duration::from_secs(5))
        .await
        .expect("the server span");
    let duration = Duration::from_micros(spans[0].duration.unwrap());
    assert!(
        duration < BODY_TIME,
        "the span lasted {duration:?}, as long as the body"
    );
}

#[tokio::test]
async fn a_named_call_keeps_its_name_and_names_the_service_beside_its_address() {
    let (server_tracer, _) = tracer("callee");
    let (tracer, spans) = tracer("caller");
    let base = spawn_server(server_tracer).await;
    let call = Call::named("GET /items/{id}").remote_service("inventory");
    let request = reqwest::Client::new().get(format!("{base}/ok"));
    send_with(&tracer, None, call, request).await.unwrap();
    let spans = spans.spans();
    let client = one(&spans, Some(Kind::Client));
    assert_eq!(client.name.as_deref(), Some("GET /items/{id}"));
    let remote = client.remote_endpoint.as_ref().unwrap();
    assert_eq!(remote.service_name.as_deref(), Some("inventory"));
    assert_eq!(format!("http://127.0.0.1:{}", remote.port.unwrap()), base);
}
