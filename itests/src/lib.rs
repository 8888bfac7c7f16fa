//! Helpers for the end-to-end tests in `tests/`: one file there per behaviour, the shared
//! machinery here.
//!
//! | module | what it gives a test |
//! |---|---|
//! | [`chain`] | the one way to start service1 and service2: in-process or as binaries, with options |
//! | [`service`] | one running service: its URL, its reporter or output, stopping it |
//! | [`process`] | the real binaries as child processes, configured by environment |
//! | [`mock_collector`] | a wiremock Zipkin that accepts `POST /api/v2/spans` |
//! | [`caller`] | an upstream caller of service1 that sends B3 headers |
//! | [`stand_in`] | a wiremock service2 that records the headers service1 sends |
//! | [`trace_source`] | reading a trace from any collector, waiting for it with a deadline |
//! | [`tree`] | a trace as a tree whose spans each assertion consumes |
//! | [`article`] | the article's six-span trace as one assertion |
//! | [`faulty_collector`] | a collector answering the status a test sets; a refused endpoint |
//! | [`hanging_collector`] | a collector that accepts connections and never answers |
//! | [`latency`] | timing a healthy and a faulty chain side by side |
//! | [`zipkin_server`] | the real Zipkin server from its jar, or the skip line where it is missing |
//! | [`zipkin_jar`] | what the jar itself holds: its MySQL schema, the variables it reads |
//! | [`mariadb`] | a private MariaDB server with Zipkin's schema loaded |
//! | [`rabbitmq`] | a private RabbitMQ node from Debian's package, to stop and start again |
//! | [`kafka`] | a private one-node Kafka broker from the Apache jars, to stop and start again |
//! | [`transport_engine`] | the receiving end of any transport (collector or broker), for tests run from one table |
//! | [`zipkin_scenarios`] | what any real Zipkin must store of the chain: tree, B3 forms, load |
//! | [`zipkin_queries`] | what any real Zipkin's query API answers: names, searches, links |
//! | [`browser`] | headless Chromium through WebDriver: page text, a click, a screenshot |
//!
//! ```no_run
//! use itests::{ArticleTrace, Chain, MockCollector, TraceTree, wait_for_trace};
//!
//! # async fn example() -> anyhow::Result<()> {
//! let collector = MockCollector::start().await;
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
pub mod broker;
pub mod browser;
pub mod caller;
pub mod chain;
pub mod faulty_collector;
pub mod hanging_collector;
pub mod kafka;
pub mod latency;
pub mod mariadb;
pub mod mock_collector;
pub mod process;
pub mod rabbitmq;
pub mod service;
pub mod stand_in;
pub mod stand_in_collector;
pub mod trace_source;
pub mod transport_engine;
pub mod tree;
pub mod zipkin_jar;
pub mod zipkin_queries;
pub mod zipkin_scenarios;
pub mod zipkin_server;

pub use article::ArticleTrace;
pub use browser::Browser;
pub use chain::{Chain, ChainOptions};
pub use faulty_collector::FaultyCollector;
pub use hanging_collector::HangingCollector;
pub use kafka::Kafka;
pub use mariadb::MariaDb;
pub use mock_collector::MockCollector;
pub use process::{ServiceProcess, build_binary, free_port, launch, warning_lines};
pub use rabbitmq::RabbitMq;
pub use service::Service;
pub use stand_in::Service2StandIn;
pub use stand_in_collector::StandInCollector;
pub use trace_source::{TraceSource, ZipkinApi, wait_for_trace, wait_for_trace_within};
pub use transport_engine::{TRANSPORTS, TransportEngine};
pub use tree::{NameMatch, TraceTree};
pub use zipkin_server::{ZipkinServer, engines_required};

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
