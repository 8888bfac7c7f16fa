//! `POST /api/v2/spans` with JSON: what is accepted (202), refused (400, 413, 415) and how.
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
async fn an_empty_list_or_body_is_accepted_and_stores_nothing() {
    let (collector, router) = setup(1 << 20, 100);
    // Zipkin answers an empty body 202, and ignores what follows the list.
    for body in ["[]", "[ ]\n", "", "[] []", "[]]"] {
        assert_eq!(
            post(&router, body).await.0,
            StatusCode::ACCEPTED,
            "{body:?}"
        );
    }
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
            "not a list",
            good.to_string(),
            "top level: expected a JSON list of spans",
        ),
        (
            "white space before the list",
            format!(" {}", json!([good])),
            "top level: expected a JSON list of spans",
        ),
        (
            "a list of lists",
            "[[]]".to_owned(),
            "span 0: expected a span object",
        ),
        (
            "upper-case id",
            with("id", json!("A2FB4A1D1A96D312")),
            "span 1, field id: \"A2FB4A1D1A96D312\" is not lower-case hex",
        ),
        (
            "33-digit trace id",
            with("traceId", json!("1".repeat(33))),
            "span 1, field traceId: \"111111111111111111111111111111111\" is longer than 32 digits",
        ),
        (
            "zero id",
            with("id", json!("0000000000000000")),
            "span 1, field id: \"0000000000000000\" is all zeros",
        ),
        (
            "zero trace id",
            with("traceId", json!("000")),
            "span 1, field traceId: \"000\" is all zeros",
        ),
        (
            "empty parent id",
            with("parentId", json!("")),
            "span 1, field parentId: is empty",
        ),
        (
            "id as true",
            with("id", json!(true)),
            "span 1, field id: expected text, got true",
        ),
        (
            "unknown kind",
            with("kind", json!("SERVICE")),
            "span 1, field kind: unknown kind \"SERVICE\"",
        ),
        (
            "lower-case kind",
            with("kind", json!("client")),
            "span 1, field kind: unknown kind \"client\"",
        ),
        (
            "fractional timestamp",
            with("timestamp", json!(1.5)),
            "span 1, field timestamp: expected a whole number, got 1.5",
        ),
        (
            "debug as text",
            with("debug", json!("true")),
            "span 1, field debug: expected true or false",
        ),
        (
            "null tag",
            with("tags", json!({"http.status_code": null})),
            "span 1, field tags.\"http.status_code\": expected text, got null",
        ),
        (
            "tags as a list",
            with("tags", json!([])),
            "span 1, field tags: expected an object",
        ),
        (
            "annotation without a value",
            with("annotations", json!([{"timestamp": 1}])),
            "span 1, field annotations.0: needs a timestamp and a value",
        ),
        (
            "port above 65535",
            with("localEndpoint", json!({"port": 70_000})),
            "span 1, field localEndpoint.port: invalid port 70000",
        ),
        (
            "missing traceId",
            without("traceId"),
            "span 0, field traceId: is required",
        ),
        ("missing id", without("id"), "span 0, field id: is required"),
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
async fn encodings_other_than_gzip_and_types_other_than_json_and_protobuf_are_refused() {
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
    let (status, _) = send(&router, request("content-type", "application/x-thrift", "")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Protobuf is read as proto3 (ingest_proto3.rs); an empty body is an empty list.
    let (status, _) = send(
        &router,
        request("content-type", "application/x-protobuf", ""),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
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

/// What Zipkin 3.6.1 stores of one field (checked against the jar), beside what was sent.
#[tokio::test]
async fn what_zipkin_takes_is_stored_as_zipkin_stores_it() {
    let good = span(TRACE, ID, None, "svc", "get /", 1_000, 10);
    let cases = [
        (
            "traceId",
            json!("abc"),
            "traceId",
            json!("0000000000000abc"),
        ),
        (
            "traceId",
            json!("1234567890abcdef123456"),
            "traceId",
            json!("00000000001234567890abcdef123456"),
        ),
        (
            "traceId",
            json!("00000000000000001234567890abcdef"),
            "traceId",
            json!("1234567890abcdef"),
        ),
        ("traceId", json!(123), "traceId", json!("0000000000000123")),
        ("id", json!("1"), "id", json!("0000000000000001")),
        ("parentId", json!(12), "parentId", json!("0000000000000012")),
        ("parentId", json!("0"), "parentId", json!(null)),
        ("parentId", json!(ID), "parentId", json!(null)),
        ("name", json!(5), "name", json!("5")),
        ("name", json!(""), "name", json!(null)),
        ("timestamp", json!("1700"), "timestamp", json!(1700)),
        ("timestamp", json!(1e3), "timestamp", json!(1000)),
        ("timestamp", json!(-5), "timestamp", json!(null)),
        ("duration", json!(0), "duration", json!(null)),
        ("duration", json!(-1), "duration", json!(null)),
        ("kind", json!(null), "kind", json!(null)),
        ("tags", json!({"code": 500}), "tags", json!({"code": "500"})),
        (
            "localEndpoint",
            json!({"serviceName": "svc", "ipv4": "nope", "port": -1}),
            "localEndpoint",
            json!({"serviceName": "svc"}),
        ),
        (
            "localEndpoint",
            json!({"ipv4": "::1", "ipv6": "::ffff:10.0.0.2", "port": "80"}),
            "localEndpoint",
            json!({"ipv4": "10.0.0.2", "ipv6": "::1", "port": 80}),
        ),
        (
            "localEndpoint",
            json!({"serviceName": ""}),
            "localEndpoint",
            json!(null),
        ),
        (
            "annotations",
            json!([{"timestamp": 2, "value": 3}, {"timestamp": 1, "value": "a"}, {"timestamp": 1, "value": "a"}]),
            "annotations",
            json!([{"timestamp": 1, "value": "a"}, {"timestamp": 2, "value": "3"}]),
        ),
        ("shared", json!(true), "shared", json!(true)),
        (
            "unknown",
            json!({"deep": [1, null]}),
            "unknown",
            json!(null),
        ),
    ];
    for (field, sent, stored_field, stored) in cases {
        // A collector of its own per case: the same span twice would be merged.
        let (collector, router) = setup(1 << 20, 100);
        let mut span = good.clone();
        span[field] = sent.clone();
        let (status, message) = post(&router, json!([span]).to_string()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{field}: {sent}: {message}");
        let trace = match (stored_field, stored.as_str()) {
            ("traceId", Some(id)) => id,
            _ => TRACE,
        };
        let kept = collector.trace(&trace.parse().unwrap()).unwrap();
        let kept = serde_json::to_value(&kept[0]).unwrap();
        assert_eq!(kept[stored_field], stored, "{field}: {sent}: kept {kept}");
    }
    // `shared` on a client is dropped, as Zipkin drops it.
    let (collector, router) = setup(1 << 20, 100);
    let mut client = good.clone();
    client["id"] = json!("c1");
    client["kind"] = json!("CLIENT");
    client["shared"] = json!(true);
    post_ok(&router, &json!([client])).await;
    let kept = collector.trace(&TRACE.parse().unwrap()).unwrap();
    let client = kept
        .iter()
        .find(|span| span.id.to_string() == "00000000000000c1")
        .unwrap();
    assert!(!client.shared);
}

/// What Zipkin stores but the span model cannot hold is refused, naming why.
#[tokio::test]
async fn what_the_span_model_cannot_hold_is_refused() {
    let (collector, router) = setup(1 << 20, 100);
    let good = span(TRACE, ID, None, "svc", "get /", 1_000, 10);
    for (field, value, reason) in [
        ("id", json!("000"), "is zero"),
        (
            "traceId",
            json!("10000000000000000000000000000000"),
            "low 64 bits are zeros",
        ),
        (
            "annotations",
            json!([{"timestamp": -1, "value": "x"}]),
            "below zero",
        ),
    ] {
        let mut span = good.clone();
        span[field] = value;
        let (status, message) = post(&router, json!([span]).to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}");
        assert!(message.contains(reason), "{field}: {message}");
    }
    assert_eq!(collector.span_count(), 0);
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
