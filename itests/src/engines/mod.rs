//! The engines the end-to-end tests run for real, each as a child process of the test:
//! the Zipkin server from its jar, MariaDB, RabbitMQ, Kafka and headless Chromium; and
//! py_zipkin, run to encode span bodies.
//!
//! Every engine starts through [`process::EngineProcess`] (a free port, one startup
//! deadline, its log kept for error messages, killed on drop) and every test applies one
//! policy to an engine it cannot start, [`or_skip`]: with `CI=true` the test fails; on a
//! machine without the engine it prints one line saying it was skipped and how to run it.
//!
//! | module | engine |
//! |---|---|
//! | [`process`] | starting, probing, stopping and reading the log of any engine |
//! | [`ports`] | a free port for an engine, and starting it again when the port was taken |
//! | [`zipkin`] | the Zipkin server, and what its jar holds (MySQL schema, variables) |
//! | [`mariadb`] | a private MariaDB server with Zipkin's schema loaded |
//! | [`rabbitmq`] | a private RabbitMQ node, to stop and start again |
//! | [`kafka`] | a private one-node Kafka broker, to stop and start again |
//! | [`chromium`] | headless Chromium through WebDriver (`chromedriver`) |
//! | [`py_zipkin`] | the article's Python tracer in its virtualenv, encoding span bodies |

use std::io::Write as _;

pub mod chromium;
pub mod kafka;
pub mod mariadb;
pub mod ports;
pub mod process;
pub mod py_zipkin;
pub mod rabbitmq;
pub mod zipkin;

/// Whether tests that need an engine must run: true when the environment variable `CI`
/// is `true` or `1`, as `.ci/run` sets it.
pub fn engines_required() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// The engine is not installed here (no jar, no Java 17, no MariaDB, no broker, no
/// browser): the one failure a test may skip on.
#[derive(Debug)]
pub struct EngineMissing(pub String);

impl std::fmt::Display for EngineMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EngineMissing {}

/// The engine policy applied to `started`, an attempt to start `engine` for `test`:
/// with `CI=true` any failure panics; otherwise an [`EngineMissing`] error prints one
/// line naming `test`, what is missing, `install` and the command that runs the test, and
/// gives `None`. An engine that is installed but fails panics everywhere.
pub fn or_skip<T>(
    test: &str,
    engine: &str,
    install: &str,
    started: anyhow::Result<T>,
) -> Option<T> {
    match started {
        Ok(value) => Some(value),
        Err(error) if !engines_required() && error.is::<EngineMissing>() => {
            print_skip_line(test, &error, install);
            None
        }
        Err(error) => panic!("{test}: {engine} did not start: {error:#}"),
    }
}

/// `skipped {test}: {why}; run {install}, then cargo test -p {package}`, written to the
/// process's stderr handle itself: the test harness captures `println!` and `eprintln!`
/// and shows them only for a failing test, so a skip would otherwise go unseen.
fn print_skip_line(test: &str, why: &anyhow::Error, install: &str) {
    // Cargo tells a test process its package, so the line names the command that runs
    // this very test (`-p itests`, `-p demo`, ...).
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "itests".into());
    let _ = writeln!(
        std::io::stderr(),
        "skipped {test}: {why}; run {install}, then cargo test -p {package}"
    );
}
