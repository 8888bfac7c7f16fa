//! `POST /api/v1/spans`: v1 spans (py_zipkin's `V1_JSON`) stored as the v2 spans Zipkin
//! 3.6.1 makes of them, by the rules of its `V1SpanConverter`.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use collector::decode_v1_spans;
use common::{TRACE, gzip, send, setup};
use serde_json::{Value, json};
use zipkin_tracing::{Kind, Span};

const ID: &str = "a2fb4a1d1a96d312";
const PARENT: &str = "0f00000000000001";

fn endpoint(service: &str, port: u16) -> Value {
    json!({"serviceName": service, "ipv4": "127.0.0.1", "port": port})
}

fn note(value: &str, timestamp: u64, service: &str, port: u16) -> Value {
    json!({"value": value, "timestamp": timestamp, "endpoint": endpoint(service, port)})
}

fn tag(key: &str, value: Value, service: &str, port: u16) -> Value {
    json!({"key": key, "value": value, "endpoint": endpoint(service, port)})
}

/// A v1 span of the article's call from service1 (port 5000) to service2 (port 6000).
fn v1(annotations: Vec<Value>, binary: Vec<Value>) -> Value {
    json!({"traceId": TRACE, "id": ID, "parentId": PARENT, "name": "GET /service/",
        "annotations": annotations, "binaryAnnotations": binary})
}

fn decode(spans: Value) -> Vec<Span> {
    decode_v1_spans(spans.to_string().as_bytes()).unwrap()
}

fn service(span: &Span) -> &str {
    span.service_name().unwrap_or("")
}

#[test]
fn both_halves_in_one_span_become_a_client_and_a_shared_server() {
    let spans = decode(json!([v1(
        vec![
            note("cs", 1_000, "service1", 5000),
            note("sr", 1_100, "service2", 6000),
            note("ss", 1_800, "service2", 6000),
            note("cr", 2_000, "service1", 5000),
        ],
        vec![
            tag("http.path", json!("/service/"), "service1", 5000),
            tag("sa", json!(true), "service2", 6000),
            tag("ca", json!(true), "service1", 5000),
        ],
    )]));
    assert_eq!(spans.len(), 2, "{spans:?}");
    let (client, server) = (&spans[0], &spans[1]);
    assert_eq!(
        (client.kind, service(client)),
        (Some(Kind::Client), "service1")
    );
    assert_eq!(
        (client.timestamp, client.duration),
        (Some(1_000), Some(1_000))
    );
    assert!(!client.shared);
    assert_eq!(client.tags["http.path"], "/service/");
    let remote = client.remote_endpoint.as_ref().unwrap();
    assert_eq!(
        (remote.service_name.as_deref(), remote.port),
        (Some("service2"), Some(6000))
    );
    assert_eq!(
        (server.kind, service(server)),
        (Some(Kind::Server), "service2")
    );
    assert_eq!(
        (server.timestamp, server.duration),
        (Some(1_100), Some(700))
    );
    assert!(server.shared);
    let remote = server.remote_endpoint.as_ref().unwrap();
    assert_eq!(remote.service_name.as_deref(), Some("service1"));
    for span in &spans {
        assert_eq!(span.id.to_string(), ID);
        assert_eq!(span.parent_id.unwrap().to_string(), PARENT);
        assert!(span.annotations.is_empty(), "core annotations are consumed");
    }
}

#[tokio::test]
async fn halves_reported_apart_are_stored_as_one_shared_pair() {
    // py_zipkin: the callee sends its half without the span's timestamp (it does not own
    // the span), the caller sends its half with it.
    let (collector, router) = setup(1 << 20, 100);
    let server = v1(
        vec![
            note("sr", 1_100, "service2", 6000),
            note("ss", 1_800, "service2", 6000),
        ],
        vec![tag("http.method", json!("GET"), "service2", 6000)],
    );
    let mut client = v1(
        vec![
            note("cs", 1_000, "service1", 5000),
            note("cr", 2_000, "service1", 5000),
        ],
        vec![tag("sa", json!(true), "service2", 6000)],
    );
    client["timestamp"] = json!(1_000);
    client["duration"] = json!(1_000);
    for body in [json!([server]), json!([client])] {
        let request = Request::post("/api/v1/spans")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, text) = send(&router, request).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    }
    let stored = collector.trace(&TRACE.parse().unwrap()).unwrap();
    assert_eq!(stored.len(), 2, "{stored:?}");
    let client = stored
        .iter()
        .find(|s| s.kind == Some(Kind::Client))
        .unwrap();
    let server = stored
        .iter()
        .find(|s| s.kind == Some(Kind::Server))
        .unwrap();
    assert_eq!(
        (client.timestamp, client.duration, client.shared),
        (Some(1_000), Some(1_000), false)
    );
    assert_eq!(
        (server.timestamp, server.duration, server.shared),
        (Some(1_100), Some(700), true)
    );
    assert_eq!(server.tags["http.method"], "GET");
    assert_eq!(client.remote_endpoint.as_ref().unwrap().port, Some(6000));
}

#[test]
fn a_local_span_takes_its_endpoint_from_lc_and_its_own_timing() {
    let mut local = v1(vec![], vec![tag("lc", json!(""), "service2", 0)]);
    local["name"] = json!("db_search");
    local["timestamp"] = json!(5_000);
    local["duration"] = json!(2_000);
    let mut named = local.clone();
    named["binaryAnnotations"] = json!([tag("lc", json!("db"), "service2", 0)]);
    let spans = decode(json!([local, named]));
    assert_eq!(spans.len(), 2);
    for span in &spans {
        assert_eq!((span.kind, service(span)), (None, "service2"));
        assert_eq!((span.timestamp, span.duration), (Some(5_000), Some(2_000)));
    }
    assert!(spans[0].tags.is_empty(), "an empty lc is only a marker");
    assert_eq!(spans[1].tags["lc"], "db");
    // Without any endpoint (py_zipkin's untagged local span) there is none to store.
    let mut bare = v1(vec![], vec![]);
    bare["timestamp"] = json!(5_000);
    let spans = decode(json!([bare]));
    assert_eq!((spans.len(), spans[0].local_endpoint.clone()), (1, None));
}

#[test]
fn binary_annotations_become_tags_and_other_values_are_dropped() {
    let spans = decode(json!([v1(
        vec![note("sr", 1_000, "svc", 80), note("ss", 3_000, "svc", 80)],
        vec![
            tag("http.path", json!("/"), "svc", 80),
            tag("error", json!(""), "svc", 80),
            tag("count", json!(3), "svc", 80),
            tag("flag", json!(false), "svc", 80),
            tag("other", json!(true), "svc", 80),
        ],
    )]));
    assert_eq!(spans.len(), 1);
    let tags: Vec<_> = spans[0]
        .tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(tags, [("error", ""), ("http.path", "/")]);
    // A server half without the span's timestamp is the callee's side: shared.
    assert_eq!(
        (spans[0].timestamp, spans[0].duration, spans[0].shared),
        (Some(1_000), Some(2_000), true)
    );
}

#[test]
fn addresses_without_core_annotations_set_the_remote_endpoint() {
    let sa_only = v1(vec![], vec![tag("sa", json!(true), "db", 3306)]);
    let ca_only = v1(vec![], vec![tag("ca", json!(true), "client", 0)]);
    let spans = decode(json!([sa_only, ca_only]));
    assert_eq!(spans[0].kind, None, "sa alone does not make a client");
    assert_eq!(spans[0].remote_endpoint.as_ref().unwrap().port, Some(3306));
    assert_eq!(
        spans[1].kind,
        Some(Kind::Server),
        "ca alone is a server's caller"
    );
    assert_eq!(service(&spans[1]), "");
}

#[test]
fn a_service_calling_itself_still_gives_two_spans() {
    let spans = decode(json!([v1(
        vec![
            note("cs", 1_000, "svc", 80),
            note("sr", 1_100, "svc", 80),
            note("ss", 1_900, "svc", 80),
            note("cr", 2_000, "svc", 80),
        ],
        vec![],
    )]));
    let kinds: Vec<_> = spans.iter().map(|s| (s.kind, s.shared)).collect();
    assert_eq!(
        kinds,
        [(Some(Kind::Client), false), (Some(Kind::Server), true)]
    );
}

#[test]
fn other_annotations_are_kept_and_a_half_open_call_keeps_its_end() {
    let spans = decode(json!([v1(
        vec![
            note("cs", 1_000, "svc", 80),
            note("retry", 1_500, "svc", 80)
        ],
        vec![],
    )]));
    assert_eq!(
        (spans[0].kind, spans[0].timestamp, spans[0].duration),
        (Some(Kind::Client), Some(1_000), None)
    );
    assert_eq!(spans[0].annotations.len(), 1);
    assert_eq!(spans[0].annotations[0].value, "retry");
}

#[test]
fn a_message_span_becomes_producer_and_consumer() {
    let spans = decode(json!([v1(
        vec![
            note("ms", 1_000, "producer", 0),
            note("mr", 1_500, "consumer", 0)
        ],
        vec![tag("ma", json!(true), "rabbitmq", 5672)],
    )]));
    let kinds: Vec<_> = spans
        .iter()
        .map(|s| (s.kind, service(s), s.shared))
        .collect();
    assert_eq!(
        kinds,
        [
            (Some(Kind::Producer), "producer", false),
            (Some(Kind::Consumer), "consumer", true)
        ]
    );
    for span in &spans {
        assert_eq!(span.remote_endpoint.as_ref().unwrap().port, Some(5672));
    }
}

async fn post_v1(
    router: &axum::Router,
    content_type: &str,
    gzipped: bool,
    body: &[u8],
) -> (StatusCode, String) {
    let mut request = Request::post("/api/v1/spans").header("content-type", content_type);
    let body = if gzipped {
        request = request.header("content-encoding", "gzip");
        gzip(body)
    } else {
        body.to_vec()
    };
    send(router, request.body(Body::from(body)).unwrap()).await
}

#[tokio::test]
async fn bad_bodies_are_a_400_naming_the_problem_and_gzip_is_read() {
    let (collector, router) = setup(1 << 20, 100);
    let json = "application/json";
    for (body, says) in [
        (&b"nope"[..], "top level"),
        (b"{}", "top level"),
        (
            br#"[{"traceId": "a", "id": "b", "annotations": [{"value": "cs"}]}]"#,
            "span 0, field annotations.0",
        ),
        (
            br#"[{"traceId": "a", "id": "b", "binaryAnnotations": [{"value": "x"}]}]"#,
            "span 0, field binaryAnnotations.0",
        ),
        (br#"[{"traceId": "A", "id": "b"}]"#, "span 0, field traceId"),
    ] {
        let (status, message) = post_v1(&router, json, false, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{message}");
        assert!(message.contains(says), "{message}");
    }
    let (status, message) = post_v1(&router, "application/x-thrift", false, b"[]").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{message}");
    assert_eq!(collector.span_count(), 0);

    // Zipkin reads this path as JSON whatever else the type says; empty is an empty list.
    for (kind, body) in [(json, &b""[..]), ("application/x-protobuf", b"[]")] {
        assert_eq!(
            post_v1(&router, kind, false, body).await.0,
            StatusCode::ACCEPTED
        );
    }
    let body = json!([{"traceId": TRACE, "id": ID, "timestamp": 1, "duration": 2}]);
    let (status, message) = post_v1(&router, json, true, body.to_string().as_bytes()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{message}");
    assert_eq!(collector.span_count(), 1);
}
