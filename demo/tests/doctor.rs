//! `demo doctor`, run as a user would: on a JSON file of spans it prints the waterfall and
//! each finding with its rule id, cause and fix, and exits 0 for the healthy article and 1
//! for each example mistake; with a trace id it reads the trace from `--zipkin` (the
//! stand-in collector, and the real Zipkin from its jar) with the traces started beside
//! it. A file or trace it cannot read, or a missing argument, exits 2 with a one-line
//! message.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use collector::doctor::{Example, examples};
use collector::{Collector, CollectorConfig};
use itests::{ZipkinServer, wait_for_trace};
use tokio::process::Command;
use zipkin_tracing::{Span, TraceId};

/// How long the binary may take; generous, the machines are shared.
const DEADLINE: Duration = Duration::from_secs(60);

/// Runs `demo doctor` with `args`, its environment cleared of settings that would change it.
async fn doctor(args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo"));
    command
        .arg("doctor")
        .args(args)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env_remove("ZIPKIN_URL")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().unwrap();
    let output: Output = tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .expect("the doctor exits in time")
        .unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

/// A file of this test run, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `json` written to a fresh file in the system's temporary folder.
fn file_with(json: &str) -> TempFile {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "demo-doctor-{}-{}.json",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let path = std::env::temp_dir().join(name);
    std::fs::write(&path, json).unwrap();
    TempFile(path)
}

fn example(name: &str) -> Example {
    examples().into_iter().find(|e| e.name == name).unwrap()
}

#[tokio::test]
async fn the_healthy_article_prints_its_waterfall_and_no_finding_and_exits_0() {
    let spans = example("healthy article").spans;
    let path = file_with(&serde_json::to_string(&spans).unwrap());
    let (code, stdout, stderr) = doctor(&[path.arg()]).await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.starts_with(&format!("Trace {} | 6 spans", spans[0].trace_id)));
    assert!(stdout.contains("service2: db_search"), "{stdout}");
    assert!(stdout.contains("Doctor: no findings."), "{stdout}");
    assert!(!stdout.contains('['), "{stdout}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[tokio::test]
async fn each_example_mistake_prints_its_rule_with_cause_and_fix_and_exits_1() {
    for example in examples() {
        if example.expected.is_empty() {
            continue;
        }
        // The neighbours go in the same file, as a list of traces.
        let mut traces: Vec<Vec<Span>> = vec![example.spans.clone()];
        traces.extend(example.neighbours.iter().cloned());
        let path = file_with(&serde_json::to_string(&traces).unwrap());
        let (code, stdout, stderr) = doctor(&[path.arg()]).await;
        assert_eq!(code, Some(1), "{}:\n{stdout}\n{stderr}", example.name);
        let found: Vec<&str> = stdout
            .lines()
            .filter_map(|line| line.trim_start().strip_prefix('['))
            .filter_map(|rest| rest.split(']').next())
            .collect();
        assert_eq!(found, example.expected, "{}:\n{stdout}", example.name);
        for id in &example.expected {
            let rule = collector::doctor::rule(id).unwrap();
            assert!(stdout.contains(rule.cause), "{}:\n{stdout}", example.name);
            assert!(stdout.contains(rule.fix), "{}:\n{stdout}", example.name);
        }
        assert!(stderr.is_empty(), "{}: {stderr}", example.name);
    }
}

#[tokio::test]
async fn a_trace_id_is_read_from_the_given_zipkin() {
    let collector = Collector::new(CollectorConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(collector::serve(
        listener,
        collector.clone(),
        std::future::pending(),
    ));
    let lost = example("headers lost");
    for trace in std::iter::once(&lost.spans).chain(&lost.neighbours) {
        collector.ingest(trace.clone());
    }
    let id = lost.spans[0].trace_id.to_string();
    let (code, stdout, stderr) = doctor(&[&id, "--zipkin", &base]).await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with(&format!("Trace {id} | 3 spans")),
        "{stdout}"
    );
    // The callee's new trace is found beside it, but only the asked trace is shown.
    assert!(stdout.contains("[headers-lost]"), "{stdout}");
    assert_eq!(stdout.matches("Trace ").count(), 1, "{stdout}");

    let (code, _, stderr) = doctor(&["463ac35c9f6413ad", "--zipkin", &base]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no trace 463ac35c9f6413ad"), "{stderr}");
}

#[tokio::test]
async fn a_trace_id_is_read_from_the_real_zipkin_with_the_traces_started_beside_it() {
    let Some(zipkin) = ZipkinServer::shared_or_skip("demo doctor").await else {
        return;
    };
    let api = zipkin.api();
    // Trace ids of this run's own: a shared Zipkin keeps what other tests stored.
    let lost = example("headers lost");
    let (caller, callee) = (TraceId::random_128(), TraceId::random_128());
    let mut traces = [lost.spans.clone(), lost.neighbours[0].clone()];
    for (trace, id) in traces.iter_mut().zip([caller, callee]) {
        for span in trace.iter_mut() {
            span.trace_id = id;
        }
        let response = reqwest::Client::new()
            .post(api.spans_endpoint())
            .header("content-type", "application/json")
            .body(serde_json::to_string(trace).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        // Zipkin answers before it stores: wait until it has the spans.
        wait_for_trace(&api, id, trace.len()).await.unwrap();
    }
    let id = caller.to_string();
    let (code, stdout, stderr) = doctor(&[&id, "--zipkin", zipkin.base_url()]).await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    // Zipkin lower-cases names; the callee's trace is found by `/api/v2/traces`.
    assert!(stdout.contains("service1: get /service/"), "{stdout}");
    assert!(stdout.contains("[headers-lost]"), "{stdout}");
    assert!(stdout.contains(&callee.to_string()), "{stdout}");
}

#[tokio::test]
async fn what_cannot_be_read_exits_2_with_one_line_saying_why() {
    let not_json = file_with("{");
    let not_spans = file_with(r#"[{"traceId": "x"}]"#);
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nobody = format!("http://{}", unused.local_addr().unwrap());
    drop(unused);
    let cases: [(Vec<&str>, &str); 4] = [
        (vec![not_json.arg()], "not a JSON list"),
        (vec![not_spans.arg()], "invalid id"),
        (vec!["no-such-file.json"], "neither a file nor a trace id"),
        (vec!["463ac35c9f6413ad", "--zipkin", &nobody], "no answer"),
    ];
    for (args, reason) in cases {
        let (code, stdout, stderr) = doctor(&args).await;
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
    }
    let (code, _, stderr) = doctor(&[]).await;
    assert_eq!(code, Some(2), "a usage error: {stderr}");
    assert!(stderr.contains("TRACE_ID|FILE.json"), "{stderr}");
}
