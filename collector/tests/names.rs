//! The name lists: span names and remote services of a service, autocomplete keys and
//! values, as Zipkin 3.6.1 answers them.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

mod common;

use axum::http::StatusCode;
use collector::{Collector, CollectorConfig, app};
use common::{T0, TRACE, article_trace, get, get_json, post_ok, setup, span};
use serde_json::json;

#[tokio::test]
async fn remote_services_are_the_services_a_service_calls() {
    let (_collector, router) = setup(1 << 20, 100);
    let mut calls = span(TRACE, "1", None, "Web", "query", T0, 5);
    calls["remoteEndpoint"] = json!({"serviceName": "mysql"});
    let mut again = span(TRACE, "2", None, "web", "query", T0, 5);
    again["remoteEndpoint"] = json!({"serviceName": "kafka"});
    let mut other = span(TRACE, "3", None, "api", "call", T0, 5);
    other["remoteEndpoint"] = json!({"serviceName": "redis"});
    post_ok(&router, &json!([calls, again, other])).await;
    assert_eq!(
        get_json(&router, "/api/v2/remoteServices?serviceName=WEB").await,
        json!(["kafka", "mysql"])
    );
    assert_eq!(
        get_json(&router, "/api/v2/remoteServices?serviceName=").await,
        json!([])
    );
    assert_eq!(
        get_json(&router, "/api/v2/remoteServices?serviceName=nobody").await,
        json!([])
    );
    let (status, message) = get(&router, "/api/v2/remoteServices").await;
    assert_eq!(
        (status, message.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "the query parameter serviceName is required"
        )
    );
}

#[tokio::test]
async fn autocomplete_offers_nothing_by_default() {
    let (_collector, router) = setup(1 << 20, 100);
    post_ok(&router, &article_trace(TRACE)).await;
    assert_eq!(
        get_json(&router, "/api/v2/autocompleteKeys").await,
        json!([])
    );
    assert_eq!(
        get_json(&router, "/api/v2/autocompleteValues?key=http.method").await,
        json!([])
    );
}

/// Zipkin lists its `AUTOCOMPLETE_KEYS` sorted (twice if configured twice) and offers the
/// distinct values of those tags only, whatever the case of the values.
#[tokio::test]
async fn autocomplete_offers_the_configured_tags() {
    let keys = ["http.method", "env", "Zeta", "env"].map(str::to_owned);
    let collector = Collector::new(CollectorConfig {
        autocomplete_keys: keys.to_vec(),
        ..CollectorConfig::default()
    });
    let router = app(collector);
    let tagged = |id: &str, tags| {
        let mut span = span(TRACE, id, None, "svc", "x", T0, 5);
        span["tags"] = tags;
        span
    };
    post_ok(
        &router,
        &json!([
            tagged(
                "1",
                json!({"env": "prod", "http.method": "GET", "Zeta": "z", "zeta": "q"})
            ),
            tagged("2", json!({"env": "dev", "other": "o"})),
            tagged("3", json!({"env": "Prod"})),
        ]),
    )
    .await;
    assert_eq!(
        get_json(&router, "/api/v2/autocompleteKeys").await,
        json!(["Zeta", "env", "env", "http.method"])
    );
    for (key, values) in [
        ("env", json!(["Prod", "dev", "prod"])),
        ("Zeta", json!(["z"])),
        ("zeta", json!([])),
        ("other", json!([])),
    ] {
        let uri = format!("/api/v2/autocompleteValues?key={key}");
        assert_eq!(get_json(&router, &uri).await, values, "{key}");
    }
    for (uri, message) in [
        (
            "/api/v2/autocompleteValues",
            "the query parameter key is required",
        ),
        (
            "/api/v2/autocompleteValues?key=",
            "invalid key \"\": is empty",
        ),
    ] {
        let (status, text) = get(&router, uri).await;
        assert_eq!((status, text.as_str()), (StatusCode::BAD_REQUEST, message));
    }
}
