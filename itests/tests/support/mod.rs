//! The real service binaries for the fault tests (`shutdown.rs`, `downstream_faults.rs`,
//! `malformed_b3.rs`): built by cargo, configured only through environment variables, each
//! on a free port, and stopped with SIGTERM as `docker stop` or `kill` would.

// Each test file compiles this module on its own and uses only some of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use itests::{ServiceProcess, build_binary};

/// Has cargo build the binary of package `name` (a no-op when it is up to date, so that
/// `cargo test -p itests` works on a clean clone) and returns its path.
pub async fn binary(name: &'static str) -> PathBuf {
    tokio::task::spawn_blocking(move || build_binary(name))
        .await
        .unwrap()
        .unwrap_or_else(|error| panic!("cannot build {name}: {error:#}"))
}

/// The settings both services read: where to report, how fast to run, how much to log.
/// Every new trace is sampled.
pub fn settings(
    zipkin_endpoint: &str,
    time_scale: f64,
    rust_log: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("ZIPKIN_ENDPOINT", zipkin_endpoint.to_owned()),
        ("TIME_SCALE", time_scale.to_string()),
        ("SAMPLE_RATE", "1.0".to_owned()),
        ("RUST_LOG", rust_log.to_owned()),
    ]
}

/// A service binary answering on its own loopback port.
#[derive(Debug)]
pub struct Running {
    /// The binary's name, e.g. `service1`.
    pub name: String,
    /// The child process, with its captured output.
    pub process: ServiceProcess,
    /// Its base URL, `http://127.0.0.1:{port}`.
    pub url: String,
}

/// Starts `binary` with `env` on a free loopback port (`PORT`, `BIND`) and waits until it
/// answers `GET /health`.
pub async fn launch(binary: &Path, env: &[(&'static str, String)]) -> Running {
    let (process, url) = itests::launch(binary, env)
        .await
        .unwrap_or_else(|error| panic!("cannot start {}: {error:#}", binary.display()));
    let name = process.name().to_owned();
    Running { name, process, url }
}

/// Waits at most `deadline` for `service` to exit (after a SIGTERM already sent) and
/// panics, with its output, unless the exit code is 0.
pub async fn expect_clean_exit(service: &mut Running, deadline: Duration) {
    let status = service
        .process
        .wait_exit(deadline)
        .await
        .unwrap_or_else(|error| {
            panic!(
                "{} did not exit within {deadline:?}: {error:#}",
                service.name
            )
        });
    assert_eq!(
        status.code(),
        Some(0),
        "{} exited with {status}; its output:\n{}",
        service.name,
        service.process.output()
    );
}

/// Sends SIGTERM to `service` and waits at most `deadline` for a clean exit; once it
/// returns, the service has flushed every span it will ever send.
pub async fn stop(service: &mut Running, deadline: Duration) {
    service.process.terminate().unwrap();
    expect_clean_exit(service, deadline).await;
}
