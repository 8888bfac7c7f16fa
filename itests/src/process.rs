//! The real service binaries as child processes, configured by environment variables.
//!
//! [`build_binary`] has cargo build a service's binary (so `cargo test -p itests` works on
//! a clean clone) and tells where it is. [`ServiceProcess`] runs it, keeps its output for
//! failure messages (logs are plain text, no terminal, so [`warning_lines`] can pick out
//! what was logged at `WARN` level or above), stops it with SIGTERM as `docker stop` or
//! `kill` would, and kills it when dropped so that a failing test leaves no process behind.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;

use crate::trace_source::wait_until;

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

/// A free local TCP port: bound on `127.0.0.1:0`, then released for a child to take.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Settings the services read: removed from the child's environment before the test's
/// own are set, so that the tester's shell cannot change the outcome.
const UNSET: [&str; 15] = [
    "PORT",
    "BIND",
    "SERVICE2_URL",
    "ZIPKIN_ENDPOINT",
    "ZIPKIN_TRANSPORT",
    "RABBIT_URI",
    "RABBIT_QUEUE",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_TOPIC",
    "SAMPLE_RATE",
    "B3_FORMAT",
    "JOIN_SPANS",
    "CLIENT_TIMEOUT_SECS",
    "TIME_SCALE",
    "RUST_LOG",
];

/// How long a service binary may take to answer `GET /health` after it starts.
pub const START_DEADLINE: Duration = Duration::from_secs(20);

/// Starts `binary` with `env` on a free loopback port (`PORT`, `BIND` added) and waits
/// until it answers `GET /health`; returns it with its base URL, `http://127.0.0.1:{port}`.
pub async fn launch(
    binary: &Path,
    env: &[(&'static str, String)],
) -> anyhow::Result<(ServiceProcess, String)> {
    let port = free_port()?;
    let mut env = env.to_vec();
    env.push(("PORT", port.to_string()));
    env.push(("BIND", "127.0.0.1".to_owned()));
    let mut process = ServiceProcess::spawn(binary, &env)?;
    let url = format!("http://127.0.0.1:{port}");
    process.wait_healthy(&url, START_DEADLINE).await?;
    Ok((process, url))
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
    child: Child,
    output: Arc<Mutex<String>>,
}

impl ServiceProcess {
    /// Starts `binary` with the environment variables `env` (and nothing on its command
    /// line), as a user configuring it through the environment would.
    pub fn spawn(binary: &Path, env: &[(&str, String)]) -> anyhow::Result<Self> {
        let name = binary.file_name().map_or_else(
            || binary.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        let mut command = Command::new(binary);
        for key in UNSET {
            command.env_remove(key);
        }
        command
            .envs(env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let output = Arc::new(Mutex::new(String::new()));
        // Drain both pipes on threads: a child blocked on a full pipe would never exit.
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = output.clone();
            std::thread::spawn(move || drain(pipe, &output));
        }
        Ok(ServiceProcess {
            name,
            child,
            output,
        })
    }

    /// The binary's file name, e.g. `service1`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process printed so far (stdout and stderr, interleaved by line).
    pub fn output(&self) -> String {
        self.output
            .lock()
            .map(|text| text.clone())
            .unwrap_or_default()
    }

    /// Sends SIGTERM, as `docker stop` does, by running `kill -TERM <pid>`.
    pub fn terminate(&self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .context("cannot run the kill command")?;
        anyhow::ensure!(
            status.success(),
            "kill -TERM {} failed: {status}",
            self.pid()
        );
        Ok(())
    }

    /// Waits for the process to exit, for at most `deadline`, polling.
    pub async fn wait_exit(&mut self, deadline: Duration) -> anyhow::Result<ExitStatus> {
        let name = self.name.clone();
        let child = &mut self.child;
        let result = wait_until(&format!("{name} to exit"), deadline, || {
            let polled = child.try_wait();
            async move {
                match polled {
                    Ok(Some(status)) => Ok(Ok(status)),
                    Ok(None) => Err("still running".to_owned()),
                    Err(error) => Ok(Err(error)),
                }
            }
        })
        .await;
        match result {
            Ok(status) => status.context("cannot wait for the process"),
            Err(error) => Err(error.context(format!("its output:\n{}", self.output()))),
        }
    }

    /// Polls `GET {url}/health` until it answers 200, for at most `deadline`.
    pub async fn wait_healthy(&mut self, url: &str, deadline: Duration) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let health = format!("{url}/health");
        let child = &mut self.child;
        let result = wait_until(&format!("{health} to answer"), deadline, || {
            let exited = child.try_wait().ok().flatten();
            let request = client.get(&health).send();
            async move {
                if let Some(status) = exited {
                    // Stop polling a process that is gone; report it as the last state.
                    return Ok(Err(format!("the process exited with {status}")));
                }
                match request.await {
                    Ok(response) if response.status().is_success() => Ok(Ok(())),
                    Ok(response) => Err(format!("status {}", response.status())),
                    Err(error) => Err(error.to_string()),
                }
            }
        })
        .await;
        let failure = match result {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(exited)) => anyhow::anyhow!("{} is not serving: {exited}", self.name),
            Err(error) => error,
        };
        Err(failure.context(format!("{}'s output:\n{}", self.name, self.output())))
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn drain(mut pipe: Box<dyn std::io::Read + Send>, output: &Mutex<String>) {
    let mut buffer = [0u8; 4096];
    while let Ok(read) = pipe.read(&mut buffer) {
        if read == 0 {
            break;
        }
        if let Ok(mut text) = output.lock() {
            text.push_str(&String::from_utf8_lossy(&buffer[..read]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_lines_are_those_at_warn_level_or_above() {
        let output = "\
2025-01-01T00:00:00.000001Z  INFO service1: service1 listening address=127.0.0.1:1
2025-01-01T00:00:00.000002Z  WARN zipkin_tracing::report::http: Zipkin collector unavailable
2025-01-01T00:00:00.000003Z  INFO request{trace_id=1}: service1: WARN in a message
2025-01-01T00:00:00.000004Z ERROR zipkin_tracing::report::http: cannot encode spans
";
        let lines = warning_lines(output);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].ends_with("Zipkin collector unavailable"));
        assert!(lines[1].ends_with("cannot encode spans"));
    }
}
