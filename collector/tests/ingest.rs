//! `POST /api/v2/spans`: what is accepted (202), refused (400, 413, 415) and how.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{TRACE, post, post_gzip, post_ok, send, setup, span};
use serde_json::json;

const ID: &str = "a2fb4a1d1a96d312";

fn one(trace: &str, id: &str) -> serde_json::Value {
    json!([span(trace, id, None, "svc", "get /", 1_000, 10)])
}

#[tokio::test]
async fn a_span_list_is_accepted_and_stored() {
    let (collector, router) = setup(1 << 20, 100);
    let (status, body) = post(&router, one(TRACE, ID).to_string()).await;
    assert_eq!((status, body.as_str()), (StatusCode::ACCEPTED, ""));
    let stored = collector.trace(&TRACE.parse().unwrap()).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id.to_string(), ID);
    assert_eq!(stored[0].service_name(), Some("svc"));
}

#[tokio::test]
async fn an_empty_list_is_accepted() {
    let (collector, router) = setup(1 << 20, 100);
    assert_eq!(post(&router, "[]").await.0, StatusCode::ACCEPTED);
    assert_eq!(post(&router, " [ ]\n").await.0, StatusCode::ACCEPTED);
    assert_eq!(collector.span_count(), 0);
}

#[tokio::test]
async fn a_gzip_body_is_accepted() {
    let (collector, router) = setup(1 << 20, 100);
    let (status, body) = post_gzip(&router, one(TRACE, ID).to_string().as_bytes()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(collector.span_count(), 1);
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_span_and_field() {
    let (collector, router) = setup(1 << 20, 100);
    let good = span(TRACE, ID, None, "svc", "get /", 1_000, 10);
    let with = |field: &str, value: serde_json::Value| {
        let mut bad = good.clone();
        bad[field] = value;
        json!([good, bad]).to_string()
    };
    let without = |field: &str| {
        let mut bad = good.clone();
        bad.as_object_mut().unwrap().remove(field);
        json!([bad]).to_string()
    };
    let cases = [
        (
            "malformed JSON",
            "[{\"traceId\": ".to_owned(),
            "EOF while parsing",
        ),
        (
            "trailing garbage",
            "[] []".to_owned(),
            "trailing characters",
        ),
        ("not a list", good.to_string(), "expected a sequence"),
        ("empty body", String::new(), "EOF while parsing"),
        (
            "upper-case id",
            with("id", json!("A2FB4A1D1A96D312")),
            "span 1, field id: invalid id",
        ),
        (
            "short trace id",
            with("traceId", json!("463ac35c")),
            "span 1, field traceId: invalid id \"463ac35c\": expected 16 or 32",
        ),
        (
            "zero id",
            with("id", json!("0000000000000000")),
            "span 1, field id: invalid id \"0000000000000000\": an id of all zeros is invalid",
        ),
        (
            "zero parent id",
            with("parentId", json!("0000000000000000")),
            "span 1, field parentId: invalid id",
        ),
        (
            "id as a number",
            with("id", json!(12)),
            "span 1, field id: invalid type: integer `12`",
        ),
        (
            "unknown kind",
            with("kind", json!("SERVICE")),
            "span 1, field kind: unknown variant `SERVICE`",
        ),
        (
            "lower-case kind",
            with("kind", json!("client")),
            "span 1, field kind: unknown variant `client`",
        ),
        (
            "timestamp as a string",
            with("timestamp", json!("1000")),
            "span 1, field timestamp: invalid type: string",
        ),
        (
            "negative duration",
            with("duration", json!(-5)),
            "span 1, field duration: invalid value: integer `-5`",
        ),
        (
            "zero duration",
            with("duration", json!(0)),
            "span 1, field duration: must be at least 1 microsecond",
        ),
        (
            "non-string tag",
            with("tags", json!({"http.status_code": 500})),
            "span 1, field tags.\"http.status_code\": invalid type: integer `500`, expected a string",
        ),
        (
            "bad ipv4",
            with("localEndpoint", json!({"ipv4": "1.2.3"})),
            "span 1, field localEndpoint.ipv4: invalid IPv4",
        ),
        (
            "missing traceId",
            without("traceId"),
            "span 0: missing field `traceId`",
        ),
        ("missing id", without("id"), "span 0: missing field `id`"),
    ];
    for (case, body, expected) in cases {
        let (status, message) = post(&router, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {message}");
        assert!(
            message.starts_with("invalid span list: "),
            "{case}: {message}"
        );
        assert!(
            message.contains(expected),
            "{case}: {message:?} lacks {expected:?}"
        );
    }
    // A refused batch is refused whole: not even its good span is stored.
    assert_eq!(collector.span_count(), 0);
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    let (collector, router) = setup(64, 100);
    let big = format!("[{}]", " ".repeat(100));
    let (status, message) = post(&router, big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(message, "request body exceeds the limit of 64 bytes");
    // Exactly at the limit is fine.
    assert_eq!(
        post(&router, format!("[{}]", " ".repeat(62))).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(collector.span_count(), 0);
}

#[tokio::test]
async fn a_gzip_bomb_is_a_413() {
    let limit = 64 << 10;
    let (_collector, router) = setup(limit, 100);
    // 16 MiB of spaces compress to about 16 KiB: under the limit on the wire, far over it
    // inflated.
    let bomb = format!("[{}]", " ".repeat(16 << 20));
    let squeezed = common::gzip(bomb.as_bytes());
    assert!(squeezed.len() < limit);
    let request = Request::post("/api/v2/spans")
        .header("content-encoding", "gzip")
        .body(Body::from(squeezed.clone()))
        .unwrap();
    let (status, message) = send(&router, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        message,
        format!("request body exceeds the limit of {limit} bytes once decompressed")
    );
    assert!(matches!(
        collector::gunzip(&squeezed, limit),
        Err(collector::IngestError::InflatesTooLarge(l)) if l == limit
    ));
    // Exactly the limit, inflated, is fine.
    let fits = format!("[{}]", " ".repeat(limit - 2));
    assert_eq!(
        post_gzip(&router, fits.as_bytes()).await.0,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn encodings_other_than_gzip_and_json_are_refused() {
    let (_collector, router) = setup(1 << 20, 100);
    let request = |name: &str, value: &str, body: &'static str| {
        Request::post("/api/v2/spans")
            .header(name, value)
            .body(Body::from(body))
            .unwrap()
    };
    let (status, message) = send(&router, request("content-encoding", "gzip", "[]")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("invalid gzip body"), "{message}");
    let (status, message) = send(&router, request("content-encoding", "br", "[]")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(message.contains("\"br\""), "{message}");
    let (status, _) = send(
        &router,
        request("content-type", "application/x-protobuf", ""),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // No Content-Type at all is read as JSON, as Zipkin does.
    let (status, _) = send(
        &router,
        Request::post("/api/v2/spans")
            .body(Body::from("[]"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn other_methods_are_a_405() {
    let (_collector, router) = setup(1 << 20, 100);
    for method in ["PUT", "DELETE", "PATCH"] {
        let request = Request::builder()
            .method(method)
            .uri("/api/v2/spans")
            .body(Body::from("[]"))
            .unwrap();
        assert_eq!(
            send(&router, request).await.0,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
    }
    let request = Request::post("/api/v2/services")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&router, request).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn zero_timestamps_and_ports_count_as_absent() {
    let (collector, router) = setup(1 << 20, 100);
    let mut zeroed = span(TRACE, ID, None, "svc", "get /", 0, 10);
    zeroed["localEndpoint"]["port"] = json!(0);
    post_ok(&router, &json!([zeroed])).await;
    let stored = &collector.trace(&TRACE.parse().unwrap()).unwrap()[0];
    assert_eq!(stored.timestamp, None);
    assert_eq!(stored.local_endpoint.as_ref().unwrap().port, None);
}

#[test]
fn no_input_makes_the_decoder_panic() {
    // Every prefix of a valid body, and a few hostile ones: errors, never panics.
    let valid = one(TRACE, ID).to_string();
    for end in 0..valid.len() {
        let _ = collector::decode_spans(&valid.as_bytes()[..end]);
    }
    let deep = "[".repeat(100_000);
    assert!(collector::decode_spans(deep.as_bytes()).is_err());
    assert!(collector::decode_spans(&[0xff, 0xfe, 0x00]).is_err());
}
