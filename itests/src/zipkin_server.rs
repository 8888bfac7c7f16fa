//! The real Zipkin server, run from its jar by Java: one for a test, or one shared by the
//! tests of a test binary that run at the same time.
//!
//! [`ZipkinServer::start`] runs the jar that `scripts/zipkin-server fetch` downloaded (or
//! `ZIPKIN_JAR`) on a free port, from a fresh empty folder, and waits until `GET /health`
//! answers 200. Tests call [`ZipkinServer::start_or_skip`], which applies the project's
//! engine policy: with `CI=true` a Zipkin that cannot start fails the test; elsewhere a
//! machine without the jar or Java skips it with one line saying how to run it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use anyhow::Context as _;

use crate::process::free_port;
use crate::trace_source::{POLL_INTERVAL, ZipkinApi};

/// How long Zipkin may take to answer `/health`: a few seconds on two idle cores, much
/// more while other builds share them.
pub const START_DEADLINE: Duration = Duration::from_secs(90);

/// JVM flags that halve the start-up time on a small machine (no optimising compiler, one
/// GC thread) and bound the heap; the tests store a few hundred spans at most.
const JVM_FLAGS: [&str; 3] = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m"];

/// The only variables Zipkin inherits: it reads dozens more (`STORAGE_TYPE`,
/// `COLLECTOR_*`, ...), and a tester's shell must not change what a test runs against.
const INHERITED: [&str; 6] = [
    "PATH",
    "HOME",
    "JAVA_HOME",
    "LANG",
    "TMPDIR",
    "JAVA_TOOL_OPTIONS",
];

/// Whether tests that need an engine (here: the Zipkin jar under Java) must run: true when
/// the environment variable `CI` is `true` or `1`, as `.ci/run` sets it.
pub fn engines_required() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// The engine is not installed here (no jar, no Java 17, no MariaDB, no broker): the one case a test
/// may skip.
#[derive(Debug)]
pub struct EngineMissing(pub String);

impl std::fmt::Display for EngineMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EngineMissing {}

/// The engine policy applied to `started`, an attempt to start `engine` for `test`:
/// with `CI=true` any failure panics; otherwise an [`EngineMissing`] error prints one line
/// naming `test`, then `install` and the command that runs it, and gives `None`. An engine
/// that is installed but fails panics everywhere.
pub fn or_skip<T>(
    test: &str,
    engine: &str,
    install: &str,
    started: anyhow::Result<T>,
) -> Option<T> {
    match started {
        Ok(value) => Some(value),
        Err(error) if !engines_required() && error.is::<EngineMissing>() => {
            // Cargo tells a test process its package, so the line names the command
            // that runs this very test (`-p itests`, `-p demo`, ...).
            let package = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "itests".into());
            println!("skipped {test}: {error}; run {install}, then cargo test -p {package}");
            None
        }
        Err(error) => panic!("{test}: {engine} did not start: {error:#}"),
    }
}

/// A running Zipkin server; killed, waited for and its folder removed on drop.
#[derive(Debug)]
pub struct ZipkinServer {
    child: Child,
    base_url: String,
    folder: PathBuf,
}

impl ZipkinServer {
    /// Starts Zipkin with `env` added to its environment (`STORAGE_TYPE`, ...) on a free
    /// port (`QUERY_PORT`), and waits until it is healthy, for at most [`START_DEADLINE`].
    pub async fn start(env: &[(&str, &str)]) -> anyhow::Result<ZipkinServer> {
        ZipkinServer::start_jar(&crate::zipkin_jar::path()?, env).await
    }

    /// [`ZipkinServer::start`] with the jar at `jar` rather than the fetched one.
    pub async fn start_jar(jar: &Path, env: &[(&str, &str)]) -> anyhow::Result<ZipkinServer> {
        let folder = fresh_folder("zipkin")?;
        let port = free_port()?;
        let child = match spawn_java(jar, &folder, port, env) {
            Ok(child) => child,
            Err(error) => {
                let _ = std::fs::remove_dir_all(&folder);
                return Err(error);
            }
        };
        let mut server = ZipkinServer {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            folder,
        };
        server.wait_healthy(port).await?;
        Ok(server)
    }

    /// [`ZipkinServer::start`] under the engine policy: with `CI=true` any failure panics;
    /// otherwise a missing jar or Java prints one line naming `test` and the commands that
    /// run it, and returns `None`. A Zipkin that is installed but fails still panics.
    pub async fn start_or_skip(test: &str, env: &[(&str, &str)]) -> Option<ZipkinServer> {
        let started = ZipkinServer::start(env).await;
        or_skip(
            test,
            "the real Zipkin server",
            "scripts/zipkin-server fetch",
            started,
        )
    }

    /// One Zipkin for all the tests of a test binary that run at the same time, under the
    /// same policy as [`ZipkinServer::start_or_skip`]. It stops when the last test holding
    /// it ends (a later test starts a new one), so no Java process outlives the tests.
    pub async fn shared_or_skip(test: &str) -> Option<Arc<ZipkinServer>> {
        static SHARED: tokio::sync::Mutex<Weak<ZipkinServer>> =
            tokio::sync::Mutex::const_new(Weak::new());
        let mut shared = SHARED.lock().await;
        if let Some(server) = shared.upgrade() {
            return Some(server);
        }
        let server = Arc::new(ZipkinServer::start_or_skip(test, &[]).await?);
        *shared = Arc::downgrade(&server);
        Some(server)
    }

    /// Runs `scenario` on a task of its own and, if it fails or panics, panics with its
    /// message followed by this Zipkin's last 40 log lines, which often say why.
    pub async fn assert_scenario<F>(&self, name: &str, scenario: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let failure = match tokio::spawn(scenario).await {
            Ok(Ok(())) => return,
            Ok(Err(error)) => format!("{error:#}"),
            Err(join) => match join.try_into_panic() {
                Ok(payload) => payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| {
                        payload
                            .downcast_ref::<&str>()
                            .map(|text| (*text).to_owned())
                    })
                    .unwrap_or_else(|| "a panic without a message".to_owned()),
                Err(error) => error.to_string(),
            },
        };
        panic!(
            "{name} failed against Zipkin at {}:\n{failure}\n--- Zipkin's last 40 log lines:\n{}",
            self.base_url,
            self.log_tail(40)
        );
    }

    /// Where it serves, `http://127.0.0.1:{port}` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A client of its query API, which also names its span endpoint.
    pub fn api(&self) -> ZipkinApi {
        ZipkinApi::new(self.base_url.clone())
    }

    /// The last `lines` lines it logged (stdout and stderr), for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.folder.join("zipkin.log")).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Stops it now: kills the process and waits for it (what dropping it does).
    pub fn stop(self) {}

    async fn wait_healthy(&mut self, port: u16) -> anyhow::Result<()> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .context("cannot build an HTTP client")?;
        let health = format!("{}/health", self.base_url);
        let give_up_at = tokio::time::Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().context("cannot poll java")? {
                let log = self.log_tail(30);
                if log.contains("UnsupportedClassVersionError") {
                    return Err(EngineMissing(format!(
                        "the java on PATH is too old for Zipkin, which needs Java 17 or later ({status})"
                    ))
                    .into());
                }
                return Err(
                    anyhow::anyhow!("its last 30 log lines:\n{log}").context(format!(
                        "Zipkin on port {port} exited with {status} before it was healthy"
                    )),
                );
            }
            let last = match client.get(&health).send().await {
                Ok(response) if response.status() == reqwest::StatusCode::OK => return Ok(()),
                Ok(response) => format!("{health} answered {}", response.status()),
                Err(error) => format!("{health}: {error}"),
            };
            if tokio::time::Instant::now() >= give_up_at {
                return Err(
                    anyhow::anyhow!("its last 30 log lines:\n{}", self.log_tail(30)).context(
                        format!(
                            "Zipkin on port {port} was not healthy within {START_DEADLINE:?} (last: {last})"
                        ),
                    ),
                );
            }
            tokio::time::sleep(POLL_INTERVAL * 4).await;
        }
    }
}

impl Drop for ZipkinServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// Starts `java -jar jar` in `folder/work` (empty: Zipkin reads a
/// `zipkin-server.properties` from its working folder), logging to `folder/zipkin.log`.
fn spawn_java(jar: &Path, folder: &Path, port: u16, env: &[(&str, &str)]) -> anyhow::Result<Child> {
    let log = File::create(folder.join("zipkin.log")).context("cannot create zipkin.log")?;
    let work = folder.join("work");
    std::fs::create_dir(&work).context("cannot create Zipkin's working folder")?;
    let mut command = Command::new("java");
    command
        .args(JVM_FLAGS)
        .arg("-jar")
        .arg(jar)
        .current_dir(&work)
        .env_clear()
        .envs(
            INHERITED
                .iter()
                .filter_map(|key| Some((key, std::env::var_os(key)?))),
        )
        .envs(env.iter().copied())
        .env("QUERY_PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(log.try_clone().context("cannot share zipkin.log")?)
        .stderr(log);
    match command.spawn() {
        Ok(child) => Ok(child),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(EngineMissing(
            "java is not on PATH (Zipkin needs Java 17 or later)".to_owned(),
        )
        .into()),
        Err(error) => Err(error).context("cannot start java"),
    }
}

/// A new, empty folder `itests-{engine}-...` under the system's temporary folder, unique
/// to one server: `create_dir` fails rather than reuse a folder another test binary made.
pub(crate) fn fresh_folder(engine: &str) -> anyhow::Result<PathBuf> {
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
