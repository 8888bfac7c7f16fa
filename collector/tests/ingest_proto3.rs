//! `POST /api/v2/spans` with `Content-Type: application/x-protobuf`: a proto3 `ListOfSpans`
//! (Brave's `PROTO3`, py_zipkin's `V2_PROTO3`), plain or gzip. Field by field decoding is
//! tested beside the decoder; here, the HTTP answers.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{gzip, send, setup};

/// One span, written out by hand as zipkin.proto lays it out: trace id and span id (field
/// 1 and 3, 8 bytes each), then the name (field 5), inside field 1 of the list.
fn one_span() -> Vec<u8> {
    let mut span = vec![0x0a, 8, 0x46, 0x3a, 0xc3, 0x5c, 0x9f, 0x64, 0x13, 0xad];
    span.extend([0x1a, 8, 0xa2, 0xfb, 0x4a, 0x1d, 0x1a, 0x96, 0xd3, 0x12]);
    span.extend([0x2a, 5]);
    span.extend(b"GET /");
    let mut list = vec![0x0a, u8::try_from(span.len()).unwrap()];
    list.extend(span);
    list
}

async fn post(router: &axum::Router, gzipped: bool, body: Vec<u8>) -> (StatusCode, String) {
    let mut request =
        Request::post("/api/v2/spans").header("content-type", "application/x-protobuf");
    let body = if gzipped {
        request = request.header("content-encoding", "gzip");
        gzip(&body)
    } else {
        body
    };
    send(router, request.body(Body::from(body)).unwrap()).await
}

#[tokio::test]
async fn a_proto3_list_is_stored_plain_or_gzip() {
    let (collector, router) = setup(1 << 20, 100);
    for gzipped in [false, true] {
        let (status, message) = post(&router, gzipped, one_span()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{message}");
    }
    let stored = collector
        .trace(&"463ac35c9f6413ad".parse().unwrap())
        .unwrap();
    assert_eq!(stored.len(), 1, "the same span twice is one span");
    assert_eq!(stored[0].id.to_string(), "a2fb4a1d1a96d312");
    assert_eq!(stored[0].name.as_deref(), Some("GET /"));
}

#[tokio::test]
async fn a_bad_proto3_body_is_a_400_with_a_reason() {
    let (collector, router) = setup(1 << 20, 100);
    let mut truncated = one_span();
    truncated.truncate(12);
    for (body, says) in [
        (b"[]".to_vec(), "expected a proto3 list of spans"),
        (truncated, "malformed proto3"),
    ] {
        let (status, message) = post(&router, false, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{message}");
        assert!(message.contains(says), "{message}");
    }
    let (status, message) = post(&router, true, b"\x0a\x05\xff".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{message}");
    assert_eq!(collector.span_count(), 0);
}
