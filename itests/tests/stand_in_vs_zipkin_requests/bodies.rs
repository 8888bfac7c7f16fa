//! Generated `POST /api/v2/spans` bodies, from the `Span` schema of `zipkin2-api.yaml`
//! and what Zipkin is known to take beyond it: lists of one to three spans of a fresh
//! trace whose every field is left out, `null`, or given a value Zipkin takes (ids of 1 to
//! 32 digits, numbers for text and text for numbers, zero timings, addresses that do not
//! parse), sometimes a second report of a span or the server half of a client; then, in
//! some bodies, one field broken (ids upper-case, not hex, too long or zeros; wrong
//! types; incomplete annotations; null tags), a field left out, or the JSON itself broken
//! (empty, not a list, cut short, text before or after it).
//!
//! Bodies never hold what Zipkin stores and the stand-in cannot (a span id of zeros
//! shorter than 16 digits, a trace id whose low 64 bits are zeros, an annotation before
//! 1970): `stand_in_vs_zipkin_requests.rs` checks those apart, after the generated cases.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use super::requests::Request;

/// A value from a list of JSON values.
fn one_of(values: Vec<Value>) -> impl Strategy<Value = Value> {
    select(values)
}

/// How a field of a span is written: left out, or this value (possibly `null`).
fn field(values: Vec<Value>) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![1 => Just(None), 3 => one_of(values).prop_map(Some)]
}

/// A trace id for `base` in one of the forms Zipkin reads as a trace: short, padded to
/// 16, padded to 32 (which Zipkin reads as the 16-digit id), 22 digits (padded to 32: a
/// trace of its own), or a JSON number (its decimal digits read as hex).
fn trace_id(base: u64) -> impl Strategy<Value = Value> {
    let forms = vec![
        json!(format!("{base:x}")),
        json!(format!("{base:016x}")),
        json!(format!("{base:032x}")),
        json!(format!("{base:022x}")),
        json!(base),
    ];
    one_of(forms)
}

/// Span id `n` (1 to 3) in a form Zipkin reads: short, padded, or a JSON number.
fn span_id(n: u64) -> Value {
    let id = 0xa0 + n;
    match n % 3 {
        0 => json!(format!("{id:x}")),
        1 => json!(format!("{id:016x}")),
        _ => json!(format!("{id:x}")),
    }
}

/// Timestamps: half an hour ago (inside a default search), an hour and a half ago, a day
/// and an hour ago (outside); as numbers, as text, zero, below zero, a float.
fn timestamps(now_us: u64) -> Vec<Value> {
    let (half_hour, ninety, day_and_hour) = (
        now_us - 1_800_000_000,
        now_us - 5_400_000_000,
        now_us - 90_000_000_000,
    );
    vec![
        json!(half_hour),
        json!(half_hour + 1_500),
        json!(ninety),
        json!(day_and_hour),
        json!(half_hour.to_string()),
        json!(0),
        json!(-5),
        json!(ninety as f64),
        Value::Null,
    ]
}

fn endpoints(names: &[&str]) -> Vec<Value> {
    let mut values: Vec<Value> = names.iter().map(|n| json!({"serviceName": n})).collect();
    values.extend([
        json!({"serviceName": names[0], "ipv4": "10.0.0.1", "port": 8080}),
        json!({"serviceName": names[0], "ipv6": "2001:DB8::1", "port": "80"}),
        json!({"serviceName": names[0], "ipv4": "::ffff:10.0.0.2", "port": 0}),
        json!({"serviceName": names[0], "ipv4": "1.2.3", "ipv6": "nope", "port": -1}),
        json!({"ipv4": "::1"}),
        json!({"serviceName": ""}),
        json!({}),
        Value::Null,
    ]);
    values
}

/// One span of trace `base`, id `n`, with any fields.
fn span(base: u64, n: u64, now_us: u64) -> impl Strategy<Value = Value> {
    let id = span_id(n);
    let parents = vec![
        span_id(n % 3 + 1),
        json!("0"),
        id.clone(),
        json!(0xa0 + (n % 3 + 1)),
        Value::Null,
    ];
    let ids = (trace_id(base), field(parents));
    let what = (
        field(vec![
            json!("Get /X"),
            json!("charge"),
            json!("gen op"),
            json!(""),
            json!(5),
            Value::Null,
        ]),
        field(vec![
            json!("CLIENT"),
            json!("SERVER"),
            json!("PRODUCER"),
            json!("CONSUMER"),
            Value::Null,
        ]),
        field(timestamps(now_us)),
        field(vec![
            json!(1),
            json!(150),
            json!(5_000),
            json!(0),
            json!(-1),
            json!("25"),
            json!(2.0),
        ]),
        field(vec![json!(true), json!(false), Value::Null]),
        field(vec![json!(true), json!(false), Value::Null]),
    );
    let annotation_time = now_us - 1_800_000_000 + 10;
    let context = (
        field(endpoints(&["gen-a", "Gen-B", "frontend"])),
        field(endpoints(&["mysql", "Kafka", "gen-db"])),
        field(vec![
            json!([]),
            json!([{"timestamp": annotation_time, "value": "retried"}]),
            json!([{"timestamp": annotation_time, "value": "x"}, {"timestamp": annotation_time, "value": "x"}]),
            json!([{"timestamp": annotation_time.to_string(), "value": 7, "extra": true}]),
            Value::Null,
        ]),
        field(vec![
            json!({}),
            json!({"http.method": "GET"}),
            json!({"error": "boom", "job.kind": "export"}),
            json!({"http.status_code": 503}),
            json!({"": "empty key"}),
            Value::Null,
        ]),
        field(vec![json!({"deep": [1, {"y": null}]}), json!("anything")]),
    );
    (ids, what, context).prop_map(
        move |(
            (trace, parent),
            (name, kind, timestamp, duration, debug, shared),
            (local, remote, annotations, tags, unknown),
        )| {
            let mut span = json!({"traceId": trace, "id": id.clone()});
            let fields = [
                ("parentId", parent),
                ("name", name),
                ("kind", kind),
                ("timestamp", timestamp),
                ("duration", duration),
                ("debug", debug),
                ("shared", shared),
                ("localEndpoint", local),
                ("remoteEndpoint", remote),
                ("annotations", annotations),
                ("tags", tags),
                ("unknownField", unknown),
            ];
            for (name, value) in fields {
                if let Some(value) = value {
                    span[name] = value;
                }
            }
            span
        },
    )
}

/// What else a body may carry about its first span: nothing, a late report that adds a
/// tag and an annotation (and repeats nothing else), or the server half of a client.
#[derive(Debug, Clone, Copy)]
enum Extra {
    Nothing,
    LateReport,
    ServerHalf { shared: bool, parent: bool },
}

fn with_extra(mut spans: Vec<Value>, extra: Extra, now_us: u64) -> Vec<Value> {
    let first = spans[0].clone();
    let keep = |names: &[&str]| {
        let mut span = json!({});
        for name in names {
            if let Some(value) = first.get(*name) {
                span[*name] = value.clone();
            }
        }
        span
    };
    match extra {
        Extra::Nothing => {}
        Extra::LateReport => {
            let mut late = keep(&["traceId", "id", "localEndpoint", "shared"]);
            late["tags"] = json!({"late": "yes"});
            late["annotations"] =
                json!([{"timestamp": now_us - 1_800_000_000, "value": "flushed"}]);
            spans.push(late);
        }
        Extra::ServerHalf { shared, parent } => {
            let client = &mut spans[0];
            client["kind"] = json!("CLIENT");
            client["localEndpoint"] = json!({"serviceName": "gen-a"});
            let mut server = keep(&["traceId", "id", "timestamp", "duration"]);
            if parent {
                server["parentId"] = first.get("parentId").cloned().unwrap_or(Value::Null);
            }
            server["kind"] = json!("SERVER");
            server["shared"] = json!(shared);
            server["localEndpoint"] = json!({"serviceName": "gen-server"});
            spans.push(server);
        }
    }
    spans
}

/// One to three spans of a fresh trace, with an [`Extra`].
fn span_list(now_us: u64) -> impl Strategy<Value = Vec<Value>> {
    let extra = prop_oneof![
        3 => Just(Extra::Nothing),
        1 => Just(Extra::LateReport),
        2 => (any::<bool>(), any::<bool>()).prop_map(|(shared, parent)| Extra::ServerHalf { shared, parent }),
    ];
    // A fresh trace per body: generated bodies never add to a trace already stored.
    (1u64..(1 << 40), 1u64..=3, extra).prop_flat_map(move |(base, count, extra)| {
        let spans: Vec<_> = (1..=count).map(|n| span(base, n, now_us)).collect();
        spans.prop_map(move |spans| with_extra(spans, extra, now_us))
    })
}

/// A field set to a value Zipkin refuses (400), or left out though required.
fn broken_field() -> impl Strategy<Value = (&'static str, Option<Value>)> {
    let from_text = |text: &str| serde_json::from_str::<Value>(text).unwrap_or_default();
    select(vec![
        ("traceId", Some(json!("ABC"))),
        ("traceId", Some(json!("xyz"))),
        ("traceId", Some(json!(""))),
        ("traceId", Some(json!("1".repeat(33)))),
        ("traceId", Some(json!("000"))),
        ("traceId", Some(Value::Null)),
        ("traceId", Some(json!(true))),
        ("traceId", None),
        ("id", Some(json!(""))),
        ("id", Some(json!("1".repeat(17)))),
        ("id", Some(json!("0000000000000000"))),
        ("id", Some(json!("A1"))),
        ("id", Some(json!({}))),
        ("id", None),
        ("parentId", Some(json!(""))),
        ("parentId", Some(json!("g"))),
        ("name", Some(json!(true))),
        ("name", Some(json!({}))),
        ("kind", Some(json!("client"))),
        ("kind", Some(json!(""))),
        ("kind", Some(json!(5))),
        ("timestamp", Some(json!(1.5))),
        ("timestamp", Some(json!("soon"))),
        ("timestamp", Some(from_text("99999999999999999999"))),
        ("duration", Some(json!(false))),
        ("debug", Some(json!("true"))),
        ("shared", Some(json!(1))),
        ("localEndpoint", Some(json!("svc"))),
        ("localEndpoint", Some(json!({"port": 70_000}))),
        ("remoteEndpoint", Some(json!({"serviceName": true}))),
        ("annotations", Some(json!({}))),
        ("annotations", Some(json!([null]))),
        ("annotations", Some(json!([{"value": "x"}]))),
        (
            "annotations",
            Some(json!([{"timestamp": 1, "value": null}])),
        ),
        ("tags", Some(json!([]))),
        ("tags", Some(json!({"a": null}))),
        ("tags", Some(json!({"a": true}))),
    ])
}

/// Bodies that are not a span list, or not JSON at all.
const NOT_SPAN_LISTS: [&str; 12] = [
    "", "[]", "[ ]", "{}", "null", "\"x\"", "5", "[{", "[1,]", "nope", "[[]]", "[null]",
];

/// `POST /api/v2/spans` with a generated body (see the module documentation).
pub fn post(now_us: u64) -> impl Strategy<Value = Request> {
    let list = move || span_list(now_us).prop_map(Value::Array);
    prop_oneof![
        10 => list().prop_map(|list| list.to_string()),
        4 => (list(), broken_field(), any::<prop::sample::Index>()).prop_map(
            |(mut list, (name, value), which)| {
                if let Some(spans) = list.as_array_mut() {
                    let span = which.get_mut(spans);
                    match value {
                        Some(value) => span[name] = value,
                        None => drop(span.as_object_mut().and_then(|fields| fields.remove(name))),
                    }
                }
                list.to_string()
            }
        ),
        1 => select(NOT_SPAN_LISTS.to_vec()).prop_map(str::to_owned),
        1 => list().prop_map(|list| format!(" {list}")),
        1 => list().prop_map(|list| format!("{list} and then some")),
        1 => (list(), any::<prop::sample::Index>()).prop_map(|(list, cut)| {
            let text = list.to_string();
            text[..cut.index(text.len())].to_owned()
        }),
    ]
    .prop_map(Request::Post)
}
