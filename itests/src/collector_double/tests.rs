//! The double must answer as told and keep what it was sent, or the collector tests that
//! rely on it prove nothing.

use std::time::Duration;

use super::*;

/// One valid v2 span of trace `463ac35c9f6413ad48485a3953bb6124`, as a report body.
const REPORT: &str = r#"[{"traceId":"463ac35c9f6413ad48485a3953bb6124","id":"a2fb4a1d1a96d312","name":"get /","timestamp":1,"duration":2,"localEndpoint":{"serviceName":"service1"}}]"#;

async fn post(url: &str, body: &'static str, timeout: Duration) -> reqwest::Result<u16> {
    let client = reqwest::Client::builder().timeout(timeout).build()?;
    let response = client.post(url).body(body).send().await?;
    Ok(response.status().as_u16())
}

#[tokio::test]
async fn it_answers_as_told_and_stores_only_what_it_accepted() {
    let double = CollectorDouble::answering(503).await;
    let endpoint = double.endpoint();
    assert_eq!(
        post(&endpoint, REPORT, Duration::from_secs(5))
            .await
            .unwrap(),
        503
    );
    double.answer(ACCEPTED);
    assert_eq!(
        post(&endpoint, REPORT, Duration::from_secs(5))
            .await
            .unwrap(),
        202
    );

    let reports = double.reports().unwrap();
    let statuses: Vec<u16> = reports.iter().map(|report| report.status).collect();
    assert_eq!(statuses, [503, 202]);
    assert_eq!(reports[0].spans, reports[1].spans, "both bodies are kept");
    assert_eq!(
        double.spans().unwrap().len(),
        1,
        "only the accepted report counts"
    );
}

#[tokio::test]
async fn a_malformed_report_or_another_path_fails_the_reader() {
    let double = CollectorDouble::start().await;
    let base = double.endpoint().replace(SPANS_PATH, "");
    assert_eq!(
        post(
            &format!("{base}/api/v1/spans"),
            REPORT,
            Duration::from_secs(5)
        )
        .await
        .unwrap(),
        404
    );
    let error = double.reports().unwrap_err().to_string();
    assert!(error.contains("not POST /api/v2/spans"), "{error}");

    let double = CollectorDouble::start().await;
    post(&double.endpoint(), "[{}]", Duration::from_secs(5))
        .await
        .unwrap();
    let error = double.spans().unwrap_err().to_string();
    assert!(error.contains("not a list of Zipkin v2 spans"), "{error}");
}

#[tokio::test]
async fn hanging_it_never_answers_and_notes_when_the_reporter_hung_up() {
    let double = CollectorDouble::answering(Answer::Hang).await;
    let timeout = Duration::from_millis(300);
    let outcome = post(&double.endpoint(), REPORT, timeout).await;
    assert!(outcome.is_err_and(|error| error.is_timeout()));
    let deadline = Instant::now() + Duration::from_secs(5);
    let held = loop {
        let connections = double.connections();
        if connections.first().is_some_and(|c| c.closed.is_some()) || Instant::now() > deadline {
            break connections;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(held.len(), 1, "{held:?}");
    let held_for = held[0].held_for();
    assert!(held[0].closed.is_some(), "the hang-up is noted: {held:?}");
    assert!(
        held_for >= timeout && held_for < timeout + Duration::from_secs(2),
        "held {held_for:?}"
    );
    assert!(double.reports().unwrap().is_empty(), "nothing was answered");
}

#[tokio::test]
async fn down_it_refuses_connections_until_it_comes_up_on_the_same_port() {
    let double = CollectorDouble::down().unwrap();
    let endpoint = double.endpoint();
    let refused = post(&endpoint, REPORT, Duration::from_secs(5)).await;
    assert!(refused.is_err_and(|error| error.is_connect()));
    let double = double.come_up(ACCEPTED).await.unwrap();
    assert_eq!(double.endpoint(), endpoint);
    assert_eq!(
        post(&endpoint, REPORT, Duration::from_secs(5))
            .await
            .unwrap(),
        202
    );
}
