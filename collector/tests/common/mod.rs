//! Helpers shared by the collector's HTTP tests: one request through the router, and
//! span JSON to post.
#![allow(dead_code)] // Each test file uses a different subset.

use std::io::Write;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use collector::{Collector, CollectorConfig, app};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const TRACE: &str = "463ac35c9f6413ad48485a3953bb6124";
pub const OTHER_TRACE: &str = "0000000000000001";

/// A collector with small limits and the router in front of it.
pub fn setup(body_limit: usize, max_spans: usize) -> (Collector, Router) {
    let collector = Collector::new(CollectorConfig {
        body_limit,
        max_spans,
        ..CollectorConfig::default()
    });
    let router = app(collector.clone());
    (collector, router)
}

/// Sends one request through a clone of `router`; returns the status and body text.
pub async fn send(router: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// `GET uri`, answered as JSON when 200.
pub async fn get(router: &Router, uri: &str) -> (StatusCode, String) {
    send(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

/// `GET uri`, which must answer 200, parsed as JSON.
pub async fn get_json(router: &Router, uri: &str) -> Value {
    let (status, body) = get(router, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// `POST /api/v2/spans` with a JSON body.
pub async fn post(router: &Router, body: impl Into<Body>) -> (StatusCode, String) {
    let request = Request::post("/api/v2/spans")
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap();
    send(router, request).await
}

/// `POST /api/v2/spans` with `json`, which must be accepted.
pub async fn post_ok(router: &Router, json: &Value) {
    let (status, body) = post(router, json.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

/// `POST /api/v2/spans` with a gzip body.
pub async fn post_gzip(router: &Router, bytes: &[u8]) -> (StatusCode, String) {
    let request = Request::post("/api/v2/spans")
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(Body::from(gzip(bytes)))
        .unwrap();
    send(router, request).await
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// One span as JSON: `ts` and `duration` in microseconds.
pub fn span(
    trace: &str,
    id: &str,
    parent: Option<&str>,
    service: &str,
    name: &str,
    ts: u64,
    duration: u64,
) -> Value {
    let mut span = json!({
        "traceId": trace,
        "id": id,
        "name": name,
        "timestamp": ts,
        "duration": duration,
        "localEndpoint": { "serviceName": service },
    });
    if let Some(parent) = parent {
        span["parentId"] = json!(parent);
    }
    span
}

/// Start of the article's trace, in epoch microseconds (2023-11-14).
pub const T0: u64 = 1_700_000_000_000_000;

/// The article's six-span trace (described in the README) at 1/1000 of its real timings, so the root
/// lasts 7.003 ms: service1 calls service2, whose server span joins the client's span.
pub fn article_trace(trace: &str) -> Value {
    let mut client = span(
        trace,
        "a000000000000003",
        Some("a000000000000002"),
        "service1",
        "GET /service/",
        T0 + 2_001,
        4_000,
    );
    client["kind"] = json!("CLIENT");
    client["tags"] = json!({"http.method": "GET", "http.path": "/service/"});
    let mut server = span(
        trace,
        "a000000000000003",
        Some("a000000000000002"),
        "service2",
        "GET /service/",
        T0 + 2_002,
        3_998,
    );
    server["kind"] = json!("SERVER");
    server["shared"] = json!(true);
    server["tags"] = json!({"http.method": "GET", "http.path": "/service/"});
    let mut root = span(
        trace,
        "a000000000000001",
        None,
        "service1",
        "GET /",
        T0,
        7_003,
    );
    root["kind"] = json!("SERVER");
    json!([
        span(
            trace,
            "b000000000000005",
            Some("b000000000000004"),
            "service2",
            "db_search",
            T0 + 4_003,
            2_001
        ),
        server,
        root,
        client,
        span(
            trace,
            "b000000000000004",
            Some("a000000000000003"),
            "service2",
            "service_2_do_stuff",
            T0 + 2_003,
            3_996
        ),
        span(
            trace,
            "a000000000000002",
            Some("a000000000000001"),
            "service1",
            "service_1_do_stuff",
            T0 + 1,
            6_001
        ),
    ])
}

/// One HTTP/1.1 request over a real socket, without an HTTP client dependency; returns the
/// status code and the body.
pub async fn raw_http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}
