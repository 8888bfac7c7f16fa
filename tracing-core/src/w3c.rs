//! W3C Trace Context (Level 1): the `traceparent` and `tracestate` headers OpenTelemetry sends.
//! `traceparent: 00-{trace id, 32 hex}-{caller's span id, 16 hex}-{flags, 2 hex}` carries
//! what B3 carries, less the parent id and the deferred decision: bit 0 of the flags says
//! whether the caller sampled. `tracestate` holds vendors' `key=value` entries, passed on
//! unchanged. This follows the W3C recommendation <https://www.w3.org/TR/trace-context/>.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::b3::quote;
use crate::context::{SamplingFlags, TraceContext};
use crate::id::{SpanId, TraceId};

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The length of a version-00 `traceparent`, and the prefix every later version shares.
const TRACEPARENT_LEN: usize = 2 + 1 + 32 + 1 + 16 + 1 + 2;
const SAMPLED_FLAG: u8 = 0x01;

/// `tracestate` limits: at most 32 entries; a tracer must pass on at least 512 characters
/// and, over that, drops entries of more than 128 characters first, then from the end.
const MAX_ENTRIES: usize = 32;
const MAX_PASSED_ON: usize = 512;
const LONG_ENTRY: usize = 128;

/// A valid `tracestate` value, passed on unchanged to the next service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TraceState(pub(crate) HeaderValue);

/// What a request's W3C headers said: the caller's span and its `tracestate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct W3cContext {
    /// The caller's span: its trace id, its span id (`parent-id` in the header) and its
    /// sampling decision. W3C sends no grandparent, so `parent_id` is `None`.
    pub(crate) context: TraceContext,
    /// The `tracestate` that came with it, if any and valid.
    pub(crate) tracestate: Option<TraceState>,
}

/// Reads `traceparent` (and `tracestate`) from a request. Never fails: an absent or
/// invalid `traceparent` gives `None` (with a debug log line saying why), and then
/// `tracestate` is not read, as the recommendation says.
pub(crate) fn extract_traceparent(headers: &HeaderMap) -> Option<W3cContext> {
    let mut values = headers.get_all(TRACEPARENT).iter();
    let value = values.next()?;
    let parsed = if values.next().is_some() {
        Err("more than one traceparent header".to_owned())
    } else {
        value
            .to_str()
            .map_err(|_| "traceparent is not visible ASCII".to_owned())
            .and_then(parse_traceparent)
    };
    match parsed {
        Ok(context) => Some(W3cContext {
            context,
            tracestate: tracestate(headers),
        }),
        Err(error) => {
            tracing::debug!(%error, "ignoring invalid traceparent; starting a new trace");
            None
        }
    }
}

/// Writes `context` as `traceparent`, and `tracestate` when given, replacing any there.
/// A 64-bit trace id is padded with zeros to 32 hex characters, as Brave and OpenTelemetry
/// do; the sampled flag is set for sampled and debug contexts.
pub(crate) fn inject_traceparent(
    context: &TraceContext,
    tracestate: Option<&TraceState>,
    headers: &mut HeaderMap,
) {
    let mut value = [0u8; TRACEPARENT_LEN];
    value[..3].copy_from_slice(b"00-");
    let trace = context.trace_id.hex();
    let trace = trace.as_ref().as_bytes();
    let trace_start = 3 + 32 - trace.len();
    value[3..trace_start].fill(b'0');
    value[trace_start..35].copy_from_slice(trace);
    value[35] = b'-';
    value[36..52].copy_from_slice(context.span_id.hex().as_ref().as_bytes());
    value[52] = b'-';
    let flags: &[u8; 2] = if context.is_sampled() { b"01" } else { b"00" };
    value[53..].copy_from_slice(flags);
    headers.insert(
        TRACEPARENT,
        HeaderValue::from_bytes(&value).expect("lower-case hex and dashes"),
    );
    match tracestate {
        Some(state) => {
            headers.insert(TRACESTATE, state.0.clone());
        }
        None => {
            headers.remove(TRACESTATE);
        }
    }
}

/// Parses a `traceparent` value. Version 00 is exactly 55 characters. A later version
/// is read as version 00 from its first 55 characters and may go on after a `-`, which
/// is how the recommendation lets today's tracers join tomorrow's; version `ff` is invalid.
fn parse_traceparent(value: &str) -> Result<TraceContext, String> {
    let invalid = |why: &str| format!("traceparent {} {why}", quote(value));
    let bytes = value.as_bytes();
    if bytes.len() < TRACEPARENT_LEN {
        return Err(invalid("is too short"));
    }
    let version = hex_byte(&bytes[0..2]).ok_or_else(|| invalid("has a bad version"))?;
    match version {
        0xff => return Err(invalid("has the forbidden version ff")),
        0x00 if bytes.len() != TRACEPARENT_LEN => {
            return Err(invalid("is not 55 characters long, as version 00 is"));
        }
        _ if bytes.len() > TRACEPARENT_LEN && bytes[TRACEPARENT_LEN] != b'-' => {
            return Err(invalid("goes on past its flags without a dash"));
        }
        _ => {}
    }
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return Err(invalid(
            "does not have the form version-traceid-parentid-flags",
        ));
    }
    // All-zero ids are invalid in W3C as in B3. A trace id whose low half alone is zero is
    // valid W3C, but not here (see `TraceId`'s `FromStr`): it starts a new trace, as in Brave.
    let trace_id: TraceId = value[3..35]
        .parse()
        .map_err(|e| invalid(&format!("has a bad trace id: {e}")))?;
    let span_id: SpanId = value[36..52]
        .parse()
        .map_err(|e| invalid(&format!("has a bad parent id: {e}")))?;
    let flags = hex_byte(&bytes[53..55]).ok_or_else(|| invalid("has bad trace flags"))?;
    // Only the sampled bit is defined; the others are ignored, as the recommendation asks.
    let sampled = flags & SAMPLED_FLAG != 0;
    Ok(TraceContext {
        trace_id,
        span_id,
        parent_id: None,
        flags: if sampled {
            SamplingFlags::SAMPLED
        } else {
            SamplingFlags::NOT_SAMPLED
        },
    })
}

/// Two lower-case hex digits as a byte.
fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    Some(digit(pair[0])? << 4 | digit(pair[1])?)
}

/// The request's `tracestate`, if valid: several headers are one list joined by commas.
/// An invalid one is dropped whole (the recommendation allows it), with a debug log line;
/// one longer than 512 characters is shortened as the recommendation says.
fn tracestate(headers: &HeaderMap) -> Option<TraceState> {
    let mut values = headers.get_all(TRACESTATE).iter();
    let first = values.next()?;
    let rest: Vec<&HeaderValue> = values.collect();
    let joined;
    let text = if rest.is_empty() {
        first.to_str().ok()?
    } else {
        let mut parts = Vec::with_capacity(rest.len() + 1);
        for value in std::iter::once(first).chain(rest) {
            parts.push(value.to_str().ok()?);
        }
        joined = parts.join(",");
        &joined
    };
    match check_tracestate(text) {
        // Within its limits, the value goes on as it came (several headers as one list).
        Ok(()) if text.len() <= MAX_PASSED_ON => HeaderValue::from_str(text).ok().map(TraceState),
        Ok(()) => HeaderValue::from_str(&shorten(entries(text).collect()))
            .ok()
            .filter(|value| !value.is_empty())
            .map(TraceState),
        Err(error) => {
            tracing::debug!(%error, "ignoring invalid tracestate");
            None
        }
    }
}

/// The non-empty entries of a `tracestate` list, without the whitespace around them.
fn entries(text: &str) -> impl Iterator<Item = &str> {
    text.split(',')
        .map(|entry| entry.trim_matches([' ', '\t']))
        .filter(|entry| !entry.is_empty())
}

/// Checks a `tracestate`: at most 32 entries, keys unique, each key and value as the
/// recommendation's grammar says. Empty entries are allowed. Nothing is allocated on the
/// way: the list is short, so a repeated key is found by scanning the entries before it.
fn check_tracestate(text: &str) -> Result<(), String> {
    for (index, entry) in entries(text).enumerate() {
        if index == MAX_ENTRIES {
            return Err(format!(
                "tracestate has more than {MAX_ENTRIES} entries, the most allowed"
            ));
        }
        let (key, value) = entry
            .split_once('=')
            .ok_or_else(|| format!("tracestate entry {} has no '='", quote(entry)))?;
        if !valid_key(key) {
            return Err(format!("tracestate key {} is invalid", quote(key)));
        }
        if !valid_value(value) {
            return Err(format!("tracestate value {} is invalid", quote(value)));
        }
        let same_key = |earlier: &str| earlier.split_once('=').is_some_and(|(k, _)| k == key);
        if entries(text).take(index).any(same_key) {
            return Err(format!("tracestate key {} appears twice", quote(key)));
        }
    }
    Ok(())
}

/// A key: `lcalpha 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/")`, or a multi-tenant
/// `tenant@system` with a tenant of up to 241 and a system of up to 14 such characters.
fn valid_key(key: &str) -> bool {
    let allowed = |b: u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/');
    match key.split_once('@') {
        None => {
            key.len() <= 256 && key.as_bytes()[0].is_ascii_lowercase() && key.bytes().all(allowed)
        }
        Some((tenant, system)) => {
            (1..=241).contains(&tenant.len())
                && (1..=14).contains(&system.len())
                && matches!(tenant.as_bytes()[0], b'a'..=b'z' | b'0'..=b'9')
                && system.as_bytes()[0].is_ascii_lowercase()
                && tenant.bytes().all(allowed)
                && system.bytes().all(allowed)
        }
    }
}

/// A value: 1 to 256 printable ASCII characters other than `,` and `=`. (It cannot end in
/// a space: spaces around an entry are whitespace, trimmed before this check.)
fn valid_value(value: &str) -> bool {
    (1..=256).contains(&value.len())
        && value
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
}

/// Shortens a list of entries to at most 512 characters: entries over 128 characters go
/// first, then entries from the end of the list.
fn shorten(mut entries: Vec<&str>) -> String {
    let length = |entries: &[&str]| {
        entries.iter().map(|e| e.len()).sum::<usize>() + entries.len().saturating_sub(1)
    };
    while length(&entries) > MAX_PASSED_ON {
        match entries.iter().rposition(|e| e.len() > LONG_ENTRY) {
            Some(long) => entries.remove(long),
            None => entries
                .pop()
                .expect("a list over 512 characters is not empty"),
        };
    }
    entries.join(",")
}

#[cfg(test)]
#[path = "w3c_tests.rs"]
mod tests;
