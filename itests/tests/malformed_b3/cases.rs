//! The table of malformed B3 inputs: each one invalid under the B3 specification (an id of
//! the wrong length, upper case or not hex, a trace id without a span id or the reverse, an
//! unknown sampled value) as `zipkin-tracing`'s B3 parsing implements it (its unit tests
//! hold the same rules), so the whole incoming context is ignored. Made from valid ids, so that a copy of any part is
//! recognisable in a span or a log line.

// Valid ids, each holding letters, that the malformed inputs are made from.
const T128: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const T64: &str = "463ac35c9f6413ad";
const SPAN: &str = "e457b5a2e4d86bd1";
const PARENT: &str = "05e3ac9a4f6e3b90";

/// Request headers as sent on the wire: a name and the exact bytes of its value.
pub type Headers = Vec<(&'static str, Vec<u8>)>;

/// One header with the bytes of `value`.
fn header(name: &'static str, value: impl AsRef<[u8]>) -> (&'static str, Vec<u8>) {
    (name, value.as_ref().to_vec())
}

/// `X-B3-TraceId` and `X-B3-SpanId`.
fn ids(trace: impl AsRef<[u8]>, span: impl AsRef<[u8]>) -> Headers {
    vec![header("X-B3-TraceId", trace), header("X-B3-SpanId", span)]
}

/// `headers` and one more.
fn with(mut headers: Headers, name: &'static str, value: impl AsRef<[u8]>) -> Headers {
    headers.push(header(name, value));
    headers
}

/// The single `b3` header.
fn b3(value: impl AsRef<[u8]>) -> Headers {
    vec![header("b3", value)]
}

/// 8 KiB of hex that never repeats, so any long run of it in a log is a copy.
pub fn long_value() -> String {
    (0..1024u32)
        .map(|i| format!("{:08x}", 0x5eed_0000 + i))
        .collect()
}

/// The malformed inputs, each named for what is wrong with it: the multi-header form,
/// then the single `b3` form.
pub fn cases() -> Vec<(&'static str, Headers)> {
    let long = long_value();
    let valid = || ids(T128, SPAN);
    let single = format!("{T128}-{SPAN}-1");
    vec![
        ("X-B3-TraceId of 15 hex characters", ids(&T64[..15], SPAN)),
        ("X-B3-TraceId of 17 hex characters", ids(&T128[..17], SPAN)),
        ("X-B3-TraceId of 31 hex characters", ids(&T128[..31], SPAN)),
        (
            "X-B3-TraceId of 33 hex characters",
            ids(format!("{T128}a"), SPAN),
        ),
        ("X-B3-SpanId of 15 hex characters", ids(T128, &SPAN[..15])),
        (
            "X-B3-SpanId of 17 hex characters",
            ids(T128, format!("{SPAN}a")),
        ),
        (
            "X-B3-SpanId of 32 hex characters",
            ids(T128, format!("{SPAN}{SPAN}")),
        ),
        ("upper-case X-B3-TraceId", ids(T128.to_uppercase(), SPAN)),
        ("upper-case X-B3-SpanId", ids(T128, SPAN.to_uppercase())),
        (
            "one upper-case letter in X-B3-TraceId",
            ids(T64.replacen('a', "A", 1), SPAN),
        ),
        (
            "non-hex X-B3-TraceId",
            ids(format!("{}zz", &T64[..14]), SPAN),
        ),
        (
            "non-hex X-B3-SpanId",
            ids(T128, format!("{}g", &SPAN[..15])),
        ),
        (
            "X-B3-TraceId with a plus sign",
            ids(format!("+{}", &T64[1..]), SPAN),
        ),
        (
            "X-B3-TraceId with a 0x prefix",
            ids(format!("0x{T64}"), SPAN),
        ),
        ("all-zero 128-bit X-B3-TraceId", ids("0".repeat(32), SPAN)),
        ("all-zero 64-bit X-B3-TraceId", ids("0".repeat(16), SPAN)),
        ("all-zero X-B3-SpanId", ids(T128, "0".repeat(16))),
        ("empty X-B3-TraceId and X-B3-SpanId", ids("", "")),
        (
            "X-B3-TraceId without X-B3-SpanId",
            vec![header("X-B3-TraceId", T128)],
        ),
        (
            "X-B3-TraceId and X-B3-Sampled without X-B3-SpanId",
            with(vec![header("X-B3-TraceId", T64)], "X-B3-Sampled", "1"),
        ),
        (
            "X-B3-SpanId without X-B3-TraceId",
            vec![header("X-B3-SpanId", SPAN)],
        ),
        (
            "X-B3-ParentSpanId alone",
            vec![header("X-B3-ParentSpanId", PARENT)],
        ),
        (
            "non-hex X-B3-ParentSpanId",
            with(valid(), "X-B3-ParentSpanId", "05e3ac9a4f6e3bzz"),
        ),
        ("X-B3-Sampled: 2", with(valid(), "X-B3-Sampled", "2")),
        ("X-B3-Sampled: yes", with(valid(), "X-B3-Sampled", "yes")),
        // Only `1`, `0` and the legacy `true`/`false` (in any case, as Brave reads them).
        ("X-B3-Sampled: tru", with(valid(), "X-B3-Sampled", "tru")),
        ("empty X-B3-Sampled", with(valid(), "X-B3-Sampled", "")),
        (
            "non-ASCII byte in X-B3-Sampled",
            with(valid(), "X-B3-Sampled", b"1\xb9"),
        ),
        (
            "non-ASCII byte in X-B3-Flags",
            with(valid(), "X-B3-Flags", b"\xb9"),
        ),
        (
            "Latin-1 byte in X-B3-TraceId",
            ids([&T64.as_bytes()[..15], b"\xe9"].concat(), SPAN),
        ),
        (
            "UTF-8 letter in X-B3-SpanId",
            ids(T128, format!("{}\u{e9}", &SPAN[..14])),
        ),
        (
            "tab inside X-B3-TraceId",
            ids(format!("{}\t{}", &T64[..8], &T64[8..]), SPAN),
        ),
        ("8 KiB X-B3-TraceId", ids(&long, SPAN)),
        (
            "b3 trace id of 15 hex characters",
            b3(format!("{}-{SPAN}-1", &T64[..15])),
        ),
        (
            "b3 trace id of 31 hex characters",
            b3(format!("{}-{SPAN}-1", &T128[1..])),
        ),
        (
            "b3 trace id of 33 hex characters",
            b3(format!("{T128}a-{SPAN}-1")),
        ),
        (
            "b3 span id of 17 hex characters",
            b3(format!("{T128}-{SPAN}a-1")),
        ),
        ("upper-case b3", b3(single.to_uppercase())),
        (
            "non-hex b3 span id",
            b3(format!("{T64}-{}x-1", &SPAN[..15])),
        ),
        (
            "b3 with an all-zero trace id",
            b3(format!("{}-{SPAN}-1", "0".repeat(32))),
        ),
        (
            "b3 with an all-zero span id",
            b3(format!("{T64}-{}", "0".repeat(16))),
        ),
        ("b3 with a trace id alone", b3(T128)),
        (
            "b3 ending in a dash after the trace id",
            b3(format!("{T128}-")),
        ),
        ("b3 without a trace id", b3(format!("-{SPAN}"))),
        (
            "b3 ending in a dash after the sampling state",
            b3(format!("{single}-")),
        ),
        (
            "b3 ending in a dash after the parent id",
            b3(format!("{single}-{PARENT}-")),
        ),
        ("b3 with a fifth field", b3(format!("{single}-{PARENT}-1"))),
        (
            "b3 with a parent id but no sampling state",
            b3(format!("{T128}-{SPAN}-{PARENT}")),
        ),
        ("b3 sampling state 2", b3(format!("{T128}-{SPAN}-2"))),
        ("b3 sampling state true", b3(format!("{T128}-{SPAN}-true"))),
        (
            "b3 debug flag in upper case",
            b3(format!("{T128}-{SPAN}-D")),
        ),
        ("b3 holding only sampling state 2", b3("2")),
        ("empty b3", b3("")),
        (
            "b3 with spaces around its dash",
            b3(format!("{T64} - {SPAN}")),
        ),
        ("b3 with a double dash", b3(format!("{T64}--{SPAN}"))),
        (
            "b3 with a non-ASCII byte",
            b3([single.as_bytes(), b"\xff"].concat()),
        ),
        ("8 KiB b3", b3(&long)),
        (
            "malformed b3 over malformed X-B3-* headers",
            with(
                ids(T64.to_uppercase(), SPAN),
                "b3",
                format!("{T64}-{SPAN}-x"),
            ),
        ),
    ]
}
