//! The Kafka transport: each batch is one record on a topic that Zipkin's Kafka collector
//! reads (`KAFKA_BOOTSTRAP_SERVERS`, `KAFKA_TOPIC`).
//!
//! Like Brave's `KafkaSender`, it sends each encoded batch (a JSON list of v2 spans) as one
//! record without a key, and leaves creating the topic to the broker's automatic topic
//! creation. The records go to partition 0: one partition is what an automatically created
//! topic has by default, and Zipkin's collector reads every partition alike. The batches
//! queued when a send starts go together, a record each, in one produce request of up to
//! about [`JOIN_BYTES`](KafkaTransport::JOIN_BYTES), as Kafka's own producer gathers
//! records per partition.
//!
//! The client is `rskafka`: pure Rust on tokio, so it builds on a fresh machine with
//! nothing installed by hand (the `rdkafka` crate needs librdkafka, built with cmake and a
//! C compiler), maintained by InfluxData for their own use. It is built without its
//! compression features, which would pull in C code (zstd, lz4); batches go uncompressed.
//! It sets no `TCP_NODELAY`, so a produce request smaller than a TCP segment waits for the
//! broker's delayed ACK (about 40 ms): one batch of 100 spans per request held a reporter
//! to about 2,200 spans/s. Under load the queued batches fill requests far larger than
//! that, which never wait (BENCHMARKS.md).
//! It logs every failed connection attempt at `WARN`; the services' log filter keeps it to
//! errors, since the pipeline reports an outage once itself.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use rskafka::BackoffConfig;
use rskafka::client::ClientBuilder;
use rskafka::client::error::{Error, ProtocolError};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::record::Record;

use crate::delivery::{Attempt, Transport};
use crate::destination::{BootstrapServers, TopicName};

/// Produces batches to partition 0 of one topic; connects on first use and again after a
/// failure.
pub(crate) struct KafkaTransport {
    servers: BootstrapServers,
    topic: TopicName,
    timeout: Duration,
    /// The partition's client, while it works. Dropped on any failure.
    partition: Option<PartitionClient>,
}

impl KafkaTransport {
    /// A transport to `topic` on the cluster that `servers` belong to; each attempt,
    /// connecting included, gives up after `timeout`.
    pub(crate) fn new(servers: BootstrapServers, topic: TopicName, timeout: Duration) -> Self {
        KafkaTransport {
            servers,
            topic,
            timeout,
            partition: None,
        }
    }

    async fn connect(&self) -> Result<PartitionClient, Error> {
        // rskafka retries on its own, with backoff; its deadline, shorter than the attempt's,
        // ends its retries with their cause ("Connection refused") rather than a timeout,
        // and leaves retrying to the pipeline.
        let backoff = BackoffConfig {
            deadline: Some(self.timeout.mul_f64(0.8)),
            ..BackoffConfig::default()
        };
        let client = ClientBuilder::new(self.servers.0.clone())
            .client_id("zipkin-reporter")
            .backoff_config(backoff)
            .build()
            .await?;
        // `Retry`: the first metadata request makes the broker create the topic, which
        // then takes a moment to have a leader.
        client
            .partition_client(self.topic.0.clone(), 0, UnknownTopicHandling::Retry)
            .await
    }

    /// Opens (and closes) a TCP connection to the first bootstrap server that takes one.
    /// rskafka retries a refused connection until its deadline; checked here first, a
    /// broker that is down fails the attempt at once, and the pipeline's backoff decides
    /// when to try again.
    async fn reach_a_broker(&self) -> Result<(), String> {
        let mut reasons = Vec::new();
        for server in &self.servers.0 {
            let connect = tokio::net::TcpStream::connect(server.as_str());
            match tokio::time::timeout(self.timeout, connect).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(error)) => reasons.push(format!("{server}: {error}")),
                Err(_) => reasons.push(format!("{server}: no answer within {:?}", self.timeout)),
            }
        }
        Err(reasons.join("; "))
    }

    async fn produce(&mut self, batches: &[Bytes]) -> Result<(), Error> {
        if self.partition.is_none() {
            self.partition = Some(self.connect().await?);
        }
        let partition = self.partition.as_ref().expect("connected just above");
        let timestamp = now();
        let records = batches
            .iter()
            .map(|batch| Record {
                key: None,
                value: Some(batch.to_vec()),
                headers: BTreeMap::new(),
                timestamp,
            })
            .collect();
        partition
            .produce(records, Compression::NoCompression)
            .await
            .map(drop)
    }
}

/// The wall-clock time, for the record's timestamp (rskafka's `chrono` is built without
/// its clock).
fn now() -> rskafka::chrono::DateTime<rskafka::chrono::Utc> {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rskafka::chrono::DateTime::from_timestamp(
        since_epoch.as_secs() as i64,
        since_epoch.subsec_nanos(),
    )
    .unwrap_or_default()
}

impl Transport for KafkaTransport {
    /// Half of the broker's default limit on one produce request's records
    /// (`message.max.bytes`, about 1 MB): a send stops taking batches once it carries
    /// this much, so one more batch cannot take it over the limit.
    const JOIN_BYTES: usize = 512 * 1024;

    fn destination(&self) -> String {
        format!("kafka://{} topic {}", self.servers, self.topic)
    }

    async fn send(&mut self, batches: &[Bytes]) -> Attempt {
        if self.partition.is_none()
            && let Err(reason) = self.reach_a_broker().await
        {
            return Attempt::Failed(reason);
        }
        let outcome = tokio::time::timeout(self.timeout, self.produce(batches)).await;
        let error = match outcome {
            Ok(Ok(())) => return Attempt::Sent,
            Ok(Err(error)) => error,
            Err(_) => {
                self.partition = None;
                return Attempt::Failed(format!("no answer within {:?}", self.timeout));
            }
        };
        self.partition = None;
        match &error {
            // The broker will never take a record this large: retrying cannot help.
            Error::ServerError {
                protocol_error: ProtocolError::MessageTooLarge | ProtocolError::RecordListTooLarge,
                ..
            } => Attempt::Rejected(error.to_string()),
            _ => Attempt::Failed(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_connection_fails_the_attempt_at_once_not_at_the_timeout() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("bound").port()
        };
        let servers = format!("127.0.0.1:{port}").parse().expect("a server list");
        let topic = "zipkin".parse().expect("a topic");
        let mut transport = KafkaTransport::new(servers, topic, Duration::from_secs(30));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime starts");
        let started = std::time::Instant::now();
        let attempt = runtime.block_on(transport.send(&[Bytes::from_static(b"[]")]));
        let Attempt::Failed(reason) = attempt else {
            panic!("nothing listens on {port}: the attempt must fail");
        };
        assert!(reason.contains("refused"), "{reason}");
        // Well under the 30 s the attempt may take: rskafka's own retries are not waited.
        assert!(started.elapsed() < Duration::from_secs(10), "{reason}");
    }
}
