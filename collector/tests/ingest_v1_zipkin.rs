//! v1 spans of odd shapes, and the v2 spans Zipkin 3.6.1 stored for each: the expected
//! JSON is the jar's own answer to `GET /api/v2/trace/{id}` after `POST /api/v1/spans`.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

use collector::decode_v1_spans;
use serde_json::{Value, json};

/// `sent` decoded, as JSON v2, beside what Zipkin stored.
fn assert_stored_as(sent: Value, zipkin: Value) {
    let spans = decode_v1_spans(sent.to_string().as_bytes()).unwrap();
    let stored: Vec<Value> = spans
        .iter()
        .map(|s| serde_json::to_value(s).unwrap())
        .collect();
    assert_eq!(Value::Array(stored), zipkin, "sent {sent}");
}

#[test]
fn core_annotations_need_an_endpoint_with_a_field() {
    // An endpoint with nothing in it (an empty name is no name) is no endpoint: `cs` and
    // `cr` are then plain annotations, and the span has no kind.
    for endpoint in [json!({"serviceName": ""}), json!({})] {
        let annotations = json!([{"value": "cs", "timestamp": 10, "endpoint": endpoint},
            {"value": "cr", "timestamp": 30, "endpoint": endpoint}]);
        assert_stored_as(
            json!([{"traceId": "c000000000000001", "id": "01", "name": "x",
                "annotations": annotations}]),
            json!([{"traceId": "c000000000000001", "id": "0000000000000001", "name": "x",
                "annotations": [{"timestamp": 10, "value": "cs"}, {"timestamp": 30, "value": "cr"}]}]),
        );
    }
}

#[test]
fn an_lc_of_another_service_is_a_span_of_its_own() {
    // Numbers may come as text, or as floats with no fraction.
    assert_stored_as(
        json!([{"traceId": "c000000000000003", "id": "01", "name": "x", "timestamp": "5",
            "duration": 2.0,
            "annotations": [{"value": "sr", "timestamp": "10", "endpoint": {"serviceName": "a"}}],
            "binaryAnnotations": [{"key": "lc", "value": "", "endpoint": {"serviceName": "b"}}]}]),
        json!([
            {"traceId": "c000000000000003", "id": "0000000000000001", "kind": "SERVER",
                "name": "x", "timestamp": 5, "duration": 2, "localEndpoint": {"serviceName": "a"}},
            {"traceId": "c000000000000003", "id": "0000000000000001", "name": "x",
                "localEndpoint": {"serviceName": "b"}},
        ]),
    );
}

#[test]
fn a_missing_cs_is_the_span_timestamp_when_its_duration_ends_at_cr() {
    assert_stored_as(
        json!([{"traceId": "c000000000000004", "id": "01", "name": "x", "timestamp": 5,
            "duration": 25,
            "annotations": [{"value": "cr", "timestamp": 30, "endpoint": {"serviceName": "a"}}]}]),
        json!([{"traceId": "c000000000000004", "id": "0000000000000001", "kind": "CLIENT",
            "name": "x", "timestamp": 5, "duration": 25, "localEndpoint": {"serviceName": "a"}}]),
    );
}

#[test]
fn the_last_core_annotation_wins_and_a_ca_of_the_same_service_loses_its_name() {
    // Also: a zero parent is none, an empty name is none, `debug` is kept, and a server
    // half without the span's timestamp is shared.
    let a = json!({"serviceName": "a"});
    assert_stored_as(
        json!([{"traceId": "c000000000000005", "id": "01", "parentId": "0000000000000000",
            "name": "", "debug": true,
            "annotations": [{"value": "sr", "timestamp": 10, "endpoint": a},
                {"value": "sr", "timestamp": 12, "endpoint": a},
                {"value": "ss", "timestamp": 20, "endpoint": a}],
            "binaryAnnotations": [{"key": "ca", "value": true,
                "endpoint": {"serviceName": "a", "port": 1}}]}]),
        json!([{"traceId": "c000000000000005", "id": "0000000000000001", "kind": "SERVER",
            "timestamp": 12, "duration": 8, "localEndpoint": {"serviceName": "a"},
            "remoteEndpoint": {"port": 1}, "debug": true, "shared": true}]),
    );
}
