//! The stand-in's web view in a real browser: the article's trace page shows six spans as
//! five rows with the hop's B3 headers, the dependency page shows service1 calling
//! service2, a broken trace's page shows the doctor's finding, and in a phone-sized
//! window no page scrolls sideways.
//!
//! The article's trace comes from the real chain (both services in process, at a small
//! time scale) reporting to a stand-in collector; the broken trace is the doctor's
//! "orphan task" example, stored beside it. Screenshots go to `target/web-view/`;
//! `trace.png` is the view the README shows as `docs/web-view.png`.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use itests::{Browser, Chain, StandInCollector};
use serde_json::json;

/// How long a page may take on a busy machine (they are rendered by the server, whole).
const PAGE_DEADLINE: Duration = Duration::from_secs(20);

/// A phone-sized window, to check that nothing needs a sideways scroll.
const NARROW: (u32, u32) = (420, 900);

/// Where the screenshots go: the workspace's `target/web-view/`.
fn screenshot_path(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("web-view").join(name)
}

/// Opens `url` and waits until its text contains every one of `wanted`.
async fn open_reading(browser: &Browser, url: &str, wanted: &[&str]) -> String {
    browser.open(url).await.unwrap();
    let what = format!("{url} showing {wanted:?}");
    browser
        .wait_for_text(&what, PAGE_DEADLINE, |text| {
            wanted.iter().all(|w| text.contains(w))
        })
        .await
        .unwrap()
}

/// Fails unless the page is no wider than the window, with every `<details>` open.
async fn assert_fits(browser: &Browser, what: &str) {
    let widths = browser
        .script(
            "document.querySelectorAll('details').forEach(d => d.open = true); \
             return [document.documentElement.scrollWidth, window.innerWidth];",
        )
        .await
        .unwrap();
    let (scroll, inner) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
    assert!(
        inner <= u64::from(NARROW.0),
        "{what}: the window is {inner} px wide"
    );
    assert!(
        scroll <= inner,
        "{what} overflows: {scroll} px in a {inner} px window"
    );
}

/// The doctor's "orphan task" example (service_2_do_stuff never reported), moved to start
/// a minute ago so that it lies in the pages' default window on any day.
fn orphan_a_minute_ago() -> Vec<zipkin_tracing::Span> {
    let mut spans = collector::doctor::examples()
        .into_iter()
        .find(|example| example.name == "orphan task")
        .unwrap()
        .spans;
    let now_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros();
    let start = spans.iter().filter_map(|s| s.timestamp).min().unwrap();
    let new_start = u64::try_from(now_us).unwrap() - 60_000_000;
    for span in &mut spans {
        span.timestamp = span.timestamp.map(|ts| ts - start + new_start);
        for annotation in &mut span.annotations {
            annotation.timestamp = annotation.timestamp - start + new_start;
        }
    }
    spans
}

#[tokio::test]
async fn the_web_view_shows_the_trace_as_five_rows_its_dependency_and_a_finding() {
    let Some(browser) = Browser::start_or_skip("web_view").await else {
        return;
    };
    let stand_in = StandInCollector::start().await.unwrap();
    let trace_id = Chain::options(stand_in.api().spans_endpoint())
        .time_scale(0.01)
        .one_request(&[])
        .await
        .unwrap();
    let store = stand_in.store();
    store
        .wait_for_trace(&trace_id, 6, Duration::from_secs(10))
        .await
        .unwrap();
    let orphan = orphan_a_minute_ago();
    let orphan_id = orphan[0].trace_id;
    store.ingest(orphan);
    let base = stand_in.api().base_url().to_owned();

    // The trace page: six spans, five rows; the call is named by its server side.
    browser.set_window_size(900, 1100).await.unwrap();
    let trace_url = format!("{base}/traces/{trace_id}");
    let text = open_reading(
        &browser,
        &trace_url,
        &["6 spans in 5 rows", "service2: GET /service/", "No finding"],
    )
    .await;
    let rows = browser
        .script("return [...document.querySelectorAll('details.row summary span:first-child')].map(s => s.textContent.trim())")
        .await
        .unwrap();
    let expected = [
        "service1: GET /",
        "service1: service_1_do_stuff",
        "service2: GET /service/",
        "service2: service_2_do_stuff",
        "service2: db_search",
    ];
    assert_eq!(rows, json!(expected), "{text}");
    assert!(
        text.contains(&format!("X-B3-TraceId: {trace_id}")),
        "{text}"
    );
    assert!(text.contains("service1 → service2"), "{text}");
    browser
        .screenshot(&screenshot_path("trace.png"))
        .await
        .unwrap();

    // The dependency graph of the last day: the chain's call and the orphan's.
    let deps_url = format!("{base}/dependencies");
    open_reading(&browser, &deps_url, &["service1 → service2 (2 calls)"]).await;

    // The broken trace: its page names the mistake.
    let orphan_url = format!("{base}/traces/{orphan_id}");
    open_reading(&browser, &orphan_url, &["[context-lost]", "cause:", "fix:"]).await;

    // The list, newest first: the chain's trace (reported now) before the example.
    let list = open_reading(&browser, &format!("{base}/"), &["service1: GET /"]).await;
    assert!(list.contains("2 traces, newest first"), "{list}");
    let first = browser
        .script("return document.querySelector('.card a').getAttribute('href')")
        .await
        .unwrap();
    assert_eq!(first, json!(format!("/traces/{trace_id}")), "{list}");

    // A phone-sized window: every page, its rows opened, fits without a sideways scroll.
    browser.set_window_size(NARROW.0, NARROW.1).await.unwrap();
    let pages = [
        ("list", format!("{base}/"), "Traces"),
        ("trace", trace_url, "5 rows"),
        ("orphan", orphan_url, "[context-lost]"),
        ("dependencies", deps_url, "2 calls"),
    ];
    for (name, url, wanted) in pages {
        open_reading(&browser, &url, &[wanted]).await;
        assert_fits(&browser, name).await;
        let shot = screenshot_path(&format!("{name}-narrow.png"));
        browser.screenshot(&shot).await.unwrap();
    }
    browser.quit();
}
