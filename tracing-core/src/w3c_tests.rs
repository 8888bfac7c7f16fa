//! W3C Trace Context: a table of valid and malformed `traceparent` and `tracestate`
//! inputs, in the spirit of the B3 table, and round trips.

use super::*;
use crate::b3::tests::headers;

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT: &str = "b7ad6b7169203331";

fn traceparent(version: &str, trace: &str, parent: &str, flags: &str) -> String {
    format!("{version}-{trace}-{parent}-{flags}")
}

/// What a `traceparent` should give: the caller's context (trace id, span id, sampled),
/// or nothing.
#[derive(Debug, PartialEq)]
enum Expect {
    Context(&'static str, &'static str, bool),
    Invalid,
}

#[test]
fn traceparent_table() {
    use Expect::{Context, Invalid};
    let long = |tail: &str| format!("{}{tail}", traceparent("cc", TRACE, PARENT, "01"));
    let cases: Vec<(String, Expect, &str)> = vec![
        // Valid version-00 forms.
        (
            traceparent("00", TRACE, PARENT, "01"),
            Context(TRACE, PARENT, true),
            "sampled",
        ),
        (
            traceparent("00", TRACE, PARENT, "00"),
            Context(TRACE, PARENT, false),
            "not sampled",
        ),
        (
            traceparent("00", TRACE, PARENT, "03"),
            Context(TRACE, PARENT, true),
            "unknown flag bits are ignored",
        ),
        (
            traceparent("00", TRACE, PARENT, "fe"),
            Context(TRACE, PARENT, false),
            "all flags but sampled",
        ),
        (
            traceparent("00", "0000000000000000463ac35c9f6413ad", PARENT, "01"),
            Context("0000000000000000463ac35c9f6413ad", PARENT, true),
            "a 64-bit id padded to 32 characters",
        ),
        // Later versions: read as 00 from the first 55 characters.
        (
            traceparent("01", TRACE, PARENT, "01"),
            Context(TRACE, PARENT, true),
            "version 01, same length",
        ),
        (
            long("-what-the-future-holds"),
            Context(TRACE, PARENT, true),
            "a future version with more fields",
        ),
        (
            long("-"),
            Context(TRACE, PARENT, true),
            "a future version, dash and nothing more",
        ),
        (
            traceparent("fe", TRACE, PARENT, "00"),
            Context(TRACE, PARENT, false),
            "version fe",
        ),
        // Malformed: version.
        (
            traceparent("ff", TRACE, PARENT, "01"),
            Invalid,
            "version ff is forbidden",
        ),
        (
            traceparent("0", TRACE, PARENT, "01"),
            Invalid,
            "one-digit version",
        ),
        (
            traceparent("0g", TRACE, PARENT, "01"),
            Invalid,
            "non-hex version",
        ),
        (
            traceparent("AA", TRACE, PARENT, "01"),
            Invalid,
            "upper-case version",
        ),
        (
            format!("{}-extra", traceparent("00", TRACE, PARENT, "01")),
            Invalid,
            "version 00 with extra fields",
        ),
        (
            format!("{} ", traceparent("00", TRACE, PARENT, "01")),
            Invalid,
            "version 00 with a trailing space",
        ),
        (
            long("x"),
            Invalid,
            "a future version going on without a dash",
        ),
        // Malformed: trace id.
        (
            traceparent("00", &"0".repeat(32), PARENT, "01"),
            Invalid,
            "all-zero trace id",
        ),
        (
            traceparent("00", &TRACE.to_uppercase(), PARENT, "01"),
            Invalid,
            "upper-case trace id",
        ),
        (
            traceparent("00", &TRACE[..31], PARENT, "01"),
            Invalid,
            "31-digit trace id",
        ),
        (
            traceparent("00", &format!("{TRACE}0"), PARENT, "01"),
            Invalid,
            "33-digit trace id",
        ),
        (
            traceparent("00", "463ac35c9f6413ad", PARENT, "01"),
            Invalid,
            "16-digit trace id, as B3 allows",
        ),
        (
            traceparent("00", "0af7651916cd43dd8448eb211c80319z", PARENT, "01"),
            Invalid,
            "non-hex trace id",
        ),
        (
            traceparent("00", "0af7651916cd43dd0000000000000000", PARENT, "01"),
            Invalid,
            "zero low half, which Zipkin cannot carry",
        ),
        // Malformed: parent id.
        (
            traceparent("00", TRACE, "0000000000000000", "01"),
            Invalid,
            "all-zero parent id",
        ),
        (
            traceparent("00", TRACE, &PARENT.to_uppercase(), "01"),
            Invalid,
            "upper-case parent id",
        ),
        (
            traceparent("00", TRACE, &PARENT[..15], "01"),
            Invalid,
            "15-digit parent id",
        ),
        (
            traceparent("00", TRACE, "b7ad6b716920333g", "01"),
            Invalid,
            "non-hex parent id",
        ),
        // Malformed: flags and separators.
        (
            traceparent("00", TRACE, PARENT, "1"),
            Invalid,
            "one-digit flags",
        ),
        (
            traceparent("00", TRACE, PARENT, "0x"),
            Invalid,
            "non-hex flags",
        ),
        (
            traceparent("00", TRACE, PARENT, "0A"),
            Invalid,
            "upper-case flags",
        ),
        (
            format!("00_{TRACE}-{PARENT}-01"),
            Invalid,
            "underscore for a dash",
        ),
        (
            format!("00-{TRACE}{PARENT}--01"),
            Invalid,
            "dashes in the wrong places",
        ),
        (
            format!(" 00-{TRACE}-{PARENT}-01"),
            Invalid,
            "a leading space",
        ),
        (String::new(), Invalid, "empty"),
        ("00".to_owned(), Invalid, "version only"),
        (format!("00-{TRACE}-{PARENT}"), Invalid, "no flags"),
    ];
    assert!(cases.len() >= 30);
    for (value, expect, why) in cases {
        let got = match extract_traceparent(&headers(&[("traceparent", &value)])) {
            Some(W3cContext { context, .. }) => {
                assert_eq!(context.parent_id, None, "{why}");
                assert!(!context.flags.debug, "{why}");
                let trace: &str = Box::leak(context.trace_id.to_string().into_boxed_str());
                let span: &str = Box::leak(context.span_id.to_string().into_boxed_str());
                Expect::Context(trace, span, context.is_sampled())
            }
            None => Expect::Invalid,
        };
        assert_eq!(got, expect, "{why}: traceparent {value:?}");
    }
}

#[test]
fn two_traceparent_headers_are_invalid() {
    let value = traceparent("00", TRACE, PARENT, "01");
    let map = headers(&[("traceparent", &value), ("traceparent", &value)]);
    assert_eq!(extract_traceparent(&map), None);
}

#[test]
fn header_names_are_case_insensitive() {
    let value = traceparent("00", TRACE, PARENT, "01");
    let map = headers(&[("TraceParent", &value), ("TRACESTATE", "a=1")]);
    let extracted = extract_traceparent(&map).expect("a context");
    assert_eq!(extracted.tracestate.unwrap().0.to_str().unwrap(), "a=1");
}

/// What the `tracestate` passed on should be, for a valid `traceparent`.
fn passed_on(tracestates: &[&str]) -> Option<String> {
    let parent = traceparent("00", TRACE, PARENT, "01");
    let mut pairs = vec![("traceparent", parent.as_str())];
    pairs.extend(tracestates.iter().map(|value| ("tracestate", *value)));
    let extracted = extract_traceparent(&headers(&pairs)).expect("a valid traceparent");
    extracted
        .tracestate
        .map(|state| state.0.to_str().unwrap().to_owned())
}

#[test]
fn tracestate_table() {
    let thirty_two: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
    let thirty_three: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
    let key_256 = format!("a{}", "b".repeat(255));
    let value_256 = "v".repeat(256);
    let printable = "a= !\"#$%&'()*+-./:;<>?@[]^_{|}~".to_owned();
    let cases: Vec<(Vec<String>, Option<String>, &str)> = vec![
        (
            vec!["congo=t61rcWkgMzE".into()],
            Some("congo=t61rcWkgMzE".into()),
            "one entry",
        ),
        (
            vec!["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into()],
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into()),
            "two entries, unchanged",
        ),
        (
            vec!["rojo=1 ,\t congo=2".into()],
            Some("rojo=1 ,\t congo=2".into()),
            "whitespace around entries is kept as it came",
        ),
        (
            vec!["a=1".into(), "b=2".into()],
            Some("a=1,b=2".into()),
            "two headers, one list",
        ),
        (
            vec!["a=1,,b=2".into()],
            Some("a=1,,b=2".into()),
            "an empty entry is allowed",
        ),
        (
            vec!["tenant@system=x".into()],
            Some("tenant@system=x".into()),
            "multi-tenant key",
        ),
        (
            vec!["1tenant@sys=x".into()],
            Some("1tenant@sys=x".into()),
            "a tenant may start with a digit",
        ),
        (
            vec!["a_b-c*d/e=x".into()],
            Some("a_b-c*d/e=x".into()),
            "every allowed key character",
        ),
        (
            vec![printable.clone()],
            Some(printable.clone()),
            "every allowed value character",
        ),
        (
            vec![thirty_two.join(",")],
            Some(thirty_two.join(",")),
            "32 entries",
        ),
        (
            vec![format!("{key_256}=1")],
            Some(format!("{key_256}=1")),
            "a 256-character key",
        ),
        (
            vec![format!("a={value_256}")],
            Some(format!("a={value_256}")),
            "a 256-character value",
        ),
        // Invalid: dropped whole.
        (vec![thirty_three.join(",")], None, "33 entries"),
        (vec!["a=1,a=2".into()], None, "a key twice"),
        (vec!["Congo=x".into()], None, "upper-case key"),
        (
            vec!["1abc=x".into()],
            None,
            "a simple key starting with a digit",
        ),
        (vec!["a".into()], None, "no '='"),
        (vec!["a=".into()], None, "empty value"),
        (vec!["a=b=c".into()], None, "'=' in a value"),
        (
            vec!["a=x ".into()],
            Some("a=x ".into()),
            "a trailing space is whitespace around the entry",
        ),
        (
            vec![format!("a{}=1", "b".repeat(256))],
            None,
            "a 257-character key",
        ),
        (
            vec![format!("a={value_256}v")],
            None,
            "a 257-character value",
        ),
        (vec!["t@=x".into()], None, "empty system"),
        (vec!["t@Sys=x".into()], None, "upper-case system"),
        (
            vec!["t@abcdefghijklmno=x".into()],
            None,
            "a 15-character system",
        ),
    ];
    for (values, expect, why) in cases {
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        assert_eq!(passed_on(&values), expect, "{why}: tracestate {values:?}");
    }
}

#[test]
fn a_tracestate_over_512_characters_is_shortened_long_entries_first() {
    let long = format!("long={}", "x".repeat(200));
    let mut entries = vec!["first=1".to_owned(), long.clone()];
    entries.extend((0..29).map(|i| format!("k{i:02}={}", "v".repeat(12))));
    let text = entries.join(",");
    assert!(text.len() > 512);
    let kept = passed_on(&[&text]).expect("a shortened tracestate");
    assert!(kept.len() <= 512, "{} characters", kept.len());
    assert!(!kept.contains("long="), "the over-128 entry goes first");
    assert!(
        kept.starts_with("first=1,k00="),
        "the front of the list stays: {kept}"
    );
    // Without the long entry the list fits, so nothing else is dropped.
    assert_eq!(kept.split(',').count(), 30);

    let many: Vec<String> = (0..32)
        .map(|i| format!("k{i:02}={}", "v".repeat(20)))
        .collect();
    let kept = passed_on(&[&many.join(",")]).expect("a shortened tracestate");
    assert!(kept.len() <= 512);
    assert!(
        kept.starts_with("k00=") && !kept.contains("k31="),
        "from the end: {kept}"
    );
}

#[test]
fn tracestate_is_not_read_without_a_valid_traceparent() {
    let map = headers(&[("traceparent", "garbage"), ("tracestate", "a=1")]);
    assert_eq!(extract_traceparent(&map), None);
    assert_eq!(
        extract_traceparent(&headers(&[("tracestate", "a=1")])),
        None
    );
}

#[test]
fn inject_writes_version_00_and_round_trips() {
    for (trace, flags) in [
        (TRACE, SamplingFlags::SAMPLED),
        (TRACE, SamplingFlags::NOT_SAMPLED),
        ("463ac35c9f6413ad", SamplingFlags::SAMPLED),
        (TRACE, SamplingFlags::DEBUG),
    ] {
        let context = TraceContext {
            trace_id: trace.parse().unwrap(),
            span_id: PARENT.parse().unwrap(),
            parent_id: Some("0020000000000001".parse().unwrap()),
            flags,
        };
        let state = TraceState(HeaderValue::from_static("rojo=1"));
        let mut map = HeaderMap::new();
        inject_traceparent(&context, Some(&state), &mut map);
        let value = map["traceparent"].to_str().unwrap();
        let padded = format!("{trace:0>32}");
        let flag = if context.is_sampled() { "01" } else { "00" };
        assert_eq!(value, format!("00-{padded}-{PARENT}-{flag}"));
        assert_eq!(map["tracestate"], "rojo=1");

        let back = extract_traceparent(&map).unwrap();
        assert_eq!(back.context.trace_id.low(), context.trace_id.low());
        assert_eq!(back.context.span_id, context.span_id);
        assert_eq!(back.context.is_sampled(), context.is_sampled());
        assert_eq!(back.tracestate, Some(state));
    }
}

#[test]
fn inject_replaces_what_was_there() {
    let context = TraceContext::new_root(SamplingFlags::SAMPLED, true);
    let mut map = headers(&[("traceparent", "stale"), ("tracestate", "stale=1")]);
    inject_traceparent(&context, None, &mut map);
    assert_eq!(map.get_all("traceparent").iter().count(), 1);
    assert!(!map.contains_key("tracestate"));
}
