//! A reporter's settings: where its batches go ([`Destination`]) and with which extra
//! headers ([`HttpHeaders`]), how large its queue and batches are, and how long it retries
//! ([`ReporterConfig`]).
//!
//! The defaults: at most 10,000 spans and 16 MiB held and a batch sent at least every
//! second, as in Brave's `AsyncReporter` (which bounds its queue by spans and by bytes);
//! batches of at most 100 spans, each retried for up to 30 s with
//! pauses doubling from 100 ms to 5 s.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::destination::HttpEndpoint;
#[cfg(feature = "rabbitmq")]
use crate::destination::{AmqpUri, QueueName};
#[cfg(feature = "kafka")]
use crate::destination::{BootstrapServers, TopicName};
use crate::error::ReporterError;

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
    /// Headers sent with every POST, such as the `Authorization` a hosted or proxied
    /// Zipkin asks for. Only an [`Destination::Http`] reporter may have any. Default none.
    pub http_headers: HttpHeaders,
    /// How POST bodies are compressed. Only an [`Destination::Http`] reporter may
    /// compress. Default [`HttpCompression::None`].
    pub http_compression: HttpCompression,
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
            http_headers: HttpHeaders::default(),
            http_compression: HttpCompression::None,
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

/// How an HTTP reporter compresses its POST bodies: `none` or `gzip`.
///
/// Zipkin and the stand-in collector both read a body sent with `Content-Encoding: gzip`.
/// Brave's sender compresses by default; here it is off by default, because compressing
/// costs the reporter's thread more than the rest of its work: for the article's spans,
/// bodies 7 times smaller (36 bytes a span instead of 254) for 3 times the CPU time
/// (BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpCompression {
    /// Bodies go as they are encoded.
    #[default]
    None,
    /// Bodies go gzip-compressed, with `Content-Encoding: gzip`.
    Gzip,
}

impl FromStr for HttpCompression {
    type Err = ReporterError;

    fn from_str(text: &str) -> Result<Self, ReporterError> {
        match text {
            "none" => Ok(HttpCompression::None),
            "gzip" => Ok(HttpCompression::Gzip),
            other => Err(ReporterError::BadCompression(format!(
                "{other:?}: expected none or gzip"
            ))),
        }
    }
}

/// Headers sent with every POST to Zipkin, written as OpenTelemetry writes
/// `OTEL_EXPORTER_OTLP_HEADERS`: `Name=value` pairs separated by commas, each value
/// percent-decoded, so `Authorization=Bearer%20abc,X-Scope-OrgID=team-a`.
///
/// Values are secrets: neither `Debug` nor an error ever shows one, and each is marked
/// sensitive for the HTTP client. Headers the reporter sets itself (`Content-Type`, `b3`,
/// and those of the connection and the body) are refused.
///
/// ```
/// use zipkin_reporter::HttpHeaders;
///
/// let headers: HttpHeaders = "Authorization=Bearer%20abc".parse().unwrap();
/// assert_eq!(format!("{headers:?}"), "HttpHeaders([\"authorization\"])");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HttpHeaders(pub(crate) HeaderMap);

/// Headers a reporter writes itself, and so cannot take from its settings.
const RESERVED: [&str; 7] = [
    "b3",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "host",
    "transfer-encoding",
];

impl HttpHeaders {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for HttpHeaders {
    type Err = ReporterError;

    fn from_str(text: &str) -> Result<Self, ReporterError> {
        let mut headers = HeaderMap::new();
        if text.trim().is_empty() {
            return Ok(HttpHeaders(headers));
        }
        for (index, pair) in text.split(',').enumerate() {
            let bad = |why: String| ReporterError::BadHeaders(format!("pair {}: {why}", index + 1));
            // The value may be a secret: no message below shows it.
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| bad("no `=`: expected Name=value".to_owned()))?;
            let name = name.trim();
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| bad(format!("{name:?} is not a header name")))?;
            if RESERVED.contains(&name.as_str()) {
                return Err(bad(format!("`{name}` is set by the reporter itself")));
            }
            let value: Vec<u8> = percent_encoding::percent_decode_str(value.trim()).collect();
            let mut value = HeaderValue::from_bytes(&value).map_err(|_| {
                bad(format!(
                    "the value of `{name}` holds a character a header cannot carry"
                ))
            })?;
            value.set_sensitive(true);
            headers.append(name, value);
        }
        Ok(HttpHeaders(headers))
    }
}

impl fmt::Debug for HttpHeaders {
    /// The names alone.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.keys().map(HeaderName::as_str).collect();
        f.debug_tuple("HttpHeaders").field(&names).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_split_by_commas_and_values_percent_decoded() {
        let headers: HttpHeaders = " Authorization = Bearer%20abc%2C1 ,X-Scope-OrgID=team-a,"
            .trim_end_matches(',')
            .parse()
            .expect("two headers");
        assert_eq!(headers.0["authorization"], "Bearer abc,1");
        assert_eq!(headers.0["x-scope-orgid"], "team-a");
        assert!(headers.0["authorization"].is_sensitive());
        let empty: HttpHeaders = "  ".parse().expect("none");
        assert!(empty.is_empty());
    }

    #[test]
    fn neither_debug_nor_an_error_shows_a_value() {
        let headers: HttpHeaders = "Authorization=s3cret".parse().expect("one header");
        assert!(!format!("{headers:?}").contains("s3cret"));
        for (text, says) in [
            ("Authorization s3cret", "pair 1: no `=`"),
            (
                "ok=1,Bad Name=s3cret",
                "pair 2: \"Bad Name\" is not a header name",
            ),
            (
                "Content-Type=s3cret",
                "`content-type` is set by the reporter itself",
            ),
            ("b3=s3cret", "`b3` is set by the reporter itself"),
            (
                "X-Token=s3cret%0A",
                "the value of `x-token` holds a character",
            ),
        ] {
            let error = text.parse::<HttpHeaders>().expect_err(text).to_string();
            assert!(error.contains(says), "{text}: {error}");
            assert!(!error.contains("s3cret"), "{text}: {error}");
        }
    }
}
