//! A stand-in Zipkin collector: spans in memory, a subset of the Zipkin v2 API, and a
//! text waterfall of a trace.
//!
//! It lets the demo and the integration tests run without a real Zipkin server. Services
//! `POST /api/v2/spans` to it as they would to Zipkin; tests read traces back through the
//! same query API or straight from a [`Collector`] handle in the same process; the demo
//! prints a trace with [`waterfall::render`], like the trace page of the Zipkin UI.
//!
//! - [`config`]: limits and autocomplete keys ([`CollectorConfig`]) and the binary's
//!   command line ([`Config`]).
//! - [`Collector`]: the shared in-memory store, with a way to wait for a trace.
//! - ingest: `POST /api/v2/spans` (JSON or proto3) and `POST /api/v1/spans` (JSON v1),
//!   read as Zipkin reads them, gzip, size limits ([`IngestError`]).
//! - query: traces by id and [`TraceQuery`], the filters of `/api/v2/traces`.
//! - names: services, span names, remote services, autocomplete keys and values.
//! - dependencies: `/api/v2/dependencies`, the service graph as [`DependencyLink`]s.
//! - [`app`] and [`serve`]: the router and the server loop.
//! - [`waterfall`]: a trace drawn as text.
//! - web: the web view beside the API: `/` lists and searches traces, `/traces/{id}` draws
//!   one as a waterfall with its B3 headers and the doctor's findings, `/dependencies`.
//! - [`doctor`]: the usual tracing mistakes found in a trace, with their cause and fix.
//!
//! Embedded in a test, posting through the router as a service would, then reading the
//! trace back from the handle:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//!
//! use axum::body::Body;
//! use axum::http::{Request, StatusCode};
//! use collector::waterfall::{WaterfallOptions, render};
//! use collector::{Collector, CollectorConfig, app};
//! use tower::ServiceExt;
//!
//! let collector = Collector::new(CollectorConfig::default());
//! let json = r#"[{"traceId": "5af7183fb1d4cf5f", "id": "352bff9a74ca9ad2",
//!     "kind": "SERVER", "name": "GET /api", "timestamp": 1556604172355737,
//!     "duration": 1431, "localEndpoint": {"serviceName": "backend"}}]"#;
//! let request = Request::post("/api/v2/spans").body(Body::from(json)).unwrap();
//! let response = app(collector.clone()).oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::ACCEPTED);
//!
//! let trace_id = "5af7183fb1d4cf5f".parse().unwrap();
//! let spans = collector.wait_for_trace(&trace_id, 1, Duration::from_secs(5)).await.unwrap();
//! let text = render(&spans, &WaterfallOptions { width: 60, colour: false });
//! assert!(text.contains("backend: GET /api"));
//! # }
//! ```

mod collector;
pub mod config;
mod dependencies;
pub mod doctor;
mod ingest;
mod merge;
mod names;
mod query;
mod server;
mod store;
pub mod waterfall;
mod web;

pub use collector::{Collector, WaitError};
pub use config::{CollectorConfig, Config};
pub use dependencies::DependencyLink;
pub use ingest::{IngestError, decode_proto3_spans, decode_spans, decode_v1_spans, gunzip};
pub use query::{QueryError, TraceQuery};
pub use server::{app, serve};
