//! The harness that runs the real Zipkin server from its jar: it serves on the port it
//! reports, stops for good when told, and a jar that cannot start fails fast with the
//! port and Java's own words instead of waiting out the deadline.

use std::time::{Duration, Instant};

use itests::ZipkinServer;
use itests::engines::{EngineMissing, or_skip};

#[tokio::test]
async fn the_jar_serves_health_and_its_api_then_stops_for_good() {
    let Some(zipkin) = ZipkinServer::start_or_skip("zipkin_jar", &[]).await else {
        return;
    };
    let base = zipkin.base_url().to_owned();
    let health = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&health.bytes().await.unwrap()).unwrap();
    assert_eq!(body["status"], "UP", "{body}");
    // In-memory storage is the default: nothing is stored yet.
    let services = reqwest::get(format!("{base}/api/v2/services"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let services: Vec<String> = serde_json::from_slice(&services).unwrap();
    assert!(
        services.is_empty(),
        "a fresh Zipkin knows no service: {services:?}"
    );
    assert!(
        zipkin.log_tail(200).contains("Serving HTTP"),
        "the log is captured:\n{}",
        zipkin.log_tail(30)
    );

    zipkin.stop();
    let after = reqwest::get(format!("{base}/health")).await;
    assert!(
        after.is_err(),
        "nothing serves {base} after stop: {after:?}"
    );
}

#[tokio::test]
async fn a_jar_that_cannot_start_fails_fast_with_the_port_and_javas_words() {
    if std::process::Command::new("java")
        .arg("-version")
        .output()
        .is_err()
    {
        // Not installed here: one skip line, or with CI=true a failure.
        let missing = EngineMissing("java is not on PATH".to_owned());
        let install = "apt-get install openjdk-17-jre-headless";
        or_skip::<()>("zipkin_jar", "Java", install, Err(missing.into()));
        return;
    }
    let not_a_jar =
        std::env::temp_dir().join(format!("itests-not-a-jar-{}.jar", std::process::id()));
    std::fs::write(&not_a_jar, "this is not a zip file").unwrap();

    let started = Instant::now();
    let error = ZipkinServer::start_jar(&not_a_jar, &[]).await.unwrap_err();
    let _ = std::fs::remove_file(&not_a_jar);

    let text = format!("{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert!(text.contains("Zipkin on port "), "{text}");
    assert!(text.contains("exited with"), "{text}");
    assert!(
        text.contains("Invalid or corrupt jarfile"),
        "Java's message is shown: {text}"
    );
}
