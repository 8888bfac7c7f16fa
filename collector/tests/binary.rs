//! The `collector` binary as a user runs it: settings from flags and the environment, and
//! a graceful stop on SIGTERM.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{TRACE, article_trace, raw_http};

fn collector() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_collector"));
    for name in ["PORT", "BIND", "BODY_LIMIT", "MAX_SPANS", "RUST_LOG"] {
        command.env_remove(name);
    }
    command
}

#[test]
fn bad_settings_stop_the_program_naming_the_setting() {
    for (name, value, flag) in [
        ("PORT", "http", "--port"),
        ("BIND", "localhost", "--bind"),
        ("BODY_LIMIT", "-1", "--body-limit"),
        ("MAX_SPANS", "0", "--max-spans"),
    ] {
        let output = collector().env(name, value).output().unwrap();
        assert!(!output.status.success(), "{name}={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(flag) && stderr.contains(value),
            "{name}={value}: {stderr}"
        );
    }
    let output = collector()
        .env("RUST_LOG", "collector=loud")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("invalid RUST_LOG \"collector=loud\"")
    );
    let output = collector().args(["--max-spans", "many"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--max-spans"));
}

#[tokio::test]
async fn the_binary_serves_until_sigterm() {
    let mut child = collector()
        .env("PORT", "0")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first log line says where it listens: "... addr=127.0.0.1:PORT ...".
    let mut logs = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = logs.next().unwrap().unwrap();
    let addr = line
        .split_whitespace()
        .find_map(|word| word.strip_prefix("addr="))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .parse()
        .unwrap();

    let body = article_trace(TRACE).to_string();
    assert_eq!(raw_http(addr, "POST", "/api/v2/spans", &body).await.0, 202);
    let (status, services) = raw_http(addr, "GET", "/api/v2/services", "").await;
    assert_eq!(
        (status, services.as_str()),
        (200, r#"["service1","service2"]"#)
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(child.wait().unwrap().success(), "a graceful stop exits 0");
    let rest: Vec<String> = logs.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("collector stopped")),
        "{rest:?}"
    );
}
