//! The whole demo in-process with `--once` on ephemeral ports: the printed waterfall shows
//! the article's six spans nested in order, and the B3 headers that crossed the wire are
//! the CLIENT span's context. The services' sampling and B3 settings reach the services
//! the demo starts; a trace they did not sample is reported as such, without waiting.

mod common;

use std::time::{Duration, Instant};

use common::{ARTICLE_ROWS, OPTIONS, waterfall_rows};
use demo::{CollectedTrace, Config, Printer, run};
use zipkin_tracing::{B3Format, Kind};

async fn run_once() -> (String, CollectedTrace) {
    run_with(Config::ephemeral(0.01)).await
}

async fn run_with(config: Config) -> (String, CollectedTrace) {
    let mut printer = Printer::new(Vec::new(), OPTIONS);
    let traces = run(&config, &mut printer, std::future::pending())
        .await
        .expect("the demo runs");
    let text = String::from_utf8(printer.into_inner()).expect("the output is UTF-8");
    assert_eq!(traces.len(), 1, "--once prints one trace:\n{text}");
    let trace = traces.into_iter().next().expect("one trace");
    (text, trace)
}

#[tokio::test]
async fn once_prints_the_article_waterfall_nested_in_order() {
    let (text, trace) = run_once().await;
    assert!(trace.complete, "{text}");
    assert_eq!(trace.spans.len(), 6, "{text}");
    assert!(trace.spans.iter().all(|s| s.trace_id == trace.trace_id));

    assert!(
        text.contains(&format!("x-trace-id: {}", trace.trace_id)),
        "{text}"
    );
    assert!(
        text.contains(&format!("Trace {} | 6 spans |", trace.trace_id)),
        "{text}"
    );
    assert_eq!(waterfall_rows(&text), ARTICLE_ROWS, "{text}");
    assert!(!text.contains("Incomplete"), "{text}");
    // The trace doctor finds nothing in the article's trace, so it prints nothing.
    assert!(!text.contains("Doctor"), "{text}");
    assert!(
        !text.contains("Serving:"),
        "--once does not keep serving:\n{text}"
    );
    // The collector stops with the demo: no command to query it is offered.
    assert!(!text.contains("curl"), "{text}");
    assert!(text.contains("without --once"), "{text}");
    // The intro comes first, the waterfall after the response, the headers after it.
    let intro = text.find("GET http://127.0.0.1:").unwrap();
    let waterfall = text.find("Trace ").unwrap();
    let headers = text.find("X-B3-TraceId:").unwrap();
    assert!(intro < waterfall && waterfall < headers, "{text}");
}

#[tokio::test]
async fn the_captured_b3_headers_are_the_client_spans_context() {
    let (text, trace) = run_once().await;
    let client = trace
        .spans
        .iter()
        .find(|s| s.kind == Some(Kind::Client))
        .expect("service1's CLIENT span");
    let do_stuff = trace
        .spans
        .iter()
        .find(|s| s.name.as_deref() == Some("service_1_do_stuff"))
        .expect("service_1_do_stuff");
    assert_eq!(client.parent_id, Some(do_stuff.id));

    assert_eq!(trace.headers.len(), 1, "one call to service2: {text}");
    let request = &trace.headers[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("GET", "/service/")
    );
    let trace_id = trace.trace_id.to_string();
    let span_id = client.id.to_string();
    let parent_id = do_stuff.id.to_string();
    let expected = [
        ("X-B3-TraceId", trace_id.as_str()),
        ("X-B3-SpanId", span_id.as_str()),
        ("X-B3-ParentSpanId", parent_id.as_str()),
        ("X-B3-Sampled", "1"),
        ("X-B3-Flags", "0"),
    ];
    let sent: Vec<(&str, &str)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(sent, expected, "{text}");

    // And the printed form says the same, one header a line.
    for (name, value) in expected {
        let printed = text.lines().any(|line| {
            let mut words = line.split_whitespace();
            words.next() == Some(&format!("{name}:")) && words.next() == Some(value)
        });
        assert!(printed, "{name}: {value} not printed:\n{text}");
    }
}

#[tokio::test]
async fn the_b3_format_setting_reaches_the_services() {
    let mut config = Config::ephemeral(0.01);
    config.tracing.b3_format = B3Format::Single;
    let (text, trace) = run_with(config).await;
    assert!(trace.complete, "{text}");
    let request = &trace.headers[0];
    let names: Vec<&str> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["b3"], "{text}");
    assert!(
        request
            .header("b3")
            .is_some_and(|b3| b3.starts_with(&trace.trace_id.to_string())),
        "{text}"
    );
}

#[tokio::test]
async fn an_unsampled_trace_is_reported_as_not_sampled_without_waiting() {
    let mut config = Config::ephemeral(0.01);
    config.tracing.sample_rate = zipkin_tracing::ProbabilitySampler::never();
    let started = Instant::now();
    let (text, trace) = run_with(config).await;
    assert!(!trace.sampled, "{text}");
    assert!(trace.spans.is_empty(), "{text}");
    assert!(
        text.contains(&format!("Trace {} was not sampled", trace.trace_id)),
        "{text}"
    );
    assert!(!text.contains("Incomplete"), "{text}");
    assert!(waterfall_rows(&text).is_empty(), "{text}");
    // The ids still crossed the wire, with the decision not to record.
    assert_eq!(trace.headers[0].header("X-B3-Sampled"), Some("0"), "{text}");
    // Waiting for spans would take the watcher's deadline (5 s) at least.
    assert!(started.elapsed() < Duration::from_secs(5), "{text}");
}
