//! Zipkin v2 JSON written straight from [`FinishedSpan`]s, for the HTTP reporter.
//!
//! Building a [`Span`](crate::Span) only to hand it to serde cost the reporter thread most
//! of its time: owned strings and a tag map made per span, and every hex id and fixed key
//! run through serde_json's escaper. This encoder reads a recorded span in place and writes the same
//! bytes serde_json writes for the converted span, so collectors see no difference.

use std::io::Write as _;

use smallvec::SmallVec;

use crate::finished::{FinishedSpan, Recorded, Tags, View};
use crate::record::epoch_micros;
use crate::span::{Endpoint, Kind};

/// Appends the JSON list of `spans` to `out`: exactly what `serde_json::to_vec` writes for
/// the spans' [`FinishedSpan::into_span`] forms, and what [`crate::HttpReporter`] POSTs.
/// Public as `report::encode_json`, for reporters of other transports.
pub fn encode_batch(spans: &[FinishedSpan], out: &mut Vec<u8>) {
    out.push(b'[');
    for (index, span) in spans.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        match span.view() {
            View::Recorded(recorded) => encode_recorded(recorded, out),
            // Spans built by hand are rare (tests, forwarding); serde is fast enough there.
            View::Built(span) => serde_json::to_writer(&mut *out, span)
                .expect("a Span always encodes: string keys only, and a Vec never fails"),
        }
    }
    out.push(b']');
}

/// One recorded span as a JSON object, fields in the order of `Span`'s serde derive and
/// left out exactly when it leaves them out.
fn encode_recorded(recorded: &Recorded, out: &mut Vec<u8>) {
    let context = recorded.context;
    out.extend_from_slice(b"{\"traceId\":\"");
    out.extend_from_slice(context.trace_id.hex().as_bytes());
    if let Some(parent_id) = context.parent_id {
        out.extend_from_slice(b"\",\"parentId\":\"");
        out.extend_from_slice(parent_id.hex().as_bytes());
    }
    out.extend_from_slice(b"\",\"id\":\"");
    out.extend_from_slice(context.span_id.hex().as_bytes());
    out.push(b'"');
    if let Some(kind) = recorded.kind {
        out.extend_from_slice(b",\"kind\":");
        out.extend_from_slice(kind_json(kind));
    }
    out.extend_from_slice(b",\"name\":");
    write_str(&recorded.name, out);
    let (start, duration) = recorded.timestamp_and_duration();
    out.extend_from_slice(b",\"timestamp\":");
    write_u64(start, out);
    out.extend_from_slice(b",\"duration\":");
    write_u64(duration, out);
    if context.flags.debug {
        out.extend_from_slice(b",\"debug\":true");
    }
    if recorded.shared {
        out.extend_from_slice(b",\"shared\":true");
    }
    out.extend_from_slice(b",\"localEndpoint\":");
    write_endpoint(&recorded.local_endpoint, out);
    if let Some(remote) = &recorded.remote_endpoint {
        out.extend_from_slice(b",\"remoteEndpoint\":");
        write_endpoint(remote, out);
    }
    if !recorded.annotations.is_empty() {
        out.extend_from_slice(b",\"annotations\":[");
        for (index, (at, value)) in recorded.annotations.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"timestamp\":");
            write_u64(epoch_micros(*at), out);
            out.extend_from_slice(b",\"value\":");
            write_str(value, out);
            out.push(b'}');
        }
        out.push(b']');
    }
    if !recorded.tags.is_empty() {
        out.extend_from_slice(b",\"tags\":");
        write_tags(&recorded.tags, out);
    }
    out.push(b'}');
}

/// A kind as serde's `SCREAMING_SNAKE_CASE` renaming writes it, quotes included.
fn kind_json(kind: Kind) -> &'static [u8] {
    match kind {
        Kind::Client => b"\"CLIENT\"",
        Kind::Server => b"\"SERVER\"",
        Kind::Producer => b"\"PRODUCER\"",
        Kind::Consumer => b"\"CONSUMER\"",
    }
}

/// An endpoint object; absent fields are left out, so an empty endpoint is `{}`.
fn write_endpoint(endpoint: &Endpoint, out: &mut Vec<u8>) {
    out.push(b'{');
    // Whether a field has been written, to know when a comma is due.
    let mut any = false;
    let mut key = |name: &[u8], out: &mut Vec<u8>| {
        if std::mem::replace(&mut any, true) {
            out.push(b',');
        }
        out.extend_from_slice(name);
    };
    if let Some(name) = &endpoint.service_name {
        key(b"\"serviceName\":", out);
        write_str(name, out);
    }
    // Addresses are digits, dots, colons and hex letters: nothing to escape.
    if let Some(ipv4) = endpoint.ipv4 {
        key(b"\"ipv4\":", out);
        write!(out, "\"{ipv4}\"").expect("writing to a Vec never fails");
    }
    if let Some(ipv6) = endpoint.ipv6 {
        key(b"\"ipv6\":", out);
        write!(out, "\"{ipv6}\"").expect("writing to a Vec never fails");
    }
    if let Some(port) = endpoint.port {
        key(b"\"port\":", out);
        write_u64(u64::from(port), out);
    }
    out.push(b'}');
}

/// Tags as the `BTreeMap` of `into_span` would hold them: sorted by key, and the value
/// set last winning for a key set more than once.
fn write_tags(tags: &Tags, out: &mut Vec<u8>) {
    // Indices rather than the pairs are sorted, on the stack for the usual handful of
    // tags. The sort is stable, so among equal keys the last one set stays last.
    let mut order: SmallVec<[usize; 8]> = (0..tags.len()).collect();
    order.sort_by(|&a, &b| tags[a].0.cmp(&tags[b].0));
    out.push(b'{');
    let mut first = true;
    for (position, &index) in order.iter().enumerate() {
        let (key, value) = &tags[index];
        let replaced = order
            .get(position + 1)
            .is_some_and(|&next| tags[next].0 == *key);
        if replaced {
            continue;
        }
        if !std::mem::replace(&mut first, false) {
            out.push(b',');
        }
        write_str(key, out);
        out.push(b':');
        write_str(value, out);
    }
    out.push(b'}');
}

/// A number in decimal, as serde_json writes it.
fn write_u64(value: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// What serde_json writes for each byte of a string: 0 for the byte itself, `u` for
/// `\u00XX`, or the letter of a short escape (`\n`, `\"`, ...).
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// A JSON string, quotes included, escaped exactly as serde_json escapes it. Most strings
/// (names, HTTP tags) need no escape and are copied in one go.
fn write_str(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    out.push(b'"');
    // Every escaped byte is ASCII, so cutting the string around one never splits a
    // multi-byte character.
    let mut copied = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape = ESCAPE[usize::from(byte)];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[copied..index]);
        copied = index + 1;
        if escape == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::context::{SamplingFlags, TraceContext};
    use crate::finished::Text;
    use crate::id::{SpanId, TraceId};
    use crate::span::Span;

    /// What serde_json writes for the spans' Zipkin forms: the reference.
    fn reference(spans: &[FinishedSpan]) -> Vec<u8> {
        let spans: Vec<Span> = spans.iter().cloned().map(FinishedSpan::into_span).collect();
        serde_json::to_vec(&spans).expect("spans encode")
    }

    fn encoded(spans: &[FinishedSpan]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_batch(spans, &mut out);
        out
    }

    /// Asserts byte equality, showing both as text when they differ.
    fn assert_same(spans: &[FinishedSpan]) {
        let (ours, theirs) = (encoded(spans), reference(spans));
        assert!(
            ours == theirs,
            "ours:   {}\nserde:  {}",
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
    }

    /// Any text, weighted towards what needs escaping: quotes, backslashes, control
    /// characters and DEL, besides any Unicode at all.
    fn text() -> impl Strategy<Value = Text> {
        let tricky = vec(
            prop_oneof![
                Just('"'),
                Just('\\'),
                Just('/'),
                Just('\u{7f}'),
                (0u32..0x20).prop_map(|c| char::from_u32(c).expect("control character")),
                any::<char>(),
                proptest::char::range('a', 'c'),
            ],
            0..8,
        )
        .prop_map(String::from_iter);
        prop_oneof![
            tricky.prop_map(Text::Owned),
            any::<String>().prop_map(Text::Owned),
            Just(Text::Borrowed("http.method")),
        ]
    }

    fn endpoint() -> impl Strategy<Value = Endpoint> {
        (
            proptest::option::of(any::<String>()),
            proptest::option::of(any::<std::net::Ipv4Addr>()),
            proptest::option::of(any::<std::net::Ipv6Addr>()),
            proptest::option::of(1u16..),
        )
            .prop_map(|(name, ipv4, ipv6, port)| Endpoint {
                service_name: name.map(Arc::from),
                ipv4,
                ipv6,
                port,
            })
    }

    fn kind() -> impl Strategy<Value = Option<Kind>> {
        proptest::option::of(prop_oneof![
            Just(Kind::Client),
            Just(Kind::Server),
            Just(Kind::Producer),
            Just(Kind::Consumer),
        ])
    }

    /// An instant some microseconds (and nanoseconds) from `base`, either side of it, so
    /// that both branches of `epoch_micros` and rounding are exercised.
    fn offset(base: Instant, nanos: i64) -> Instant {
        let magnitude = Duration::from_nanos(nanos.unsigned_abs());
        if nanos < 0 {
            base.checked_sub(magnitude).unwrap_or(base)
        } else {
            base + magnitude
        }
    }

    prop_compose! {
        fn recorded(base: Instant)(
            wide in any::<bool>(),
            trace in any::<u128>(),
            span_id in 1u64..,
            parent in proptest::option::of(1u64..),
            debug in any::<bool>(),
            kind in kind(),
            name in text(),
            shared in any::<bool>(),
            start in -5_000_000i64..5_000_000,
            length in -2_000i64..10_000_000,
            local in endpoint(),
            remote in proptest::option::of(endpoint()),
            annotations in vec((-5_000_000i64..5_000_000, text()), 0..3),
            // Keys from a small set too, so that repeated keys are common.
            tags in vec((prop_oneof![text(), "[ab]{0,2}".prop_map(Text::Owned)], text()), 0..9),
        ) -> FinishedSpan {
            let low = (trace as u64).max(1);
            let trace_id = if wide {
                format!("{:032x}", (trace & !u128::from(u64::MAX)) | u128::from(low))
            } else {
                format!("{low:016x}")
            };
            let start = offset(base, start);
            FinishedSpan::recorded(Box::new(Recorded {
                context: TraceContext {
                    trace_id: trace_id.parse::<TraceId>().expect("valid id"),
                    span_id: SpanId::new(span_id).expect("non-zero"),
                    parent_id: parent.and_then(SpanId::new),
                    flags: SamplingFlags { sampled: Some(true), debug },
                },
                kind,
                name,
                shared,
                start,
                end: offset(start, length),
                local_endpoint: Arc::new(local),
                remote_endpoint: remote,
                annotations: annotations
                    .into_iter()
                    .map(|(at, value)| (offset(base, at), value))
                    .collect(),
                tags: tags.into_iter().collect(),
            }))
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn recorded_spans_encode_as_serde_encodes_their_zipkin_form(
            spans in vec(recorded(Instant::now()), 0..4)
        ) {
            assert_same(&spans);
        }
    }

    #[test]
    fn an_empty_batch_is_an_empty_list() {
        assert_eq!(encoded(&[]), b"[]");
        assert_same(&[]);
    }

    #[test]
    fn built_spans_encode_through_serde_among_recorded_ones() {
        let context = TraceContext::new_root(SamplingFlags::DEBUG, true);
        let mut span = Span::new(context.trace_id, context.span_id);
        span.name = Some("built \"by hand\"\n".to_owned());
        span.tags.insert("k".to_owned(), "v".to_owned());
        let start = Instant::now();
        let recorded = FinishedSpan::recorded(Box::new(Recorded {
            context: context.new_child(),
            kind: Some(Kind::Server),
            name: Text::Borrowed("GET /items/{id}"),
            shared: true,
            start,
            end: start + Duration::from_micros(250),
            local_endpoint: Arc::new(Endpoint::service("service2")),
            remote_endpoint: Some(Endpoint::from_socket(([127, 0, 0, 1], 8080).into())),
            annotations: Vec::new(),
            tags: Tags::from_iter([
                (Text::Borrowed("http.path"), Text::Borrowed("/items/42")),
                (Text::Borrowed("http.method"), Text::Borrowed("GET")),
            ]),
        }));
        let spans = [FinishedSpan::from(span.clone()), recorded];
        assert_same(&spans);
        let only_built = [FinishedSpan::from(span.clone())];
        assert_eq!(
            encoded(&only_built),
            serde_json::to_vec(&[span]).expect("encodes")
        );
    }

    #[test]
    fn control_characters_use_serde_jsons_escapes() {
        let mut out = Vec::new();
        write_str("a\"b\\c\n\t\r\u{8}\u{c}\u{1}\u{1f}\u{7f}é/", &mut out);
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\u{7f}é/\""
        );
    }
}
