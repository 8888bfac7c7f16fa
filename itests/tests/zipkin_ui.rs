//! Zipkin's own UI, in a real browser, shows the article's trace and draws service1 calling
//! service2, read from the rendered pages as a user would read them.
//!
//! The browser is headless Chromium driven through WebDriver by `chromedriver` (see
//! `itests::engines::chromium`). WebDriver rather than Chromium's one-shot `--dump-dom` or
//! `--screenshot`: those wait a fixed virtual-time budget, while the UI fetches its data
//! after the page loads, so a test must poll until the text is there; and the dependency
//! graph is drawn on a canvas, so reading who calls whom takes a real click on a node,
//! which only a driver can do. Screenshots go to `target/zipkin-ui/`.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use itests::{Browser, Chain, ZipkinServer, wait_for_trace};
use zipkin_tracing::TraceId;

/// How long a page may take to fetch and draw its data on a busy machine.
const PAGE_DEADLINE: Duration = Duration::from_secs(30);

/// What the dependency page's side panel shows once a node is selected.
const PANEL: &str = "Uses (traced requests)";

/// How long the graph's node must stay in one place to count as laid out.
const SETTLE: Duration = Duration::from_millis(500);

/// How long a click is given to open the side panel before the node is clicked again:
/// well beyond the 300 ms in which Vizceral would take a second click for a double click.
const PANEL_WAIT: Duration = Duration::from_secs(5);

/// Where the screenshots go: the workspace's `target/zipkin-ui/`.
fn screenshot_path(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("zipkin-ui").join(name)
}

/// The article's chain, at its real timings (so the screenshot reads as the article
/// does), reported to `zipkin`.
async fn articles_trace(zipkin: &ZipkinServer) -> TraceId {
    let api = zipkin.api();
    let mut chain = Chain::options(api.spans_endpoint())
        .time_scale(1.0)
        .start()
        .await
        .unwrap();
    let response = reqwest::get(chain.entry_url()).await.unwrap();
    let trace_id = itests::trace_id_of(&response).unwrap();
    wait_for_trace(&api, trace_id, 6).await.unwrap();
    chain.stop().await.unwrap();
    trace_id
}

/// Whether the page is done loading: Zipkin shows `data-testid="loading-indicator"` while
/// it fetches.
async fn loading(browser: &Browser) -> bool {
    let script = "return document.querySelector('[data-testid=\"loading-indicator\"]') !== null";
    browser.script(script).await.unwrap() == serde_json::json!(true)
}

#[tokio::test]
async fn zipkins_ui_shows_the_articles_trace_and_draws_service1_calling_service2() {
    // The browser first: it is the quicker to find missing.
    let Some(browser) = Browser::start_or_skip("zipkin_ui").await else {
        return;
    };
    let Some(zipkin) = ZipkinServer::start_or_skip("zipkin_ui", &[]).await else {
        return;
    };
    let trace_id = articles_trace(&zipkin).await;
    let base = zipkin.base_url();

    // The trace page: one row per span, "<service>: <span name>", names lower-cased by
    // Zipkin. The client and the server that joined its span share one row, named by the
    // server side, so six spans make five rows and the call's name appears once.
    browser
        .open(&format!("{base}/zipkin/traces/{trace_id}"))
        .await
        .unwrap();
    let rows = [
        "service1: get /\n",
        "service1: service_1_do_stuff\n",
        "service2: get /service/\n",
        "service2: service_2_do_stuff\n",
        "service2: db_search\n",
    ];
    let text = browser
        .wait_for_text("the trace page's rows", PAGE_DEADLINE, |text| {
            rows.iter().all(|row| text.contains(row))
        })
        .await
        .unwrap_or_else(|e| panic!("{e:#}\nZipkin's log:\n{}", zipkin.log_tail(20)));
    assert!(!loading(&browser).await, "still loading:\n{text}");
    assert!(text.contains(&trace_id.to_string()), "{text}");
    assert!(text.contains("Services\n2\n"), "two services:\n{text}");
    // The UI counts the shared client/server pair as one span.
    assert!(text.contains("Total Spans\n5\n"), "five rows:\n{text}");
    browser
        .screenshot(&screenshot_path("trace.png"))
        .await
        .unwrap();

    // The dependency graph of the last day. Vizceral draws it on a canvas: its own hit
    // test finds where service1's node is, a real click selects it, and the side panel
    // then lists, as text, the services it calls.
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let day_ms = 86_400_000;
    browser
        .open(&format!(
            "{base}/zipkin/dependency?startTime={}&endTime={}",
            now_ms - day_ms,
            now_ms + 60_000
        ))
        .await
        .unwrap();
    let panel = select_service1(&browser).await.unwrap();
    assert!(panel.contains("\nservice1\n"), "{panel}");
    assert!(panel.contains("This service uses 1 service"), "{panel}");
    assert!(
        panel.contains("\nservice2\t1\t"),
        "one call to service2:\n{panel}"
    );
    browser
        .screenshot(&screenshot_path("dependencies.png"))
        .await
        .unwrap();

    browser.quit();
    zipkin.stop();
}

/// Clicks service1's node on the dependency graph and returns the page's text once the
/// side panel lists what it calls.
///
/// Vizceral (the graph) tells a click from a double click with Hammer.js: a tap counts as
/// a click only once 300 ms pass without a second tap near it, and two taps within them
/// are a double click, which selects nothing. So the node is clicked once it has stayed in
/// place for [`SETTLE`] (the layout animates in), and clicked again only after
/// [`PANEL_WAIT`] without the panel, never while a click may still be pending.
async fn select_service1(browser: &Browser) -> anyhow::Result<String> {
    let give_up_at = Instant::now() + PAGE_DEADLINE;
    let mut resting_at = None;
    let mut last = String::from("nothing yet");
    loop {
        let text = browser.text().await?;
        if text.contains(PANEL) {
            return Ok(text);
        }
        anyhow::ensure!(
            Instant::now() < give_up_at,
            "gave up waiting for service1 selected on the graph after {PAGE_DEADLINE:?}; \
             last: {last}; the page reads:\n{text}"
        );
        let found = browser.script(FIND_NODE).await?;
        let position = found[0].as_f64().zip(found[1].as_f64());
        if let Some((x, y)) = position.filter(|_| position == resting_at) {
            browser.click_at(x, y).await?;
            last = format!("clicked {found}");
            let opened = browser.wait_for_text("the side panel", PANEL_WAIT, |t| t.contains(PANEL));
            if opened.await.is_ok() {
                continue;
            }
            resting_at = None;
        } else {
            last = found.to_string();
            resting_at = position;
            tokio::time::sleep(SETTLE).await;
        }
    }
}

/// Finds service1's node on the dependency graph's canvas with Vizceral's own hit test
/// (reached through the canvas's React owner), scanning the canvas every 10 px; returns
/// the middle hit as `[x, y]`, or a description of what is there yet.
const FIND_NODE: &str = r#"
const canvas = document.querySelector('[data-testid="dependencies-graph"] canvas');
if (!canvas) return 'no graph yet';
const key = Object.keys(canvas).find(k => k.startsWith('__react'));
let owner = key && canvas[key];
while (owner && !(owner.stateNode && owner.stateNode.vizceral)) owner = owner.return;
if (!owner) return 'no Vizceral instance';
const graph = owner.stateNode.vizceral;
const box = canvas.getBoundingClientRect();
const hits = [];
for (let y = box.top; y < box.bottom; y += 10) {
  for (let x = box.left; x < box.right; x += 10) {
    const object = graph.calculateIntersectedObject(x, y);
    if (object && object.type === 'node' && object.getName() === 'service1') hits.push([x, y]);
  }
}
return hits.length ? hits[Math.floor(hits.length / 2)].map(Math.round) : 'no service1 node';
"#;
