//! A message broker run by a test as its own child process, on private ports, with its
//! data in a fresh temporary folder: what [`RabbitMq`](crate::RabbitMq) and
//! [`Kafka`](crate::Kafka) have in common.
//!
//! A broker can be stopped and started again on the same ports and data (an outage), and
//! is stopped, with every process it started, when dropped. It is ready when its client
//! port accepts a connection; a broker that exits or is not ready within
//! [`START_DEADLINE`] fails with its port and its last log lines.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

use crate::trace_source::POLL_INTERVAL;
use crate::zipkin_server::EngineMissing;

/// How long a broker may take to accept connections: RabbitMQ takes about 15 s on two
/// shared cores, Kafka about 6 s; much more while other builds share them.
pub const START_DEADLINE: Duration = Duration::from_secs(120);

/// How long a broker may take to stop on SIGTERM before it is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// One broker's process: how to start it, and the running one if any.
#[derive(Debug)]
pub(crate) struct BrokerProcess {
    name: &'static str,
    port: u16,
    folder: PathBuf,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(String, OsString)>,
    child: Option<Child>,
}

impl BrokerProcess {
    /// A broker `name` that `program args` starts with `env` (and only `PATH`, `LANG`
    /// and `JAVA_HOME` inherited), in `folder`, serving clients on `port`. Not started.
    pub(crate) fn new(
        name: &'static str,
        port: u16,
        folder: PathBuf,
        program: PathBuf,
        args: Vec<OsString>,
        env: Vec<(String, OsString)>,
    ) -> Self {
        BrokerProcess {
            name,
            port,
            folder,
            program,
            args,
            env,
            child: None,
        }
    }

    /// The folder holding its data and `broker.log`, removed on drop.
    pub(crate) fn folder(&self) -> &Path {
        &self.folder
    }

    /// Starts it and waits until its port accepts connections.
    pub(crate) async fn start(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.child.is_none(), "{} is already running", self.name);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .context("cannot open broker.log")?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .current_dir(&self.folder)
            .env_clear()
            .envs(
                ["PATH", "LANG", "JAVA_HOME"]
                    .iter()
                    .filter_map(|key| Some((key, std::env::var_os(key)?))),
            )
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("cannot share broker.log")?)
            .stderr(log)
            // Its own process group, so that stopping it stops what its scripts started.
            .process_group(0);
        let child = match command.spawn() {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(EngineMissing(format!(
                    "{} is not installed ({} not found)",
                    self.name,
                    self.program.display()
                ))
                .into());
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot start {}", self.name));
            }
        };
        self.child = Some(child);
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let give_up_at = tokio::time::Instant::now() + START_DEADLINE;
        let address = ("127.0.0.1", self.port);
        loop {
            let child = self.child.as_mut().context("not started")?;
            if let Some(status) = child.try_wait().context("cannot poll the broker")? {
                self.child = None;
                anyhow::bail!(
                    "{} on port {} exited with {status} before it was ready; its last 30 log lines:\n{}",
                    self.name,
                    self.port,
                    self.log_tail(30)
                );
            }
            if tokio::net::TcpStream::connect(address).await.is_ok() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= give_up_at {
                anyhow::bail!(
                    "{} did not accept connections on port {} within {START_DEADLINE:?}; its last 30 log lines:\n{}",
                    self.name,
                    self.port,
                    self.log_tail(30)
                );
            }
            tokio::time::sleep(POLL_INTERVAL * 8).await;
        }
    }

    /// Stops it (SIGTERM to its process group, then SIGKILL after a while) and waits for
    /// it; nothing happens when it is not running.
    pub(crate) fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = format!("-{}", child.id());
        let signal = |name: &str| {
            let _ = Command::new("kill")
                .args([name, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        signal("-TERM");
        let give_up_at = std::time::Instant::now() + STOP_DEADLINE;
        while std::time::Instant::now() < give_up_at {
            if let Ok(Some(_)) = child.try_wait() {
                // The group may outlive its leader (a script's child): end it too.
                signal("-KILL");
                return;
            }
            std::thread::sleep(POLL_INTERVAL * 4);
        }
        signal("-KILL");
        let _ = child.wait();
    }

    /// The last `lines` lines it logged, for failure messages.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn log_path(&self) -> PathBuf {
        self.folder.join("broker.log")
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// Writes `text` to `folder/name`.
pub(crate) fn write_file(folder: &Path, name: &str, text: &str) -> anyhow::Result<PathBuf> {
    let path = folder.join(name);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
