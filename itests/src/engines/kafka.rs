//! A private single-node Kafka broker in KRaft mode (broker and controller in one process,
//! no ZooKeeper), from the Apache Kafka jars that `scripts/kafka-broker fetch` resolves
//! from Maven Central into `.cache/kafka/`.
//!
//! The broker runs `kafka.Kafka` under Java on a classpath of those jars, with free ports
//! for clients and for its controller and its log folder in a fresh temporary one. Topics
//! are created on first use (`auto.create.topics.enable`), with one partition, as Brave's
//! sender and Zipkin's collector expect. It accepts connections in about 6 s here.

use std::ffi::OsString;
use std::hash::{BuildHasher as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context as _;
use base64::Engine as _;
use zipkin_reporter::Destination;

use super::process::{EngineProcess, free_port, fresh_folder, retry_port_taken, write_file};
use super::zipkin::JVM_FLAGS;
use super::{EngineMissing, or_skip};

/// What a skipped test's line says to run first.
const FETCH: &str = "scripts/kafka-broker fetch";

/// A Kafka broker on private ports: stopped until [`Kafka::start`], stopped again and its
/// folder removed on drop.
#[derive(Debug)]
pub struct Kafka {
    process: EngineProcess,
    classpath: OsString,
    formatted: bool,
}

impl Kafka {
    /// Chooses its ports and folder and writes its settings without starting it, so that
    /// a test can give its address to services before the broker is up.
    pub fn new() -> anyhow::Result<Kafka> {
        let classpath = cached_classpath()?;
        let java_runs = Command::new("java")
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !java_runs {
            return Err(
                EngineMissing("java is not on PATH (Kafka needs Java 11 or later)".into()).into(),
            );
        }
        let folder = fresh_folder("kafka")?;
        let (port, controller_port) = (free_port()?, free_port()?);
        let settings = format!(
            "process.roles=broker,controller\n\
             node.id=1\n\
             controller.quorum.voters=1@127.0.0.1:{controller_port}\n\
             listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}\n\
             advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
             controller.listener.names=CONTROLLER\n\
             inter.broker.listener.name=PLAINTEXT\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
             log.dirs={data}\n\
             num.partitions=1\n\
             auto.create.topics.enable=true\n\
             offsets.topic.replication.factor=1\n\
             transaction.state.log.replication.factor=1\n\
             transaction.state.log.min.isr=1\n\
             group.initial.rebalance.delay.ms=0\n",
            data = folder.join("data").display()
        );
        let properties = write_file(&folder, "server.properties", &settings)?;
        let process = EngineProcess::new("Kafka", port, folder, "java")
            .args(JVM_FLAGS)
            .args([
                OsString::from("-cp"),
                classpath.clone(),
                "kafka.Kafka".into(),
                properties.into_os_string(),
            ])
            .env("KAFKA_HEAP_OPTS", "-Xmx512m");
        Ok(Kafka {
            process,
            classpath,
            formatted: false,
        })
    }

    /// A broker started and accepting connections; ports taken in the meantime are
    /// chosen again.
    pub async fn started() -> anyhow::Result<Kafka> {
        retry_port_taken(|| async {
            let mut broker = Kafka::new()?;
            broker.start().await?;
            Ok(broker)
        })
        .await
    }

    /// [`Kafka::started`] under the engine policy ([`or_skip`]).
    pub async fn started_or_skip(test: &str) -> Option<Kafka> {
        or_skip(test, "the Kafka broker", FETCH, Kafka::started().await)
    }

    /// [`Kafka::new`] under the same policy.
    pub fn new_or_skip(test: &str) -> Option<Kafka> {
        or_skip(test, "the Kafka broker", FETCH, Kafka::new())
    }

    /// Starts the broker (again, after [`Kafka::stop`], with the same data and ports) and
    /// waits until it accepts connections. The first start formats its storage with a
    /// new random cluster id, as KRaft requires.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        if !self.formatted {
            self.format().await?;
            self.formatted = true;
        }
        self.process.start().await
    }

    async fn format(&self) -> anyhow::Result<()> {
        let mut command = Command::new("java");
        command
            .args(JVM_FLAGS)
            .arg("-cp")
            .arg(&self.classpath)
            .args([
                "kafka.tools.StorageTool",
                "format",
                "-t",
                &random_cluster_id(),
                "-c",
            ])
            .arg(self.process.folder().join("server.properties"))
            .stdin(Stdio::null());
        let output = tokio::task::spawn_blocking(move || command.output())
            .await?
            .context("cannot run Kafka's StorageTool")?;
        anyhow::ensure!(
            output.status.success(),
            "Kafka's StorageTool failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }

    /// Stops the broker, as an outage would; [`Kafka::start`] brings it back.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Its address, `127.0.0.1:{port}`: what `KAFKA_BOOTSTRAP_SERVERS` is set to, for the
    /// services and for Zipkin.
    pub fn bootstrap_servers(&self) -> String {
        format!("127.0.0.1:{}", self.process.port())
    }

    /// Where a reporter produces to the topic `zipkin` on this broker.
    pub fn destination(&self) -> Destination {
        Destination::Kafka {
            bootstrap_servers: self.bootstrap_servers().parse().expect("host:port"),
            topic: "zipkin".parse().expect("a legal topic name"),
        }
    }

    /// The last `lines` lines it logged, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }
}

/// A KRaft cluster id: 16 random bytes in URL-safe base64 without padding (22 letters).
///
/// Kafka's `StorageTool` reads an id starting with `-` as an option, and URL-safe base64
/// writes `-` for the value 62 of a byte's top six bits. The first byte's top bit is
/// cleared, so the first letter is one of `A`..`Z`, `a`..`f`, as Kafka's own
/// `Uuid.randomUuid` ensures by drawing again.
fn random_cluster_id() -> String {
    let mut bytes = Vec::with_capacity(16);
    for _ in 0..2 {
        // Each `RandomState` is seeded afresh from the operating system's randomness.
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        bytes.extend(hasher.finish().to_le_bytes());
    }
    bytes[0] &= 0x7f;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The classpath of the jars `scripts/kafka-broker fetch` put in `.cache/kafka/`, whose
/// folder is named from the versions pinned in that script. Never downloads.
fn cached_classpath() -> anyhow::Result<OsString> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = std::fs::read_to_string(root.join("scripts/kafka-broker"))
        .context("cannot read scripts/kafka-broker")?;
    let pinned = |name: &str| {
        script
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}=\"")))
            .and_then(|rest| rest.strip_suffix('"'))
            .with_context(|| format!("scripts/kafka-broker pins no {name}"))
    };
    let folder = root.join(format!(
        ".cache/kafka/{}-slf4j-{}/libs",
        pinned("KAFKA_VERSION")?,
        pinned("SLF4J_VERSION")?
    ));
    if !folder.join(".complete").is_file() {
        return Err(
            EngineMissing(format!("the Kafka jars are not in {}", folder.display())).into(),
        );
    }
    let jars: Vec<PathBuf> = std::fs::read_dir(&folder)
        .with_context(|| format!("cannot list {}", folder.display()))?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "jar"))
        .collect();
    std::env::join_paths(jars).context("a jar's path cannot be on a classpath")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_never_start_like_an_option_and_hold_16_bytes() {
        let ids: Vec<String> = (0..20_000).map(|_| random_cluster_id()).collect();
        for id in &ids {
            assert!(!id.starts_with('-'), "{id} would be read as an option");
            assert!(id.starts_with(|c: char| c.is_ascii_alphabetic()), "{id}");
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(id)
                .unwrap_or_default();
            assert_eq!(bytes.len(), 16, "{id} is not 16 bytes of URL-safe base64");
        }
        let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "ids repeat");
    }
}
