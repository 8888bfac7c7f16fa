//! The web view through the router, as a browser asks for it: pages, order, filters,
//! the merged client/server row, escaping, findings and dependency edges.
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use zipkin_tracing::Span;

use crate::doctor::{article, examples};
use crate::{Collector, app};

/// The article's trace under `trace_id`, moved to start `ago_s` seconds ago.
fn article_at(trace_id: &str, ago_s: u64) -> Vec<Span> {
    let now_us = super::html::now_ms() * 1000;
    let mut spans = article();
    let first = spans[0].timestamp.unwrap();
    for span in &mut spans {
        span.trace_id = trace_id.parse().unwrap();
        let offset = span.timestamp.unwrap() - first;
        span.timestamp = Some(now_us - ago_s * 1_000_000 + offset);
    }
    spans
}

/// A lone local span of `service`, named `name`, lasting `duration` µs, a minute ago.
fn lone_span(trace_id: &str, service: &str, name: &str, duration: u64) -> Span {
    let mut span = article_at(trace_id, 60).remove(1);
    span.parent_id = None;
    span.local_endpoint = Some(zipkin_tracing::Endpoint::service(service));
    span.name = Some(name.to_owned());
    span.duration = Some(duration);
    span
}

async fn get(collector: &Collector, uri: &str) -> (StatusCode, String) {
    let request = Request::get(uri).body(Body::empty()).unwrap();
    let response = app(collector.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

const OLDER: &str = "100000000000000000000000000a0001";
const NEWER: &str = "200000000000000000000000000a0002";
const LONE: &str = "000000000000b001";

fn stocked() -> Collector {
    let collector = Collector::default();
    collector.ingest(article_at(OLDER, 120));
    collector.ingest(article_at(NEWER, 30));
    collector.ingest(vec![lone_span(LONE, "cron", "nightly_job", 5)]);
    collector
}

#[tokio::test]
async fn the_list_shows_the_newest_trace_first_with_its_root_and_numbers() {
    let (status, page) = get(&stocked(), "/").await;
    assert_eq!(status, StatusCode::OK);
    let (newer, older) = (page.find(NEWER).unwrap(), page.find(OLDER).unwrap());
    assert!(newer < older, "newest first:\n{page}");
    assert!(page.contains(&format!("<a href=\"/traces/{NEWER}\">service1: GET /</a>")));
    assert!(page.contains("6 spans · 358.437ms"), "{page}");
    assert!(page.contains("service1, service2"), "{page}");
    assert!(page.contains("3 traces, newest first"), "{page}");
}

#[tokio::test]
async fn the_search_form_filters_by_service_span_name_and_minimum_duration() {
    let collector = stocked();
    let (_, by_service) = get(&collector, "/?serviceName=cron&spanName=&minDuration=").await;
    assert!(
        by_service.contains(LONE) && !by_service.contains(NEWER),
        "{by_service}"
    );
    assert!(
        by_service.contains("<option value=\"cron\" selected>"),
        "{by_service}"
    );
    assert!(by_service.contains("1 span · 5µs"), "{by_service}");
    let (_, by_name) = get(&collector, "/?spanName=db_search").await;
    assert!(by_name.contains(NEWER) && by_name.contains(OLDER));
    assert!(!by_name.contains(LONE), "{by_name}");
    let (_, by_duration) = get(&collector, "/?minDuration=1000").await;
    assert!(by_duration.contains(NEWER) && !by_duration.contains(LONE));
    let (status, bad) = get(&collector, "/?minDuration=soon").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.contains("minDuration"), "{bad}");
}

#[tokio::test]
async fn the_trace_page_draws_six_spans_as_five_rows_with_the_hops_headers() {
    let (status, page) = get(&stocked(), &format!("/traces/{NEWER}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.matches("<details class=\"row").count(), 5, "{page}");
    assert!(page.contains("6 spans in 5 rows"), "{page}");
    assert!(page.contains("service2: GET /service/"), "{page}");
    assert!(page.contains(&format!("X-B3-TraceId: {NEWER}\n")), "{page}");
    assert!(page.contains(
        "X-B3-SpanId: 994879b1adbb153c\nX-B3-ParentSpanId: 6b115b4cc3545b8c\nX-B3-Sampled: 1\n"
    ));
    assert!(page.contains("http.path"), "tags: {page}");
    assert!(page.contains("No finding"), "{page}");
}

#[tokio::test]
async fn span_data_is_shown_as_text_never_as_markup() {
    let collector = Collector::default();
    let mut span = lone_span(LONE, "evil<b>", "<script>alert(1)</script>", 5);
    span.tags
        .insert("<img src=x>".to_owned(), "\"><script>".to_owned());
    collector.ingest(vec![span]);
    for uri in ["/".to_owned(), format!("/traces/{LONE}")] {
        let (_, page) = get(&collector, &uri).await;
        assert!(
            !page.contains("<script>") && !page.contains("<img"),
            "{uri}:\n{page}"
        );
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{uri}:\n{page}"
        );
        assert!(page.contains("evil&lt;b&gt;"), "{uri}:\n{page}");
    }
}

#[tokio::test]
async fn a_broken_trace_shows_the_doctors_finding() {
    let orphan = examples()
        .into_iter()
        .find(|e| e.name == "orphan task")
        .unwrap();
    let collector = Collector::default();
    let trace_id = orphan.spans[0].trace_id;
    collector.ingest(orphan.spans);
    let (_, page) = get(&collector, &format!("/traces/{trace_id}")).await;
    assert!(page.contains("<b>[context-lost]</b>"), "{page}");
    assert!(!page.contains("No finding"), "{page}");
}

#[tokio::test]
async fn the_dependency_page_shows_each_edge_with_its_count() {
    let (status, page) = get(&stocked(), "/dependencies").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(">service1</a> → <a"), "{page}");
    assert!(
        page.contains(">service2</a> <span class=\"muted\">(2 calls)</span>"),
        "{page}"
    );
    let (_, hour) = get(&stocked(), "/dependencies?lookback=1000").await;
    assert!(hour.contains("No call between services"), "{hour}");
    let (status, _) = get(&stocked(), "/dependencies?lookback=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unknown_and_malformed_ids_answer_404_and_400_and_the_api_is_unchanged() {
    let collector = stocked();
    let (status, page) = get(&collector, "/traces/00000000000000ff").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("Trace not found"), "{page}");
    let (status, _) = get(&collector, "/traces/not-hex").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, services) = get(&collector, "/api/v2/services").await;
    assert_eq!(
        (status, services.as_str()),
        (StatusCode::OK, r#"["cron","service1","service2"]"#)
    );
    let (status, _) = get(&collector, "/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
