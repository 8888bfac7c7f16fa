//! The real service binaries as child processes, configured by environment variables.
//!
//! [`build_binary`] has cargo build a service's binary (so `cargo test -p itests` works on
//! a clean clone) and tells where it is. [`launch`] runs it the way every engine runs
//! ([`EngineProcess`]: a free port, one startup deadline, its output kept, killed on
//! drop) until it answers `GET /health`. Its logs are plain text, no terminal, so
//! [`warning_lines`] can pick out what was logged at `WARN` level or above.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use anyhow::Context as _;

use crate::engines::process::{EngineProcess, Ready, fresh_folder, retry_port_taken};

pub use crate::engines::process::free_port;

/// Builds the binary `name` of the workspace package `name` (debug or release, like the
/// running tests) and returns its path. Cargo decides where it goes, so `CARGO_TARGET_DIR`
/// and `.cargo/config.toml` are respected; an up-to-date binary is not rebuilt.
pub fn build_binary(name: &str) -> anyhow::Result<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let built = escargot::CargoBuild::new()
        .manifest_path(&manifest)
        .package(name)
        .bin(name)
        .current_release()
        .run()
        .with_context(|| format!("cargo could not build the {name} binary"))?;
    Ok(built.path().to_owned())
}

/// Starts `binary` with `env` (and only the few variables every engine inherits, so the
/// tester's shell cannot change the outcome) on a free loopback port (`PORT`, `BIND`
/// added), and waits until it answers `GET /health`; returns it with its base URL,
/// `http://127.0.0.1:{port}`.
pub async fn launch(
    binary: &Path,
    env: &[(&'static str, String)],
) -> anyhow::Result<(ServiceProcess, String)> {
    let name = binary.file_name().map_or_else(
        || binary.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    let name = name.as_str();
    retry_port_taken(|| async move {
        let port = free_port()?;
        let url = format!("http://127.0.0.1:{port}");
        let mut process = EngineProcess::new(name, port, fresh_folder(name)?, binary)
            .env("PORT", port.to_string())
            .env("BIND", "127.0.0.1")
            .ready_when(Ready::Http(format!("{url}/health")));
        for (key, value) in env {
            process = process.env(key, value);
        }
        process.start().await?;
        let name = name.to_owned();
        Ok((ServiceProcess { name, process }, url))
    })
    .await
}

/// The lines of `output` logged at `WARN` level or above, in the services' log format
/// (`{time}  WARN {target}: {message}`): a problem logged as an error counts too.
pub fn warning_lines(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|line| matches!(line.split_whitespace().nth(1), Some("WARN" | "ERROR")))
        .collect()
}

/// A running service binary. Killed on drop unless it has already exited.
#[derive(Debug)]
pub struct ServiceProcess {
    name: String,
    process: EngineProcess,
}

impl ServiceProcess {
    /// The binary's file name, e.g. `service1`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the process printed so far (stdout and stderr, interleaved by line).
    pub fn output(&self) -> String {
        self.process.log()
    }

    /// Sends SIGTERM, as `docker stop` or `kill` does.
    pub fn terminate(&self) -> anyhow::Result<()> {
        self.process.terminate()
    }

    /// Waits for the process to exit, for at most `deadline`, polling.
    pub async fn wait_exit(&mut self, deadline: Duration) -> anyhow::Result<ExitStatus> {
        self.process.wait_exit(deadline).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_lines_are_those_at_warn_level_or_above() {
        let output = "\
2025-01-01T00:00:00.000001Z  INFO service1: service1 listening address=127.0.0.1:1
2025-01-01T00:00:00.000002Z  WARN zipkin_reporter::delivery: Zipkin collector unavailable
2025-01-01T00:00:00.000003Z  INFO request{trace_id=1}: service1: WARN in a message
2025-01-01T00:00:00.000004Z ERROR zipkin_reporter::delivery: cannot encode spans
";
        let lines = warning_lines(output);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].ends_with("Zipkin collector unavailable"));
        assert!(lines[1].ends_with("cannot encode spans"));
    }
}
