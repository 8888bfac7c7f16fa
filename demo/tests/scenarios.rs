//! Every lesson (`--scenario NAME`) at a small time scale, on free ports: the trace it
//! makes, exactly (span count, distinct ids, shared spans, error tags, the trace doctor's
//! rules). `scenario_binary.rs` runs the binary's `--scenario`.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use collector::doctor::diagnose;
use common::{ARTICLE_ROWS, OPTIONS, waterfall_rows};
use demo::scenario::{LessonRun, SCENARIOS, find, run_scenario};
use demo::{Config, Printer};
use zipkin_tracing::{Kind, Span, SpanId};

/// Runs the lesson `name` at `time_scale`; returns what it made and printed.
async fn lesson(name: &str, time_scale: f64) -> (LessonRun, String) {
    let scenario = find(name).unwrap();
    let mut printer = Printer::new(Vec::new(), OPTIONS);
    let run = run_scenario(scenario, &Config::ephemeral(time_scale), &mut printer)
        .await
        .unwrap_or_else(|error| panic!("the {name} lesson runs: {error:#}"));
    let text = String::from_utf8(printer.into_inner()).unwrap();
    assert!(text.starts_with(&format!("Lesson {name}: ")), "{text}");
    for note in scenario.notes {
        assert!(text.contains(note), "{name} prints its notes:\n{text}");
    }
    (run, text)
}

/// The spans' distinct ids.
fn ids(spans: &[Span]) -> BTreeSet<SpanId> {
    spans.iter().map(|span| span.id).collect()
}

/// The rule ids the trace doctor finds, in its order.
fn rules(spans: &[Span]) -> Vec<&'static str> {
    diagnose(spans, &[]).iter().map(|f| f.rule.id).collect()
}

/// The one span named `name` of `service` (a CLIENT and a SERVER may share a name).
fn span<'a>(spans: &'a [Span], service: &str, name: &str, kind: Option<Kind>) -> &'a Span {
    let found: Vec<&Span> = spans
        .iter()
        .filter(|s| s.service_name() == Some(service) && s.name.as_deref() == Some(name))
        .filter(|s| s.kind == kind)
        .collect();
    assert_eq!(found.len(), 1, "one {service}: {name} in {spans:#?}");
    found[0]
}

fn shared(spans: &[Span]) -> usize {
    spans.iter().filter(|span| span.shared).count()
}

fn header<'a>(run: &'a LessonRun, name: &str) -> Option<&'a str> {
    assert_eq!(run.headers.len(), 1, "service2 got one request: {run:#?}");
    run.headers[0].header(name)
}

/// The article's six spans under one trace id, service2's SERVER span joining the CLIENT.
fn assert_article(run: &LessonRun) {
    let spans = &run.spans;
    assert_eq!(spans.len(), 6, "{spans:#?}");
    assert!(spans.iter().all(|s| s.trace_id == run.trace_id));
    assert_eq!(ids(spans).len(), 5, "{spans:#?}");
    assert_eq!(shared(spans), 1, "{spans:#?}");
    let client = span(spans, "service1", "GET /service/", Some(Kind::Client));
    let server = span(spans, "service2", "GET /service/", Some(Kind::Server));
    assert_eq!(server.id, client.id);
    assert!(server.shared);
}

#[tokio::test]
async fn healthy_is_the_articles_trace_without_findings() {
    let (run, text) = lesson("healthy", 0.01).await;
    assert_eq!(run.status, 200);
    assert_article(&run);
    assert_eq!(rules(&run.spans), Vec::<&str>::new());
    assert!(run.findings.is_empty());
    assert_eq!(header(&run, "X-B3-Sampled"), Some("1"));
    assert!(!text.contains("Doctor"), "{text}");
    assert_eq!(waterfall_rows(&text), ARTICLE_ROWS, "{text}");
}

#[tokio::test]
async fn unsampled_sends_the_ids_with_sampled_0_and_stores_nothing() {
    let (run, text) = lesson("unsampled", 0.01).await;
    assert_eq!(run.status, 200);
    assert!(run.spans.is_empty(), "{:#?}", run.spans);
    assert_eq!(run.reported.queued, 0, "no span is even queued");
    assert_eq!(header(&run, "X-B3-Sampled"), Some("0"));
    assert_eq!(
        header(&run, "X-B3-TraceId"),
        Some(run.trace_id.to_string().as_str())
    );
    assert_eq!(run.headers[0].sampled, Some(false));
    assert!(text.contains("The collector holds no span"), "{text}");
    assert!(text.contains("X-B3-Sampled:      0"), "{text}");
}

#[tokio::test]
async fn debug_records_at_sample_rate_0_and_passes_the_flag_on() {
    let (run, text) = lesson("debug", 0.01).await;
    assert_eq!(run.caller, [("X-B3-Flags", "1".to_owned())]);
    assert_article(&run);
    assert!(run.spans.iter().all(|s| s.debug), "{:#?}", run.spans);
    assert_eq!(header(&run, "X-B3-Flags"), Some("1"));
    assert_eq!(header(&run, "X-B3-Sampled"), None, "debug implies sampled");
    assert_eq!(rules(&run.spans), Vec::<&str>::new());
    assert!(text.contains("The caller sends: X-B3-Flags: 1"), "{text}");
}

#[tokio::test]
async fn deferred_lets_service1_decide_within_the_callers_trace() {
    let (run, _) = lesson("deferred", 0.01).await;
    let [(_, trace), (_, caller_span)] = [0, 1].map(|i| run.caller[i].clone());
    assert_eq!(
        run.caller.len(),
        2,
        "ids only, no X-B3-Sampled: {:?}",
        run.caller
    );
    assert_eq!(run.trace_id.to_string(), trace);
    let spans = &run.spans;
    assert_eq!(spans.len(), 6, "{spans:#?}");
    assert_eq!(ids(spans).len(), 5);
    // service1 reuses the caller's span id, but not as a shared span: a caller that had
    // not decided may not record its half.
    let root = span(spans, "service1", "GET /", Some(Kind::Server));
    assert_eq!(root.id.to_string(), caller_span);
    assert!(!root.shared && root.parent_id.is_none(), "{root:#?}");
    assert_eq!(shared(spans), 1);
    assert_eq!(header(&run, "X-B3-Sampled"), Some("1"), "service1 decided");
    assert_eq!(rules(spans), Vec::<&str>::new());
}

#[tokio::test]
async fn b3_single_sends_one_header_with_the_same_context() {
    let (run, _) = lesson("b3-single", 0.01).await;
    assert_article(&run);
    let client = span(&run.spans, "service1", "GET /service/", Some(Kind::Client));
    let parent = client.parent_id.unwrap();
    let names: Vec<&str> = run.headers[0]
        .headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["b3"]);
    let expected = format!("{}-{}-1-{parent}", run.trace_id, client.id);
    assert_eq!(header(&run, "b3"), Some(expected.as_str()));
    assert_eq!(rules(&run.spans), Vec::<&str>::new());
}

#[tokio::test]
async fn no_join_makes_service2_a_child_with_six_ids() {
    let (run, _) = lesson("no-join", 0.01).await;
    let spans = &run.spans;
    assert_eq!(spans.len(), 6, "{spans:#?}");
    assert_eq!(ids(spans).len(), 6);
    assert_eq!(shared(spans), 0);
    let client = span(spans, "service1", "GET /service/", Some(Kind::Client));
    let server = span(spans, "service2", "GET /service/", Some(Kind::Server));
    assert_eq!(server.parent_id, Some(client.id));
    assert_eq!(rules(spans), Vec::<&str>::new());
}

#[tokio::test]
async fn a_w3c_caller_gets_children_never_a_join() {
    let (run, _) = lesson("w3c-caller", 0.01).await;
    let traceparent = &run.caller[0].1;
    let caller_span = traceparent.split('-').nth(2).unwrap();
    assert_eq!(
        traceparent.split('-').nth(1),
        Some(run.trace_id.to_string().as_str())
    );
    let spans = &run.spans;
    assert_eq!(spans.len(), 6, "{spans:#?}");
    assert_eq!(ids(spans).len(), 6);
    assert_eq!(shared(spans), 0);
    let root = span(spans, "service1", "GET /", Some(Kind::Server));
    assert_eq!(
        root.parent_id.map(|id| id.to_string()).as_deref(),
        Some(caller_span)
    );
    let client = span(spans, "service1", "GET /service/", Some(Kind::Client));
    let server = span(spans, "service2", "GET /service/", Some(Kind::Server));
    assert_eq!(server.parent_id, Some(client.id));
    assert!(header(&run, "traceparent").is_some());
    // The caller reported no span: service1's root names a parent not in the trace.
    assert_eq!(rules(spans), ["context-lost"]);
}

#[tokio::test]
async fn service2_down_is_a_502_with_the_error_on_service1s_spans() {
    let (run, _) = lesson("service2-down", 0.01).await;
    assert_eq!(run.status, 502);
    let spans = &run.spans;
    assert_eq!(spans.len(), 3, "{spans:#?}");
    assert_eq!(ids(spans).len(), 3);
    assert!(spans.iter().all(|s| s.service_name() == Some("service1")));
    let client = span(spans, "service1", "GET /service/", Some(Kind::Client));
    let do_stuff = span(spans, "service1", "service_1_do_stuff", None);
    assert!(client.tag("error").is_some(), "{client:#?}");
    assert!(
        do_stuff
            .tag("error")
            .is_some_and(|e| e.contains("unavailable"))
    );
    assert!(run.headers.is_empty());
    assert_eq!(rules(spans), ["dependency-hole"]);
}

#[tokio::test]
async fn timeout_is_a_504_and_cancels_service2_before_db_search() {
    let (run, _) = lesson("timeout", 0.1).await;
    assert_eq!(run.status, 504);
    let spans = &run.spans;
    assert_eq!(spans.len(), 5, "{spans:#?}");
    assert_eq!(ids(spans).len(), 4);
    assert!(!spans.iter().any(|s| s.name.as_deref() == Some("db_search")));
    let client = span(spans, "service1", "GET /service/", Some(Kind::Client));
    let do_stuff = span(spans, "service1", "service_1_do_stuff", None);
    assert!(client.tag("error").is_some(), "{client:#?}");
    assert!(do_stuff.tag("error").is_some_and(|e| e.contains("timeout")));
    // The client gave up after CLIENT_TIMEOUT_SECS (1 s at scale 1).
    assert!(client.duration.unwrap() >= 100_000, "{client:#?}");
    // service2 noticed the hang-up after the CLIENT span ended.
    assert_eq!(rules(spans), ["clock-skew"]);
}

#[tokio::test]
async fn slow_db_shows_where_the_time_went() {
    let (run, _) = lesson("slow-db", 0.01).await;
    assert_article(&run);
    let db = span(&run.spans, "service2", "db_search", None);
    let root = span(&run.spans, "service1", "GET /", Some(Kind::Server));
    // 20 s at scale 1: ten times the article's db_search, most of the request.
    assert!(db.duration.unwrap() >= 200_000, "{db:#?}");
    assert!(
        db.duration.unwrap() * 2 > root.duration.unwrap(),
        "{root:#?}"
    );
    assert_eq!(rules(&run.spans), Vec::<&str>::new());
}

#[tokio::test]
async fn collector_down_keeps_the_request_fast_and_counts_the_lost_spans() {
    let (run, text) = lesson("collector-down", 0.01).await;
    assert_eq!(run.status, 200);
    assert!(run.spans.is_empty());
    assert_eq!(run.reported.failed, 6, "{:?}", run.reported);
    assert_eq!(run.reported.sent, 0);
    // 70 ms of sleeps; generous for a shared machine, far below the retry window's sum.
    assert!(run.took < Duration::from_secs(3), "{:?}", run.took);
    assert!(text.contains("6 failed"), "{text}");
}

#[tokio::test]
async fn lost_context_loses_db_search() {
    let (run, _) = lesson("lost-context", 0.01).await;
    let spans = &run.spans;
    assert_eq!(spans.len(), 5, "{spans:#?}");
    assert_eq!(ids(spans).len(), 4);
    assert_eq!(shared(spans), 1);
    assert!(!spans.iter().any(|s| s.name.as_deref() == Some("db_search")));
    // Nothing was recorded, so nothing names a missing parent: the doctor sees no fault.
    assert_eq!(rules(spans), Vec::<&str>::new());
}

#[tokio::test]
async fn clock_skew_moves_service2_50_ms_ahead_and_the_doctor_says_so() {
    let (run, _) = lesson("clock-skew", 0.01).await;
    assert_article(&run);
    let client = span(&run.spans, "service1", "GET /service/", Some(Kind::Client));
    let server = span(&run.spans, "service2", "GET /service/", Some(Kind::Server));
    let ahead = server.timestamp.unwrap() - client.timestamp.unwrap();
    assert!(ahead >= 50_000, "{ahead} µs");
    assert_eq!(rules(&run.spans), ["clock-skew"]);
}

#[tokio::test]
async fn a_lesson_refuses_what_it_cannot_show_naming_the_setting() {
    let mut printer = Printer::new(Vec::new(), OPTIONS);
    for name in ["timeout", "slow-db"] {
        let error = run_scenario(find(name).unwrap(), &Config::ephemeral(0.0), &mut printer)
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("--time-scale above 0"),
            "{error}"
        );
    }
    let mut config = Config::ephemeral(0.01);
    config.zipkin = Some("http://127.0.0.1:9411".into());
    let error = run_scenario(find("healthy").unwrap(), &config, &mut printer)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("drop --zipkin"), "{error}");
    assert!(
        printer.into_inner().is_empty(),
        "nothing starts, nothing is printed"
    );
}

#[test]
fn every_scenario_has_a_test_here_and_a_line_in_the_list() {
    let source = include_str!("scenarios.rs");
    let list = demo::scenario::list();
    for scenario in SCENARIOS {
        assert!(source.contains(&format!("lesson(\"{}\"", scenario.name)));
        assert!(list.contains(scenario.name), "{list}");
        assert!((2..=4).contains(&scenario.notes.len()), "{}", scenario.name);
    }
}
