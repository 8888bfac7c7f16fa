//! B3 extraction and injection: every valid form of the specification, a table of invalid
//! and partial inputs, and round trips.

use http::HeaderValue;

use super::*;

const T64: &str = "463ac35c9f6413ad";
const T128: &str = "463ac35c9f6413ad48485a3953bb6124";
const SPAN: &str = "a2fb4a1d1a96d312";
const PARENT: &str = "0020000000000001";

/// A request's headers from name/value pairs, in order (a repeated name is appended).
pub(crate) fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn context(trace: &str, parent: Option<&str>, flags: SamplingFlags) -> Extracted {
    Extracted::Context(TraceContext {
        trace_id: trace.parse().unwrap(),
        span_id: SPAN.parse().unwrap(),
        parent_id: parent.map(|p| p.parse().unwrap()),
        flags,
    })
}

#[test]
fn multi_header_forms() {
    let cases: Vec<(Vec<(&str, &str)>, Extracted)> = vec![
        (
            vec![("X-B3-TraceId", T64), ("X-B3-SpanId", SPAN)],
            context(T64, None, SamplingFlags::DEFERRED),
        ),
        (
            vec![("x-b3-traceid", T128), ("x-b3-spanid", SPAN)],
            context(T128, None, SamplingFlags::DEFERRED),
        ),
        (
            vec![
                ("X-B3-TraceId", T128),
                ("X-B3-SpanId", SPAN),
                ("X-B3-ParentSpanId", PARENT),
                ("X-B3-Sampled", "1"),
            ],
            context(T128, Some(PARENT), SamplingFlags::SAMPLED),
        ),
        (
            vec![
                ("X-B3-TraceId", T64),
                ("X-B3-SpanId", SPAN),
                ("X-B3-Sampled", "0"),
            ],
            context(T64, None, SamplingFlags::NOT_SAMPLED),
        ),
        (
            vec![
                ("X-B3-TraceId", T64),
                ("X-B3-SpanId", SPAN),
                ("X-B3-Sampled", "true"),
            ],
            context(T64, None, SamplingFlags::SAMPLED),
        ),
        (
            vec![
                ("X-B3-TraceId", T64),
                ("X-B3-SpanId", SPAN),
                ("X-B3-Sampled", "false"),
            ],
            context(T64, None, SamplingFlags::NOT_SAMPLED),
        ),
        (
            vec![
                ("X-B3-TraceId", T64),
                ("X-B3-SpanId", SPAN),
                ("X-B3-Sampled", "TRUE"),
            ],
            context(T64, None, SamplingFlags::SAMPLED),
        ),
        (
            vec![
                ("X-B3-TraceId", T64),
                ("X-B3-SpanId", SPAN),
                ("X-B3-Sampled", "False"),
            ],
            context(T64, None, SamplingFlags::NOT_SAMPLED),
        ),
        (
            vec![
                ("X-B3-TraceId", T64),
                ("X-B3-SpanId", SPAN),
                ("X-B3-Flags", "1"),
            ],
            context(T64, None, SamplingFlags::DEBUG),
        ),
        (
            vec![
                ("X-B3-TraceId", T64),
                ("X-B3-SpanId", SPAN),
                ("X-B3-Flags", "1"),
                ("X-B3-Sampled", "0"),
            ],
            context(T64, None, SamplingFlags::DEBUG),
        ),
        (
            // What py_zipkin sends: X-B3-Flags: 0 alongside a sampled decision.
            vec![
                ("X-B3-TraceId", T64),
                ("X-B3-SpanId", SPAN),
                ("X-B3-ParentSpanId", PARENT),
                ("X-B3-Flags", "0"),
                ("X-B3-Sampled", "1"),
            ],
            context(T64, Some(PARENT), SamplingFlags::SAMPLED),
        ),
        (
            vec![("X-B3-Sampled", "0")],
            Extracted::Flags(SamplingFlags::NOT_SAMPLED),
        ),
        (
            vec![("X-B3-Sampled", "1")],
            Extracted::Flags(SamplingFlags::SAMPLED),
        ),
        (
            vec![("X-B3-Flags", "1")],
            Extracted::Flags(SamplingFlags::DEBUG),
        ),
        (vec![], Extracted::Empty),
        (vec![("X-B3-Flags", "0")], Extracted::Empty),
    ];
    for (input, expected) in cases {
        assert_eq!(
            try_extract(Found::scan(&headers(&input))),
            Ok(expected),
            "{input:?}"
        );
    }
}

#[test]
fn single_header_forms() {
    let cases = [
        (
            format!("{T64}-{SPAN}"),
            context(T64, None, SamplingFlags::DEFERRED),
        ),
        (
            format!("{T128}-{SPAN}"),
            context(T128, None, SamplingFlags::DEFERRED),
        ),
        (
            format!("{T128}-{SPAN}-1"),
            context(T128, None, SamplingFlags::SAMPLED),
        ),
        (
            format!("{T64}-{SPAN}-0"),
            context(T64, None, SamplingFlags::NOT_SAMPLED),
        ),
        (
            format!("{T64}-{SPAN}-d"),
            context(T64, None, SamplingFlags::DEBUG),
        ),
        (
            format!("{T128}-{SPAN}-1-{PARENT}"),
            context(T128, Some(PARENT), SamplingFlags::SAMPLED),
        ),
        (
            format!("{T64}-{SPAN}-d-{PARENT}"),
            context(T64, Some(PARENT), SamplingFlags::DEBUG),
        ),
        (
            "0".to_string(),
            Extracted::Flags(SamplingFlags::NOT_SAMPLED),
        ),
        ("1".to_string(), Extracted::Flags(SamplingFlags::SAMPLED)),
        ("d".to_string(), Extracted::Flags(SamplingFlags::DEBUG)),
    ];
    for (value, expected) in cases {
        assert_eq!(
            try_extract(Found::scan(&headers(&[("b3", &value)]))),
            Ok(expected),
            "{value}"
        );
    }
}

#[test]
fn the_single_header_wins_over_the_multi_headers() {
    let other_trace = "1111111111111111";
    let input = headers(&[
        ("b3", &format!("{T128}-{SPAN}-1")),
        ("X-B3-TraceId", other_trace),
        ("X-B3-SpanId", PARENT),
        ("X-B3-Sampled", "0"),
    ]);
    assert_eq!(extract(&input), context(T128, None, SamplingFlags::SAMPLED));
}

#[test]
fn a_malformed_single_header_falls_back_to_the_multi_headers() {
    let input = headers(&[
        ("b3", "not-a-b3-header"),
        ("X-B3-TraceId", T64),
        ("X-B3-SpanId", SPAN),
        ("X-B3-Sampled", "1"),
    ]);
    assert_eq!(extract(&input), context(T64, None, SamplingFlags::SAMPLED));
}

#[test]
fn invalid_or_partial_inputs_give_no_context() {
    let long = "a".repeat(5000);
    let cases: Vec<Vec<(&str, &str)>> = vec![
        // Multi form.
        vec![("X-B3-TraceId", T64)],
        vec![("X-B3-SpanId", SPAN)],
        vec![("X-B3-TraceId", T64), ("X-B3-Sampled", "1")],
        vec![("X-B3-ParentSpanId", PARENT)],
        vec![("X-B3-TraceId", "463ac35c9f6413a"), ("X-B3-SpanId", SPAN)],
        vec![("X-B3-TraceId", "463ac35c9f6413ad4"), ("X-B3-SpanId", SPAN)],
        vec![("X-B3-TraceId", "463AC35C9F6413AD"), ("X-B3-SpanId", SPAN)],
        vec![("X-B3-TraceId", "463ac35c9f6413zz"), ("X-B3-SpanId", SPAN)],
        vec![("X-B3-TraceId", "0000000000000000"), ("X-B3-SpanId", SPAN)],
        vec![("X-B3-TraceId", T64), ("X-B3-SpanId", "0000000000000000")],
        vec![("X-B3-TraceId", T64), ("X-B3-SpanId", T128)],
        vec![("X-B3-TraceId", T64), ("X-B3-SpanId", "A2FB4A1D1A96D312")],
        vec![
            ("X-B3-TraceId", T64),
            ("X-B3-SpanId", SPAN),
            ("X-B3-ParentSpanId", "xyz"),
        ],
        vec![
            ("X-B3-TraceId", T64),
            ("X-B3-SpanId", SPAN),
            ("X-B3-Sampled", "yes"),
        ],
        vec![
            ("X-B3-TraceId", T64),
            ("X-B3-SpanId", SPAN),
            ("X-B3-Sampled", "2"),
        ],
        vec![
            ("X-B3-TraceId", T64),
            ("X-B3-SpanId", SPAN),
            ("X-B3-Sampled", ""),
        ],
        vec![("X-B3-Sampled", "yes")],
        vec![("X-B3-Sampled", "truee")],
        vec![("X-B3-TraceId", ""), ("X-B3-SpanId", "")],
        vec![("X-B3-TraceId", &long), ("X-B3-SpanId", SPAN)],
        vec![("X-B3-TraceId", " 463ac35c9f6413ad"), ("X-B3-SpanId", SPAN)],
        // Single form.
        vec![("b3", "")],
        vec![("b3", "2")],
        vec![("b3", "true")],
        vec![("b3", T64)],
        vec![("b3", "463ac35c9f6413ad-")],
        vec![("b3", "-a2fb4a1d1a96d312")],
        vec![("b3", "463ac35c9f6413ad-a2fb4a1d1a96d312-x")],
        vec![("b3", "463ac35c9f6413ad-a2fb4a1d1a96d312-1-")],
        vec![(
            "b3",
            "463ac35c9f6413ad-a2fb4a1d1a96d312-1-0020000000000001-extra",
        )],
        vec![("b3", "463ac35c9f6413ad-a2fb4a1d1a96d312-0020000000000001")],
        vec![("b3", "463AC35C9F6413AD-A2FB4A1D1A96D312-1")],
        vec![("b3", "0000000000000000-a2fb4a1d1a96d312-1")],
        vec![("b3", "463ac35c9f6413ad-0000000000000000")],
        vec![("b3", &long)],
    ];
    assert!(cases.len() >= 20);
    for input in cases {
        let map = headers(&input);
        assert!(
            try_extract(Found::scan(&map)).is_err(),
            "accepted {input:?}"
        );
        assert_eq!(extract(&map), Extracted::Empty, "{input:?}");
    }
}

#[test]
fn non_ascii_values_give_no_context() {
    let mut map = HeaderMap::new();
    map.insert(
        TRACE_ID.0,
        HeaderValue::from_bytes(b"463ac35c9f6413\xc3\xa9").unwrap(),
    );
    map.insert(SPAN_ID.0, HeaderValue::from_static(SPAN));
    assert_eq!(
        try_extract(Found::scan(&map)),
        Err(B3Error::NotAscii {
            header: "X-B3-TraceId"
        })
    );
    let mut map = HeaderMap::new();
    map.insert(SINGLE.0, HeaderValue::from_bytes(b"\xff-1").unwrap());
    assert_eq!(extract(&map), Extracted::Empty);
}

#[test]
fn errors_quote_and_shorten_client_values() {
    let long = format!("\t\"{}", "f".repeat(100));
    let map = headers(&[("X-B3-TraceId", &long), ("X-B3-SpanId", SPAN)]);
    let message = try_extract(Found::scan(&map)).unwrap_err().to_string();
    assert!(!message.contains('\t'), "{message}");
    assert!(message.contains(r#""\t\"fff"#), "{message}");
    assert!(message.len() < 160, "{message}");
}

pub(crate) fn all_contexts() -> Vec<TraceContext> {
    let mut contexts = Vec::new();
    for wide in [false, true] {
        for flags in [
            SamplingFlags::SAMPLED,
            SamplingFlags::NOT_SAMPLED,
            SamplingFlags::DEBUG,
            SamplingFlags::DEFERRED,
        ] {
            let root = TraceContext::new_root(flags, wide);
            contexts.push(root);
            contexts.push(root.new_child());
        }
    }
    contexts
}

#[test]
fn multi_form_round_trips() {
    for original in all_contexts() {
        let mut map = HeaderMap::new();
        inject(&original, B3Format::Multi, &mut map);
        assert_eq!(extract(&map), Extracted::Context(original));
    }
}

#[test]
fn single_form_round_trips_when_the_sampling_state_is_known() {
    for original in all_contexts() {
        let mut map = HeaderMap::new();
        inject(&original, B3Format::Single, &mut map);
        assert_eq!(map.len(), 1);
        let mut expected = original;
        if original.flags.sampled.is_none() && !original.flags.debug {
            expected.parent_id = None;
        }
        assert_eq!(extract(&map), Extracted::Context(expected), "{map:?}");
    }
}

#[test]
fn multi_inject_writes_exactly_the_py_zipkin_headers() {
    let root = TraceContext::new_root(SamplingFlags::SAMPLED, true);
    let child = root.new_child();
    let mut map = HeaderMap::new();
    map.insert(SINGLE.0, HeaderValue::from_static("stale"));
    inject(&child, B3Format::Multi, &mut map);
    assert_eq!(map.get(TRACE_ID.0).unwrap(), &root.trace_id.to_string());
    assert_eq!(map.get(SPAN_ID.0).unwrap(), &child.span_id.to_string());
    assert_eq!(
        map.get(PARENT_SPAN_ID.0).unwrap(),
        &root.span_id.to_string()
    );
    assert_eq!(map.get(SAMPLED.0).unwrap(), "1");
    assert_eq!(map.get(FLAGS.0).unwrap(), "0");
    assert!(map.get(SINGLE.0).is_none());
    assert_eq!(map.len(), 5);

    // A root has no parent header; an unsampled trace says so.
    let unsampled = TraceContext::new_root(SamplingFlags::NOT_SAMPLED, false);
    let mut map = HeaderMap::new();
    inject(&unsampled, B3Format::Multi, &mut map);
    assert!(map.get(PARENT_SPAN_ID.0).is_none());
    assert_eq!(map.get(SAMPLED.0).unwrap(), "0");
    assert_eq!(map.get(TRACE_ID.0).unwrap().len(), 16);

    // Debug sends X-B3-Flags: 1 and no X-B3-Sampled.
    let debug = TraceContext::new_root(SamplingFlags::DEBUG, true);
    let mut map = HeaderMap::new();
    inject(&debug, B3Format::Multi, &mut map);
    assert_eq!(map.get(FLAGS.0).unwrap(), "1");
    assert!(map.get(SAMPLED.0).is_none());
}

#[test]
fn single_inject_writes_one_header() {
    let root = TraceContext::new_root(SamplingFlags::DEBUG, true);
    let child = root.new_child();
    let mut map = HeaderMap::new();
    inject(&child, B3Format::Single, &mut map);
    assert_eq!(
        map.get(SINGLE.0).unwrap().to_str().unwrap(),
        format!("{}-{}-d-{}", root.trace_id, child.span_id, root.span_id)
    );
}

#[test]
fn inject_replaces_every_stale_b3_header_and_keeps_the_others() {
    let context = TraceContext::new_root(SamplingFlags::SAMPLED, false);
    for format in [B3Format::Multi, B3Format::Single] {
        let mut map = HeaderMap::new();
        map.insert(http::header::ACCEPT, HeaderValue::from_static("*/*"));
        for name in [
            &SINGLE,
            &TRACE_ID,
            &SPAN_ID,
            &PARENT_SPAN_ID,
            &SAMPLED,
            &FLAGS,
        ] {
            map.append(name.0.clone(), HeaderValue::from_static("stale"));
            map.append(name.0.clone(), HeaderValue::from_static("stale again"));
        }
        inject(&context, format, &mut map);
        assert!(
            map.values()
                .all(|value| !value.as_bytes().starts_with(b"stale")),
            "{format:?}: {map:?}"
        );
        assert_eq!(map.get(http::header::ACCEPT).unwrap(), "*/*");
        assert_eq!(extract(&map), Extracted::Context(context), "{format:?}");
    }
}

#[test]
fn the_first_of_repeated_b3_headers_is_the_one_read() {
    let mut map = HeaderMap::new();
    map.append(TRACE_ID.0, HeaderValue::from_static(T64));
    map.append(SPAN_ID.0, HeaderValue::from_static(SPAN));
    map.append(SPAN_ID.0, HeaderValue::from_static("0000000000000001"));
    map.append(SAMPLED.0, HeaderValue::from_static("1"));
    map.append(SAMPLED.0, HeaderValue::from_static("0"));
    assert_eq!(extract(&map), context(T64, None, SamplingFlags::SAMPLED));
}

#[test]
fn a_b3_format_setting_is_multi_or_single() {
    assert_eq!("multi".parse(), Ok(B3Format::Multi));
    assert_eq!("single".parse(), Ok(B3Format::Single));
    let error = "Single".parse::<B3Format>().unwrap_err();
    assert!(
        error.contains("multi") && error.contains("single"),
        "{error}"
    );
}
