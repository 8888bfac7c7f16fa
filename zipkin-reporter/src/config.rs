//! A reporter's settings: where its batches go ([`Destination`]), how large its queue and
//! batches are, and how long it retries ([`ReporterConfig`]).
//!
//! The defaults: at most 10,000 spans and 16 MiB held and a batch sent at least every
//! second, as in Brave's `AsyncReporter` (which bounds its queue by spans and by bytes);
//! batches of at most 100 spans, each retried for up to 30 s with
//! pauses doubling from 100 ms to 5 s.

use std::time::Duration;

use crate::destination::HttpEndpoint;
#[cfg(feature = "rabbitmq")]
use crate::destination::{AmqpUri, QueueName};
#[cfg(feature = "kafka")]
use crate::destination::{BootstrapServers, TopicName};

/// Where an [`AsyncReporter`](crate::AsyncReporter) delivers its batches, each a JSON list
/// of v2 spans. Its parts are parsed already, so starting a reporter parses nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `POST` to a Zipkin server's `/api/v2/spans`, e.g. `http://127.0.0.1:9411/api/v2/spans`.
    Http(HttpEndpoint),
    /// Publish one message per batch to a RabbitMQ queue, which Zipkin's RabbitMQ
    /// collector reads.
    #[cfg(feature = "rabbitmq")]
    RabbitMq {
        /// The broker.
        uri: AmqpUri,
        /// The queue, `zipkin` in Zipkin's defaults.
        queue: QueueName,
    },
    /// Produce one record per batch to a Kafka topic, which Zipkin's Kafka collector reads.
    #[cfg(feature = "kafka")]
    Kafka {
        /// The brokers to start from.
        bootstrap_servers: BootstrapServers,
        /// The topic, `zipkin` in Zipkin's defaults.
        topic: TopicName,
    },
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Http(endpoint) => write!(f, "{endpoint}"),
            #[cfg(feature = "rabbitmq")]
            Destination::RabbitMq { uri, queue } => write!(f, "queue {queue} at {uri}"),
            #[cfg(feature = "kafka")]
            Destination::Kafka {
                bootstrap_servers,
                topic,
            } => write!(f, "topic {topic} at {bootstrap_servers}"),
        }
    }
}

/// Settings of an [`AsyncReporter`](crate::AsyncReporter); [`ReporterConfig::new`] gives the
/// defaults.
#[derive(Debug, Clone)]
pub struct ReporterConfig {
    /// Where batches go.
    pub destination: Destination,
    /// Spans handed off and not yet sent or given up (waiting, or in the batches being
    /// delivered), at most; more are dropped and counted. Default 10,000.
    pub queue_capacity: usize,
    /// The memory those spans take, at most, in bytes: each span counts its record and the
    /// text it carries (name, tags, annotations). A span that would go over it is dropped
    /// and counted, so a few huge spans cannot hold what 10,000 ordinary ones would not.
    /// Default 16 MiB (an ordinary span is about 500 bytes).
    pub queue_max_bytes: usize,
    /// Spans per batch (one POST or message), at most. Default 100.
    pub batch_size: usize,
    /// How long a span waits, at most, for a batch to fill before what is queued is sent.
    /// Default 1 s.
    pub batch_interval: Duration,
    /// Time limit of one delivery attempt (a POST, a publish, a produce), connecting
    /// included. Default 5 s.
    pub request_timeout: Duration,
    /// How long a batch is retried after failures before it is given up. Default 30 s.
    pub retry_window: Duration,
    /// The first pause between retries; it doubles up to `max_backoff`. Default 100 ms.
    pub initial_backoff: Duration,
    /// The longest pause between retries. Default 5 s.
    pub max_backoff: Duration,
}

impl ReporterConfig {
    /// The default settings for `destination`.
    pub fn new(destination: Destination) -> Self {
        ReporterConfig {
            destination,
            queue_capacity: 10_000,
            queue_max_bytes: 16 * 1024 * 1024,
            batch_size: 100,
            batch_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            retry_window: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }

    /// The default settings for POSTing to `endpoint`: `new(Destination::Http(endpoint))`.
    pub fn http(endpoint: HttpEndpoint) -> Self {
        ReporterConfig::new(Destination::Http(endpoint))
    }
}
