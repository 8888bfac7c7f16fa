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
        ("463AC35C9F6413AD", "is not lower-case hex"),
        ("0000000000000000", "is all zeros"),
        ("trace", "is not lower-case hex"),
        (
            "463ac35c9f6413ad48485a3953bb61240",
            "is longer than 32 digits",
        ),
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

/// Zipkin takes trace ids of 1 to 32 hex digits and pads them to 16 or 32: a 22-digit id
/// is stored padded, and read back by either form.
#[tokio::test]
async fn short_trace_ids_are_padded_as_zipkin_pads_them() {
    let (_collector, router) = setup(1 << 20, 100);
    let short = span("1234567890abcdef123456", "1", None, "svc", "get /", T0, 5);
    post_ok(&router, &json!([short])).await;
    for id in [
        "1234567890abcdef123456",
        "00000000001234567890abcdef123456",
        "%201234567890abcdef123456%20",
    ] {
        let trace = get_json(&router, &format!("/api/v2/trace/{id}")).await;
        assert_eq!(
            trace[0]["traceId"],
            json!("00000000001234567890abcdef123456"),
            "{id}"
        );
        assert_eq!(trace[0]["id"], json!("0000000000000001"), "{id}");
    }
    // Zipkin normalises a query's id twice: padded from 22 digits to 32 with a high half of
    // zeros, it becomes the 64-bit id, so that trace is found by no id (only by searches).
    let zeros_above = span("0000000000000201c9c1f5", "1", None, "svc", "x", T0, 5);
    post_ok(&router, &json!([zeros_above])).await;
    for id in [
        "0000000000000201c9c1f5",
        "00000000000000000000000201c9c1f5",
        "0000000201c9c1f5",
    ] {
        let (status, _) = get(&router, &format!("/api/v2/trace/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
    }
    // A 32-digit id whose high half is zeros is the 64-bit id.
    post_ok(
        &router,
        &json!([span(
            "0000000000000000000000000000abcd",
            "2",
            None,
            "svc",
            "x",
            T0,
            5
        )]),
    )
    .await;
    let trace = get_json(&router, "/api/v2/trace/abcd").await;
    assert_eq!(trace[0]["traceId"], json!("000000000000abcd"));
    // An id no span can have here (low 64 bits of zeros) is simply not found.
    let (status, message) = get(&router, "/api/v2/trace/10000000000000000000000000000000").await;
    assert_eq!(
        (status, message.as_str()),
        (
            StatusCode::NOT_FOUND,
            "trace 10000000000000000000000000000000 not found"
        )
    );
}

/// `traceMany` answers the traces found among two or more distinct ids, as Zipkin does.
#[tokio::test]
async fn trace_many_finds_the_traces_asked_for() {
    let (_collector, router) = two_traces().await;
    let answer = get_json(
        &router,
        &format!("/api/v2/traceMany?traceIds={TRACE},2,{OTHER_TRACE}"),
    )
    .await;
    assert_eq!(trace_ids(&answer), [TRACE, OTHER_TRACE]);
    assert_eq!(answer[0].as_array().unwrap().len(), 6);
    for (query, reason) in [
        ("", "the query parameter traceIds is required"),
        ("traceIds=", "is empty"),
        ("traceIds=1", "names one trace"),
        (
            "traceIds=1,0000000000000001",
            "asks for 0000000000000001 twice",
        ),
        ("traceIds=1,", "is empty"),
        ("traceIds=1,XYZ", "is not lower-case hex"),
    ] {
        let (status, message) = get(&router, &format!("/api/v2/traceMany?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {message}");
        assert!(message.contains(reason), "{query}: {message}");
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
    // An empty name is an empty list, a missing one a 400, as in Zipkin.
    assert_eq!(
        get_json(&router, "/api/v2/spans?serviceName=").await,
        json!([])
    );
    let (status, message) = get(&router, "/api/v2/spans").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(message, "the query parameter serviceName is required");
}

#[tokio::test]
async fn trace_search_filters() {
    let (_collector, router) = two_traces().await;
    let t0_ms = T0 / 1000;
    // Both traces lie in the window unless a case sets its own.
    let window = format!("endTs={}&lookback=3600000", t0_ms + 120_000);
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
        (
            format!("endTs={}&lookback=5000", t0_ms + 1_000),
            vec![TRACE],
        ),
        (
            format!("endTs={}&lookback=90000", t0_ms + 120_000),
            vec![OTHER_TRACE],
        ),
        (format!("endTs={}&lookback=5000", t0_ms - 1), vec![]),
        // `all` is no span name, and an empty value is no value.
        ("spanName=ALL".into(), vec![OTHER_TRACE, TRACE]),
        (
            "annotationQuery=&minDuration=".into(),
            vec![OTHER_TRACE, TRACE],
        ),
        // A blank annotation query asks for an empty tag key: nothing has one.
        ("annotationQuery=%20".into(), vec![]),
        // `key=` asks for the tag key, or an annotation of that value.
        ("annotationQuery=http.method%3D".into(), vec![TRACE]),
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
        let query = if query.contains("endTs") {
            query
        } else {
            format!("{window}&{query}")
        };
        let answer = get_json(&router, &format!("/api/v2/traces?{query}")).await;
        assert_eq!(trace_ids(&answer), expected, "{query}");
    }
    let whole = get_json(
        &router,
        &format!("/api/v2/traces?endTs={}&lookback=5000", t0_ms + 1_000),
    )
    .await;
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
        ("limit=0", "invalid limit \"0\": must be above 0"),
        (
            "limit=ten",
            "invalid limit \"ten\": expected a whole number",
        ),
        // Zipkin's limit is a Java int, and an empty one is refused.
        ("limit=2147483648", "invalid limit \"2147483648\""),
        ("limit=", "invalid limit \"\""),
        (
            "minDuration=-1",
            "invalid minDuration \"-1\": must be above 0",
        ),
        ("endTs=soon", "invalid endTs \"soon\""),
        ("endTs=0", "invalid endTs \"0\": must be above 0"),
        ("endTs=-5", "invalid endTs \"-5\": must be above 0"),
        ("lookback=0", "invalid lookback \"0\": must be above 0"),
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

/// Without `endTs` and `lookback`, Zipkin searches the day up to now; an `endTs` so large
/// that Zipkin's `endTs * 1000` overflows finds nothing, as in Zipkin.
#[tokio::test]
async fn a_search_without_a_window_looks_back_one_day() {
    let (_collector, router) = setup(1 << 20, 100);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let now = u64::try_from(now.as_micros()).unwrap();
    let hour = 3_600_000_000;
    post_ok(
        &router,
        &json!([span("a1", "1", None, "svc", "recent", now - hour, 5)]),
    )
    .await;
    post_ok(
        &router,
        &json!([span("b2", "1", None, "svc", "old", now - 25 * hour, 5)]),
    )
    .await;
    let answer = get_json(&router, "/api/v2/traces").await;
    assert_eq!(trace_ids(&answer), ["00000000000000a1"]);
    let answer = get_json(&router, &format!("/api/v2/traces?endTs={}", i64::MAX)).await;
    assert_eq!(trace_ids(&answer), Vec::<&str>::new());
}

/// Zipkin indexes traces by the low 64 bits of their id: `limit` counts such groups, so a
/// 64-bit trace comes back with the 128-bit one that shares its low bits.
#[tokio::test]
async fn the_limit_counts_traces_by_their_low_64_bits() {
    let (_collector, router) = setup(1 << 20, 100);
    let spans = json!([
        span("00000000000000ab", "1", None, "svc", "a", T0, 5),
        span(
            "00000000000000cd00000000000000ab",
            "1",
            None,
            "svc",
            "b",
            T0 + 1_000,
            5
        ),
        span("00000000000000ef", "1", None, "svc", "c", T0 + 2_000, 5),
    ]);
    post_ok(&router, &spans).await;
    let window = format!("endTs={}&lookback=60000", T0 / 1000 + 10);
    let answer = get_json(&router, &format!("/api/v2/traces?{window}&limit=1")).await;
    assert_eq!(trace_ids(&answer), ["00000000000000ef"]);
    let answer = get_json(&router, &format!("/api/v2/traces?{window}&limit=2")).await;
    assert_eq!(
        trace_ids(&answer),
        [
            "00000000000000ef",
            "00000000000000ab",
            "00000000000000cd00000000000000ab"
        ]
    );
}

/// A trace with two roots is placed in time by the root Zipkin lists first: spans are
/// listed by the millisecond they started in, the millisecond that first had a span
/// first, so a root arriving last can come first.
#[tokio::test]
async fn a_trace_starts_at_the_root_zipkin_lists_first() {
    let (_collector, router) = setup(1 << 20, 100);
    let child = span(TRACE, "1", Some("2"), "svc", "child", T0 + 5_000, 5);
    let late_root = span(TRACE, "2", None, "svc", "root", T0 + 7_000, 5);
    let early_root = span(TRACE, "3", None, "svc", "root", T0 + 5_500, 5);
    post_ok(&router, &json!([child, late_root, early_root])).await;
    let window = format!("endTs={}&lookback=10", T0 / 1000 + 6);
    let answer = get_json(&router, &format!("/api/v2/traces?{window}")).await;
    assert_eq!(trace_ids(&answer), [TRACE]);
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
    assert_eq!(
        get(&router, "/api/v1/traces").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&router, "/api/v2/trace/").await.0,
        StatusCode::NOT_FOUND
    );
}
