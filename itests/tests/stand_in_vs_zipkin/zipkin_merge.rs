//! Zipkin's merge of the reports of one span (`zipkin2.internal.Trace.merge` and
//! `Span.Builder.merge`), written here from Zipkin's rules so that the comparison does not
//! lean on the stand-in's own merge, on spans as JSON.

use std::cmp::Ordering;

use serde_json::{Map, Value};

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
