//! Property tests for the collector's span decoders: no body, however broken, panics one
//! (JSON v2, JSON v1, proto3) or the ingest route, and every valid span list survives
//! encoding and decoding unchanged.
//!
//! Bodies are generated three ways: any bytes; JSON shaped like a span list whose fields
//! carry values of every JSON type (the near misses a buggy tracer sends); and real span
//! lists built from the shared span model.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use axum::http::StatusCode;
use collector::{IngestError, decode_proto3_spans, decode_spans, decode_v1_spans, gunzip};
use flate2::Compression;
use flate2::write::GzEncoder;
use proptest::prelude::*;
use serde_json::{Value, json};
use zipkin_tracing::{Annotation, Endpoint, Kind, Span, SpanId, TraceId};

/// The largest timestamp Zipkin reads: its numbers are Java's signed 64-bit `long`.
const MAX_LONG: u64 = i64::MAX as u64;

/// The fields of the v2 `Span` schema, plus two the schema does not have.
const FIELDS: [&str; 15] = [
    "traceId",
    "parentId",
    "id",
    "kind",
    "name",
    "timestamp",
    "duration",
    "debug",
    "shared",
    "localEndpoint",
    "remoteEndpoint",
    "annotations",
    "tags",
    "unknownField",
    "traceID",
];

/// Any JSON value, nested a few levels, with strings biased towards hex ids and kinds.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Zero and one sit on the schema's boundaries (`duration >= 1`, zero means absent).
        (0u64..2).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[0-9a-fA-F]{0,33}".prop_map(Value::String),
        "CLIENT|SERVER|PRODUCER|CONSUMER|client|LOCAL".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z0-9.]{0,12}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// What a buggy tracer might do to one field of a valid span.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace (or add) the field with any JSON value.
    Set(usize, Value),
    /// Leave the field out.
    Remove(usize),
    /// Set a field to a value on the edge of what the schema allows.
    Edge(usize),
}

/// Values on the schema's edges: zero means absent for a timestamp or port, a duration
/// must be at least 1, ids are non-zero lower-case hex, and `LOCAL` is not a kind.
fn edges() -> Vec<(&'static str, Value)> {
    vec![
        ("duration", json!(0)),
        ("duration", json!(1)),
        ("timestamp", json!(0)),
        ("localEndpoint", json!({"serviceName": "svc", "port": 0})),
        ("remoteEndpoint", json!({"ipv4": "10.0.0.1", "port": 0})),
        ("remoteEndpoint", json!({"ipv4": "::1"})),
        ("kind", json!("LOCAL")),
        ("traceId", json!("0000000000000000")),
        ("traceId", json!("463AC35C9F6413AD")),
        ("id", json!("0000000000000000")),
        ("parentId", json!("")),
        ("tags", json!({"http.status_code": 200})),
        ("annotations", json!([{"timestamp": 1}])),
    ]
}

/// A JSON list of valid spans, each with a few fields replaced by values of any JSON type
/// or removed: near misses that reach every field's decoder, rather than bodies that fail
/// at the first field.
fn span_like_list() -> impl Strategy<Value = Value> {
    let mutation = prop_oneof![
        3 => (0..FIELDS.len(), json_value()).prop_map(|(field, value)| Mutation::Set(field, value)),
        1 => (0..FIELDS.len()).prop_map(Mutation::Remove),
        2 => (0..edges().len()).prop_map(Mutation::Edge),
    ];
    let object =
        (span(), proptest::collection::vec(mutation, 0..3)).prop_map(|(span, mutations)| {
            let mut value = serde_json::to_value(span).expect("spans always encode");
            let object = value.as_object_mut().expect("a span encodes as an object");
            for mutation in mutations {
                match mutation {
                    Mutation::Set(field, value) => {
                        object.insert(FIELDS[field].to_owned(), value);
                    }
                    Mutation::Remove(field) => {
                        object.remove(FIELDS[field]);
                    }
                    Mutation::Edge(edge) => {
                        let (field, value) = edges().swap_remove(edge);
                        object.insert(field.to_owned(), value);
                    }
                }
            }
            value
        });
    proptest::collection::vec(object, 0..4).prop_map(Value::Array)
}

/// A trace id as Zipkin keeps it: a 128-bit one whose high half is zero is written with
/// 16 digits, so a wide id here has a non-zero high half.
fn trace_id() -> impl Strategy<Value = TraceId> {
    (any::<bool>(), 1u64.., 1u64..).prop_map(|(wide, low, high)| {
        let text = if wide {
            format!("{high:016x}{low:016x}")
        } else {
            format!("{low:016x}")
        };
        text.parse().expect("valid by construction")
    })
}

fn span_id() -> impl Strategy<Value = SpanId> {
    (1u64..).prop_map(|id| SpanId::new(id).expect("non-zero by construction"))
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    (
        proptest::option::of(any::<String>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u128>()),
        proptest::option::of(1u16..),
    )
        .prop_map(|(name, ipv4, ipv6, port)| Endpoint {
            service_name: name.filter(|name| !name.is_empty()).map(Arc::from),
            ipv4: ipv4.map(Ipv4Addr::from),
            ipv6: ipv6.map(Ipv6Addr::from),
            port,
        })
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Client),
        Just(Kind::Server),
        Just(Kind::Producer),
        Just(Kind::Consumer),
    ]
}

/// A span as the decoder stores it, in the form Zipkin keeps: zero timestamps and ports,
/// empty names and endpoints, a parent equal to the span's own id and `shared` on a
/// client are absent; annotations are in time order without duplicates.
fn span() -> impl Strategy<Value = Span> {
    let ids = (trace_id(), span_id(), proptest::option::of(span_id()));
    let what = (
        proptest::option::of(kind()),
        proptest::option::of(any::<String>()),
        proptest::option::of(1u64..=MAX_LONG),
        proptest::option::of(1u64..=MAX_LONG),
        any::<bool>(),
        any::<bool>(),
    );
    let context = (
        proptest::option::of(endpoint()),
        proptest::option::of(endpoint()),
        proptest::collection::vec((0u64..=MAX_LONG, any::<String>()), 0..3),
        proptest::collection::btree_map(any::<String>(), any::<String>(), 0..4),
    );
    (ids, what, context).prop_map(
        |(
            (trace_id, id, parent_id),
            (kind, name, timestamp, duration, debug, shared),
            (local, remote, annotations, tags),
        )| {
            let some = |endpoint: &Endpoint| *endpoint != Endpoint::default();
            let mut span = Span::new(trace_id, id);
            span.parent_id = parent_id.filter(|parent| *parent != id);
            span.kind = kind;
            span.name = name.filter(|name| !name.is_empty());
            span.timestamp = timestamp;
            span.duration = duration;
            span.debug = debug;
            span.shared = shared && kind != Some(Kind::Client);
            span.local_endpoint = local.filter(some);
            span.remote_endpoint = remote.filter(some);
            span.annotations = annotations
                .into_iter()
                .map(|(timestamp, value)| Annotation { timestamp, value })
                .collect();
            span.annotations
                .sort_by(|a, b| (a.timestamp, &a.value).cmp(&(b.timestamp, &b.value)));
            span.annotations.dedup();
            span.tags = tags.into_iter().collect::<BTreeMap<_, _>>();
            span
        },
    )
}

/// A refusal says where the problem is, so a tracer's author can find it.
fn assert_explained(error: &IngestError) -> Result<(), TestCaseError> {
    if let IngestError::Invalid { at, problem } = error {
        prop_assert!(!at.is_empty() && !problem.is_empty(), "{error}");
    }
    Ok(())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

proptest! {
    #[test]
    fn any_bytes_are_decoded_or_refused_with_a_reason(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Err(error) = decode_spans(&body) {
            assert_explained(&error)?;
        }
    }

    #[test]
    fn any_bytes_are_decoded_or_refused_with_a_reason_as_v1_or_proto3(
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        // Bytes after a span's key and length reach the proto3 decoder's span fields.
        let proto3 = [&[0x0a, u8::try_from(body.len().min(127)).unwrap()][..], &body].concat();
        let refusals = [decode_v1_spans(&body).err(), decode_proto3_spans(&proto3).err()];
        for error in refusals.into_iter().flatten() {
            assert_explained(&error)?;
        }
    }

    #[test]
    fn span_shaped_json_is_decoded_or_refused_with_a_reason_as_v1(list in span_like_list()) {
        // The v2 fields a v1 span shares (ids, name, timing, annotations) with any values.
        if let Err(error) = decode_v1_spans(&serde_json::to_vec(&list).unwrap()) {
            assert_explained(&error)?;
        }
    }

    #[test]
    fn span_shaped_json_is_decoded_or_refused_with_a_reason(list in span_like_list()) {
        let body = serde_json::to_vec(&list).unwrap();
        match decode_spans(&body) {
            Ok(spans) => {
                prop_assert_eq!(spans.len(), list.as_array().map_or(0, Vec::len));
                // What is accepted keeps the schema's rules the types cannot express.
                for span in &spans {
                    prop_assert!(span.duration != Some(0));
                    prop_assert!(span.timestamp != Some(0));
                    for endpoint in [&span.local_endpoint, &span.remote_endpoint].into_iter().flatten() {
                        prop_assert!(endpoint.port != Some(0));
                    }
                }
            }
            Err(error) => assert_explained(&error)?,
        }
    }

    #[test]
    fn valid_span_lists_round_trip(spans in proptest::collection::vec(span(), 0..5)) {
        let body = serde_json::to_vec(&spans).unwrap();
        prop_assert_eq!(decode_spans(&body).unwrap(), spans);
    }

    #[test]
    fn gzip_bodies_inflate_to_what_was_compressed_or_are_refused(
        json in proptest::collection::vec(any::<u8>(), 0..512),
        limit in 1usize..600,
    ) {
        match gunzip(&gzip(&json), limit) {
            Ok(inflated) => prop_assert_eq!(inflated, json),
            Err(IngestError::InflatesTooLarge(at)) => {
                prop_assert_eq!(at, limit);
                prop_assert!(json.len() > limit);
            }
            Err(other) => prop_assert!(false, "unexpected refusal: {other}"),
        }
    }

    #[test]
    fn any_bytes_declared_gzip_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        match gunzip(&body, 1 << 16) {
            Ok(_) | Err(IngestError::Gzip(_) | IngestError::InflatesTooLarge(_)) => {}
            Err(other) => prop_assert!(false, "unexpected refusal: {other}"),
        }
    }
}

proptest! {
    // Each case goes through the whole router, so fewer of them.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_ingest_route_answers_202_or_400_never_a_server_error(
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..256),
            span_like_list().prop_map(|list| serde_json::to_vec(&list).unwrap()),
        ]
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (status, text) = runtime.block_on(async {
            let (_collector, router) = common::setup(1 << 20, 1_000);
            common::post(&router, body).await
        });
        prop_assert!(
            status == StatusCode::ACCEPTED || (status == StatusCode::BAD_REQUEST && !text.is_empty()),
            "{status}: {text}"
        );
    }
}
