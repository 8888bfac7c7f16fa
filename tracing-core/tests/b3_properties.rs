//! Property tests for B3: no header value makes extraction panic, and every valid context
//! survives inject then extract in the multi form.

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use zipkin_tracing::{B3Format, Extracted, extract, inject};
use zipkin_tracing::{SamplingFlags, SpanId, TraceContext, TraceId};

const NAMES: [&str; 6] = [
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
];

/// Header values biased towards almost-valid B3: hex runs, dashes, flags, and any bytes.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[0-9a-f]{0,33}".prop_map(String::into_bytes),
        "[0-9a-fA-F-]{0,70}".prop_map(String::into_bytes),
        "[01d]|true|false|[0-9a-f]{16}-[0-9a-f]{16}(-[01d](-[0-9a-f]{16})?)?"
            .prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..80),
    ]
}

fn flags() -> impl Strategy<Value = SamplingFlags> {
    prop_oneof![
        Just(SamplingFlags::SAMPLED),
        Just(SamplingFlags::NOT_SAMPLED),
        Just(SamplingFlags::DEBUG),
        Just(SamplingFlags::DEFERRED),
    ]
}

fn context() -> impl Strategy<Value = TraceContext> {
    (
        any::<bool>(),
        1u64..,
        any::<u64>(),
        1u64..,
        proptest::option::of(1u64..),
        flags(),
    )
        .prop_map(|(wide, low, high, span, parent, flags)| {
            let trace_id = if wide {
                format!("{high:016x}{low:016x}")
            } else {
                format!("{low:016x}")
            };
            TraceContext {
                trace_id: trace_id.parse::<TraceId>().expect("valid by construction"),
                span_id: SpanId::new(span).expect("non-zero"),
                parent_id: parent.and_then(SpanId::new),
                flags,
            }
        })
}

proptest! {
    #[test]
    fn extraction_never_panics(headers in proptest::collection::vec((0..NAMES.len(), value()), 0..6)) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            // Bytes that HTTP itself forbids in a header never reach extraction.
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                map.append(HeaderName::from_static(NAMES[name]), value);
            }
        }
        let extracted = extract(&map);
        // Whatever was accepted is well formed: it re-encodes to what B3 allows.
        if let Extracted::Context(context) = extracted {
            let text = context.trace_id.to_string();
            prop_assert!(text.len() == 16 || text.len() == 32);
            prop_assert!(text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        }
    }

    #[test]
    fn multi_form_round_trips(context in context()) {
        let mut map = HeaderMap::new();
        inject(&context, B3Format::Multi, &mut map);
        prop_assert_eq!(extract(&map), Extracted::Context(context));
    }

    #[test]
    fn single_form_round_trips(context in context()) {
        let mut map = HeaderMap::new();
        inject(&context, B3Format::Single, &mut map);
        let mut expected = context;
        if context.flags == SamplingFlags::DEFERRED {
            // The single form cannot carry a parent without a sampling state.
            expected.parent_id = None;
        }
        prop_assert_eq!(extract(&map), Extracted::Context(expected));
    }
}
