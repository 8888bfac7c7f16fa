//! Reading a JSON v1 span list (`POST /api/v1/spans`) the way Zipkin 3.6.1 reads it.
//!
//! py_zipkin's `Encoding.V1_JSON` and other older tracers send this form. Each span is
//! read with the JSON v2 rules for ids, numbers, text and endpoints, then converted to the
//! v2 spans Zipkin stores (see `v1_span`), so a v1 trace reads back as Zipkin answers it.

use serde_json::{Map, Value};

use super::json_v2::{
    BodyRefusal, Refusal, boolean, endpoint, object, parent_id, positive, read_list, refuse,
    span_object, text, whole_number,
};
use super::v1_span::{V1Annotation, V1BinaryAnnotation, V1Span, to_v2};
use zipkin_tracing::Span;

/// Reads `json`, a list of v1 spans, into the v2 spans Zipkin stores for them.
///
/// As for v2: an empty body is an empty list, the body starts with `[`, text after the
/// list is ignored, and one bad span refuses the whole list. Besides the v2 rules, each
/// annotation needs a `timestamp` and a `value`, each binary annotation a `key`; a binary
/// annotation whose value is neither text nor a `true` address (`ca`, `sa`, `ma` with an
/// endpoint) is dropped, as Zipkin drops it.
pub(super) fn read_v1_span_list(json: &[u8]) -> Result<Vec<Span>, BodyRefusal> {
    let items = read_list(json)?;
    let mut spans = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let v1 = read_v1_span(item).map_err(|refusal| BodyRefusal::Span { index, refusal })?;
        spans.extend(to_v2(&v1));
    }
    Ok(spans)
}

fn read_v1_span(item: &Value) -> Result<V1Span, Refusal> {
    let (fields, trace_id, id) = span_object(item)?;
    let mut span = V1Span {
        trace_id,
        id,
        parent_id: None,
        name: None,
        timestamp: None,
        duration: None,
        debug: false,
        annotations: Vec::new(),
        binary_annotations: Vec::new(),
    };
    for (name, value) in fields {
        if value.is_null() {
            continue;
        }
        let name = name.as_str();
        match name {
            "parentId" => span.parent_id = parent_id(&text(name, value)?)?,
            "name" => span.name = Some(text(name, value)?).filter(|n| !n.is_empty()),
            "timestamp" => span.timestamp = positive(whole_number(name, value)?),
            "duration" => span.duration = positive(whole_number(name, value)?),
            "debug" => span.debug = boolean(name, value)?,
            "annotations" => span.annotations = list(name, value, annotation)?,
            "binaryAnnotations" => {
                span.binary_annotations = list(name, value, binary_annotation)?
                    .into_iter()
                    .flatten()
                    .collect();
            }
            _ => {}
        }
    }
    Ok(span)
}

/// Each item of a list field, read by `read` with its path (such as `annotations.2`).
fn list<T>(
    field: &str,
    value: &Value,
    read: fn(&str, &Map<String, Value>) -> Result<T, Refusal>,
) -> Result<Vec<T>, Refusal> {
    let Value::Array(items) = value else {
        return Err(refuse(field, format!("expected a list, got {value}")));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let at = format!("{field}.{index}");
            read(&at, object(&at, item)?)
        })
        .collect()
}

/// The endpoint of an annotation, absent when `null` or empty.
fn annotation_endpoint(
    at: &str,
    fields: &Map<String, Value>,
) -> Result<Option<zipkin_tracing::Endpoint>, Refusal> {
    match fields.get("endpoint") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => endpoint(&format!("{at}.endpoint"), value),
    }
}

fn annotation(at: &str, fields: &Map<String, Value>) -> Result<V1Annotation, Refusal> {
    let present = |name| fields.get(name).filter(|value| !value.is_null());
    let (Some(timestamp), Some(value)) = (present("timestamp"), present("value")) else {
        return Err(refuse(at, "needs a timestamp and a value"));
    };
    let timestamp = whole_number(&format!("{at}.timestamp"), timestamp)?;
    let timestamp = u64::try_from(timestamp).map_err(|_| {
        refuse(
            &format!("{at}.timestamp"),
            format!("{timestamp} is below zero, which this collector cannot store"),
        )
    })?;
    Ok(V1Annotation {
        timestamp,
        value: text(&format!("{at}.value"), value)?,
        endpoint: annotation_endpoint(at, fields)?,
    })
}

/// A binary annotation, or `None` for one Zipkin drops (see [`read_v1_span_list`]).
fn binary_annotation(
    at: &str,
    fields: &Map<String, Value>,
) -> Result<Option<V1BinaryAnnotation>, Refusal> {
    let Some(key) = fields.get("key").filter(|key| !key.is_null()) else {
        return Err(refuse(at, "needs a key"));
    };
    let key = text(&format!("{at}.key"), key)?;
    let endpoint = annotation_endpoint(at, fields)?;
    let value = match fields.get("value") {
        Some(Value::String(value)) => Some(value.clone()),
        Some(Value::Bool(true))
            if endpoint.is_some() && ["ca", "sa", "ma"].contains(&key.as_str()) =>
        {
            None
        }
        _ => return Ok(None),
    };
    Ok(Some(V1BinaryAnnotation {
        key,
        value,
        endpoint,
    }))
}
