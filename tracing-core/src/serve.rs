//! Running a traced axum service until SIGINT/SIGTERM, then flushing its spans (feature
//! `cli`).
//!
//! A span is only useful once it reaches the collector, so shutdown is ordered: stop
//! accepting connections, let in-flight requests finish (their spans finish with them),
//! then flush the reporter with a deadline, so a collector outage cannot hang the exit.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::report::HttpReporter;

/// How long shutdown waits for queued spans to reach the collector.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `address`; the error names the address and the settings that chose it.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, BindError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| BindError { address, source })
}

/// A listening socket could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {address} (set --bind/BIND and --port/PORT): {source}")]
pub struct BindError {
    /// The address that could not be bound.
    pub address: SocketAddr,
    /// Why, e.g. the port is already in use.
    pub source: std::io::Error,
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM (`docker stop`, `kill`).
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the service");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// Serves `app` on `listener` until `shutdown` resolves and in-flight requests are done,
/// then flushes `reporter` for at most [`FLUSH_TIMEOUT`]. Handlers see the client's
/// address (`ConnectInfo<SocketAddr>`), which server spans record.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    reporter: &HttpReporter,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("stopped accepting requests; flushing spans");
    if !reporter.flush(FLUSH_TIMEOUT).await {
        let stats = reporter.stats();
        tracing::warn!(
            ?stats,
            "some spans were not delivered within {FLUSH_TIMEOUT:?}"
        );
    }
    Ok(())
}

/// Installs the log output: `RUST_LOG` filters it (default `info`). An invalid `RUST_LOG`
/// is an error that names it.
pub fn init_logging() -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => {
            EnvFilter::try_new(&value).map_err(|e| format!("invalid RUST_LOG {value:?}: {e}"))?
        }
        _ => EnvFilter::new("info"),
    };
    // Colour only for a person at a terminal: `docker compose logs` and files get plain
    // text, and NO_COLOR (no-color.org) turns it off.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_ansi(colour)
        .with_env_filter(filter)
        .try_init()
        .map_err(|e| e.to_string())
}
