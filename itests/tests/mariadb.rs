//! The harness that runs a private MariaDB for Zipkin's MySQL storage: it holds exactly the
//! tables of the schema read from the Zipkin jar, and a server that cannot start fails
//! fast with its port and its own log lines instead of waiting out the deadline.
//!
//! Needs MariaDB (`apt-get install mariadb-server`) and, for the schema, the Zipkin jar
//! (`scripts/zipkin-server fetch`); with `CI=true` both are required.

use std::collections::BTreeSet;
use std::time::Instant;

use itests::MariaDb;
use itests::engines::mariadb::DATABASE;
use itests::engines::process::START_DEADLINE;
use itests::engines::{EngineMissing, or_skip, zipkin};

const TEST: &str = "mariadb";

#[tokio::test]
async fn the_database_holds_the_tables_of_the_jars_schema() {
    let Some(jar) = zipkin::jar_or_skip(TEST) else {
        return;
    };
    let schema = zipkin::mysql_schema(&jar).expect("the jar holds Zipkin's MySQL schema");
    let created: BTreeSet<String> = schema
        .split("CREATE TABLE IF NOT EXISTS ")
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next())
        .map(|name| name.trim_matches('`').to_owned())
        .collect();
    assert!(
        created.contains("zipkin_spans") && created.contains("zipkin_annotations"),
        "the schema creates Zipkin's span tables: {created:?}"
    );
    let Some(db) = MariaDb::with_schema_or_skip(TEST, &schema).await else {
        return;
    };
    let listed = db
        .execute(&format!("SHOW TABLES FROM {DATABASE}"))
        .await
        .expect("MariaDB lists the tables");
    let tables: BTreeSet<String> = listed.lines().skip(1).map(str::to_owned).collect();
    assert_eq!(tables, created, "{DATABASE} on port {}", db.port());
}

#[tokio::test]
async fn a_server_whose_port_is_taken_fails_fast_with_the_port_and_its_log() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let started = Instant::now();
    let result = MariaDb::start_on(port).await;
    let error = match result {
        Ok(db) => panic!("MariaDB started on port {port}, which was taken: {db:?}"),
        Err(error) => error,
    };
    if error.is::<EngineMissing>() {
        // Not installed here: one skip line, or with CI=true a failure.
        or_skip::<()>(
            TEST,
            "MariaDB",
            "apt-get install mariadb-server",
            Err(error),
        );
        return;
    }
    let text = format!("{error:#}");
    assert!(
        started.elapsed() < START_DEADLINE / 2,
        "took {:?}: {text}",
        started.elapsed()
    );
    assert!(
        text.contains(&format!("on port {port} exited with")),
        "{text}"
    );
    assert!(
        text.contains("Address already in use"),
        "the server's own words are shown: {text}"
    );
    drop(taken);
}
