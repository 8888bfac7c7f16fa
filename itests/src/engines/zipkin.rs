//! The real Zipkin server, run from its exec jar by Java, and what that jar itself holds,
//! read at run time so that nothing the jar owns is copied here and goes stale.
//!
//! [`ZipkinServer::start`] runs the jar that `scripts/zipkin-server fetch` downloaded (or
//! `ZIPKIN_JAR`) on a free port from an empty working folder, until `GET /health`
//! answers 200. [`mysql_schema`] reads the tables Zipkin's MySQL storage expects (it never
//! creates them) and [`server_variables`] the environment variables its configuration
//! reads. A jar is a zip file; the `zip` crate reads it, so no `unzip` or `jar` is needed.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Cursor, Read as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use anyhow::Context as _;

use super::process::{EngineProcess, Ready, free_port, fresh_folder, retry_port_taken};
use super::{EngineMissing, or_skip};
use crate::trace_source::ZipkinApi;

/// JVM flags that halve the start-up time on a small machine (no optimising compiler, one
/// GC thread) and bound the heap; the tests store a few hundred spans at most.
pub const JVM_FLAGS: [&str; 3] = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m"];

/// Zipkin's own configuration, with its environment placeholders.
const SHARED_CONFIG: &str = "BOOT-INF/classes/zipkin-server-shared.yml";

/// The nested jar of the MySQL storage (followed by its version and `.jar`).
const MYSQL_STORAGE_JAR: &str = "BOOT-INF/lib/zipkin-storage-mysql-v1-";

/// What a skipped test's line says to run first.
const FETCH: &str = "scripts/zipkin-server fetch";

/// The jar: `ZIPKIN_JAR` if set, else where `scripts/zipkin-server fetch` puts it (its
/// name is pinned beside its checksum in `scripts/zipkin-server.sha256`). Never downloads;
/// a missing jar is [`EngineMissing`].
pub fn jar_path() -> anyhow::Result<PathBuf> {
    if let Some(jar) = std::env::var_os("ZIPKIN_JAR") {
        let jar = PathBuf::from(jar);
        return if jar.is_file() {
            Ok(jar)
        } else {
            Err(EngineMissing(format!("ZIPKIN_JAR={} is not a file", jar.display())).into())
        };
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let pinned = std::fs::read_to_string(root.join("scripts/zipkin-server.sha256"))
        .context("cannot read scripts/zipkin-server.sha256")?;
    let name = pinned
        .split_whitespace()
        .nth(1)
        .context("scripts/zipkin-server.sha256 has no jar name after the checksum")?;
    let jar = root.join(".cache/zipkin-server").join(name);
    if jar.is_file() {
        Ok(jar)
    } else {
        let why = format!("the Zipkin jar is not at .cache/zipkin-server/{name}");
        Err(EngineMissing(why).into())
    }
}

/// [`jar_path`] under the engine policy ([`or_skip`]).
pub fn jar_or_skip(test: &str) -> Option<PathBuf> {
    or_skip(test, "the Zipkin jar", FETCH, jar_path())
}

/// A running Zipkin server; killed and its folder removed on drop.
#[derive(Debug)]
pub struct ZipkinServer {
    process: EngineProcess,
    base_url: String,
}

impl ZipkinServer {
    /// Starts Zipkin with `env` added to its environment (`STORAGE_TYPE`, ...) on a free
    /// port (`QUERY_PORT`), and waits until it is healthy.
    pub async fn start(env: &[(&str, &str)]) -> anyhow::Result<ZipkinServer> {
        ZipkinServer::start_jar(&jar_path()?, env).await
    }

    /// [`ZipkinServer::start`] with the jar at `jar` rather than the fetched one.
    pub async fn start_jar(jar: &Path, env: &[(&str, &str)]) -> anyhow::Result<ZipkinServer> {
        retry_port_taken(|| async move {
            let port = free_port()?;
            // An empty working folder: Zipkin reads a `zipkin-server.properties` there.
            let mut process = EngineProcess::new("Zipkin", port, fresh_folder("zipkin")?, "java")
                .args(JVM_FLAGS)
                .args(["-jar".into(), jar.as_os_str().to_owned()])
                .env("QUERY_PORT", port.to_string())
                .ready_when(Ready::Http(format!("http://127.0.0.1:{port}/health")));
            for (key, value) in env {
                process = process.env(key, value);
            }
            match process.start().await {
                Ok(()) => Ok(ZipkinServer {
                    process,
                    base_url: format!("http://127.0.0.1:{port}"),
                }),
                Err(error) if process.log().contains("UnsupportedClassVersionError") => {
                    Err(EngineMissing(format!(
                        "the java on PATH is too old for Zipkin, which needs Java 17 or later ({error})"
                    ))
                    .into())
                }
                Err(error) => Err(error),
            }
        })
        .await
    }

    /// [`ZipkinServer::start`] under the engine policy ([`or_skip`]).
    pub async fn start_or_skip(test: &str, env: &[(&str, &str)]) -> Option<ZipkinServer> {
        or_skip(
            test,
            "the real Zipkin server",
            FETCH,
            ZipkinServer::start(env).await,
        )
    }

    /// One Zipkin for all the tests of a test binary that run at the same time, under the
    /// same policy. It stops when the last test holding it ends (a later test starts a new
    /// one), so no Java process outlives the tests.
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
            self.base_url(),
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
        self.process.log_tail(lines)
    }

    /// Stops it now: kills the process and waits for it (what dropping it does).
    pub fn stop(self) {}
}

/// The MySQL schema (`CREATE TABLE ...` statements) that the jar at `jar` expects: the
/// `mysql.sql` of the `zipkin-storage-mysql-v1` jar nested under `BOOT-INF/lib/`.
pub fn mysql_schema(jar: &Path) -> anyhow::Result<String> {
    let mut exec = open(jar)?;
    let nested = exec
        .file_names()
        .filter_map(Result::ok)
        .find(|name| name.starts_with(MYSQL_STORAGE_JAR) && name.ends_with(".jar"))
        .map(|name| name.into_owned())
        .with_context(|| format!("{} has no {MYSQL_STORAGE_JAR}*.jar", jar.display()))?;
    let mut bytes = Vec::new();
    exec.by_name(&nested)?
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {nested}"))?;
    let mut storage = zip::ZipArchive::new(Cursor::new(bytes))
        .with_context(|| format!("{nested} is not a jar"))?;
    let schema = read_text(&mut storage, "mysql.sql").with_context(|| format!("in {nested}"))?;
    anyhow::ensure!(
        schema.contains("CREATE TABLE"),
        "{nested}: mysql.sql creates no table:\n{schema}"
    );
    Ok(schema)
}

/// The environment variables the server's configuration reads (`STORAGE_TYPE`,
/// `MYSQL_HOST`, `RABBIT_URI`, ...), from the placeholders in `zipkin-server-shared.yml`.
pub fn server_variables(jar: &Path) -> anyhow::Result<BTreeSet<String>> {
    let config = read_text(&mut open(jar)?, SHARED_CONFIG)?;
    let variables = placeholders(&config);
    anyhow::ensure!(
        variables.contains("STORAGE_TYPE"),
        "{SHARED_CONFIG} reads no STORAGE_TYPE: is it still Zipkin's configuration?"
    );
    Ok(variables)
}

/// The upper-case names in `${NAME}` and `${NAME:default}`, also nested in a default
/// (`${A:${B:x}}`). Lower-case ones (`${server.port}`) are Spring properties, not variables.
pub fn placeholders(text: &str) -> BTreeSet<String> {
    text.split("${")
        .skip(1)
        .filter_map(|rest| {
            let end = rest.find([':', '}'])?;
            let name = &rest[..end];
            let is_variable = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            is_variable.then(|| name.to_owned())
        })
        .collect()
}

fn open(jar: &Path) -> anyhow::Result<zip::ZipArchive<File>> {
    let file = File::open(jar).with_context(|| format!("cannot open {}", jar.display()))?;
    zip::ZipArchive::new(file).with_context(|| format!("{} is not a jar", jar.display()))
}

fn read_text<R: std::io::Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    name: &str,
) -> anyhow::Result<String> {
    let mut text = String::new();
    archive
        .by_name(name)
        .with_context(|| format!("no {name}"))?
        .read_to_string(&mut text)
        .with_context(|| format!("{name} is not UTF-8 text"))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_the_upper_case_names_also_nested_in_defaults() {
        let yml = "a: ${STORAGE_TYPE:mem}\nb: ${COLLECTOR_HTTP_ENABLED:${HTTP_COLLECTOR_ENABLED:true}}\n\
                   c: ${RABBIT_URI:}\nport: ${server.port}\nd: ${ES_HOSTS}\ne: $NOT_ONE";
        let found: Vec<String> = placeholders(yml).into_iter().collect();
        let expected = [
            "COLLECTOR_HTTP_ENABLED",
            "ES_HOSTS",
            "HTTP_COLLECTOR_ENABLED",
            "RABBIT_URI",
            "STORAGE_TYPE",
        ];
        assert_eq!(found, expected);
    }
}
