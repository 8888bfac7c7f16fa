//! Putting the two collectors' answers side by side: Zipkin's merge of a span's reports,
//! written here from Zipkin's own rules; the normalisations that hide the differences
//! docs/operations.md's table lists ("The stand-in beside the real Zipkin"); and
//! comparisons that name the field that differs.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

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

/// A `/api/v2/trace/{id}` answer of Zipkin, its reports merged by [`merge_reports`], names
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

/// Zipkin's `Trace.merge`, from its rules: spans are sorted by id, then unshared before
/// shared (clients first among the unshared), then by local endpoint (none first, then
/// service name, IPv4, IPv6, absent values last). Each span then absorbs the spans right
/// after it that have its id and `shared` flag and whose local endpoint agrees with what
/// it has gathered so far (a field present on both sides must be equal). Absorbing fills
/// the fields the span lacks, joins annotations (sorted, without duplicates) and tags (the
/// later value wins), and keeps `debug` once set. Last, a `SERVER` span right after a
/// `CLIENT` span of the same id becomes `shared`, and a shared span without a parent takes
/// the parent of the span before it.
pub fn merge_reports(mut spans: Vec<Value>) -> Vec<Value> {
    spans.sort_by(cleanup_order);
    let mut merged: Vec<Value> = Vec::new();
    let mut spans = spans.into_iter().peekable();
    while let Some(mut span) = spans.next() {
        let mut endpoint = field(&span, "localEndpoint").cloned().unwrap_or_default();
        while let Some(next) = spans.peek() {
            let agrees = text(next, "id") == text(&span, "id")
                && is_shared(next) == is_shared(&span)
                && gather_endpoint(&mut endpoint, field(next, "localEndpoint"));
            if !agrees {
                break;
            }
            if let Some(next) = spans.next() {
                absorb(&mut span, &next);
            }
        }
        build(&mut span);
        if let Some(last) = merged.last() {
            repair(last, &mut span);
        }
        merged.push(span);
    }
    merged
}

/// The value of `name` in `span`, `null` read as absent.
fn field<'a>(span: &'a Value, name: &str) -> Option<&'a Value> {
    span.get(name).filter(|value| !value.is_null())
}

fn text<'a>(span: &'a Value, name: &str) -> Option<&'a str> {
    field(span, name).and_then(Value::as_str)
}

fn is_shared(span: &Value) -> bool {
    field(span, "shared") == Some(&Value::Bool(true))
}

fn is_client(span: &Value) -> bool {
    text(span, "kind") == Some("CLIENT")
}

/// `Trace.merge`'s order (see [`merge_reports`]); the sort is stable, as Java's is.
fn cleanup_order(a: &Value, b: &Value) -> Ordering {
    let role = |span: &Value| (is_shared(span), is_shared(span) || !is_client(span));
    text(a, "id")
        .cmp(&text(b, "id"))
        .then_with(|| role(a).cmp(&role(b)))
        .then_with(
            || match (field(a, "localEndpoint"), field(b, "localEndpoint")) {
                (Some(a), Some(b)) => ["serviceName", "ipv4", "ipv6"]
                    .iter()
                    .map(|name| absent_last(text(a, name), text(b, name)))
                    .find(|order| order.is_ne())
                    .unwrap_or(Ordering::Equal),
                (a, b) => a.is_some().cmp(&b.is_some()),
            },
        )
}

fn absent_last(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (a, b) => b.is_some().cmp(&a.is_some()),
    }
}

/// Zipkin's endpoint tracker: whether `next` agrees with the endpoint gathered so far,
/// and if so, fills in the fields `gathered` lacks.
fn gather_endpoint(gathered: &mut Value, next: Option<&Value>) -> bool {
    let Some(next) = next else {
        return true;
    };
    let names = ["serviceName", "ipv4", "ipv6", "port"];
    let disagrees = names.iter().any(|name| {
        let (had, new) = (field(gathered, name), field(next, name));
        had.is_some() && new.is_some() && had != new
    });
    if disagrees {
        return false;
    }
    fill(gathered, next, &names);
    true
}

/// Copies into `into` each field of `names` that it lacks and `from` has.
fn fill(into: &mut Value, from: &Value, names: &[&str]) {
    if !into.is_object() {
        *into = Value::Object(Map::new());
    }
    for name in names {
        if field(into, name).is_none()
            && let Some(value) = field(from, name)
        {
            into[*name] = value.clone();
        }
    }
}

/// `Span.Builder.merge`: `span` absorbs `next`.
fn absorb(span: &mut Value, next: &Value) {
    let scalars = [
        "traceId",
        "parentId",
        "kind",
        "name",
        "timestamp",
        "duration",
    ];
    fill(span, next, &scalars);
    for endpoint in ["localEndpoint", "remoteEndpoint"] {
        match (field(span, endpoint).cloned(), field(next, endpoint)) {
            (None, Some(theirs)) => span[endpoint] = theirs.clone(),
            (Some(mut ours), Some(theirs)) => {
                fill(&mut ours, theirs, &["serviceName", "ipv4", "ipv6", "port"]);
                span[endpoint] = ours;
            }
            (_, None) => {}
        }
    }
    if let Some(Value::Array(more)) = field(next, "annotations") {
        let mut all = field(span, "annotations")
            .and_then(Value::as_array)
            .cloned();
        all.get_or_insert_with(Vec::new)
            .extend(more.iter().cloned());
        span["annotations"] = Value::Array(all.unwrap_or_default());
    }
    if let Some(Value::Object(more)) = field(next, "tags") {
        let mut tags = field(span, "tags").and_then(Value::as_object).cloned();
        let tags_mut = tags.get_or_insert_with(Map::new);
        for (key, value) in more {
            tags_mut.insert(key.clone(), value.clone());
        }
        span["tags"] = Value::Object(tags.unwrap_or_default());
    }
    for flag in ["debug", "shared"] {
        if field(next, flag) == Some(&Value::Bool(true)) {
            span[flag] = Value::Bool(true);
        }
    }
}

/// `Span.Builder.build`: no parent equal to the span's own id, no `shared` on a client,
/// annotations sorted by time then value, without duplicates.
fn build(span: &mut Value) {
    if field(span, "parentId").is_some() && field(span, "parentId") == field(span, "id") {
        remove(span, "parentId");
    }
    if is_client(span) && is_shared(span) {
        remove(span, "shared");
    }
    if let Some(Value::Array(annotations)) = span.get_mut("annotations") {
        annotations.sort_by(|a, b| {
            let key = |a: &Value| (a["timestamp"].as_i64(), a["value"].to_string());
            key(a).cmp(&key(b))
        });
        annotations.dedup();
    }
}

/// `Trace.merge`'s repairs of a span that shares `last`'s id (see [`merge_reports`]).
fn repair(last: &Value, span: &mut Value) {
    if text(last, "id") != text(span, "id") {
        return;
    }
    if is_client(last) && text(span, "kind") == Some("SERVER") && !is_shared(span) {
        span["shared"] = Value::Bool(true);
    }
    if is_shared(span)
        && field(span, "parentId").is_none()
        && let Some(parent) = field(last, "parentId")
    {
        span["parentId"] = parent.clone();
    }
}

fn remove(span: &mut Value, name: &str) {
    if let Some(fields) = span.as_object_mut() {
        fields.remove(name);
    }
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
            let id = spans.first().and_then(|span| text(span, "traceId"));
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The merge is written from Zipkin's rules; these are the cases its own tests pin.
    #[test]
    fn reports_merge_as_zipkin_merges_them() {
        let client = json!({"traceId": "a", "id": "1", "parentId": "0", "kind": "CLIENT",
            "localEndpoint": {"serviceName": "web"}, "timestamp": 5, "duration": 9});
        let server = json!({"traceId": "a", "id": "1", "kind": "SERVER",
            "localEndpoint": {"serviceName": "api"}, "timestamp": 6});
        let late = json!({"traceId": "a", "id": "1", "duration": 7,
            "tags": {"error": "x"}, "annotations": [{"timestamp": 1, "value": "b"}]});
        let again = json!({"traceId": "a", "id": "1", "localEndpoint": {"serviceName": "api"},
            "annotations": [{"timestamp": 1, "value": "b"}, {"timestamp": 0, "value": "a"}]});
        let merged = merge_reports(vec![server, late, client, again]);
        assert_eq!(
            merged,
            [
                json!({"traceId": "a", "id": "1", "parentId": "0", "kind": "CLIENT",
                    "localEndpoint": {"serviceName": "web"}, "timestamp": 5, "duration": 9,
                    "tags": {"error": "x"}, "annotations": [{"timestamp": 1, "value": "b"}]}),
                json!({"traceId": "a", "id": "1", "kind": "SERVER", "shared": true,
                    "parentId": "0", "localEndpoint": {"serviceName": "api"}, "timestamp": 6,
                    "annotations": [{"timestamp": 0, "value": "a"}, {"timestamp": 1, "value": "b"}]}),
            ]
        );
    }
}
