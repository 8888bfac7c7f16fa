//! The reporter a service holds: one handle type, whatever carries its batches.
//!
//! [`AsyncReporter`] is the shared batching pipeline (queue, batches, retries, counters,
//! flush) with one transport at its end, chosen by [`Destination`]: HTTP always, RabbitMQ
//! and Kafka when the crate is built with the `rabbitmq` or `kafka` feature. The name is
//! Brave's: its `AsyncReporter` plays the same part in front of a `Sender`.

use std::time::Duration;

use super::Report;
use super::batching::{Batching, Pipeline, ReporterStats, Transport};
use super::http::{HttpTransport, parse_http_url};
use crate::record::FinishedSpan;

/// POSTs in flight at once, at most, each on a keep-alive connection of its own: while the
/// collector reads one batch, the other senders encode and send the next ones. Brave's
/// `OkHttpSender` allows 64; a few are enough to keep the senders busy. Brokers take one
/// batch at a time over their one connection.
const HTTP_IN_FLIGHT: usize = 4;

/// Where an [`AsyncReporter`] delivers its batches, each a JSON list of v2 spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `POST` to a Zipkin server's `/api/v2/spans`, e.g. `http://127.0.0.1:9411/api/v2/spans`.
    Http(String),
    /// Publish one message per batch to a RabbitMQ queue, which Zipkin's RabbitMQ
    /// collector reads.
    #[cfg(feature = "rabbitmq")]
    RabbitMq {
        /// The broker, `amqp://user:password@host:port/vhost` (see [`crate::parse_amqp_uri`]).
        uri: String,
        /// The queue, `zipkin` in Zipkin's defaults.
        queue: String,
    },
    /// Produce one record per batch to a Kafka topic, which Zipkin's Kafka collector reads.
    #[cfg(feature = "kafka")]
    Kafka {
        /// The brokers to start from, `host:port[,host:port...]`.
        bootstrap_servers: String,
        /// The topic, `zipkin` in Zipkin's defaults.
        topic: String,
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

/// Settings of an [`AsyncReporter`]. The defaults follow the project's reporter rules.
#[derive(Debug, Clone)]
pub struct ReporterConfig {
    /// Where batches go.
    pub destination: Destination,
    /// Spans handed off and not yet sent or given up (waiting, or in the batches being
    /// delivered), at most; more are dropped and counted. Default 10,000.
    pub queue_capacity: usize,
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
            batch_size: 100,
            batch_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            retry_window: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }

    /// The default settings for POSTing to `endpoint`: `new(Destination::Http(endpoint))`.
    pub fn http(endpoint: impl Into<String>) -> Self {
        ReporterConfig::new(Destination::Http(endpoint.into()))
    }
}

/// The reporter cannot start with this configuration.
#[derive(Debug, thiserror::Error)]
pub enum ReporterError {
    /// The destination is malformed: not an `http://` URL, an `amqp://` URI, a
    /// `host:port` list, or a legal queue or topic name.
    #[error("invalid destination {destination:?}: {reason}")]
    BadDestination {
        /// The destination as given.
        destination: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A size setting is zero.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// The sending thread or its runtime could not be started.
    #[error("cannot start the reporter's thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Sends spans to Zipkin in the background, over the transport its [`Destination`] names.
///
/// The sending runs on threads of its own (all named `zipkin-reporter`), with their own
/// tokio runtime: encoding and sending spans then never take a turn from the service's
/// request handlers, as with Brave's `AsyncReporter` and OpenTelemetry's batch processor.
/// One thread drains the lanes; senders, one per core up to one per batch in flight,
/// encode and deliver the batches ([`AsyncReporter::threads`]). A broker is connected to
/// when the first batch is due, so starting never waits for one. Clones share the lanes
/// spans wait in; the threads end when the last clone is gone and every lane is empty.
#[derive(Debug, Clone)]
pub struct AsyncReporter {
    pipeline: Pipeline,
}

impl AsyncReporter {
    /// Checks `config` and starts the sending thread. It does not connect: an unreachable
    /// collector or broker is an outage of the running reporter, not a start-up error.
    pub fn start(config: ReporterConfig) -> Result<Self, ReporterError> {
        if config.queue_capacity == 0 {
            return Err(ReporterError::Zero("queue capacity"));
        }
        if config.batch_size == 0 {
            return Err(ReporterError::Zero("batch size"));
        }
        let bad = |reason: String| ReporterError::BadDestination {
            destination: config.destination.to_string(),
            reason,
        };
        let timeout = config.request_timeout;
        match &config.destination {
            Destination::Http(endpoint) => {
                let url = parse_http_url(endpoint).map_err(bad)?;
                let transport = HttpTransport::new(url, timeout)?;
                // Clones share one client, and so its pool of keep-alive connections.
                start_with(&config, vec![transport; HTTP_IN_FLIGHT])
            }
            #[cfg(feature = "rabbitmq")]
            Destination::RabbitMq { uri, queue } => {
                let uri = super::destination::parse_amqp_uri(uri).map_err(bad)?;
                let queue = super::destination::parse_queue_name(queue).map_err(bad)?;
                let transport = super::rabbitmq::RabbitMqTransport::new(uri, queue, timeout);
                start_with(&config, vec![transport])
            }
            #[cfg(feature = "kafka")]
            Destination::Kafka {
                bootstrap_servers,
                topic,
            } => {
                let servers =
                    super::destination::parse_bootstrap_servers(bootstrap_servers).map_err(bad)?;
                let topic = super::destination::parse_topic_name(topic).map_err(bad)?;
                let transport = super::kafka::KafkaTransport::new(servers, topic, timeout);
                start_with(&config, vec![transport])
            }
        }
    }

    /// How many threads send for this reporter, all named `zipkin-reporter`: its own,
    /// which drains the lanes, and one per sender (one per core, up to one per batch in
    /// flight). A benchmark adds up their CPU time.
    pub fn threads(&self) -> usize {
        self.pipeline.threads()
    }

    /// The counters so far.
    pub fn stats(&self) -> ReporterStats {
        self.pipeline.stats()
    }

    /// Sends what is queued now and waits until every span queued before this call has
    /// been sent or given up, for at most `timeout`. Returns `false` on timeout.
    pub async fn flush(&self, timeout: Duration) -> bool {
        self.pipeline.flush(timeout).await
    }
}

/// Starts the pipeline of `config` with `transports` at its end, one batch in flight on
/// each.
fn start_with<T: Transport>(
    config: &ReporterConfig,
    transports: Vec<T>,
) -> Result<AsyncReporter, ReporterError> {
    let batching = Batching {
        batch_size: config.batch_size,
        batch_interval: config.batch_interval,
        retry_window: config.retry_window,
        initial_backoff: config.initial_backoff,
        max_backoff: config.max_backoff,
    };
    let pipeline = Pipeline::start(
        config.queue_capacity,
        batching,
        transports,
        "zipkin-reporter",
    )
    .map_err(ReporterError::Thread)?;
    Ok(AsyncReporter { pipeline })
}

impl Report for AsyncReporter {
    fn report(&self, span: FinishedSpan) {
        self.pipeline.hand_off(span);
    }
}
