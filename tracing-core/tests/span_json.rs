//! Spans as JSON, held to the rules of the `Span` definition in Zipkin's API
//! specification (`zipkin2-api.yaml`), stated here so the test needs no file outside the
//! repository:
//!
//! - `traceId`: 16 or 32 lower-case hex characters; `id`, `parentId`: 16.
//! - `timestamp`: integer epoch microseconds; `duration`: integer microseconds, minimum 1.
//! - `kind`: one of CLIENT, SERVER, PRODUCER, CONSUMER, or absent for a local span.
//! - `localEndpoint` / `remoteEndpoint`: objects with string `serviceName`, `ipv4`,
//!   `ipv6` and an integer `port` (never 0); instrumentation always sets `localEndpoint`.
//! - `annotations`: objects with integer `timestamp` and string `value`.
//! - `tags`: an object whose values are all strings.
//! - `debug`, `shared`: booleans; Zipkin's encoder writes them only when true.
//! - No other fields.

// Test helpers outside #[test] functions may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::{spawn_server, tracer};
use zipkin_tracing::{Call, Endpoint, Kind, SamplingFlags, Span, local_span, root_span, send_with};

fn is_lower_hex(text: &str, lengths: &[usize]) -> bool {
    lengths.contains(&text.len()) && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[track_caller]
fn check_endpoint(value: &Value) {
    let object = value.as_object().expect("an endpoint is an object");
    for (key, field) in object {
        match key.as_str() {
            "serviceName" => assert!(field.as_str().is_some_and(|s| !s.is_empty())),
            "ipv4" => assert!(
                field
                    .as_str()
                    .unwrap()
                    .parse::<std::net::Ipv4Addr>()
                    .is_ok()
            ),
            "ipv6" => assert!(
                field
                    .as_str()
                    .unwrap()
                    .parse::<std::net::Ipv6Addr>()
                    .is_ok()
            ),
            "port" => assert!(field.as_u64().is_some_and(|p| (1..=65535).contains(&p))),
            other => panic!("unknown endpoint field {other}"),
        }
    }
}

/// Checks one span's JSON against the rules above.
#[track_caller]
fn check_span(value: &Value) {
    let allowed: BTreeSet<&str> = [
        "traceId",
        "name",
        "parentId",
        "id",
        "kind",
        "timestamp",
        "duration",
        "debug",
        "shared",
        "localEndpoint",
        "remoteEndpoint",
        "annotations",
        "tags",
    ]
    .into();
    let object = value.as_object().expect("a span is an object");
    for key in object.keys() {
        assert!(
            allowed.contains(key.as_str()),
            "unknown field {key} in {value}"
        );
    }
    assert!(
        is_lower_hex(value["traceId"].as_str().unwrap(), &[16, 32]),
        "{value}"
    );
    assert!(
        is_lower_hex(value["id"].as_str().unwrap(), &[16]),
        "{value}"
    );
    if let Some(parent) = object.get("parentId") {
        assert!(is_lower_hex(parent.as_str().unwrap(), &[16]), "{value}");
    }
    if let Some(kind) = object.get("kind") {
        let kind = kind.as_str().unwrap();
        assert!(
            ["CLIENT", "SERVER", "PRODUCER", "CONSUMER"].contains(&kind),
            "{value}"
        );
    }
    assert!(value["name"].is_string());
    // Epoch microseconds: within a minute of now (milliseconds or seconds would be far off).
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    let timestamp = value["timestamp"]
        .as_i64()
        .expect("timestamp is an integer");
    assert!(
        (now - timestamp).abs() < 60_000_000,
        "timestamp {timestamp} vs now {now}"
    );
    assert!(value["duration"].as_i64().expect("duration is an integer") >= 1);
    for flag in ["debug", "shared"] {
        if let Some(field) = object.get(flag) {
            assert_eq!(field, &Value::Bool(true), "{flag} written only when true");
        }
    }
    check_endpoint(&value["localEndpoint"]);
    if let Some(remote) = object.get("remoteEndpoint") {
        check_endpoint(remote);
    }
    if let Some(annotations) = object.get("annotations") {
        for annotation in annotations.as_array().unwrap() {
            assert!(annotation["timestamp"].is_u64() && annotation["value"].is_string());
            assert_eq!(annotation.as_object().unwrap().len(), 2);
        }
    }
    if let Some(tags) = object.get("tags") {
        assert!(
            tags.as_object().unwrap().values().all(Value::is_string),
            "{value}"
        );
    }
}

fn to_json(span: &Span) -> Value {
    serde_json::to_value(span).unwrap()
}

#[tokio::test]
async fn local_server_client_shared_and_debug_spans_follow_the_specification() {
    let (client_tracer, client_spans) = tracer("caller");
    let (server_tracer, server_spans) = tracer("callee");
    let base = spawn_server(server_tracer).await;
    root_span(&client_tracer, "local root", async {
        let parent = zipkin_tracing::current_context();
        local_span("local child", async {}).await;
        let request = reqwest::Client::new().get(format!("{base}/ok"));
        send_with(&client_tracer, parent.as_ref(), Call::default(), request)
            .await
            .unwrap();
    })
    .await;
    let debug_root = client_tracer.new_trace_with(SamplingFlags::DEBUG);
    send_with(
        &client_tracer,
        Some(&debug_root),
        Call::default(),
        reqwest::Client::new().get(format!("{base}/fail")),
    )
    .await
    .unwrap();

    let spans: Vec<Span> = client_spans
        .spans()
        .into_iter()
        .chain(server_spans.spans())
        .collect();
    let kinds: BTreeSet<_> = spans.iter().map(|s| format!("{:?}", s.kind)).collect();
    assert_eq!(kinds.len(), 3, "local, client and server spans: {kinds:?}");
    assert!(spans.iter().any(|s| s.shared));
    assert!(spans.iter().any(|s| s.debug));
    for span in &spans {
        let json = to_json(span);
        check_span(&json);
        // Decoding gives back the same span.
        assert_eq!(&serde_json::from_value::<Span>(json).unwrap(), span);
    }
    // A local span has no kind field at all; a non-shared, non-debug span omits both.
    let local = to_json(spans.iter().find(|s| s.kind.is_none()).unwrap());
    assert!(local.get("kind").is_none() && local.get("shared").is_none());
    assert!(local.get("debug").is_none());
}

#[test]
fn a_fully_populated_span_encodes_as_zipkin_expects() {
    let mut span = Span::new(
        "5af7183fb1d4cf5f".parse().unwrap(),
        "352bff9a74ca9ad2".parse().unwrap(),
    );
    span.parent_id = Some("6b221d5bc9e6496c".parse().unwrap());
    span.name = Some("get /api".into());
    span.kind = Some(Kind::Server);
    span.timestamp = Some(1_556_604_172_355_737);
    span.duration = Some(1431);
    span.shared = true;
    span.local_endpoint = Some(Endpoint {
        port: Some(3306),
        ipv4: Some("192.168.99.1".parse().unwrap()),
        ..Endpoint::service("backend")
    });
    span.remote_endpoint = Some(Endpoint::from_socket(
        "[::ffff:172.19.0.2]:58648".parse().unwrap(),
    ));
    span.tags.insert("http.method".into(), "GET".into());
    let json = to_json(&span);
    assert_eq!(
        json,
        serde_json::json!({
            "traceId": "5af7183fb1d4cf5f",
            "parentId": "6b221d5bc9e6496c",
            "id": "352bff9a74ca9ad2",
            "kind": "SERVER",
            "name": "get /api",
            "timestamp": 1_556_604_172_355_737u64,
            "duration": 1431,
            "shared": true,
            "localEndpoint": {"serviceName": "backend", "ipv4": "192.168.99.1", "port": 3306},
            "remoteEndpoint": {"ipv4": "172.19.0.2", "port": 58648},
            "tags": {"http.method": "GET"}
        })
    );
}

#[test]
fn decoding_rejects_what_the_specification_forbids() {
    let bad = [
        r#"{"traceId":"5AF7183FB1D4CF5F","id":"352bff9a74ca9ad2"}"#,
        r#"{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad"}"#,
        r#"{"traceId":"5af7183fb1d4cf5f","id":"0000000000000000"}"#,
        r#"{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","kind":"LOCAL"}"#,
        r#"{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","tags":{"n":1}}"#,
        r#"{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","timestamp":"now"}"#,
        r#"{"id":"352bff9a74ca9ad2"}"#,
    ];
    for text in bad {
        assert!(
            serde_json::from_str::<Span>(text).is_err(),
            "accepted {text}"
        );
    }
}
