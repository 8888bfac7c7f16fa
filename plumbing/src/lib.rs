//! What each program of the demo needs around its tracing: settings, logs, signals and
//! serving, written once for service1, service2, the stand-in collector and the demo.
//!
//! None of this is tracing itself (that is the `zipkin-tracing` library); it is the
//! plumbing every long-running program needs, kept apart so the library stays about
//! tracing.
//!
//! Its modules are private; each item is re-exported here, under one path.
//!
//! | module | what |
//! |---|---|
//! | `args` | the services' shared flags (listening address, time scale, tracing) and the article's scaled sleep |
//! | `logging` | log output filtered by `RUST_LOG`, on standard error |
//! | `signal` | SIGINT/SIGTERM, with handlers installed before serving starts |
//! | `serve` | binding, and serving until a signal, then flushing spans |
//!
//! Each error names the setting or port to change ([`BindError`], [`SignalError`],
//! [`LoggingError`], [`ReporterStartError`]), so that a `main` returning `anyhow::Result`
//! prints a message the user can act on.
//!
//! A service's `main`, in full:
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use clap::Parser;
//!
//! #[derive(Parser)]
//! struct Config {
//!     #[arg(long, env = "PORT", default_value_t = 7000)]
//!     port: u16,
//!     #[command(flatten)]
//!     service: plumbing::ServiceArgs,
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::parse();
//! plumbing::init_logging("info", None)?;
//! let shutdown = plumbing::shutdown_signal()?;
//! let listener = plumbing::bind(config.service.address(config.port)).await?;
//! let reporter = config.service.tracing.start_reporter()?;
//! let tracer = config.service.tracing.tracer("service3", reporter.clone());
//! let app = Router::new()
//!     .route("/", get(|| async { "OK" }))
//!     .layer(zipkin_tracing::ZipkinLayer::new(tracer));
//! plumbing::Server::traced("service3", app, reporter)
//!     .run(listener, shutdown)
//!     .await?;
//! # Ok(()) }
//! ```

mod args;
mod logging;
mod serve;
mod signal;

pub use args::{
    ReporterStartError, ServiceArgs, TracingArgs, ZipkinTransport, parse_http_url,
    parse_time_scale, scaled_sleep,
};
pub use logging::{LoggingError, init_logging};
pub use serve::{BindError, FLUSH_TIMEOUT, Server, bind};
pub use signal::{SignalError, shutdown_signal};
