//! The one way a test runs a child process, an engine or a service binary: on a free
//! port, in a fresh folder of its own, logging to `engine.log` there, ready when a probe
//! says so.
//!
//! [`EngineProcess::start`] spawns the program in its own process group (so stopping it
//! also stops what its scripts started) and polls its [`Ready`] probe until
//! [`START_DEADLINE`]; one that exits first fails with its port and its last log lines,
//! and one that found its port taken fails with [`PortTaken`], which [`retry_port_taken`]
//! answers by choosing new ports. Dropping it kills the group and removes the folder, so
//! a failing test leaves nothing behind.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::Context as _;

use super::EngineMissing;
use super::ports::{PortTaken, says_port_taken};
pub use super::ports::{free_port, retry_port_taken};
use crate::trace_source::POLL_INTERVAL;

/// How long any engine (or service binary) may take to be ready: Zipkin and Kafka take
/// about 6 s on two idle cores, RabbitMQ about 15 s; much more while builds share them.
pub const START_DEADLINE: Duration = Duration::from_secs(120);

/// How long an engine may take to stop on SIGTERM before it is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// The only variables an engine inherits: Zipkin alone reads dozens more, and a tester's
/// shell must not change what a test runs against. (`RUST_BACKTRACE` and
/// `LLVM_PROFILE_FILE` reach the project's own binaries for debugging and coverage.)
const INHERITED: [&str; 8] = [
    "PATH",
    "HOME",
    "JAVA_HOME",
    "LANG",
    "TMPDIR",
    "JAVA_TOOL_OPTIONS",
    "RUST_BACKTRACE",
    "LLVM_PROFILE_FILE",
];

/// A new, empty folder `itests-{engine}-...` under the system's temporary folder, unique
/// to one engine: `create_dir` fails rather than reuse a folder another test made.
pub fn fresh_folder(engine: &str) -> anyhow::Result<PathBuf> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    let name = format!(
        "itests-{engine}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let folder = std::env::temp_dir().join(name);
    std::fs::create_dir(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
    Ok(folder)
}

/// Writes `text` to `folder/name` and returns its path.
pub fn write_file(folder: &Path, name: &str, text: &str) -> anyhow::Result<PathBuf> {
    let path = folder.join(name);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// How a started engine shows it is ready.
#[derive(Debug, Clone)]
pub enum Ready {
    /// Its port accepts a TCP connection.
    Tcp,
    /// This URL answers `200 OK`.
    Http(String),
    /// Its Unix socket at this path accepts a connection: unlike the port, nothing else
    /// can answer there.
    Unix(PathBuf),
}

/// One engine's process: how to start it, and the running one if any.
#[derive(Debug)]
pub struct EngineProcess {
    name: String,
    port: u16,
    folder: PathBuf,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    ready: Ready,
    child: Option<Child>,
}

impl EngineProcess {
    /// The engine `name`, run as `program` in `folder` (which it owns from now on) and
    /// serving on `port`, ready when the port accepts connections. Not started.
    pub fn new(
        name: impl Into<String>,
        port: u16,
        folder: PathBuf,
        program: impl Into<PathBuf>,
    ) -> Self {
        EngineProcess {
            name: name.into(),
            port,
            folder,
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            ready: Ready::Tcp,
            child: None,
        }
    }

    /// Adds `args` to its command line.
    pub fn args<I: Into<OsString>>(mut self, args: impl IntoIterator<Item = I>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets the environment variable `key` for it.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Replaces the readiness probe (by default, its port accepting connections).
    pub fn ready_when(mut self, ready: Ready) -> Self {
        self.ready = ready;
        self
    }

    /// The folder holding its data and `engine.log`, removed on drop.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The port it serves on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts it (again, after [`EngineProcess::stop`]) and waits until it is ready, for
    /// at most [`START_DEADLINE`]. A program that is not installed is [`EngineMissing`].
    pub async fn start(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.child.is_none(), "{} is already running", self.name);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .context("cannot open engine.log")?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .current_dir(&self.folder)
            .env_clear()
            .envs(
                INHERITED
                    .iter()
                    .filter_map(|key| Some((key, std::env::var_os(key)?))),
            )
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("cannot share engine.log")?)
            .stderr(log)
            .process_group(0);
        self.child = Some(match command.spawn() {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(EngineMissing(format!(
                    "{} is not installed ({} not found)",
                    self.name,
                    self.program.display()
                ))
                .into());
            }
            Err(error) => return Err(error).with_context(|| format!("cannot start {}", self.name)),
        });
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .context("cannot build an HTTP client")?;
        let give_up_at = tokio::time::Instant::now() + START_DEADLINE;
        loop {
            let child = self.child.as_mut().context("not started")?;
            if let Some(status) = child.try_wait().context("cannot poll the engine")? {
                self.child = None;
                let message = format!(
                    "{} on port {} exited with {status} before it was ready; its last 30 log lines:\n{}",
                    self.name,
                    self.port,
                    self.log_tail(30)
                );
                return Err(if says_port_taken(&message) {
                    PortTaken(message).into()
                } else {
                    anyhow::anyhow!(message)
                });
            }
            let last = match &self.ready {
                Ready::Tcp => tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                    .await
                    .map(drop)
                    .map_err(|error| error.to_string()),
                Ready::Unix(socket) => tokio::net::UnixStream::connect(socket)
                    .await
                    .map(drop)
                    .map_err(|error| error.to_string()),
                Ready::Http(url) => match client.get(url).send().await {
                    Ok(response) if response.status() == reqwest::StatusCode::OK => Ok(()),
                    Ok(response) => Err(format!("{url} answered {}", response.status())),
                    Err(error) => Err(format!("{url}: {error}")),
                },
            };
            let Err(last) = last else {
                return Ok(());
            };
            if tokio::time::Instant::now() >= give_up_at {
                anyhow::bail!(
                    "{} on port {} was not ready within {START_DEADLINE:?} (last: {last}); its last 30 log lines:\n{}",
                    self.name,
                    self.port,
                    self.log_tail(30)
                );
            }
            tokio::time::sleep(POLL_INTERVAL * 8).await;
        }
    }

    /// Sends SIGTERM to its process group, as `docker stop` or `kill` would, without
    /// waiting; [`EngineProcess::wait_exit`] waits.
    pub fn terminate(&self) -> anyhow::Result<()> {
        let child = self.child.as_ref().context("not running")?;
        anyhow::ensure!(
            signal_group(child, "-TERM"),
            "kill -TERM -{} failed",
            child.id()
        );
        Ok(())
    }

    /// Waits for it to exit, for at most `deadline`, polling; fails with its output.
    pub async fn wait_exit(&mut self, deadline: Duration) -> anyhow::Result<ExitStatus> {
        let give_up_at = tokio::time::Instant::now() + deadline;
        let child = self.child.as_mut().context("not running")?;
        loop {
            if let Some(status) = child.try_wait().context("cannot wait for the process")? {
                self.child = None;
                return Ok(status);
            }
            if tokio::time::Instant::now() >= give_up_at {
                anyhow::bail!(
                    "{} did not exit within {deadline:?}; its output:\n{}",
                    self.name,
                    self.log()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Stops it as an outage or `docker stop` would: SIGTERM to its process group, SIGKILL
    /// after a while, then waits for it. Nothing happens when it is not running.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        signal_group(&child, "-TERM");
        let give_up_at = std::time::Instant::now() + STOP_DEADLINE;
        while std::time::Instant::now() < give_up_at {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(POLL_INTERVAL * 4);
        }
        // The group may outlive its leader (a script's child): end it too.
        signal_group(&child, "-KILL");
        let _ = child.wait();
    }

    /// Everything it logged (stdout and stderr), across restarts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The last `lines` lines it logged, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = self.log();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn log_path(&self) -> PathBuf {
        self.folder.join("engine.log")
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal_group(&child, "-KILL");
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// Sends `signal` to the process group that `child` leads, with the `kill` command;
/// whether that worked.
fn signal_group(child: &Child, signal: &str) -> bool {
    Command::new("kill")
        .args([signal, "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
