//! Putting the two collectors' answers side by side: the normalisations that hide the
//! differences docs/operations.md's table lists ("The stand-in beside the real Zipkin"), and a
//! comparison that names the field that differs.

use std::collections::BTreeSet;

use serde_json::Value;
use zipkin_tracing::{Span, TraceId};

/// Zipkin lower-cases span and service names on ingest; the stand-in keeps them as the
/// tracer sent them (the demo's waterfall shows `GET /` as the article writes it). Names
/// are compared lower-cased.
pub fn lower_names(span: &mut Value) {
    for pointer in [
        "/name",
        "/localEndpoint/serviceName",
        "/remoteEndpoint/serviceName",
    ] {
        if let Some(name) = span.pointer_mut(pointer)
            && let Some(text) = name.as_str()
        {
            *name = Value::from(text.to_lowercase());
        }
    }
}

/// A `/api/v2/trace/{id}` answer of the stand-in, names lower-cased, in a stable order.
pub fn stand_in_trace(answer: Value) -> Vec<Value> {
    sorted_spans(as_list(answer))
}

/// A `/api/v2/trace/{id}` answer of Zipkin, with each span's reports merged.
///
/// Zipkin's in-memory storage keeps every distinct report of a span (a late report
/// without timing, a second one with an annotation) and leaves merging to its UI and its
/// dependency linker; the stand-in merges reports as they arrive. So Zipkin's reports are
/// merged here by the stand-in's own ingest, and what is compared is the information both
/// kept. (How reports merge is unit-tested in the collector crate.)
pub fn zipkin_trace(answer: Value) -> Vec<Value> {
    let spans: Vec<Span> = serde_json::from_value(answer)
        .unwrap_or_else(|error| panic!("Zipkin answered spans the span model rejects: {error}"));
    let Some(trace_id) = spans.first().map(|span| span.trace_id) else {
        return Vec::new();
    };
    let merged = collector::Collector::default();
    merged.ingest(spans);
    let spans = merged.trace(&trace_id).unwrap_or_default();
    let values = spans
        .iter()
        .map(|span| serde_json::to_value(span).unwrap_or_default());
    sorted_spans(values.collect())
}

/// How many distinct reports Zipkin keeps of `spans` (one trace's), once names are
/// lower-cased: it drops a report equal to one it has.
pub fn distinct_reports(spans: &[Value]) -> usize {
    let lowered = spans.iter().map(|span| {
        let mut span = span.clone();
        lower_names(&mut span);
        span.to_string()
    });
    lowered.collect::<BTreeSet<_>>().len()
}

fn as_list(answer: Value) -> Vec<Value> {
    match answer {
        Value::Array(items) => items,
        other => panic!("expected a JSON list, got {other}"),
    }
}

/// Spans come in no guaranteed order from Zipkin: both answers are sorted by id, kind,
/// service and start.
fn sorted_spans(mut spans: Vec<Value>) -> Vec<Value> {
    spans.iter_mut().for_each(lower_names);
    spans.sort_by_key(|span| {
        let field = |pointer: &str| span.pointer(pointer).map(Value::to_string);
        (
            field("/id"),
            field("/kind"),
            field("/localEndpoint/serviceName"),
            field("/timestamp"),
        )
    });
    spans
}

/// The trace ids of a `/api/v2/traces` answer, as a set (the order of equal start times
/// is not defined).
pub fn trace_ids(answer: Value) -> BTreeSet<TraceId> {
    let ids = as_list(answer).into_iter().map(|trace| {
        let first = as_list(trace).into_iter().next();
        let id = first.as_ref().and_then(|span| span["traceId"].as_str());
        let id = id.unwrap_or_else(|| panic!("a trace without spans: {first:?}"));
        id.parse().unwrap_or_else(|error| panic!("{id}: {error}"))
    });
    ids.collect()
}

/// A `/api/v2/dependencies` answer as sorted `(parent, child, calls, errors)`, names
/// lower-cased, a missing `errorCount` read as 0 (both leave it out when zero).
pub fn links(answer: Value) -> Vec<(String, String, u64, u64)> {
    let mut links: Vec<_> = as_list(answer)
        .into_iter()
        .map(|link| {
            let name = |field: &str| link[field].as_str().unwrap_or_default().to_lowercase();
            let count = |field: &str| link[field].as_u64().unwrap_or(0);
            let (parent, child) = (name("parent"), name("child"));
            (parent, child, count("callCount"), count("errorCount"))
        })
        .collect();
    links.sort();
    links
}

/// A sorted list of names, lower-cased.
pub fn names(answer: Value) -> Vec<String> {
    let names = as_list(answer).into_iter().map(|name| {
        let text = name
            .as_str()
            .unwrap_or_else(|| panic!("not a name: {name}"));
        text.to_lowercase()
    });
    let mut names: Vec<String> = names.collect();
    names.sort();
    names
}

/// Fails naming the first field where two span lists differ, with both lists.
#[track_caller]
pub fn assert_same_spans(what: &str, zipkin: &[Value], stand_in: &[Value]) {
    let both = || {
        let show = |spans: &[Value]| serde_json::to_string_pretty(spans).unwrap_or_default();
        format!("Zipkin:\n{}\nstand-in:\n{}", show(zipkin), show(stand_in))
    };
    assert_eq!(
        zipkin.len(),
        stand_in.len(),
        "{what}: a different number of spans\n{}",
        both()
    );
    for (index, (z, s)) in zipkin.iter().zip(stand_in).enumerate() {
        let (Some(z_fields), Some(s_fields)) = (z.as_object(), s.as_object()) else {
            panic!("{what}: span {index} is not an object\n{}", both());
        };
        let keys: BTreeSet<&String> = z_fields.keys().chain(s_fields.keys()).collect();
        for key in keys {
            assert_eq!(
                z_fields.get(key),
                s_fields.get(key),
                "{what}: span {index} ({}), field {key}\n{}",
                z["id"],
                both()
            );
        }
    }
}
