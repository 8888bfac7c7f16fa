//! The wire format: Zipkin v2 JSON, written straight from [`FinishedSpan`]s.
//!
//! This is the one place where spans become the bytes a reporter sends: a JSON list of
//! v2 spans, the body of `POST /api/v2/spans` (and the message Zipkin's Kafka and RabbitMQ
//! collectors read). It reads each finished span through its accessors and writes exactly
//! what serde_json writes for its [`Span`](zipkin_tracing::Span) form, without building
//! that form first: owned strings and a sorted tag map per span cost most of the
//! reporter's time (a batch of 100: 18.9 µs this way against 74.8 µs through the model,
//! `cargo bench -p bench --bench encode`). The tests below hold the two byte for byte
//! equal.

use std::borrow::Cow;
use std::io::Write as _;

use smallvec::SmallVec;
use zipkin_tracing::{Endpoint, FinishedSpan, Kind};

/// Appends the JSON list of `spans` to `out`: exactly what `serde_json::to_vec` writes for
/// the spans' [`FinishedSpan::into_span`] forms, and the body of one batch that
/// [`AsyncReporter`](crate::AsyncReporter) sends. A transport of your own can send it as
/// it is.
pub fn encode_json(spans: &[FinishedSpan], out: &mut Vec<u8>) {
    out.push(b'[');
    for (index, span) in spans.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        encode_span(span, out);
    }
    out.push(b']');
}

/// One span as a JSON object, fields in the order of `Span`'s serde derive and left out
/// exactly when it leaves them out.
fn encode_span(span: &FinishedSpan, out: &mut Vec<u8>) {
    let context = span.context();
    out.extend_from_slice(b"{\"traceId\":\"");
    out.extend_from_slice(context.trace_id.hex().as_ref().as_bytes());
    if let Some(parent_id) = context.parent_id {
        out.extend_from_slice(b"\",\"parentId\":\"");
        out.extend_from_slice(parent_id.hex().as_ref().as_bytes());
    }
    out.extend_from_slice(b"\",\"id\":\"");
    out.extend_from_slice(context.span_id.hex().as_ref().as_bytes());
    out.push(b'"');
    if let Some(kind) = span.kind() {
        out.extend_from_slice(b",\"kind\":");
        out.extend_from_slice(kind_json(kind));
    }
    out.extend_from_slice(b",\"name\":");
    write_str(span.name(), out);
    let (start, duration) = span.timestamp_and_duration();
    out.extend_from_slice(b",\"timestamp\":");
    write_u64(start, out);
    out.extend_from_slice(b",\"duration\":");
    write_u64(duration, out);
    if context.flags.debug {
        out.extend_from_slice(b",\"debug\":true");
    }
    if span.shared() {
        out.extend_from_slice(b",\"shared\":true");
    }
    out.extend_from_slice(b",\"localEndpoint\":");
    write_endpoint(span.local_endpoint(), out);
    if let Some(remote) = span.remote_endpoint() {
        out.extend_from_slice(b",\"remoteEndpoint\":");
        write_endpoint(remote, out);
    }
    let annotations = span.annotations();
    if annotations.len() > 0 {
        out.extend_from_slice(b",\"annotations\":[");
        for (index, (timestamp, value)) in annotations.enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"timestamp\":");
            write_u64(timestamp, out);
            out.extend_from_slice(b",\"value\":");
            write_str(value, out);
            out.push(b'}');
        }
        out.push(b']');
    }
    if !span.tags().is_empty() {
        out.extend_from_slice(b",\"tags\":");
        write_tags(span.tags(), out);
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
        key(b"\"ipv4\":\"", out);
        write_ipv4(ipv4, out);
        out.push(b'"');
    }
    if let Some(ipv6) = endpoint.ipv6 {
        key(b"\"ipv6\":\"", out);
        write_display(ipv6, out);
        out.push(b'"');
    }
    if let Some(port) = endpoint.port {
        key(b"\"port\":", out);
        write_u64(u64::from(port), out);
    }
    out.push(b'}');
}

/// Tags as the `BTreeMap` of `into_span` would hold them: sorted by key, and the value
/// set last winning for a key set more than once.
fn write_tags(tags: &[(Cow<'static, str>, Cow<'static, str>)], out: &mut Vec<u8>) {
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

/// An IPv4 address in its dotted form, octet by octet. Through `Display` (`core::fmt`)
/// it took about 5% of the reporter thread's time for spans with a remote endpoint
/// (`perf record` on `cargo run --release -p bench --bin reporter -- --collector sink`).
fn write_ipv4(address: std::net::Ipv4Addr, out: &mut Vec<u8>) {
    for (index, octet) in address.octets().into_iter().enumerate() {
        if index > 0 {
            out.push(b'.');
        }
        write_u64(u64::from(octet), out);
    }
}

/// Addresses in their `Display` form: digits, dots, colons and hex letters, nothing to
/// escape.
fn write_display(value: impl std::fmt::Display, out: &mut Vec<u8>) {
    write!(out, "{value}").expect("writing to a Vec never fails");
}

/// A JSON string, quotes included, escaped by serde_json itself, so that names and tags
/// come out exactly as the span model's encoding writes them. (A hand-written escape
/// table measured no faster.)
fn write_str(text: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, text).expect("a string always encodes into a Vec");
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use proptest::collection::vec;
    use proptest::prelude::*;
    use zipkin_tracing::{Report, SamplingFlags, Span, SpanId, TraceContext, TraceId, Tracer};

    use super::*;

    /// What serde_json writes for the spans' Zipkin forms: the reference.
    fn reference(spans: &[FinishedSpan]) -> Vec<u8> {
        let spans: Vec<Span> = spans.iter().cloned().map(FinishedSpan::into_span).collect();
        serde_json::to_vec(&spans).expect("spans encode")
    }

    fn encoded(spans: &[FinishedSpan]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_json(spans, &mut out);
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

    /// Keeps the spans a tracer reports, as a reporter receives them.
    #[derive(Clone, Default)]
    struct Keep(Arc<Mutex<Vec<FinishedSpan>>>);

    impl Report for Keep {
        fn report(&self, span: FinishedSpan) {
            self.0.lock().expect("not poisoned").push(span);
        }
    }

    /// Any text, weighted towards what needs escaping: quotes, backslashes, control
    /// characters and DEL, besides any Unicode at all.
    fn text() -> impl Strategy<Value = String> {
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
        prop_oneof![tricky, any::<String>(), Just("http.method".to_owned())]
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

    prop_compose! {
        fn finished()(
            wide in any::<bool>(),
            trace in any::<u128>(),
            span_id in 1u64..,
            parent in proptest::option::of(1u64..),
            debug in any::<bool>(),
            kind in kind(),
            service in any::<String>(),
            name in text(),
            shared in any::<bool>(),
            remote in proptest::option::of(endpoint()),
            annotations in vec(text(), 0..3),
            // Keys from a small set too, so that repeated keys are common.
            tags in vec((prop_oneof![text(), "[ab]{0,2}"], text()), 0..9),
        ) -> FinishedSpan {
            let low = (trace as u64).max(1);
            let trace_id = if wide {
                format!("{:032x}", (trace & !u128::from(u64::MAX)) | u128::from(low))
            } else {
                format!("{low:016x}")
            };
            let context = TraceContext {
                trace_id: trace_id.parse::<TraceId>().expect("valid id"),
                span_id: SpanId::new(span_id).expect("non-zero"),
                parent_id: parent.and_then(SpanId::new),
                flags: SamplingFlags { sampled: Some(true), debug },
            };
            let keep = Keep::default();
            let tracer = Tracer::builder(&service).reporter(keep.clone()).build();
            let mut span = tracer.start(context, name, kind);
            span.set_shared(shared);
            if let Some(remote) = remote {
                span.set_remote_endpoint(remote);
            }
            for value in annotations {
                span.annotate(value);
            }
            for (key, value) in tags {
                span.tag(key, value);
            }
            span.finish();
            let span = keep.0.lock().expect("not poisoned").pop();
            span.expect("a sampled span is reported")
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn finished_spans_encode_as_serde_encodes_their_zipkin_form(
            spans in vec(finished(), 0..4)
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
    fn a_server_span_encodes_every_field_it_recorded() {
        let keep = Keep::default();
        let tracer = Tracer::builder("service2").reporter(keep.clone()).build();
        let context = TraceContext::new_root(SamplingFlags::DEBUG, true).new_child();
        let mut span = tracer.start(context, "GET /items/{id}", Some(Kind::Server));
        span.set_shared(true);
        span.set_remote_endpoint(Endpoint::from_socket(([127, 0, 0, 1], 8080).into()));
        span.tag("http.path", "/items/42");
        span.tag("http.method", "GET");
        span.finish();
        let finished = keep.0.lock().expect("not poisoned").clone();
        assert_same(&finished);
        let json: serde_json::Value =
            serde_json::from_slice(&encoded(&finished)).expect("valid JSON");
        let span = &json[0];
        assert_eq!(span["traceId"], context.trace_id.to_string());
        assert_eq!(span["parentId"], context.parent_id.unwrap().to_string());
        assert_eq!(span["kind"], "SERVER");
        assert!(span["duration"].as_u64().is_some_and(|d| d >= 1));
        assert_eq!(
            (span["debug"].clone(), span["shared"].clone()),
            (true.into(), true.into())
        );
        assert_eq!(span["remoteEndpoint"]["ipv4"], "127.0.0.1");
        assert_eq!(span["tags"]["http.path"], "/items/42");
        let back: Span = serde_json::from_value(span.clone()).expect("decodes as the model");
        assert_eq!(back.service_name(), Some("service2"));
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
