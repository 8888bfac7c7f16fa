//! A stand-in Zipkin collector: spans in memory, a subset of the Zipkin v2 API, and a
//! text waterfall of a trace.
//!
//! It lets the demo and the integration tests run without a real Zipkin server. Services
//! `POST /api/v2/spans` to it as they would to Zipkin; tests read traces back through the
//! same query API or straight from a [`Collector`] handle in the same process; the demo
//! prints a trace with [`waterfall::render`], like the trace page of the Zipkin UI.
//!
//! - [`config`]: limits ([`CollectorConfig`]) and the binary's command line ([`Config`]).
//! - [`Collector`]: the shared in-memory store, with a way to wait for a trace.
//! - ingest: `POST /api/v2/spans`, strict decoding, gzip, size limits ([`IngestError`]).
//! - query: the read API and [`TraceQuery`], the filters of `/api/v2/traces`.
//! - [`app`] and [`serve`]: the router and the server loop.
//! - [`waterfall`]: a trace drawn as text.

mod collector;
pub mod config;
mod ingest;
mod merge;
mod query;
mod server;
mod store;
pub mod waterfall;

pub use collector::{Collector, WaitError};
pub use config::{CollectorConfig, Config};
pub use ingest::{IngestError, decode_spans, gunzip};
pub use query::{QueryError, TraceQuery};
pub use server::{app, serve};
