//! A private RabbitMQ node, from Debian's `rabbitmq-server` package, for one test.
//!
//! The node runs as the test's own user from `/usr/lib/rabbitmq/bin/rabbitmq-server`
//! (Debian's `/usr/sbin` wrapper would switch to the `rabbitmq` user and its system
//! folders), with every folder in a fresh temporary one, a unique node name, and free
//! ports for AMQP, Erlang distribution and its own `epmd`, so it never meets the system's
//! node or another test's. Without plugins it accepts connections in about 15 s here.

use std::process::{Command, Stdio};

use zipkin_reporter::Destination;

use super::process::{EngineProcess, free_port, fresh_folder, retry_port_taken, write_file};
use super::{EngineMissing, or_skip};

/// Debian's server script, run directly (see the module doc).
const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

/// What a skipped test's line says to run first.
const INSTALL: &str = "apt-get install rabbitmq-server";

/// A RabbitMQ node on private ports: stopped until [`RabbitMq::start`], stopped again
/// (with its `epmd`) and its folder removed on drop.
#[derive(Debug)]
pub struct RabbitMq {
    process: EngineProcess,
    epmd_port: u16,
}

impl RabbitMq {
    /// Chooses its ports and folders without starting it, so that a test can give its
    /// address to services before the node is up.
    pub fn new() -> anyhow::Result<RabbitMq> {
        if !std::path::Path::new(SERVER).is_file() {
            let why = format!("RabbitMQ is not installed ({SERVER} not found)");
            return Err(EngineMissing(why).into());
        }
        let folder = fresh_folder("rabbitmq")?;
        let (port, dist_port, epmd_port) = (free_port()?, free_port()?, free_port()?);
        // `guest` may log in over loopback, which is where the tests connect from.
        let config = write_file(&folder, "rabbitmq.conf", "loopback_users.guest = false\n")?;
        let plugins = write_file(&folder, "enabled_plugins", "[].\n")?;
        let path = |name: &str| folder.join(name).into_os_string();
        let node = format!(
            "itests-{}-{}@localhost",
            std::process::id(),
            folder
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into())
        );
        let process = EngineProcess::new("RabbitMQ", port, folder.clone(), SERVER)
            .env("HOME", folder.clone())
            .env("RABBITMQ_NODENAME", node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", port.to_string())
            .env("RABBITMQ_DIST_PORT", dist_port.to_string())
            .env("ERL_EPMD_PORT", epmd_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", path("mnesia"))
            .env("RABBITMQ_LOG_BASE", path("log"))
            .env("RABBITMQ_LOGS", "-")
            .env("RABBITMQ_CONFIG_FILE", config)
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", plugins)
            .env("RABBITMQ_FEATURE_FLAGS_FILE", path("feature_flags"));
        Ok(RabbitMq { process, epmd_port })
    }

    /// A node started and accepting connections; ports taken in the meantime are chosen
    /// again.
    pub async fn started() -> anyhow::Result<RabbitMq> {
        retry_port_taken(|| async {
            let mut broker = RabbitMq::new()?;
            broker.start().await?;
            Ok(broker)
        })
        .await
    }

    /// [`RabbitMq::started`] under the engine policy ([`or_skip`]).
    pub async fn started_or_skip(test: &str) -> Option<RabbitMq> {
        or_skip(test, "RabbitMQ", INSTALL, RabbitMq::started().await)
    }

    /// [`RabbitMq::new`] under the same policy.
    pub fn new_or_skip(test: &str) -> Option<RabbitMq> {
        or_skip(test, "RabbitMQ", INSTALL, RabbitMq::new())
    }

    /// Starts the node (again, after [`RabbitMq::stop`], with the same data and ports)
    /// and waits until it accepts connections.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        self.process.start().await
    }

    /// Stops the node, as an outage would; [`RabbitMq::start`] brings it back.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Its AMQP URI with the default user, `amqp://guest:guest@127.0.0.1:{port}`: what
    /// `RABBIT_URI` is set to, for the services and for Zipkin.
    pub fn uri(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}", self.process.port())
    }

    /// Where a reporter publishes to the queue `zipkin` on this node.
    pub fn destination(&self) -> Destination {
        Destination::RabbitMq {
            uri: self.uri().parse().expect("a node's URI parses"),
            queue: "zipkin".parse().expect("a legal queue name"),
        }
    }

    /// The last `lines` lines it logged, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }
}

impl Drop for RabbitMq {
    fn drop(&mut self) {
        self.process.stop();
        // The node started an `epmd` daemon on its private port, outside its process
        // group: end it too.
        let _ = Command::new("epmd")
            .arg("-kill")
            .env("ERL_EPMD_PORT", self.epmd_port.to_string())
            .current_dir(self.process.folder())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
