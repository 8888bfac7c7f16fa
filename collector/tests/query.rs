//! The read API: one trace, trace search, services and span names, merging and eviction.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

mod common;

use axum::http::StatusCode;
use common::{OTHER_TRACE, T0, TRACE, article_trace, get, get_json, post_ok, setup, span};
use serde_json::{Value, json};

/// The article's trace, plus a one-span trace of `service3` (calling `mysql`) one minute
/// later.
async fn two_traces() -> (collector::Collector, axum::Router) {
    let (collector, router) = setup(1 << 20, 100);
    post_ok(&router, &article_trace(TRACE)).await;
    let cron = span(
        OTHER_TRACE,
        "c000000000000001",
        None,
        "service3",
        "cron",
        T0 + 60_000_000,
        50,
    );
    let mut cron = cron;
    cron["remoteEndpoint"] = json!({"serviceName": "mysql"});
    post_ok(&router, &json!([cron])).await;
    (collector, router)
}

/// The trace ids of a `/api/v2/traces` answer, checking it is a list of lists.
fn trace_ids(answer: &Value) -> Vec<&str> {
    let traces = answer.as_array().expect("a list of traces");
    let ids = traces.iter().map(|trace| {
        let spans = trace.as_array().expect("a trace is a list of spans");
        spans[0]["traceId"].as_str().unwrap()
    });
    ids.collect()
}

#[tokio::test]
async fn a_trace_is_a_list_of_its_spans_by_start_time() {
    let (_collector, router) = two_traces().await;
    let trace = get_json(&router, &format!("/api/v2/trace/{TRACE}")).await;
    let names: Vec<&str> = trace
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "GET /",
            "service_1_do_stuff",
            "GET /service/",
            "GET /service/",
            "service_2_do_stuff",
            "db_search"
        ]
    );
    // Spans come back exactly as the schema writes them.
    assert_eq!(trace[0], article_trace(TRACE)[2]);
    assert_eq!(trace[3]["shared"], json!(true));
}

#[tokio::test]
async fn unknown_and_malformed_trace_ids() {
    let (_collector, router) = two_traces().await;
    let (status, message) = get(&router, "/api/v2/trace/463ac35c9f6413ad").await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::NOT_FOUND, "trace 463ac35c9f6413ad not found")
    );
    for (id, reason) in [
        ("463AC35C9F6413AD", "lower-case hex"),
        ("463ac35c9f6413a", "got 15"),
        ("0000000000000000", "all zeros"),
        ("trace", "got 5"),
    ] {
        let (status, message) = get(&router, &format!("/api/v2/trace/{id}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{id}");
        assert!(
            message.starts_with(&format!("invalid traceId \"{id}\": ")),
            "{message}"
        );
        assert!(message.contains(reason), "{message}");
    }
}

#[tokio::test]
async fn services_and_span_names_are_sorted_lists() {
    let (_collector, router) = setup(1 << 20, 100);
    assert_eq!(get_json(&router, "/api/v2/services").await, json!([]));
    post_ok(&router, &article_trace(TRACE)).await;
    assert_eq!(
        get_json(&router, "/api/v2/services").await,
        json!(["service1", "service2"])
    );
    assert_eq!(
        get_json(&router, "/api/v2/spans?serviceName=service2").await,
        json!(["GET /service/", "db_search", "service_2_do_stuff"])
    );
    assert_eq!(
        get_json(&router, "/api/v2/spans?serviceName=nobody").await,
        json!([])
    );
    for uri in ["/api/v2/spans", "/api/v2/spans?serviceName="] {
        let (status, message) = get(&router, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(message, "the query parameter serviceName is required");
    }
}

#[tokio::test]
async fn trace_search_filters() {
    let (_collector, router) = two_traces().await;
    let t0_ms = T0 / 1000;
    let cases = [
        (String::new(), vec![OTHER_TRACE, TRACE]),
        ("serviceName=service2".into(), vec![TRACE]),
        ("serviceName=SERVICE2".into(), vec![TRACE]),
        ("spanName=db_search".into(), vec![TRACE]),
        ("spanName=cron".into(), vec![OTHER_TRACE]),
        ("serviceName=service1&spanName=db_search".into(), vec![]),
        (
            "serviceName=service2&spanName=db_search".into(),
            vec![TRACE],
        ),
        ("minDuration=2000".into(), vec![TRACE]),
        ("minDuration=6500&maxDuration=7003".into(), vec![TRACE]),
        ("minDuration=7004".into(), vec![]),
        // Each filter may hold on a different span of the service: db_search lasts 2 ms
        // and service_2_do_stuff 4 ms.
        (
            "serviceName=service2&spanName=db_search&minDuration=3000".into(),
            vec![TRACE],
        ),
        (
            "serviceName=service2&spanName=db_search&minDuration=5000".into(),
            vec![],
        ),
        ("remoteServiceName=mysql".into(), vec![OTHER_TRACE]),
        (
            "remoteServiceName=MySQL&serviceName=service3".into(),
            vec![OTHER_TRACE],
        ),
        (
            "remoteServiceName=mysql&serviceName=service2".into(),
            vec![],
        ),
        ("serviceName=service3&minDuration=51".into(), vec![]),
        (format!("endTs={}", t0_ms + 1_000), vec![TRACE]),
        (
            format!("endTs={}&lookback=90000", t0_ms + 120_000),
            vec![OTHER_TRACE],
        ),
        (format!("endTs={}", t0_ms - 1), vec![]),
        ("limit=1".into(), vec![OTHER_TRACE]),
        (
            "annotationQuery=http.path%3D%2Fservice%2F".into(),
            vec![TRACE],
        ),
        (
            "annotationQuery=http.method%20and%20http.path%3D%2Fnope".into(),
            vec![],
        ),
        (
            "unknownParameter=1&serviceName=".into(),
            vec![OTHER_TRACE, TRACE],
        ),
    ];
    for (query, expected) in cases {
        let answer = get_json(&router, &format!("/api/v2/traces?{query}")).await;
        assert_eq!(trace_ids(&answer), expected, "{query}");
    }
    let whole = get_json(&router, &format!("/api/v2/traces?endTs={}", t0_ms + 1_000)).await;
    assert_eq!(
        whole[0].as_array().unwrap().len(),
        6,
        "a search returns whole traces"
    );
}

#[tokio::test]
async fn bad_search_parameters_are_a_400_naming_them() {
    let (_collector, router) = two_traces().await;
    for (query, expected) in [
        ("limit=0", "invalid limit \"0\": must be at least 1"),
        (
            "limit=ten",
            "invalid limit \"ten\": expected a whole number",
        ),
        ("minDuration=-1", "invalid minDuration \"-1\""),
        ("endTs=soon", "invalid endTs \"soon\""),
        ("lookback=1.5", "invalid lookback \"1.5\""),
        (
            "maxDuration=10",
            "invalid maxDuration \"10\": needs minDuration",
        ),
        (
            "minDuration=10&maxDuration=9",
            "invalid maxDuration \"9\": is less than minDuration",
        ),
    ] {
        let (status, message) = get(&router, &format!("/api/v2/traces?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(message.starts_with(expected), "{query}: {message}");
    }
}

#[tokio::test]
async fn repeated_reports_of_a_span_are_merged() {
    let (collector, router) = setup(1 << 20, 100);
    post_ok(&router, &article_trace(TRACE)).await;
    // The root again, late, with an extra tag and without timing; then the whole trace again.
    let mut late = span(TRACE, "a000000000000001", None, "service1", "GET /", 0, 1);
    late["kind"] = json!("SERVER");
    late.as_object_mut().unwrap().remove("timestamp");
    late.as_object_mut().unwrap().remove("duration");
    late["tags"] = json!({"http.status_code": "503"});
    post_ok(&router, &json!([late])).await;
    post_ok(&router, &article_trace(TRACE)).await;

    let trace = get_json(&router, &format!("/api/v2/trace/{TRACE}")).await;
    assert_eq!(
        trace.as_array().unwrap().len(),
        6,
        "client and shared server stay two spans"
    );
    assert_eq!(trace[0]["tags"], json!({"http.status_code": "503"}));
    assert_eq!(
        (
            trace[0]["timestamp"].as_u64(),
            trace[0]["duration"].as_u64()
        ),
        (Some(T0), Some(7_003))
    );
    assert_eq!(collector.span_count(), 6);
}

#[tokio::test]
async fn the_oldest_traces_are_evicted_at_the_cap() {
    let (collector, router) = setup(1 << 20, 7);
    post_ok(&router, &article_trace(TRACE)).await;
    let other = |id: &str| span(OTHER_TRACE, id, None, "service3", "cron", T0, 5);
    post_ok(&router, &json!([other("c000000000000001")])).await;
    assert_eq!((collector.trace_count(), collector.span_count()), (2, 7));
    // One more span: the whole oldest trace goes, not just one of its spans.
    post_ok(&router, &json!([other("c000000000000002")])).await;
    assert_eq!(
        get(&router, &format!("/api/v2/trace/{TRACE}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get_json(&router, &format!("/api/v2/trace/{OTHER_TRACE}"))
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        get_json(&router, "/api/v2/services").await,
        json!(["service3"])
    );
    assert_eq!((collector.trace_count(), collector.span_count()), (1, 2));
}

#[tokio::test]
async fn unknown_paths_are_a_404() {
    let (_collector, router) = setup(1 << 20, 100);
    assert_eq!(get(&router, "/api/v1/spans").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&router, "/api/v2/trace/").await.0,
        StatusCode::NOT_FOUND
    );
}
