//! The service graph, `GET /api/v2/dependencies`: which spans make a link, how errors are
//! counted, which traces the time window takes, and what a bad parameter gets.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

mod common;

use axum::Router;
use axum::http::StatusCode;
use common::{T0, TRACE, article_trace, get, get_json, post_ok, setup, span};
use serde_json::{Value, json};

/// Milliseconds just after the article's trace ends.
const END_MS: u64 = T0 / 1000 + 10;

async fn links(router: &Router, end_ms: u64, lookback_ms: u64) -> Value {
    let uri = format!("/api/v2/dependencies?endTs={end_ms}&lookback={lookback_ms}");
    get_json(router, &uri).await
}

/// A span of `kind` with a remote service, as JSON.
fn remote(id: &str, parent: Option<&str>, service: &str, kind: &str, peer: Option<&str>) -> Value {
    let mut span = span(TRACE, id, parent, service, "call", T0 + 10, 5);
    span["kind"] = json!(kind);
    if let Some(peer) = peer {
        span["remoteEndpoint"] = json!({ "serviceName": peer });
    }
    span
}

#[tokio::test]
async fn the_articles_trace_is_one_call_from_service1_to_service2() {
    let (_collector, router) = setup(1 << 20, 100);
    assert_eq!(links(&router, END_MS, 1_000).await, json!([]));
    post_ok(&router, &article_trace(TRACE)).await;
    // The client and the server that joined it are one call, not two; no error, so no
    // errorCount field at all.
    let one_call = json!([{"parent": "service1", "child": "service2", "callCount": 1}]);
    assert_eq!(links(&router, END_MS, 1_000).await, one_call);
    // The same spans again are the same call; another trace is another call.
    post_ok(&router, &article_trace(TRACE)).await;
    assert_eq!(links(&router, END_MS, 1_000).await, one_call);
    post_ok(&router, &article_trace("0000000000000002")).await;
    assert_eq!(
        links(&router, END_MS, 1_000).await[0]["callCount"],
        json!(2)
    );
}

#[tokio::test]
async fn an_error_tag_on_the_server_counts_and_a_shared_clients_does_not() {
    let (_collector, router) = setup(1 << 20, 100);
    let mut trace = article_trace(TRACE);
    trace[1]["tags"]["error"] = json!("503"); // service2's SERVER span
    post_ok(&router, &trace).await;
    let mut trace = article_trace("0000000000000002");
    trace[3]["tags"]["error"] = json!("timeout"); // service1's CLIENT span
    post_ok(&router, &trace).await;
    // Zipkin counts the error of the span that makes the link: the server's. The client
    // half of a shared span is not consulted.
    assert_eq!(
        links(&router, END_MS, 1_000).await,
        json!([{"parent": "service1", "child": "service2", "callCount": 2, "errorCount": 1}])
    );
}

#[tokio::test]
async fn a_server_that_is_a_plain_child_inherits_its_clients_error() {
    let (_collector, router) = setup(1 << 20, 100);
    let root = remote("0000000000000001", None, "front", "SERVER", None);
    let mut client = remote(
        "0000000000000002",
        Some("0000000000000001"),
        "front",
        "CLIENT",
        None,
    );
    client["tags"] = json!({"error": "refused"});
    let server = remote(
        "0000000000000003",
        Some("0000000000000002"),
        "back",
        "SERVER",
        None,
    );
    post_ok(&router, &json!([root, client, server])).await;
    assert_eq!(
        links(&router, END_MS, 1_000).await,
        json!([{"parent": "front", "child": "back", "callCount": 1, "errorCount": 1}])
    );
}

#[tokio::test]
async fn uninstrumented_peers_are_named_by_remote_endpoints() {
    let (_collector, router) = setup(1 << 20, 100);
    let mut trace = article_trace(TRACE);
    // service1's root names its caller; db_search names the database it queried.
    trace[2]["remoteEndpoint"] = json!({"serviceName": "browser"});
    // A client answered by an instrumented server: the server's own name wins.
    trace[3]["remoteEndpoint"] = json!({"serviceName": "service2-alias"});
    trace[0]["kind"] = json!("CLIENT");
    trace[0]["remoteEndpoint"] = json!({"serviceName": "mysql"});
    // A local span naming both sides is read as a client call.
    let mut local = span(
        TRACE,
        "c000000000000006",
        Some("b000000000000004"),
        "service2",
        "cache",
        T0 + 5_000,
        5,
    );
    local["remoteEndpoint"] = json!({"serviceName": "redis"});
    trace.as_array_mut().unwrap().push(local);
    post_ok(&router, &trace).await;
    assert_eq!(
        links(&router, END_MS, 1_000).await,
        json!([
            {"parent": "browser", "child": "service1", "callCount": 1},
            {"parent": "service1", "child": "service2", "callCount": 1},
            {"parent": "service2", "child": "mysql", "callCount": 1},
            {"parent": "service2", "child": "redis", "callCount": 1},
        ])
    );
}

#[tokio::test]
async fn headless_and_unnamed_spans_link_what_they_can() {
    let (_collector, router) = setup(1 << 20, 100);
    // The root never arrived: the server span still links to the client that called it,
    // a client without a remote service links nothing, and a client whose nearest remote
    // ancestor is another service reveals an unrecorded call into its own service.
    let client = remote(
        "0000000000000002",
        Some("00000000000000ff"),
        "front",
        "CLIENT",
        None,
    );
    let server = remote(
        "0000000000000003",
        Some("0000000000000002"),
        "back",
        "SERVER",
        None,
    );
    let lonely = remote(
        "0000000000000004",
        Some("00000000000000fe"),
        "front",
        "CLIENT",
        None,
    );
    let hop = remote(
        "0000000000000005",
        Some("0000000000000003"),
        "cache",
        "CLIENT",
        Some("redis"),
    );
    post_ok(&router, &json!([client, server, lonely, hop])).await;
    assert_eq!(
        links(&router, END_MS, 1_000).await,
        json!([
            {"parent": "back", "child": "cache", "callCount": 1},
            {"parent": "cache", "child": "redis", "callCount": 1},
            {"parent": "front", "child": "back", "callCount": 1},
        ])
    );
}

#[tokio::test]
async fn messaging_spans_link_through_the_broker_only_when_both_sides_are_named() {
    let (_collector, router) = setup(1 << 20, 100);
    let root = remote("0000000000000001", None, "shop", "SERVER", None);
    let send = remote(
        "0000000000000002",
        Some("0000000000000001"),
        "shop",
        "PRODUCER",
        Some("kafka"),
    );
    let receive = remote(
        "0000000000000003",
        Some("0000000000000002"),
        "billing",
        "CONSUMER",
        Some("kafka"),
    );
    let unnamed = remote(
        "0000000000000004",
        Some("0000000000000003"),
        "billing",
        "PRODUCER",
        None,
    );
    post_ok(&router, &json!([root, send, receive, unnamed])).await;
    assert_eq!(
        links(&router, END_MS, 1_000).await,
        json!([
            {"parent": "kafka", "child": "billing", "callCount": 1},
            {"parent": "shop", "child": "kafka", "callCount": 1},
        ])
    );
}

#[tokio::test]
async fn the_window_takes_traces_with_a_span_inside_it_ends_included() {
    let (_collector, router) = setup(1 << 20, 100);
    post_ok(&router, &article_trace(TRACE)).await;
    let first_ms = T0 / 1000; // the root starts here; db_search starts 4 ms later
    for (end, lookback, linked) in [
        (first_ms, 1, true),
        (first_ms - 1, 1, false),
        (first_ms + 10, 6, true), // only the last spans are inside: still the whole trace
        (first_ms + 10, 5, false), // no span inside
        (first_ms + 86_400_000, 86_400_000, true),
    ] {
        let answer = links(&router, end, lookback).await;
        assert_eq!(
            !answer.as_array().unwrap().is_empty(),
            linked,
            "{end} {lookback}"
        );
    }
    // Without lookback, one day.
    let uri = format!("/api/v2/dependencies?endTs={}", first_ms + 86_400_000);
    assert_eq!(get_json(&router, &uri).await.as_array().unwrap().len(), 1);
    let uri = format!("/api/v2/dependencies?endTs={}", first_ms + 86_400_011);
    assert_eq!(get_json(&router, &uri).await, json!([]));
}

#[tokio::test]
async fn bad_parameters_are_a_400_naming_them() {
    let (_collector, router) = setup(1 << 20, 100);
    for (query, expected) in [
        ("", "the query parameter endTs is required"),
        // Zipkin refuses an empty endTs too.
        ("endTs=", "invalid endTs \"\": expected a whole number"),
        ("endTs=0", "invalid endTs \"0\": must be above 0"),
        // A Java long: one more than the largest is refused.
        (
            "endTs=9223372036854775808",
            "invalid endTs \"9223372036854775808\"",
        ),
        ("endTs=-5", "invalid endTs \"-5\""),
        ("endTs=soon", "invalid endTs \"soon\""),
        ("endTs=5&lookback=0", "invalid lookback \"0\""),
        ("endTs=5&lookback=1.5", "invalid lookback \"1.5\""),
    ] {
        let (status, message) = get(&router, &format!("/api/v2/dependencies?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(message.starts_with(expected), "{query}: {message}");
    }
}

/// Zipkin keeps every report of a span and files one without a timestamp under time
/// zero: a late report merged into its span here still puts the trace in a window that
/// reaches back to zero, as in Zipkin.
#[tokio::test]
async fn a_late_report_without_a_timestamp_counts_at_time_zero() {
    let (_collector, router) = setup(1 << 20, 100);
    let call = remote("a000000000000001", None, "web", "CLIENT", Some("db"));
    let mut late = json!({"traceId": TRACE, "id": "a000000000000001"});
    late["localEndpoint"] = json!({"serviceName": "web"});
    late["tags"] = json!({"late": "yes"});
    post_ok(&router, &json!([call, late])).await;
    let web_to_db = json!([{"parent": "web", "child": "db", "callCount": 1}]);
    assert_eq!(links(&router, 1_000, 1_000).await, web_to_db);
    assert_eq!(links(&router, END_MS, 1_000).await, web_to_db);
    assert_eq!(links(&router, END_MS - 5_000, 1_000).await, json!([]));
}
