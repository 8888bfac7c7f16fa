//! Malformed B3 headers never hurt a request. Each input of the table, in the multi-header
//! or the single `b3` form, goes to both real binaries (service2's `/service/` directly and
//! service1's `/`): each answers 200 and starts a fresh, well-formed trace, no span
//! carries any part of the bad value, and the debug log that reports the rejection holds
//! only an escaped, shortened form of it.

// Tests may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

// A test crate's root looks for its modules beside it; this one keeps its table in a folder.
#[path = "malformed_b3/cases.rs"]
mod cases;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use cases::{Headers, cases, long_value};
use itests::trace_source::describe_spans;
use itests::{ArticleTrace, Chain, CollectorDouble, Service, TraceTree};
use zipkin_tracing::{Kind, Span, TraceId};

const TIME_SCALE: f64 = 0.001;
/// How long a service may take to answer one request.
const DEADLINE: Duration = Duration::from_secs(20);

/// What a service answered to one request.
#[derive(Debug)]
struct Answer {
    status: String,
    /// `x-trace-id`, which service1 sends and service2 does not.
    trace_id: Option<TraceId>,
    /// The port of the test's end of the connection, which the SERVER span records.
    client_port: u16,
}

/// Sends `GET {path}` to `address` on a new connection, writing `headers` byte for byte
/// (an HTTP client library would refuse some of them), and reads the answer's head.
fn send_raw(address: &str, path: &str, headers: &[(&'static str, Vec<u8>)]) -> Answer {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let client_port = stream.local_addr().unwrap().port();
    let mut request =
        format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n").into_bytes();
    for (name, value) in headers {
        request.extend_from_slice(format!("{name}: ").as_bytes());
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    stream.write_all(&request).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response);
    let head = response.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default().to_owned();
    let trace_id = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("x-trace-id"))
        .map(|(_, value)| value.trim().parse().unwrap());
    Answer {
        status,
        trace_id,
        client_port,
    }
}

/// The headers for a message: values escaped and shortened.
fn shown(headers: &Headers) -> String {
    let shown: Vec<String> = headers
        .iter()
        .map(|(name, value)| {
            let text: String = String::from_utf8_lossy(value).chars().take(60).collect();
            format!("{name}: {text:?}")
        })
        .collect();
    shown.join(", ")
}

/// Recognisable pieces of an input: the start and end of each run of at least 10 letters
/// or digits (lower-cased, all-zero runs left out), at most 12 characters each.
fn fragments(headers: &Headers) -> Vec<String> {
    let mut fragments = Vec::new();
    for (_, value) in headers {
        let text = String::from_utf8_lossy(value).to_lowercase();
        for run in text.split(|c: char| !c.is_alphanumeric()) {
            let chars: Vec<char> = run.chars().collect();
            if chars.len() >= 10 && chars.iter().any(|&c| c != '0') {
                let take = chars.len().min(12);
                fragments.push(chars[..take].iter().collect());
                fragments.push(chars[chars.len() - take..].iter().collect());
            }
        }
    }
    fragments
}

/// The one trace whose service2 SERVER span was called from `client_port`, taken out of
/// `traces`.
fn take_service2_trace(traces: &mut BTreeMap<TraceId, Vec<Span>>, client_port: u16) -> Vec<Span> {
    let found: Vec<TraceId> = traces
        .iter()
        .filter(|(_, spans)| {
            spans.iter().any(|span| {
                span.kind == Some(Kind::Server)
                    && span.service_name() == Some("service2")
                    && span.remote_endpoint.as_ref().and_then(|e| e.port) == Some(client_port)
            })
        })
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "traces of the call from port {client_port}: {found:?}"
    );
    traces.remove(&found[0]).unwrap()
}

#[tokio::test]
async fn malformed_b3_headers_start_a_new_trace_and_the_request_succeeds() {
    let cases = cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let collector = CollectorDouble::start().await;
    let mut chain = Chain::options(collector.endpoint())
        .time_scale(TIME_SCALE)
        .rust_log("debug")
        .binaries()
        .start()
        .await
        .unwrap();

    let service2 = chain.service2.as_ref().unwrap();
    let addresses = [service2.address(), chain.service1.address()].map(|a| a.to_string());
    let inputs: Vec<Headers> = cases.iter().map(|(_, headers)| headers.clone()).collect();
    let answers = tokio::task::spawn_blocking(move || {
        let [to_service2, to_service1] = &addresses;
        inputs
            .iter()
            .map(|headers| {
                let direct = send_raw(to_service2, "/service/", headers);
                (direct, send_raw(to_service1, "/", headers))
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();

    // Stopped, both have sent every span they recorded.
    chain.stop().await.unwrap();
    let spans = collector.spans().unwrap();
    let mut traces: BTreeMap<TraceId, Vec<Span>> = BTreeMap::new();
    for span in &spans {
        traces.entry(span.trace_id).or_default().push(span.clone());
    }

    for ((case, headers), (direct, through)) in cases.iter().zip(&answers) {
        // Name the input in any failure, including those of the shared tree assertions.
        let checked = panic::catch_unwind(AssertUnwindSafe(|| {
            assert_new_traces(&mut traces, direct, through);
        }));
        if let Err(failure) = checked {
            let message = failure
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| failure.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            panic!("{case} ({}): {message}", shown(headers));
        }
    }
    let leftovers: Vec<Span> = traces.into_values().flatten().collect();
    assert!(
        leftovers.is_empty(),
        "traces no request made:\n{}",
        describe_spans(&leftovers)
    );
    assert_nothing_copied(&spans, &cases);
    for service in chain.services() {
        assert_log_escaped(service, cases.len());
    }
}

/// Checks that both answers are 200 and that each request made a new trace: service1's the
/// article's whole tree, service2's its three spans, each under a root without a parent.
/// Takes both traces out of `traces`.
fn assert_new_traces(traces: &mut BTreeMap<TraceId, Vec<Span>>, direct: &Answer, through: &Answer) {
    for answer in [direct, through] {
        assert!(answer.status.starts_with("HTTP/1.1 200 "), "{answer:?}");
    }
    let trace_id = through.trace_id.expect("service1 answers with x-trace-id");
    let Some(spans) = traces.remove(&trace_id) else {
        panic!("no span of trace {trace_id}, which service1 answered with");
    };
    let mut tree = TraceTree::new(spans);
    let trace = ArticleTrace::take(&mut tree);
    tree.finish();
    let root = &trace.server1;
    assert_eq!(root.parent_id, None, "a new root: {root:?}");
    assert!(!root.shared, "nothing to join: {root:?}");
    let port = root.remote_endpoint.as_ref().and_then(|e| e.port);
    assert_eq!(port, Some(through.client_port), "{root:?}");

    let mut tree = TraceTree::new(take_service2_trace(traces, direct.client_port));
    let root = tree.root().clone();
    let server = tree.take("service2", Some(Kind::Server), "GET /service/");
    let work = tree.take("service2", None, "service_2_do_stuff");
    let db_search = tree.take("service2", None, "db_search");
    tree.finish();
    assert_eq!(
        (server.id, server.parent_id),
        (root.id, None),
        "a new root: {server:?}"
    );
    assert!(!server.shared, "nothing to join: {server:?}");
    assert_eq!(work.parent_id, Some(server.id));
    assert_eq!(db_search.parent_id, Some(work.id));
}

/// Checks that no span holds a recognisable piece of any input, nor any non-ASCII text:
/// not in an id, a name, a tag, an annotation or an endpoint.
fn assert_nothing_copied(spans: &[Span], cases: &[(&str, Headers)]) {
    for span in spans {
        let json = serde_json::to_string(span).unwrap().to_lowercase();
        assert!(json.is_ascii(), "a span holds non-ASCII text: {json}");
        for (case, headers) in cases {
            for fragment in fragments(headers) {
                assert!(
                    !json.contains(&fragment),
                    "{case}: {fragment:?} copied into {json}"
                );
            }
        }
    }
}

/// Checks `service`'s log: one debug line per ignored context, and no raw header bytes
/// (only printable ASCII, no run of 64 characters of the 8 KiB value).
fn assert_log_escaped(service: &Service, cases: usize) {
    let output = service.output();
    let name = service.name();
    let rejections = output
        .lines()
        .filter(|line| line.contains("DEBUG") && line.contains("starting a new trace"))
        .count();
    assert_eq!(
        rejections, cases,
        "{name} logs each ignored context once at debug level:\n{output}"
    );
    if let Some(bad) = output
        .chars()
        .find(|&c| !c.is_ascii() || c.is_ascii_control() && c != '\n')
    {
        panic!("{name} logged a raw byte of a header ({bad:?}):\n{output}");
    }
    let long = long_value();
    for start in (0..long.len() - 64).step_by(32) {
        assert!(
            !output.contains(&long[start..start + 64]),
            "{name} logged 64 characters of the 8 KiB value:\n{output}"
        );
    }
    assert!(
        output.contains("(8192 bytes)"),
        "{name} logs the 8 KiB value shortened, with its length:\n{output}"
    );
}
