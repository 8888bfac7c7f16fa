//! service2, the article's callee: `GET /service/` on port 6000.
//!
//! Its SERVER span joins service1's CLIENT span (same span id, `shared: true`). Inside it,
//! `service_2_do_stuff` sleeps 2 s and then runs `db_search`, which sleeps another 2 s, all
//! scaled by `TIME_SCALE`. [`app`] builds the router, so tests can call it without a
//! socket ([`routes`] is the same without tracing, for benchmarks); [`server`] readies it to
//! serve, with a tracer from its settings.

use axum::{Router, extract::State, routing::get};
use clap::Parser;
use plumbing::{ServiceArgs, scaled_sleep};
use zipkin_reporter::AsyncReporter;
use zipkin_tracing::{Tracer, ZipkinLayer, local_span};

/// The service name recorded on service2's spans.
pub const SERVICE_NAME: &str = "service2";

/// service2's settings: each a flag and an environment variable.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "service2",
    version,
    about = "The article's callee: GET /service/"
)]
pub struct Config {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 6000)]
    pub port: u16,

    /// Listening address, time scale and tracing, as for service1.
    #[command(flatten)]
    pub service: ServiceArgs,

    /// Time db_search with `#[tracing::instrument]`, recorded through the tracing bridge,
    /// instead of `local_span`: the same span in Zipkin, with its argument as a tag.
    #[arg(long, env = "INSTRUMENT", default_value_t = false, action = clap::ArgAction::Set)]
    pub instrument: bool,
}

/// What the handlers need.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Records the SERVER span of each request.
    pub tracer: Tracer,
    /// Multiplies the simulated sleeps.
    pub time_scale: f64,
    /// Whether db_search is timed by `#[instrument]` ([`Config::instrument`]).
    pub instrument: bool,
}

/// The router: `GET /service/` traced, `GET /health` not.
pub fn app(state: AppState) -> Router {
    routes()
        .layer(ZipkinLayer::new(state.tracer.clone()))
        .route("/health", get(|| async { "OK" }))
        .with_state(state)
}

/// service2's own routes (`GET /service/`) without the [`ZipkinLayer`] that [`app`] puts
/// around them: the same handlers, untraced. Serve [`app`]; this exists so that the load
/// benchmark can compare a traced service with the very same router untraced.
pub fn routes() -> Router<AppState> {
    Router::new().route("/service/", get(service))
}

async fn service(State(state): State<AppState>) -> &'static str {
    tracing::info!("handling GET /service/");
    local_span("service_2_do_stuff", async {
        scaled_sleep(2.0, state.time_scale).await;
        if state.instrument {
            db_search(state.time_scale).await;
        } else {
            local_span("db_search", scaled_sleep(2.0, state.time_scale)).await;
        }
    })
    .await;
    "OK"
}

/// The article's `db_search`, spelled as py_zipkin's `@zipkin_span` decorator would have
/// it: with the tracing bridge installed, this is the same Zipkin span as
/// `local_span("db_search", ...)`, and its argument becomes the tag `time_scale`.
#[tracing::instrument]
async fn db_search(time_scale: f64) {
    scaled_sleep(2.0, time_scale).await;
}

/// service2 as its `Config` says, its spans going to `reporter`: serve it with
/// [`plumbing::Server::run`].
pub fn server(config: &Config, reporter: AsyncReporter) -> plumbing::Server {
    let state = AppState {
        tracer: config
            .service
            .tracing
            .tracer(SERVICE_NAME, reporter.clone()),
        time_scale: config.service.time_scale,
        instrument: config.instrument,
    };
    let server = plumbing::Server::traced(SERVICE_NAME, app(state), reporter);
    // A transport built without is refused when the reporter starts, before this.
    match config.service.tracing.destination() {
        Ok(destination) => server.reporting_to(&destination),
        Err(_) => server,
    }
}

#[cfg(test)]
mod tests;
