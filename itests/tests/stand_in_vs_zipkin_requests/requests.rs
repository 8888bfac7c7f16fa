//! Generated requests to Zipkin's v2 API, written from the rules `zipkin2-api.yaml`
//! publishes: every read endpoint with its parameters present, absent, empty, valid and
//! not (numbers of zero, below zero, too large for Java's `long` or `int`, not numbers;
//! trace ids of every length, case and alphabet), and `POST /api/v2/spans` (see `bodies`).
//! Values come from small pools that hit the stored spans (the `span_sets` corpus and the
//! generated posts) as well as miss them.

use std::fmt;

use proptest::prelude::*;
use proptest::sample::select;

use super::bodies;

/// One request, as sent to both servers.
#[derive(Clone)]
pub enum Request {
    /// `GET` of a path with its query, already percent-encoded.
    Get(String),
    /// `POST /api/v2/spans` with this body.
    Post(String),
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Get(path) => write!(f, "GET {path}"),
            Request::Post(body) => write!(f, "POST /api/v2/spans {body}"),
        }
    }
}

/// Percent-encodes `text` for a query value or a path segment: every byte but letters,
/// digits and `-._~`.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `path` with the parameters that are present.
fn query(path: &str, params: Vec<(&str, Option<String>)>) -> Request {
    let pairs: Vec<String> = params
        .into_iter()
        .filter_map(|(name, value)| Some(format!("{name}={}", encode(&value?))))
        .collect();
    if pairs.is_empty() {
        Request::Get(path.to_owned())
    } else {
        Request::Get(format!("{path}?{}", pairs.join("&")))
    }
}

/// A value from `pool` `present` times in `absent + present`, else none (the parameter
/// left out).
fn maybe(pool: Vec<String>, absent: u32, present: u32) -> impl Strategy<Value = Option<String>> {
    prop_oneof![absent => Just(None), present => select(pool).prop_map(Some)]
}

fn owned(pool: &[&str]) -> Vec<String> {
    pool.iter().map(|text| (*text).to_owned()).collect()
}

/// Service names: stored ones in several cases, unknown ones, empty, and `all`.
const SERVICES: [&str; 14] = [
    "frontend",
    "Frontend",
    "FRONTEND",
    "payments",
    "billing",
    "worker",
    "ids",
    "gateway",
    "inventory",
    "gen-a",
    "Gen-B",
    "nobody",
    "",
    "all",
];

/// Trace ids: the corpus's in their stored form and shorter or padded forms of the same,
/// upper case, not hex, zeros, too long, low 64 bits of zeros, blank around, empty.
const TRACE_IDS: [&str; 20] = [
    "5a1ed000000000000000000000000001",
    "0000000000000b0b",
    "b0b",
    "00000000000000ab",
    "ab",
    "00000000000000cd00000000000000ab",
    "cd00000000000000ab",
    "000000000000000000000000000000ab",
    "e0e0e0e0e0e0e0e1",
    "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d1",
    "3E3E3E3E3E3E3E31",
    "xyz",
    "0",
    "000000000000000000",
    "123456789012345678901234567890123",
    "10000000000000000000000000000000",
    " ab ",
    "1",
    "ffffffffffffffff",
    "",
];

/// A trace id from the pool or any short run of hex digits.
fn trace_id() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(owned(&TRACE_IDS)),
        1 => "[0-9a-f]{1,33}",
    ]
}

/// Numbers Zipkin refuses or reads oddly, for any numeric parameter.
const ODD_NUMBERS: [&str; 9] = [
    "",
    "0",
    "-1",
    "abc",
    "1.5",
    "+5",
    "9223372036854775807",
    "9223372036854775808",
    "2147483648",
];

/// Left out one time in `1 + 2 * present`; else `valid`, one time in nine one of
/// [`ODD_NUMBERS`].
fn number(valid: Vec<String>, present: u32) -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        2 * present => prop_oneof![
            8 => select(valid).prop_map(Some),
            1 => select(owned(&ODD_NUMBERS)).prop_map(Some),
        ],
    ]
}

/// Every request kind, with `now_ms` and `now_us` placing times near the stored spans.
pub fn request(now_ms: u64, now_us: u64) -> impl Strategy<Value = Request> {
    prop_oneof![
        1 => Just(Request::Get("/api/v2/services".to_owned())),
        2 => names("/api/v2/spans", "serviceName", owned(&SERVICES)),
        2 => names("/api/v2/remoteServices", "serviceName", owned(&SERVICES)),
        3 => trace_id().prop_map(|id| Request::Get(format!("/api/v2/trace/{}", encode(&id)))),
        3 => trace_many(),
        7 => traces(now_ms),
        3 => dependencies(now_ms),
        1 => Just(Request::Get("/api/v2/autocompleteKeys".to_owned())),
        2 => names(
            "/api/v2/autocompleteValues",
            "key",
            owned(&["http.method", "HTTP.METHOD", "error", "job.kind", "nope", ""]),
        ),
        10 => bodies::post(now_us),
    ]
}

/// A name list asked with `param` from `pool`, or without it.
fn names(
    path: &'static str,
    param: &'static str,
    pool: Vec<String>,
) -> impl Strategy<Value = Request> {
    maybe(pool, 1, 6).prop_map(move |value| query(path, vec![(param, value)]))
}

/// `traceMany` with none to four ids (repeats and malformed ones included).
fn trace_many() -> impl Strategy<Value = Request> {
    let ids = proptest::collection::vec(trace_id(), 0..6);
    prop_oneof![
        1 => Just(query("/api/v2/traceMany", vec![])),
        8 => ids.prop_map(|ids| {
            query("/api/v2/traceMany", vec![("traceIds", Some(ids.join(",")))])
        }),
    ]
}

/// Windows ending after now, at each corpus set's hour, and at its edges.
fn end_times(now_ms: u64) -> Vec<String> {
    let hour = 3_600_000;
    let mut ends = vec![
        now_ms + 60_000,
        now_ms - 7 * hour + 49,
        now_ms - 7 * hour + 51,
    ];
    ends.extend((1..=8).map(|k| now_ms - k * hour + 999));
    ends.iter().map(u64::to_string).collect()
}

/// `/api/v2/traces` with any mix of its nine parameters: each filter is left out three
/// times in four and each number one time in three (`maxDuration`, which needs
/// `minDuration`, three times in four), so that most searches are valid and many find
/// traces.
fn traces(now_ms: u64) -> impl Strategy<Value = Request> {
    let lookbacks = owned(&[
        "1", "2", "1000", "3600000", "86400000", "36000000", "36000000", "36000000",
    ]);
    let limits = owned(&["1", "2", "3", "10", "100"]);
    let mins = owned(&["1", "1000", "4000", "4500", "9000"]);
    let maxes = owned(&["3", "4600", "5000", "100000"]);
    let span_names = owned(&[
        "charge",
        "CHARGE",
        "get /checkout",
        "POST /pay",
        "aggregate",
        "all",
        "ALL",
        "",
        "nope",
        "gen op",
    ]);
    let remote = owned(&["mysql", "MySQL", "kafka", "redis", "legacy", "", "nobody"]);
    let annotation_queries = owned(&[
        "",
        " ",
        "error",
        "error=",
        "error=card declined",
        "retried",
        "job.kind=export and flushed",
        "job.kind=import",
        "http.method=POST and error",
        "a and  and b",
        "=x",
        "retried and retried=x",
        "error and",
        "http.method",
    ]);
    let filters = (
        maybe(owned(&SERVICES), 3, 1),
        maybe(remote, 3, 1),
        maybe(span_names, 3, 1),
        maybe(annotation_queries, 3, 1),
    );
    let mut ends = end_times(now_ms);
    ends.extend([now_ms + 60_000, now_ms + 60_000].map(|end| end.to_string()));
    let window = (
        number(mins, 1),
        prop_oneof![3 => Just(None), 1 => select(maxes).prop_map(Some)],
        number(ends, 1),
        number(lookbacks, 1),
        number(limits, 1),
    );
    (filters, window).prop_map(
        |((service, remote, span, annotations), (min, max, end, lookback, limit))| {
            query(
                "/api/v2/traces",
                vec![
                    ("serviceName", service),
                    ("remoteServiceName", remote),
                    ("spanName", span),
                    ("annotationQuery", annotations),
                    ("minDuration", min),
                    ("maxDuration", max),
                    ("endTs", end),
                    ("lookback", lookback),
                    ("limit", limit),
                ],
            )
        },
    )
}

/// `/api/v2/dependencies` with or without its two parameters.
fn dependencies(now_ms: u64) -> impl Strategy<Value = Request> {
    let lookbacks = owned(&["1000", "3600000", "36000000"]);
    (number(end_times(now_ms), 2), number(lookbacks, 1)).prop_map(|(end, lookback)| {
        query(
            "/api/v2/dependencies",
            vec![("endTs", end), ("lookback", lookback)],
        )
    })
}
