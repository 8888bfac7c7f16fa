//! Whatever receives a transport's batches, behind one interface, so that one test can run
//! against every transport from a table: a collector for HTTP, a broker for RabbitMQ and
//! Kafka.
//!
//! Each engine is created with its address fixed but not yet serving, so that services
//! can start before it; [`TransportEngine::start`] brings it up and
//! [`TransportEngine::stop`] makes an outage. For HTTP an outage is the collector
//! answering 503 (a collector that refuses connections is `collector_down.rs`'s case); for
//! a broker, the broker process stops and later starts again on the same port and data.

use anyhow::Context as _;
use zipkin_reporter::Destination;

use crate::collector_double::{ACCEPTED, CollectorDouble};
use crate::engines::kafka::Kafka;
use crate::engines::rabbitmq::RabbitMq;

/// The transports, as `ZIPKIN_TRANSPORT` names them.
pub const TRANSPORTS: [&str; 3] = ["http", "rabbitmq", "kafka"];

/// The receiving end of one transport.
#[derive(Debug)]
pub enum TransportEngine {
    /// A Zipkin collector: down (refusing connections) until first started; `None` only
    /// while it comes up.
    Http(Option<CollectorDouble>),
    /// A RabbitMQ node.
    RabbitMq(RabbitMq),
    /// A Kafka broker.
    Kafka(Kafka),
}

impl TransportEngine {
    /// The engine for `transport` (one of [`TRANSPORTS`]), not started, under the engine
    /// policy: `None`, after one line naming `test`, where its broker is not installed
    /// and `CI` is not set.
    pub fn new_or_skip(transport: &str, test: &str) -> Option<TransportEngine> {
        match transport {
            "http" => {
                let down = CollectorDouble::down().expect("a free local port");
                Some(TransportEngine::Http(Some(down)))
            }
            "rabbitmq" => RabbitMq::new_or_skip(test).map(TransportEngine::RabbitMq),
            "kafka" => Kafka::new_or_skip(test).map(TransportEngine::Kafka),
            other => panic!("no transport named {other:?}"),
        }
    }

    /// Where a reporter sends to this engine.
    pub fn destination(&self) -> Destination {
        match self {
            TransportEngine::Http(collector) => {
                let collector = collector
                    .as_ref()
                    .expect("the collector is there between starts");
                Destination::Http(
                    collector
                        .endpoint()
                        .parse()
                        .expect("an http URL with a path"),
                )
            }
            TransportEngine::RabbitMq(broker) => broker.destination(),
            TransportEngine::Kafka(broker) => broker.destination(),
        }
    }

    /// `127.0.0.1:{port}`, which the reporter's log lines about it contain.
    pub fn address(&self) -> String {
        let destination = self.destination().to_string();
        let start = destination.find("127.0.0.1:").unwrap_or(0);
        destination[start..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
            .collect()
    }

    /// Brings it up (again), ready to take batches.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        match self {
            TransportEngine::Http(slot) => {
                let collector = slot.take().context("the collector did not come up")?;
                *slot = Some(if collector.is_up() {
                    collector.answer(ACCEPTED);
                    collector
                } else {
                    collector.come_up(ACCEPTED).await?
                });
                Ok(())
            }
            TransportEngine::RabbitMq(broker) => broker.start().await,
            TransportEngine::Kafka(broker) => broker.start().await,
        }
    }

    /// Takes it down: every delivery fails until [`TransportEngine::start`].
    pub fn stop(&mut self) {
        match self {
            TransportEngine::Http(collector) => {
                if let Some(collector) = collector {
                    collector.answer(503);
                }
            }
            TransportEngine::RabbitMq(broker) => broker.stop(),
            TransportEngine::Kafka(broker) => broker.stop(),
        }
    }

    /// Its last log lines (none for HTTP), for failure messages.
    pub fn log_tail(&self) -> String {
        match self {
            TransportEngine::Http(_) => String::new(),
            TransportEngine::RabbitMq(broker) => broker.log_tail(30),
            TransportEngine::Kafka(broker) => broker.log_tail(30),
        }
    }
}
