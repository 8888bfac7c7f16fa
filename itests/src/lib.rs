//! Helpers for the end-to-end tests in `tests/`: one file there per behaviour, the shared
//! machinery here.
//!
//! | module | what it gives a test |
//! |---|---|
//! | [`chain`] | the one way to start service1 and service2: in-process or as binaries, with options |
//! | [`service`] | one running service: its URL, its reporter or output, stopping it |
//! | [`process`] | the real binaries as child processes, configured by environment |
//! | [`collector_double`] | a Zipkin collector that answers reports as the test says: 202, an error, never; or is down |
//! | [`stand_in_collector`] | the project's own stand-in collector, with Zipkin's query API |
//! | [`caller`] | an upstream caller of service1 that sends B3 headers |
//! | [`stand_in`] | a wiremock service2 that records the headers service1 sends |
//! | [`trace_source`] | reading a trace from any collector, waiting for it with a deadline |
//! | [`tree`] | a trace as a tree whose spans each assertion consumes |
//! | [`article`] | the article's six-span trace as one assertion |
//! | [`latency`] | timing a healthy and a faulty chain side by side |
//! | [`engines`] | the real engines (Zipkin, MariaDB, RabbitMQ, Kafka, Chromium), or a skip line where one is missing |
//! | [`transport_engine`] | the receiving end of any transport (collector or broker), for tests run from one table |
//! | [`zipkin_scenarios`] | what any real Zipkin must store of the chain: tree, B3 forms, load |
//! | [`zipkin_queries`] | what any real Zipkin's query API answers: names, searches, links |
//!
//! ```no_run
//! use itests::{ArticleTrace, Chain, CollectorDouble, TraceTree, wait_for_trace};
//!
//! # async fn example() -> anyhow::Result<()> {
//! let collector = CollectorDouble::start().await;
//! let mut chain = Chain::options(collector.endpoint()).time_scale(0.01).start().await?;
//! let response = reqwest::get(chain.entry_url()).await?;
//! let trace_id = itests::trace_id_of(&response)?;
//! let mut tree = TraceTree::new(wait_for_trace(&collector, trace_id, 6).await?);
//! ArticleTrace::take(&mut tree).assert_timing(0.01, std::time::Duration::from_secs(1));
//! tree.finish();
//! chain.stop().await
//! # }
//! ```

pub mod article;
pub mod caller;
pub mod chain;
pub mod collector_double;
pub mod engines;
pub mod latency;
pub mod process;
pub mod service;
pub mod stand_in;
pub mod stand_in_collector;
pub mod trace_source;
pub mod transport_engine;
pub mod tree;
pub mod zipkin_queries;
pub mod zipkin_scenarios;

pub use article::ArticleTrace;
pub use chain::{Chain, ChainOptions};
pub use collector_double::CollectorDouble;
pub use engines::chromium::Browser;
pub use engines::engines_required;
pub use engines::kafka::Kafka;
pub use engines::mariadb::MariaDb;
pub use engines::rabbitmq::RabbitMq;
pub use engines::zipkin::ZipkinServer;
pub use process::{ServiceProcess, build_binary, free_port, launch, warning_lines};
pub use service::Service;
pub use stand_in::Service2StandIn;
pub use stand_in_collector::StandInCollector;
pub use trace_source::{TraceSource, ZipkinApi, wait_for_trace, wait_for_trace_within};
pub use transport_engine::{TRANSPORTS, TransportEngine};
pub use tree::{NameMatch, TraceTree};

use anyhow::Context as _;
use zipkin_tracing::TraceId;

/// The trace id service1 put in its response's `x-trace-id` header.
pub fn trace_id_of(response: &reqwest::Response) -> anyhow::Result<TraceId> {
    let value = response
        .headers()
        .get("x-trace-id")
        .context("the response has no x-trace-id header")?;
    let text = value.to_str().context("x-trace-id is not text")?;
    text.parse()
        .with_context(|| format!("x-trace-id {text:?} is not a valid trace id"))
}
