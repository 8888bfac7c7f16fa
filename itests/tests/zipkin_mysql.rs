//! Zipkin on MySQL storage (Debian's MariaDB) keeps what it stored when the server stops,
//! unlike its default in-memory storage: traces and the dependency links survive a restart.
//!
//! The test starts everything itself: a MariaDB of its own (free port, own socket and data
//! folder) with the schema read from the Zipkin jar, then the real Zipkin with
//! `STORAGE_TYPE=mysql`, twice. Needs MariaDB (`apt-get install mariadb-server`) and the jar
//! (`scripts/zipkin-server fetch`); with `CI=true` a missing one fails the test, elsewhere
//! it prints one line saying it was skipped. Run it alone with
//! `cargo test -p itests --test zipkin_mysql`.

use itests::engines::mariadb::{DATABASE, PASSWORD, USER};
use itests::engines::zipkin;
use itests::zipkin_queries::{assert_one_link, stored_requests};
use itests::zipkin_scenarios::stored_article;
use itests::{MariaDb, ZipkinServer};

const TEST: &str = "zipkin_mysql";

/// Requests made before the restart; the link must count each once.
const REQUESTS: u64 = 3;

#[tokio::test]
async fn traces_and_dependency_links_outlive_a_zipkin_restart_on_mysql() {
    let Some(jar) = zipkin::jar_or_skip(TEST) else {
        return;
    };
    let schema = zipkin::mysql_schema(&jar).expect("the jar holds Zipkin's MySQL schema");
    let Some(db) = MariaDb::with_schema_or_skip(TEST, &schema).await else {
        return;
    };
    let port = db.port().to_string();
    let env = [
        ("STORAGE_TYPE", "mysql"),
        ("MYSQL_HOST", "127.0.0.1"),
        ("MYSQL_TCP_PORT", port.as_str()),
        ("MYSQL_USER", USER),
        ("MYSQL_PASS", PASSWORD),
        ("MYSQL_DB", DATABASE),
    ];

    let Some(first) = ZipkinServer::start_or_skip(TEST, &env).await else {
        return;
    };
    let api = first.api();
    let sent = tokio::spawn(async move { stored_requests(&api, REQUESTS).await })
        .await
        .expect("the requests' task panicked")
        .unwrap_or_else(|error| {
            panic!(
                "requests through Zipkin on MySQL: {error:#}\n--- Zipkin's last 40 log lines:\n{}",
                first.log_tail(40)
            )
        });
    first.stop();

    // The spans are MariaDB's rows now, not the stopped process's memory.
    let traces = db
        .execute(&format!(
            "SELECT COUNT(DISTINCT trace_id_high, trace_id) FROM {DATABASE}.zipkin_spans"
        ))
        .await
        .expect("MariaDB answers a count");
    assert_eq!(
        traces.lines().nth(1),
        Some(REQUESTS.to_string().as_str()),
        "zipkin_spans must hold the {REQUESTS} traces: {traces}"
    );

    let Some(second) = ZipkinServer::start_or_skip(TEST, &env).await else {
        return;
    };
    let api = second.api();
    let scenario = async move {
        for &id in &sent.trace_ids {
            stored_article(&api, id).await?;
        }
        assert_one_link(&api, &sent).await
    };
    second
        .assert_scenario("the traces and links after a restart", scenario)
        .await;
}
