//! The article's own tracer against both collectors: py_zipkin (run from the virtualenv
//! `scripts/py-zipkin fetch` makes) records the article's trace in its two older
//! encodings, `V1_JSON` (posted to `/api/v1/spans`) and `V2_PROTO3` (posted to
//! `/api/v2/spans` as `application/x-protobuf`), plain and gzip. Each body goes to the
//! stand-in and to the real Zipkin; both must answer with the same status and store the
//! same trace, read back from `/api/v2/trace/{id}` and compared as `stand_in_vs_zipkin.rs`
//! compares (Zipkin's reports merged by its rules, names lower-cased). Bad bodies of both
//! formats must be refused by both with a 400.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

#[allow(
    dead_code,
    reason = "shared with stand_in_vs_zipkin.rs, which uses all of it"
)]
#[path = "stand_in_vs_zipkin/normalise.rs"]
mod normalise;
#[path = "stand_in_vs_zipkin/zipkin_merge.rs"]
mod zipkin_merge;

use std::io::Write as _;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use itests::engines::py_zipkin::{self, Encoded};
use itests::trace_source::wait_until;
use itests::{StandInCollector, ZipkinServer};
use serde_json::{Value, json};

/// Zipkin answers a POST before it stores the spans: reads poll up to this long.
const STORE_DEADLINE: Duration = Duration::from_secs(30);

/// The article's trace as the spec `encode_spans.py` reads: service1's `GET /` calls
/// `service_1_do_stuff`, whose client call service2 joins; service2 runs
/// `service_2_do_stuff` and, inside it, `db_search`. Sleeps are the article's at 1/1000.
fn article(encoding: &str) -> Value {
    let http = |path: &str| json!({"http.method": "GET", "http.path": path});
    let db_search = json!({"service": "service2", "name": "db_search", "sleep_ms": 2,
        "tags": {"db.statement": "SELECT 1"}});
    let do_stuff_2 = json!({"service": "service2", "name": "service_2_do_stuff",
        "sleep_ms": 2, "children": [db_search]});
    let server = json!({"service": "service2", "name": "GET /service/", "kind": "SERVER",
        "port": 6000, "tags": http("/service/"), "children": [do_stuff_2]});
    let client = json!({"service": "service1", "name": "GET /service/", "kind": "CLIENT",
        "tags": http("/service/"), "remote": {"service": "service2", "port": 6000},
        "children": [server]});
    let do_stuff_1 = json!({"service": "service1", "name": "service_1_do_stuff",
        "sleep_ms": 2, "children": [client]});
    let root = json!({"service": "service1", "name": "GET /", "kind": "SERVER", "port": 5000,
        "tags": http("/"), "children": [do_stuff_1]});
    json!({"encoding": encoding, "host": "127.0.0.1", "trace": root})
}

/// Where each encoding is posted, and as what.
fn route(encoding: &str) -> (&'static str, &'static str) {
    match encoding {
        "V1_JSON" => ("/api/v1/spans", "application/json"),
        _ => ("/api/v2/spans", "application/x-protobuf"),
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Both collectors, and a client to send them the same things.
struct Pair {
    zipkin: String,
    stand_in: String,
    client: reqwest::Client,
}

impl Pair {
    /// The same body to both: their (status, text), Zipkin's first.
    async fn post(&self, path: &str, kind: &str, gzipped: bool, body: &[u8]) -> [(u16, String); 2] {
        let mut answers = Vec::new();
        for base in [&self.zipkin, &self.stand_in] {
            let mut request = self
                .client
                .post(format!("{base}{path}"))
                .header("content-type", kind);
            let body = if gzipped {
                request = request.header("content-encoding", "gzip");
                gzip(body)
            } else {
                body.to_vec()
            };
            let response = request.body(body).send().await.unwrap();
            let status = response.status().as_u16();
            answers.push((status, response.text().await.unwrap_or_default()));
        }
        answers.try_into().unwrap()
    }

    async fn trace(&self, base: &str, trace_id: &str) -> Result<Value, String> {
        let url = format!("{base}/api/v2/trace/{trace_id}");
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("GET {url} answered {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("GET {url}: {e}: {text}"))
    }
}

#[tokio::test]
async fn py_zipkin_v1_json_and_proto3_bodies_are_stored_as_zipkin_stores_them() {
    let test = "py_zipkin_bodies";
    let Some(python) = py_zipkin::python_or_skip(test) else {
        return;
    };
    let Some(zipkin) = ZipkinServer::start_or_skip(test, &[]).await else {
        return;
    };
    let stand_in = StandInCollector::start().await.unwrap();
    let pair = Pair {
        zipkin: zipkin.base_url().to_owned(),
        stand_in: stand_in.api().base_url().to_owned(),
        client: reqwest::Client::new(),
    };

    let mut traces = Vec::new();
    for (encoding, gzipped) in [
        ("V1_JSON", false),
        ("V2_PROTO3", false),
        ("V1_JSON", true),
        ("V2_PROTO3", true),
    ] {
        let Encoded { trace_id, bodies } = py_zipkin::encode(&python, &article(encoding)).unwrap();
        assert_eq!(bodies.len(), 2, "{encoding}: one body per service");
        let (path, kind) = route(encoding);
        for body in &bodies {
            let [zipkin_answer, stand_in_answer] = pair.post(path, kind, gzipped, body).await;
            assert_eq!(
                zipkin_answer.0, 202,
                "{encoding} gzip={gzipped}: Zipkin: {zipkin_answer:?}"
            );
            assert_eq!(
                stand_in_answer, zipkin_answer,
                "{encoding} gzip={gzipped}: stand-in"
            );
        }
        traces.push((format!("{encoding} gzip={gzipped}"), trace_id));
    }

    for (what, trace_id) in &traces {
        let waiting_for = format!("Zipkin to store the six spans of {what}");
        let stored = wait_until(&waiting_for, STORE_DEADLINE, || async {
            match pair.trace(&pair.zipkin, trace_id).await {
                Ok(Value::Array(spans)) if spans.len() >= 6 => Ok(Value::Array(spans)),
                Ok(answer) => Err(format!("it has {answer}")),
                Err(error) => Err(error),
            }
        });
        let zipkin_answer = stored
            .await
            .unwrap_or_else(|e| panic!("{e:#}\nZipkin's log:\n{}", zipkin.log_tail(30)));
        let stand_in_answer = pair.trace(&pair.stand_in, trace_id).await.unwrap();
        let zipkin_spans = normalise::zipkin_trace(zipkin_answer);
        let stand_in_spans = normalise::stand_in_trace(stand_in_answer);
        normalise::assert_same_spans(what, &zipkin_spans, &stand_in_spans);
        assert_article_shape(what, &stand_in_spans);
    }

    // Bad bodies of each format: both refuse them with a 400 and say why.
    let mut truncated_proto = py_zipkin::encode(&python, &article("V2_PROTO3"))
        .unwrap()
        .bodies
        .remove(0);
    truncated_proto.truncate(truncated_proto.len() / 2);
    for (encoding, body) in [
        ("V1_JSON", b"not json".to_vec()),
        ("V1_JSON", br#"[{"traceId": "A", "id": "b"}]"#.to_vec()),
        (
            "V1_JSON",
            br#"[{"traceId": "a", "id": "b", "annotations": [{"value": "cs"}]}]"#.to_vec(),
        ),
        ("V2_PROTO3", b"not proto".to_vec()),
        ("V2_PROTO3", truncated_proto),
    ] {
        let (path, kind) = route(encoding);
        let [zipkin_answer, stand_in_answer] = pair.post(path, kind, false, &body).await;
        assert_eq!(
            (zipkin_answer.0, stand_in_answer.0),
            (400, 400),
            "{encoding}: {zipkin_answer:?} {stand_in_answer:?}"
        );
        assert!(!stand_in_answer.1.is_empty(), "a 400 says why");
    }
    zipkin.stop();
}

/// Six spans, five ids, one trace: service1's server root, its local span, its client;
/// service2's server sharing the client's id, its local span and `db_search` inside it.
/// In v1 a span names its host only on its annotations: py_zipkin's local spans have
/// none but their tags, so an untagged one is stored without a service, by Zipkin too.
fn assert_article_shape(what: &str, spans: &[Value]) {
    let untagged = |service| {
        if what.starts_with("V1_JSON") {
            ""
        } else {
            service
        }
    };
    let mut rows: Vec<(String, String, &str, bool)> = spans
        .iter()
        .map(|span| {
            let service = span["localEndpoint"]["serviceName"].as_str().unwrap_or("");
            let name = span["name"].as_str().unwrap_or("").to_owned();
            let kind = span["kind"].as_str().unwrap_or("LOCAL");
            (service.to_owned(), name, kind, span["shared"] == true)
        })
        .collect();
    rows.sort();
    let mut expected = [
        (untagged("service1"), "service_1_do_stuff", "LOCAL", false),
        ("service1", "get /", "SERVER", false),
        ("service1", "get /service/", "CLIENT", false),
        ("service2", "db_search", "LOCAL", false),
        ("service2", "get /service/", "SERVER", true),
        (untagged("service2"), "service_2_do_stuff", "LOCAL", false),
    ];
    expected.sort();
    let expected: Vec<_> = expected
        .iter()
        .map(|(s, n, k, sh)| (s.to_string(), n.to_string(), *k, *sh))
        .collect();
    assert_eq!(rows, expected, "{what}: {spans:#?}");
    let ids: std::collections::BTreeSet<&str> =
        spans.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids.len(),
        5,
        "{what}: the client and the server share one id"
    );
    let client = spans.iter().find(|s| s["kind"] == "CLIENT").unwrap();
    assert_eq!(
        client["remoteEndpoint"]["serviceName"], "service2",
        "{what}: sa is the remote endpoint"
    );
}
