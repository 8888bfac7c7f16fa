//! Putting the two collectors' answers side by side: the normalisations that hide the
//! differences docs/operations.md's table lists ("The stand-in beside the real Zipkin"),
//! Zipkin's reports merged by `zipkin_merge`, and comparisons that name the field that
//! differs.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::zipkin_merge::merge_reports;

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
/// The stand-in merges a span's reports as they arrive: its answer is compared as it is.
pub fn stand_in_trace(answer: Value) -> Vec<Value> {
    sorted_spans(as_list(answer))
}

/// A `/api/v2/trace/{id}` answer of Zipkin, its reports merged by `merge_reports`, names
/// lower-cased, in a stable order.
///
/// Zipkin's in-memory storage keeps every distinct report of a span (a late report
/// without timing, a second one with an annotation) and leaves merging to its UI and its
/// dependency linker (`zipkin2.internal.Trace.merge`); the stand-in merges reports as they
/// arrive. So Zipkin's reports are merged here, by Zipkin's rules, and what is compared is
/// the trace a Zipkin user sees.
pub fn zipkin_trace(answer: Value) -> Vec<Value> {
    sorted_spans(merge_reports(as_list(answer)))
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
/// service and start, names lower-cased.
fn sorted_spans(mut spans: Vec<Value>) -> Vec<Value> {
    spans.iter_mut().for_each(lower_names);
    spans.sort_by_key(|span| {
        let field = |pointer: &str| span.pointer(pointer).map(Value::to_string);
        (
            field("/id"),
            field("/kind"),
            field("/localEndpoint/serviceName"),
            field("/timestamp"),
            span.to_string(),
        )
    });
    spans
}

/// One trace of a list answer: its id and its spans, normalised.
pub type Trace = (String, Vec<Value>);

/// A `/api/v2/traces` or `/api/v2/traceMany` answer of Zipkin: each trace merged as
/// [`zipkin_trace`] merges one, the traces sorted by id (Zipkin's order of traces that
/// start in the same millisecond is not the stand-in's).
pub fn zipkin_traces(answer: Value) -> Vec<Trace> {
    traces(answer, zipkin_trace)
}

/// A `/api/v2/traces` or `/api/v2/traceMany` answer of the stand-in, as
/// [`zipkin_traces`] puts Zipkin's.
pub fn stand_in_traces(answer: Value) -> Vec<Trace> {
    traces(answer, stand_in_trace)
}

fn traces(answer: Value, normalise: fn(Value) -> Vec<Value>) -> Vec<Trace> {
    let mut traces: Vec<Trace> = as_list(answer)
        .into_iter()
        .map(|trace| {
            let spans = normalise(trace);
            let id = spans.first().and_then(|span| span["traceId"].as_str());
            (id.unwrap_or_default().to_owned(), spans)
        })
        .collect();
    traces.sort_by(|a, b| a.0.cmp(&b.0));
    traces
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

/// A list of service or span names, lower-cased, sorted, without duplicates (the stand-in
/// lists `Frontend` and `frontend` apart; Zipkin has only `frontend`).
pub fn names(answer: Value) -> Vec<String> {
    let names = as_list(answer).into_iter().map(|name| {
        let text = name
            .as_str()
            .unwrap_or_else(|| panic!("not a name: {name}"));
        text.to_lowercase()
    });
    let names: BTreeSet<String> = names.collect();
    names.into_iter().collect()
}

/// The first difference between two span lists, naming the span and the field, with both
/// lists; `None` when they are equal.
pub fn span_difference(what: &str, zipkin: &[Value], stand_in: &[Value]) -> Option<String> {
    let both = || {
        let show = |spans: &[Value]| serde_json::to_string_pretty(spans).unwrap_or_default();
        format!("Zipkin:\n{}\nstand-in:\n{}", show(zipkin), show(stand_in))
    };
    if zipkin.len() != stand_in.len() {
        let (z, s) = (zipkin.len(), stand_in.len());
        return Some(format!(
            "{what}: {z} spans from Zipkin, {s} from the stand-in\n{}",
            both()
        ));
    }
    for (index, (z, s)) in zipkin.iter().zip(stand_in).enumerate() {
        let (Some(z_fields), Some(s_fields)) = (z.as_object(), s.as_object()) else {
            return Some(format!("{what}: span {index} is not an object\n{}", both()));
        };
        let keys: BTreeSet<&String> = z_fields.keys().chain(s_fields.keys()).collect();
        for key in keys {
            let (z_value, s_value) = (z_fields.get(key), s_fields.get(key));
            if z_value != s_value {
                return Some(format!(
                    "{what}: span {index} ({}), field {key}: Zipkin {z_value:?}, stand-in \
                     {s_value:?}\n{}",
                    z["id"],
                    both()
                ));
            }
        }
    }
    None
}

/// The first difference between two lists of traces: which traces each has, then the
/// first span field that differs in a trace both have.
pub fn trace_difference(what: &str, zipkin: &[Trace], stand_in: &[Trace]) -> Option<String> {
    let ids = |traces: &[Trace]| traces.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>();
    if ids(zipkin) != ids(stand_in) {
        return Some(format!(
            "{what}: different traces, Zipkin {:?}, stand-in {:?}",
            ids(zipkin),
            ids(stand_in)
        ));
    }
    zipkin
        .iter()
        .zip(stand_in)
        .find_map(|((id, z), (_, s))| span_difference(&format!("{what}, trace {id}"), z, s))
}

/// Fails naming the first field where two span lists differ, with both lists.
#[track_caller]
pub fn assert_same_spans(what: &str, zipkin: &[Value], stand_in: &[Value]) {
    if let Some(difference) = span_difference(what, zipkin, stand_in) {
        panic!("{difference}");
    }
}

/// Fails naming the first trace or field where two lists of traces differ.
#[track_caller]
pub fn assert_same_traces(what: &str, zipkin: &[Trace], stand_in: &[Trace]) {
    if let Some(difference) = trace_difference(what, zipkin, stand_in) {
        panic!("{difference}");
    }
}
