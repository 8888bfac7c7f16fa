//! The Kafka transport: each batch is one record on a topic that Zipkin's Kafka collector
//! reads (`KAFKA_BOOTSTRAP_SERVERS`, `KAFKA_TOPIC`).
//!
//! Like Brave's `KafkaSender`, it sends each encoded batch (a JSON list of v2 spans) as one
//! record without a key, and leaves creating the topic to the broker's automatic topic
//! creation. The records go to partition 0: one partition is what an automatically created
//! topic has by default, and Zipkin's collector reads every partition alike.
//!
//! The client is `rskafka`: pure Rust on tokio, so it builds on a fresh machine with
//! nothing installed by hand (the `rdkafka` crate needs librdkafka, built with cmake and a
//! C compiler), maintained by InfluxData for their own use. It is built without its
//! compression features, which would pull in C code (zstd, lz4); batches go uncompressed.
//! It sets no `TCP_NODELAY`, so a small produce request can wait for the broker's delayed
//! ACK (about 40 ms): with batches of 100 spans that limits one reporter to about 2,200
//! spans/s; larger batches avoid it (BENCHMARKS.md).
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

/// Produces batches to partition 0 of one topic; connects on first use and again after a
/// failure.
pub(crate) struct KafkaTransport {
    servers: Vec<String>,
    topic: String,
    timeout: Duration,
    /// The partition's client, while it works. Dropped on any failure.
    partition: Option<PartitionClient>,
}

impl KafkaTransport {
    /// A transport to `topic` on the cluster that `servers` belong to; each attempt,
    /// connecting included, gives up after `timeout`.
    pub(crate) fn new(servers: Vec<String>, topic: String, timeout: Duration) -> Self {
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
        let client = ClientBuilder::new(self.servers.clone())
            .client_id("zipkin-reporter")
            .backoff_config(backoff)
            .build()
            .await?;
        // `Retry`: the first metadata request makes the broker create the topic, which
        // then takes a moment to have a leader.
        client
            .partition_client(self.topic.clone(), 0, UnknownTopicHandling::Retry)
            .await
    }

    async fn produce(&mut self, batch: Bytes) -> Result<(), Error> {
        if self.partition.is_none() {
            self.partition = Some(self.connect().await?);
        }
        let partition = self.partition.as_ref().expect("connected just above");
        let record = Record {
            key: None,
            value: Some(batch.to_vec()),
            headers: BTreeMap::new(),
            timestamp: now(),
        };
        partition
            .produce(vec![record], Compression::NoCompression)
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
    fn destination(&self) -> String {
        format!("kafka://{} topic {}", self.servers.join(","), self.topic)
    }

    async fn send(&mut self, batch: Bytes) -> Attempt {
        let outcome = tokio::time::timeout(self.timeout, self.produce(batch)).await;
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

/// Parses a comma-separated list of Kafka brokers, `host:port[,host:port...]`, into its
/// entries. Empty entries, a missing host or a port that is not a number are refused.
pub(crate) fn parse_bootstrap_servers(text: &str) -> Result<Vec<String>, String> {
    if text.trim().is_empty() {
        return Err("no broker given: expected host:port[,host:port...]".into());
    }
    text.split(',')
        .map(|server| {
            let server = server.trim();
            match server.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    Ok(server.to_owned())
                }
                _ => Err(format!("expected host:port, got {server:?}")),
            }
        })
        .collect()
}

/// Checks a Kafka topic name: 1 to 249 characters of `a-z A-Z 0-9 . _ -`, not `.` or `..`,
/// as the broker requires.
pub(crate) fn parse_topic_name(text: &str) -> Result<String, String> {
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if text.is_empty() || text == "." || text == ".." {
        Err(format!("{text:?} is not a topic name"))
    } else if text.len() > 249 {
        Err(format!(
            "the topic name is {} characters; at most 249",
            text.len()
        ))
    } else if let Some(c) = text.chars().find(|&c| !legal(c)) {
        Err(format!(
            "{c:?} is not allowed in a topic name (only a-z A-Z 0-9 . _ -)"
        ))
    } else {
        Ok(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_servers_are_host_port_pairs() {
        assert_eq!(
            parse_bootstrap_servers("k1:9092, k2:9093").unwrap(),
            ["k1:9092", "k2:9093"]
        );
        for text in ["", " ", "k1", "k1:", ":9092", "k1:9092,", "k1:port"] {
            assert!(parse_bootstrap_servers(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn topic_names_follow_the_brokers_rules() {
        assert_eq!(
            parse_topic_name("zipkin.spans-v2_1").unwrap(),
            "zipkin.spans-v2_1"
        );
        for text in ["", ".", "..", "zip kin", "zipkin/x", &"t".repeat(250)] {
            assert!(parse_topic_name(text).is_err(), "{text:?}");
        }
    }
}
