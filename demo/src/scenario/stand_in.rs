//! A stand-in service2 of the demo's own, for the lessons whose change the real service2
//! has no setting for: its `GET /service/` is the article's, traced by the same library,
//! with one thing done differently. service2's own code stays the article's.
//!
//! - [`Behaviour::SlowDb`]: db_search sleeps 20 s instead of 2 s (times the time scale).
//! - [`Behaviour::SpawnWithoutContext`]: db_search runs on a task started with
//!   `tokio::spawn`, without the current span, the mistake the lost-context lesson shows.
//!   The fix would be `tokio::spawn(ParentSpan::current().wrap(work))`.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use plumbing::{TracingArgs, scaled_sleep};
use tokio::net::TcpListener;
use zipkin_reporter::{AsyncReporter, HttpEndpoint, ReporterConfig};
use zipkin_tracing::{ZipkinLayer, local_span};

use crate::error::DemoError;
use crate::headers::HeaderLog;
use crate::served::{ChainError, Served, Server};
use crate::settings::ChainSettings;

/// What the stand-in does differently from service2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// db_search takes ten times as long.
    SlowDb,
    /// db_search runs on a spawned task that does not carry the current span.
    SpawnWithoutContext,
}

/// What the stand-in's handler needs.
#[derive(Debug, Clone, Copy)]
struct StandIn {
    behaviour: Behaviour,
    time_scale: f64,
}

/// Serves the stand-in on `listener` with `settings`' time scale and tracing, its spans
/// going to `endpoint` as service2's, the trace headers it receives recorded in `headers`.
pub(crate) fn start(
    listener: TcpListener,
    settings: &ChainSettings,
    endpoint: &HttpEndpoint,
    behaviour: Behaviour,
    headers: HeaderLog,
) -> Result<Served, DemoError> {
    let reporter =
        AsyncReporter::start(ReporterConfig::http(endpoint.clone())).map_err(|error| {
            ChainError::Reporter {
                server: Server::Service2,
                error,
            }
        })?;
    let tracing = TracingArgs {
        zipkin_endpoint: endpoint.clone(),
        ..settings.tracing_settings().clone()
    };
    let tracer = tracing.tracer(service2::SERVICE_NAME, reporter.clone());
    let state = StandIn {
        behaviour,
        time_scale: settings.scale(),
    };
    let app = Router::new()
        .route("/service/", get(service))
        .layer(ZipkinLayer::new(tracer))
        .with_state(state)
        .layer(headers.layer());
    let server = plumbing::Server::traced(service2::SERVICE_NAME, app, reporter.clone());
    Ok(Served::service(
        service2::SERVICE_NAME,
        listener,
        server,
        Some(reporter),
    )?)
}

/// service2's `GET /service/`, with the stand-in's one difference.
async fn service(State(stand_in): State<StandIn>) -> &'static str {
    let scale = stand_in.time_scale;
    local_span("service_2_do_stuff", async {
        scaled_sleep(2.0, scale).await;
        match stand_in.behaviour {
            Behaviour::SlowDb => local_span("db_search", scaled_sleep(20.0, scale)).await,
            Behaviour::SpawnWithoutContext => {
                // The mistake: the task starts with no current span, so db_search's
                // `local_span` finds no parent and records nothing.
                let task = tokio::spawn(local_span("db_search", scaled_sleep(2.0, scale)));
                // A task that panicked ends the same request as one that did not.
                let _ = task.await;
            }
        }
    })
    .await;
    "OK"
}
