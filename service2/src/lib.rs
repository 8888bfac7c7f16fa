//! service2, the article's callee: `GET /service/` on port 6000.
//!
//! Its SERVER span joins service1's CLIENT span (same span id, `shared: true`). Inside it,
//! `service_2_do_stuff` sleeps 2 s and then runs `db_search`, which sleeps another 2 s, all
//! scaled by `TIME_SCALE`. [`app`] builds the router, so tests can call it without a
//! socket ([`routes`] is the same without tracing, for benchmarks); [`run`] serves it
//! until SIGINT/SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;
use axum::{Router, extract::State, routing::get};
use clap::Parser;
use tokio::net::TcpListener;
use zipkin_tracing::cli::{TracingArgs, parse_time_scale};
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

    /// Address to listen on (0.0.0.0 in a container).
    #[arg(long, env = "BIND", default_value = "127.0.0.1")]
    pub bind: IpAddr,

    /// Multiplies every simulated sleep: 1.0 as in the article, 0 for none.
    #[arg(long, env = "TIME_SCALE", default_value_t = 1.0, value_parser = parse_time_scale)]
    pub time_scale: f64,

    /// Where and how spans are reported.
    #[command(flatten)]
    pub tracing: TracingArgs,
}

/// Sleeps `seconds` of the article's time, multiplied by `scale`.
async fn scaled_sleep(seconds: f64, scale: f64) {
    // `TIME_SCALE=0` means no sleep at all: even a zero-length tokio sleep waits for the
    // timer driver's next millisecond tick, which would add ~1 ms per sleep.
    if scale > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(seconds * scale)).await;
    }
}

/// What the handlers need.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Records the SERVER span of each request.
    pub tracer: Tracer,
    /// Multiplies the simulated sleeps.
    pub time_scale: f64,
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
        local_span("db_search", scaled_sleep(2.0, state.time_scale)).await;
    })
    .await;
    "OK"
}

/// Serves service2 on `listener` until `shutdown` resolves, then flushes its spans.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (tracer, reporter) = config
        .tracing
        .start(SERVICE_NAME)
        .context("cannot start reporting spans (--zipkin-endpoint/ZIPKIN_ENDPOINT)")?;
    let state = AppState {
        tracer,
        time_scale: config.time_scale,
    };
    tracing::info!(
        address = %listener.local_addr()?,
        zipkin = %config.tracing.zipkin_endpoint,
        "service2 listening"
    );
    zipkin_tracing::serve::serve(listener, app(state), &reporter, shutdown).await?;
    Ok(())
}

impl Config {
    /// The address to listen on.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }
}

#[cfg(test)]
mod tests;
