//! `--zipkin URL`: the demo reports to a Zipkin that is already running and draws the
//! trace that Zipkin's query API gives back, with the link to it in Zipkin's UI. Checked
//! against the stand-in collector (no Java needed) and against the real Zipkin jar, which
//! lower-cases names. A bad URL stops the demo with a message naming `--zipkin`.

mod common;

use clap::Parser as _;
use collector::{Collector, CollectorConfig};
use common::{ARTICLE_ROWS, OPTIONS, waterfall_rows};
use demo::{Config, run_with_zipkin};
use itests::ZipkinServer;
use zipkin_tracing::Span;

/// The waterfall rows in `text`, labels lower-cased (a real Zipkin lower-cases names).
fn lower_cased_rows(text: &str) -> Vec<(usize, String)> {
    waterfall_rows(text)
        .into_iter()
        .map(|(indent, label)| (indent, label.to_lowercase()))
        .collect()
}

/// Runs the demo once against `zipkin`; returns its text and the spans it drew, after
/// checking what any Zipkin must give: the six rows in order and the UI and JSON links.
async fn demo_against(zipkin: &str) -> (String, Vec<Span>) {
    let config = Config {
        zipkin: Some(zipkin.to_owned()),
        ..Config::ephemeral(0.01)
    };
    let mut out = Vec::new();
    let spans = run_with_zipkin(&config, zipkin, &mut out, OPTIONS, std::future::pending())
        .await
        .expect("the demo runs against the Zipkin");
    let text = String::from_utf8(out).expect("UTF-8");
    let zipkin = zipkin.trim_end_matches('/');
    let expected: Vec<(usize, String)> = ARTICLE_ROWS
        .iter()
        .map(|(indent, label)| (*indent, label.to_lowercase()))
        .collect();
    assert_eq!(lower_cased_rows(&text), expected, "{text}");
    assert_eq!(spans.len(), 6, "{text}");
    let trace_id = spans[0].trace_id;
    assert!(text.contains(&format!("x-trace-id: {trace_id}")), "{text}");
    assert!(
        text.contains(&format!(
            "In Zipkin's UI: {zipkin}/zipkin/traces/{trace_id}"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("curl {zipkin}/api/v2/trace/{trace_id}")),
        "{text}"
    );
    assert!(!text.contains("Incomplete"), "{text}");
    // The trace doctor finds nothing in the article's trace as this Zipkin returns it.
    assert!(!text.contains("Doctor"), "{text}");
    (text, spans)
}

#[tokio::test]
async fn the_trace_is_read_back_from_the_given_zipkin_not_a_stand_in_of_its_own() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let store = Collector::new(CollectorConfig::default());
    let server = tokio::spawn(collector::serve(
        listener,
        store.clone(),
        std::future::pending(),
    ));

    // With a trailing slash, as a user may paste it.
    let (text, spans) = demo_against(&format!("{url}/")).await;
    // The spans drawn are those this collector holds: the demo reported here.
    let mut held = store.trace(&spans[0].trace_id).expect("the trace is held");
    let mut drawn = spans.clone();
    for list in [&mut held, &mut drawn] {
        list.sort_by_key(|span| (span.timestamp, span.kind.is_some()));
    }
    assert_eq!(held, drawn, "{text}");
    assert!(text.contains("service1: GET /"), "names as stored: {text}");
    server.abort();
}

#[tokio::test]
async fn a_shutdown_during_the_first_request_stops_without_drawing_anything() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let store = Collector::new(CollectorConfig::default());
    let server = tokio::spawn(collector::serve(listener, store, std::future::pending()));
    // At the article's pace the request takes about 7 s; Ctrl-C comes 1 s into it.
    let config = Config {
        zipkin: Some(url.clone()),
        ..Config::ephemeral(1.0)
    };
    let mut out = Vec::new();
    let started = std::time::Instant::now();
    let ctrl_c = tokio::time::sleep(std::time::Duration::from_secs(1));
    let spans = run_with_zipkin(&config, &url, &mut out, OPTIONS, ctrl_c)
        .await
        .expect("a shutdown is a clean stop");
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("GET http://"),
        "the request had started:\n{text}"
    );
    assert!(
        !text.contains("200 OK"),
        "the request had not finished:\n{text}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{text}"
    );
    assert!(spans.is_empty(), "{text}");
    assert!(waterfall_rows(&text).is_empty(), "{text}");
    server.abort();
}

#[tokio::test]
async fn the_real_zipkin_jar_shows_the_trace_with_lower_cased_names() {
    let Some(zipkin) = ZipkinServer::start_or_skip("demo zipkin_flag", &[]).await else {
        return;
    };
    let (text, _) = demo_against(zipkin.base_url()).await;
    assert!(
        text.contains("service1: get /") && !text.contains("service1: GET /"),
        "Zipkin lower-cased the names:\n{text}\n--- Zipkin's log:\n{}",
        zipkin.log_tail(30)
    );
}

#[tokio::test]
async fn a_bad_zipkin_url_stops_the_demo_with_a_message_naming_the_flag() {
    for bad in [
        "nonsense",
        "ftp://127.0.0.1:9411",
        "http://127.0.0.1:9411/?x=1",
    ] {
        let error = Config::try_parse_from(["demo", "--zipkin", bad]).unwrap_err();
        assert!(error.to_string().contains("--zipkin"), "{bad}: {error}");
    }
    // A URL where nothing listens: the port of a listener just closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let config = Config {
        zipkin: Some(url.clone()),
        ..Config::ephemeral(0.01)
    };
    let mut out = Vec::new();
    let error = run_with_zipkin(&config, &url, &mut out, OPTIONS, std::future::pending())
        .await
        .unwrap_err();
    assert!(
        error.to_string().starts_with(&format!("--zipkin {url}: ")),
        "{error}"
    );
    assert!(out.is_empty(), "nothing started, nothing printed");
}

#[tokio::test]
async fn a_url_that_is_not_zipkins_base_names_the_shape_zipkin_takes() {
    // A server answering 404 everywhere, as a Zipkin does under a wrong path prefix.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/zipkin-prefix", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, axum::Router::new()).await });
    let config = Config {
        zipkin: Some(url.clone()),
        ..Config::ephemeral(0.01)
    };
    let mut out = Vec::new();
    let error = run_with_zipkin(&config, &url, &mut out, OPTIONS, std::future::pending())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.starts_with(&format!("--zipkin {url}: ")), "{error}");
    assert!(error.contains("404"), "{error}");
    assert!(
        error.contains("base URL, e.g. http://127.0.0.1:9411"),
        "{error}"
    );
    server.abort();
}

#[tokio::test]
async fn an_unsampled_trace_is_not_looked_up_in_zipkin() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let store = Collector::new(CollectorConfig::default());
    let server = tokio::spawn(collector::serve(
        listener,
        store.clone(),
        std::future::pending(),
    ));
    let mut config = Config {
        zipkin: Some(url.clone()),
        ..Config::ephemeral(0.01)
    };
    config.tracing.sample_rate = zipkin_tracing::ProbabilitySampler::never();
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    let spans = run_with_zipkin(&config, &url, &mut out, OPTIONS, std::future::pending())
        .await
        .expect("an unsampled trace is not an error");
    let text = String::from_utf8(out).unwrap();
    assert!(spans.is_empty(), "{text}");
    assert!(text.contains("was not sampled"), "{text}");
    assert!(!text.contains("Incomplete"), "{text}");
    assert!(!text.contains("curl"), "nothing to fetch: {text}");
    // Reading back would poll for 15 s before giving up.
    assert!(started.elapsed() < demo::remote::ZIPKIN_DEADLINE, "{text}");
    assert_eq!(store.span_count(), 0, "nothing was reported");
    server.abort();
}
