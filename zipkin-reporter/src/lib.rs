#![doc = include_str!("../README.md")]
//! Zipkin reporting: what happens to a span after it finishes, until a collector has it.
//!
//! A service's tracer (the `zipkin-tracing` crate) hands each finished, sampled span to a
//! [`Report`](zipkin_tracing::Report); [`AsyncReporter`] is the one that sends them to
//! Zipkin, in batches, in the background, as Brave's `AsyncReporter` and py_zipkin's
//! `ZipkinBatchSender` do. The modules are private and listed here in the order a span
//! travels through them, after its settings; no two import each other.
//!
//! | module | step |
//! |---|---|
//! | `config` | the settings: [`ReporterConfig`], [`Destination`], [`HttpHeaders`], [`HttpCompression`] |
//! | `destination` | where batches go, parsed: [`HttpEndpoint`], [`AmqpUri`] and [`QueueName`], [`BootstrapServers`] and [`TopicName`] |
//! | `error` | why a reporter does not start: [`ReporterError`] |
//! | `reporter` | the hand-off: [`AsyncReporter`] takes a place for the span, or drops and counts it |
//! | `lanes` | where spans wait: a lane per recording thread (fastrace's design) |
//! | `drain` | when the lanes are drained, and how spans are cut into batches |
//! | `delivery` | one batch delivered, retried with backoff; the outage log; the counters ([`ReporterStats`]) |
//! | `json` | the wire format: Zipkin v2 JSON ([`encode_json`]) |
//! | `http` | the HTTP sender: `POST /api/v2/spans` |
//! | `rabbitmq` | the RabbitMQ sender (feature `rabbitmq`) |
//! | `kafka` | the Kafka sender (feature `kafka`) |
//!
//! ```text
//!  request thread                       reporter's thread ("zipkin-reporter")
//!  Report::report ─► its lane ─ ─ ─ ─►  drain ─► batches of ≤ 100 ─► encode_json
//!  (a push; no lock shared               (woken per batch, or every 1 s)      │
//!   with other threads)                                                       ▼
//!                                        Zipkin ◄── POST /api/v2/spans (retried, counted)
//! ```
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use zipkin_reporter::{AsyncReporter, Destination, ReporterConfig};
//! use zipkin_tracing::{Tracer, root_span};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! let endpoint = "http://127.0.0.1:9411/api/v2/spans".parse()?;
//! let reporter = AsyncReporter::start(ReporterConfig::new(Destination::Http(endpoint)))?;
//! let tracer = Tracer::builder("service1").reporter(reporter.clone()).build();
//! root_span(&tracer, "index", async { /* work */ }).await;
//! reporter.flush(Duration::from_secs(5)).await;
//! println!("{:?}", reporter.stats());
//! # Ok(()) }
//! ```

mod config;
mod destination;
mod error;

mod reporter;

mod lanes;

mod drain;

mod delivery;

mod json;

mod http;
#[cfg(feature = "kafka")]
mod kafka;
#[cfg(feature = "rabbitmq")]
mod rabbitmq;

pub use config::{Destination, HttpCompression, HttpHeaders, ReporterConfig};
pub use delivery::ReporterStats;
pub use destination::{AmqpUri, BootstrapServers, HttpEndpoint, QueueName, TopicName};
pub use error::ReporterError;
pub use json::encode_json;
pub use reporter::AsyncReporter;
