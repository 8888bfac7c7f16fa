//! service1, the article's caller: `GET /` on port 5000.
//!
//! Its SERVER span is the trace's root (or joins a caller that sent B3 headers). Inside it,
//! `service_1_do_stuff` sleeps 2 s and calls service2's `GET /service/` in a CLIENT span
//! whose B3 headers service2 joins; then service1 sleeps 1 s and answers `OK`, with the
//! trace id in `x-trace-id`. Sleeps are scaled by `TIME_SCALE`. If service2 is down or
//! fails, service1 answers 502; if it is too slow, 504; either way `service_1_do_stuff`
//! carries an `error` tag saying why.

use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::Parser;
use plumbing::{ServiceArgs, scaled_sleep};
use zipkin_reporter::AsyncReporter;
use zipkin_tracing::{Call, TracedRequest, Tracer, ZipkinLayer, current_context, try_local_span};

/// The service name recorded on service1's spans.
pub const SERVICE_NAME: &str = "service1";

/// The response header that tells the user which trace their request made.
pub const TRACE_ID_HEADER: HeaderName = HeaderName::from_static("x-trace-id");

/// service1's settings: each a flag and an environment variable.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "service1",
    version,
    about = "The article's caller: GET / calls service2"
)]
pub struct Config {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 5000)]
    pub port: u16,

    /// Base URL of service2; `/service/` is appended.
    #[arg(long, env = "SERVICE2_URL", default_value = "http://127.0.0.1:6000", value_parser = plumbing::parse_http_url)]
    pub service2_url: reqwest::Url,

    /// Seconds to wait for service2 before answering 504.
    #[arg(long, env = "CLIENT_TIMEOUT_SECS", default_value_t = 10.0, value_parser = parse_timeout)]
    pub client_timeout_secs: f64,

    /// Listening address, time scale and tracing, as for service2.
    #[command(flatten)]
    pub service: ServiceArgs,
}

fn parse_timeout(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 => Ok(secs),
        _ => Err(format!(
            "expected a number of seconds above 0, got {text:?}"
        )),
    }
}

/// What the handlers need.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Records the SERVER span of each request; the CLIENT span uses the current span's.
    pub tracer: Tracer,
    /// The HTTP client for service2, with the client timeout.
    pub client: reqwest::Client,
    /// service2's `GET /service/` URL.
    pub service2: reqwest::Url,
    /// Multiplies the simulated sleeps.
    pub time_scale: f64,
}

impl AppState {
    /// State for calling service2 at `service2_url` (a base URL) with `timeout`.
    pub fn new(
        tracer: Tracer,
        service2_url: &reqwest::Url,
        timeout: Duration,
        time_scale: f64,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .context("cannot build the HTTP client")?;
        let service2 = service2_url
            .join("service/")
            .with_context(|| format!("cannot append service/ to {service2_url}"))?;
        Ok(AppState {
            tracer,
            client,
            service2,
            time_scale,
        })
    }
}

/// The router: `GET /` traced, `GET /health` not.
pub fn app(state: AppState) -> Router {
    routes()
        .layer(ZipkinLayer::new(state.tracer.clone()))
        .route("/health", get(|| async { "OK" }))
        .with_state(state)
}

/// service1's own routes (`GET /`) without the [`ZipkinLayer`] that [`app`] puts around
/// them: the same handlers, untraced (no span, no B3 headers to service2, no
/// `x-trace-id`). Serve [`app`]; this exists so that the load benchmark can compare a
/// traced service with the very same router untraced.
pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(index))
}

/// Why service2 gave no usable answer.
#[derive(Debug, thiserror::Error)]
enum Downstream {
    #[error("service2 did not answer within the client timeout")]
    Timeout,
    #[error("service2 is unavailable: {0}")]
    Unavailable(String),
}

impl From<reqwest::Error> for Downstream {
    fn from(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            Downstream::Timeout
        } else {
            Downstream::Unavailable(zipkin_tracing::describe_error(&error))
        }
    }
}

impl IntoResponse for Downstream {
    fn into_response(self) -> Response {
        let status = match self {
            Downstream::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Downstream::Unavailable(_) => StatusCode::BAD_GATEWAY,
        };
        (status, format!("{self}\n")).into_response()
    }
}

async fn index(State(state): State<AppState>) -> Response {
    tracing::info!("handling GET /");
    // An `Err` (service2 down, slow or failing) marks the span with `error`, saying why.
    let result = try_local_span("service_1_do_stuff", do_stuff(&state)).await;
    let mut response = match result {
        Ok(()) => {
            scaled_sleep(1.0, state.time_scale).await;
            "OK".into_response()
        }
        Err(error) => {
            tracing::warn!(%error, "answering without service2");
            error.into_response()
        }
    };
    if let Some(context) = current_context() {
        let value = HeaderValue::try_from(context.trace_id.to_string())
            .expect("a hex trace id is a valid header value");
        response.headers_mut().insert(TRACE_ID_HEADER, value);
    }
    response
}

/// The article's `do_stuff`: some work, then a traced call to service2.
async fn do_stuff(state: &AppState) -> Result<(), Downstream> {
    scaled_sleep(2.0, state.time_scale).await;
    let request = state.client.get(state.service2.clone());
    // Named by the route called, as the article's trace shows it (unnamed, it would be "GET").
    let call = Call::named("GET /service/");
    let response = request
        .send_traced_as(call)
        .await
        .map_err(Downstream::from)?;
    let status = response.status();
    // Read the body so that the connection can be reused (and a slow body is timed too).
    let body = response.bytes().await.map_err(Downstream::from)?;
    if !status.is_success() {
        return Err(Downstream::Unavailable(format!(
            "it answered {status} ({} bytes)",
            body.len()
        )));
    }
    Ok(())
}

/// service1 as its `Config` says, its spans going to `reporter`: serve it with
/// [`plumbing::Server::run`]. Fails if service2's URL or the HTTP client cannot be set up.
pub fn server(config: &Config, reporter: AsyncReporter) -> anyhow::Result<plumbing::Server> {
    let state = AppState::new(
        config
            .service
            .tracing
            .tracer(SERVICE_NAME, reporter.clone()),
        &config.service2_url,
        Duration::from_secs_f64(config.client_timeout_secs),
        config.service.time_scale,
    )?;
    tracing::info!(service2 = %state.service2, "service1 calls service2");
    let server = plumbing::Server::traced(SERVICE_NAME, app(state), reporter);
    // A transport built without is refused when the reporter starts, before this.
    Ok(match config.service.tracing.destination() {
        Ok(destination) => server.reporting_to(&destination),
        Err(_) => server,
    })
}

#[cfg(test)]
mod tests;
