//! Reading a JSON v2 span list the way Zipkin 3.6.1 reads it.
//!
//! Zipkin's decoder is more forgiving than the `Span` schema, and a stand-in that refused
//! what Zipkin stores would fail tracers that work against Zipkin. So a body is first read
//! as plain JSON, then each span is built by these rules (each one checked against the jar):
//!
//! - The body starts with `[`; an empty body is an empty list; text after the list is
//!   ignored.
//! - `traceId` is 1 to 32 lower-hex digits, not all zeros, left-padded with zeros to 16 or
//!   32 (`abc` is `0000000000000abc`); a 32-digit id whose first 16 digits are zeros is its
//!   last 16. `id` is 1 to 16 digits, padded to 16; 16 zeros are refused. `parentId` is
//!   read like `id`, but zeros or the span's own id mean "no parent". Both ids are required.
//! - A field that takes text also takes a JSON number, as its digits (`"name": 5` is `"5"`).
//!   A field that takes a number also takes text holding one, and a float with no fraction.
//! - `null` is the same as leaving a field out, except for `traceId` and `id`.
//! - `timestamp` and `duration` of zero or below are absent; so are an empty `name` and an
//!   empty `serviceName`. `kind` is one of the four upper-case words.
//! - An endpoint's `ipv4` and `ipv6` each take an address of either family (`::ffff:10.0.0.2`
//!   is IPv4); an address that does not parse is dropped. A port of zero or below is
//!   absent, one above 65535 refused. An endpoint left with no field is absent.
//! - Each annotation needs a `timestamp` and a `value`; tag values are text, never `null`.
//! - `debug` and `shared` are booleans; `shared` on a `CLIENT` span is dropped.
//! - Unknown fields are ignored, whatever they hold.
//!
//! Zipkin also stores three things the span model cannot hold, which are refused here: a
//! span id of zeros shorter than 16 digits, a trace id whose low 64 bits are zeros, and an
//! annotation timestamp below zero. Zipkin lower-cases span and service names; the stand-in
//! keeps them as sent. docs/operations.md lists these differences.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use serde_json::{Map, Value};
use zipkin_tracing::{Annotation, Endpoint, Kind, Span, SpanId, TraceId};

/// Why one span of a list was refused: the field (empty for the span itself) and the rule.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) field: String,
    pub(super) problem: String,
}

pub(super) fn refuse(field: &str, problem: impl Into<String>) -> Refusal {
    Refusal {
        field: field.to_owned(),
        problem: problem.into(),
    }
}

/// Why a body is not a span list: where (a path such as `[2].tags`) and what.
#[derive(Debug)]
pub(super) enum BodyRefusal {
    /// The body does not start with `[`.
    NotAList,
    /// The JSON is malformed at `path`.
    Json {
        path: serde_path_to_error::Path,
        problem: String,
    },
    /// Span `index` breaks a rule.
    Span { index: usize, refusal: Refusal },
}

/// Reads `json` as Zipkin does (see the module documentation).
pub(super) fn read_span_list(json: &[u8]) -> Result<Vec<Span>, BodyRefusal> {
    read_list(json)?
        .iter()
        .enumerate()
        .map(|(index, item)| {
            read_span(item).map_err(|refusal| BodyRefusal::Span { index, refusal })
        })
        .collect()
}

/// The items of a JSON list, read as Zipkin reads a list of spans in either version: an
/// empty body is an empty list, the body starts with `[`, and text after the list is
/// ignored.
pub(super) fn read_list(json: &[u8]) -> Result<Vec<Value>, BodyRefusal> {
    let Some(&first) = json.first() else {
        return Ok(Vec::new());
    };
    if first != b'[' {
        return Err(BodyRefusal::NotAList);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    // Only the first value is read: Zipkin ignores whatever follows the list.
    let list =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| BodyRefusal::Json {
            path: error.path().clone(),
            problem: error.into_inner().to_string(),
        })?;
    match list {
        Value::Array(items) => Ok(items),
        // A body starting with `[` that parses is a list.
        _ => Err(BodyRefusal::NotAList),
    }
}

/// One span, by the rules of the module documentation.
fn read_span(item: &Value) -> Result<Span, Refusal> {
    let (fields, trace_id, id) = span_object(item)?;
    let mut span = Span::new(trace_id, id);
    for (name, value) in fields {
        if value.is_null() {
            continue;
        }
        let name = name.as_str();
        match name {
            "parentId" => span.parent_id = parent_id(&text(name, value)?)?,
            "kind" => span.kind = Some(kind(&text(name, value)?)?),
            "name" => span.name = Some(text(name, value)?).filter(|n| !n.is_empty()),
            "timestamp" => span.timestamp = positive(whole_number(name, value)?),
            "duration" => span.duration = positive(whole_number(name, value)?),
            "localEndpoint" => span.local_endpoint = endpoint(name, value)?,
            "remoteEndpoint" => span.remote_endpoint = endpoint(name, value)?,
            "annotations" => span.annotations = annotations(value)?,
            "tags" => span.tags = tags(value)?,
            "debug" => span.debug = boolean(name, value)?,
            "shared" => span.shared = boolean(name, value)?,
            _ => {}
        }
    }
    Ok(super::settle(span))
}

/// A span object's fields and its required ids, in v1 and v2 alike.
pub(super) fn span_object(item: &Value) -> Result<(&Map<String, Value>, TraceId, SpanId), Refusal> {
    let Value::Object(fields) = item else {
        return Err(refuse("", "expected a span object"));
    };
    let required = |name: &str| match fields.get(name) {
        Some(value) => text(name, value),
        None => Err(refuse(name, "is required")),
    };
    Ok((
        fields,
        trace_id(&required("traceId")?)?,
        span_id(&required("id")?)?,
    ))
}

/// A text field: a JSON string, or a number as its digits.
pub(super) fn text(field: &str, value: &Value) -> Result<String, Refusal> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        other => Err(refuse(field, format!("expected text, got {other}"))),
    }
}

/// A number field: a whole JSON number, a float with no fraction, or text holding either.
pub(super) fn whole_number(field: &str, value: &Value) -> Result<i64, Refusal> {
    let from_float = |float: f64| {
        // `i64::MAX as f64` rounds up to 2^63, which is itself out of range.
        let in_range = float.fract() == 0.0 && float >= i64::MIN as f64 && float < i64::MAX as f64;
        // Whole and in range: the conversion is exact.
        in_range.then_some(float as i64)
    };
    let number = match value {
        Value::Number(number) => number
            .as_i64()
            .or_else(|| number.as_f64().and_then(from_float)),
        Value::String(text) => text
            .parse::<i64>()
            .ok()
            .or_else(|| text.parse::<f64>().ok().and_then(from_float)),
        _ => None,
    };
    number.ok_or_else(|| refuse(field, format!("expected a whole number, got {value}")))
}

/// A timestamp or duration: zero or below means absent.
pub(super) fn positive(number: i64) -> Option<u64> {
    u64::try_from(number).ok().filter(|&n| n > 0)
}

pub(super) fn boolean(field: &str, value: &Value) -> Result<bool, Refusal> {
    value
        .as_bool()
        .ok_or_else(|| refuse(field, format!("expected true or false, got {value}")))
}

/// Checks that `id` is 1 to `max` lower-hex digits.
fn check_hex(field: &str, id: &str, max: usize) -> Result<(), Refusal> {
    if id.is_empty() {
        return Err(refuse(field, "is empty"));
    }
    if id.len() > max {
        return Err(refuse(field, format!("{id:?} is longer than {max} digits")));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(refuse(field, format!("{id:?} is not lower-case hex")));
    }
    Ok(())
}

fn is_zeros(id: &str) -> bool {
    id.bytes().all(|b| b == b'0')
}

/// Zipkin's form of a trace id (see the module documentation), or why it has none.
pub(crate) fn normalise_trace_id(id: &str) -> Result<String, String> {
    check_hex("traceId", id, 32).map_err(|refusal| refusal.problem)?;
    if is_zeros(id) {
        return Err(format!("{id:?} is all zeros"));
    }
    Ok(match id.len() {
        32 if is_zeros(&id[..16]) => id[16..].to_owned(),
        16 | 32 => id.to_owned(),
        len if len < 16 => format!("{id:0>16}"),
        _ => format!("{id:0>32}"),
    })
}

pub(super) fn trace_id(id: &str) -> Result<TraceId, Refusal> {
    let normal = normalise_trace_id(id).map_err(|problem| refuse("traceId", problem))?;
    normal.parse().map_err(|_| {
        refuse(
            "traceId",
            format!("{id:?}: the low 64 bits are zeros, which this collector cannot store"),
        )
    })
}

pub(super) fn span_id(id: &str) -> Result<SpanId, Refusal> {
    check_hex("id", id, 16)?;
    if id.len() == 16 && is_zeros(id) {
        return Err(refuse("id", format!("{id:?} is all zeros")));
    }
    format!("{id:0>16}").parse().map_err(|_| {
        refuse(
            "id",
            format!("{id:?} is zero, which this collector cannot store"),
        )
    })
}

pub(super) fn parent_id(id: &str) -> Result<Option<SpanId>, Refusal> {
    check_hex("parentId", id, 16)?;
    // Non-zero lower hex of at most 16 digits always parses once padded.
    Ok(format!("{id:0>16}").parse().ok())
}

fn kind(word: &str) -> Result<Kind, Refusal> {
    match word {
        "CLIENT" => Ok(Kind::Client),
        "SERVER" => Ok(Kind::Server),
        "PRODUCER" => Ok(Kind::Producer),
        "CONSUMER" => Ok(Kind::Consumer),
        other => Err(refuse("kind", format!("unknown kind {other:?}"))),
    }
}

pub(super) fn object<'a>(field: &str, value: &'a Value) -> Result<&'a Map<String, Value>, Refusal> {
    value
        .as_object()
        .ok_or_else(|| refuse(field, format!("expected an object, got {value}")))
}

pub(super) fn endpoint(field: &str, value: &Value) -> Result<Option<Endpoint>, Refusal> {
    let mut endpoint = Endpoint::default();
    for (name, value) in object(field, value)? {
        if value.is_null() {
            continue;
        }
        let at = format!("{field}.{name}");
        match name.as_str() {
            "serviceName" => {
                let name = text(&at, value)?;
                endpoint.service_name = (!name.is_empty()).then(|| Arc::from(name.as_str()));
            }
            "ipv4" | "ipv6" => match ip_address(&text(&at, value)?) {
                Some(IpAddr::V4(ip)) => endpoint.ipv4 = Some(ip),
                Some(IpAddr::V6(ip)) => endpoint.ipv6 = Some(ip),
                None => {}
            },
            "port" => {
                let port = whole_number(&at, value)?;
                if i32::try_from(port).is_err() || port > i64::from(u16::MAX) {
                    return Err(refuse(&at, format!("invalid port {port}")));
                }
                endpoint.port = u16::try_from(port).ok().filter(|&p| p != 0);
            }
            _ => {}
        }
    }
    Ok((endpoint != Endpoint::default()).then_some(endpoint))
}

/// An address of either family; an IPv6 address written with an embedded IPv4 one
/// (`::ffff:10.0.0.2`, `::10.0.0.2`) is that IPv4 address.
pub(super) fn ip_address(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(ip));
    }
    let ip = text.parse::<Ipv6Addr>().ok()?;
    if !text.contains('.') {
        return Some(IpAddr::V6(ip));
    }
    let [a, b, c, d, e, f, ..] = ip.segments();
    let embedded = a == 0 && b == 0 && c == 0 && d == 0 && e == 0 && (f == 0 || f == 0xffff);
    let [.., w, x, y, z] = ip.octets();
    embedded.then(|| IpAddr::V4(Ipv4Addr::new(w, x, y, z)))
}

fn annotations(value: &Value) -> Result<Vec<Annotation>, Refusal> {
    let Value::Array(items) = value else {
        return Err(refuse(
            "annotations",
            format!("expected a list, got {value}"),
        ));
    };
    let mut annotations = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let at = format!("annotations.{index}");
        let fields = object(&at, item)?;
        let (Some(timestamp), Some(value)) = (fields.get("timestamp"), fields.get("value")) else {
            return Err(refuse(&at, "needs a timestamp and a value"));
        };
        let timestamp = whole_number(&format!("{at}.timestamp"), timestamp)?;
        let timestamp = u64::try_from(timestamp).map_err(|_| {
            refuse(
                &format!("{at}.timestamp"),
                format!("{timestamp} is below zero, which this collector cannot store"),
            )
        })?;
        let value = text(&format!("{at}.value"), value)?;
        annotations.push(Annotation { timestamp, value });
    }
    Ok(annotations)
}

fn tags(value: &Value) -> Result<std::collections::BTreeMap<String, String>, Refusal> {
    let fields = object("tags", value)?;
    fields
        .iter()
        .map(|(key, value)| Ok((key.clone(), text(&format!("tags.{key:?}"), value)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_are_padded_as_zipkin_pads_them() {
        for (sent, kept) in [
            ("abc", "0000000000000abc"),
            ("463ac35c9f6413ad", "463ac35c9f6413ad"),
            ("1234567890abcdef123456", "00000000001234567890abcdef123456"),
            ("00000000000000001234567890abcdef", "1234567890abcdef"),
            ("0000000000000000a", "0000000000000000000000000000000a"),
        ] {
            assert_eq!(normalise_trace_id(sent).as_deref(), Ok(kept), "{sent}");
        }
        for refused in ["", "0", "ABC", "xyz", " abc", &"1".repeat(33)] {
            assert!(normalise_trace_id(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn addresses_of_either_family_land_in_their_own_field() {
        let v4 = |text: &str| Some(IpAddr::V4(text.parse().unwrap()));
        assert_eq!(ip_address("10.0.0.1"), v4("10.0.0.1"));
        assert_eq!(ip_address("::ffff:10.0.0.2"), v4("10.0.0.2"));
        assert_eq!(ip_address("::1.2.3.4"), v4("1.2.3.4"));
        assert_eq!(ip_address("::"), Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)));
        assert_eq!(
            ip_address("2001:DB8::1").unwrap().to_string(),
            "2001:db8::1"
        );
        for dropped in [
            "1.2.3",
            "256.1.1.1",
            "nope",
            "",
            "fe80::1%eth0",
            "1::1.2.3.4",
        ] {
            assert_eq!(ip_address(dropped), None, "{dropped}");
        }
    }
}
