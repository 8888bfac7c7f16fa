//! The HTTP face of the collector: the router and a server loop with graceful shutdown.
//!
//! [`app`] builds the axum router in the style of axum's `examples/testing`, so tests can
//! call it with `tower::ServiceExt::oneshot` without a socket; [`serve`] runs it on a
//! listener until a shutdown future completes, letting in-flight requests finish.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use collector::{Collector, CollectorConfig, serve};
//!
//! let collector = Collector::new(CollectorConfig::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! println!("POST spans to http://{}/api/v2/spans", listener.local_addr()?);
//! serve(listener, collector.clone(), async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

use std::future::Future;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::Collector;
use crate::dependencies::get_dependencies;
use crate::ingest::{post_spans, post_v1_spans};
use crate::names::{
    get_autocomplete_keys, get_autocomplete_values, get_remote_services, get_services,
    get_span_names,
};
use crate::query::{get_trace, get_trace_many, get_traces};

/// The collector's routes, sharing `collector`'s store: the Zipkin API under `/api/` and
/// the web view beside it. Unknown paths answer 404 and known paths with another method 405.
pub fn app(collector: Collector) -> Router {
    let body_limit = collector.config().body_limit;
    Router::new()
        .route(
            "/api/v2/spans",
            get(get_span_names)
                .post(post_spans)
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .route(
            "/api/v1/spans",
            post(post_v1_spans).layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/api/v2/trace/{trace_id}", get(get_trace))
        .route("/api/v2/traceMany", get(get_trace_many))
        .route("/api/v2/traces", get(get_traces))
        .route("/api/v2/services", get(get_services))
        .route("/api/v2/remoteServices", get(get_remote_services))
        .route("/api/v2/autocompleteKeys", get(get_autocomplete_keys))
        .route("/api/v2/autocompleteValues", get(get_autocomplete_values))
        .route("/api/v2/dependencies", get(get_dependencies))
        .merge(crate::web::routes())
        .with_state(collector)
}

/// Serves [`app`] on `listener` until `shutdown` completes, then waits for in-flight
/// requests to finish.
pub async fn serve(
    listener: TcpListener,
    collector: Collector,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(collector))
        .with_graceful_shutdown(shutdown)
        .await
}
