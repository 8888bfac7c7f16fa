//! The `collector` binary: reads its settings, binds, and serves until SIGINT or SIGTERM.

use std::io::IsTerminal;

use anyhow::Context;
use clap::Parser;
use collector::{Collector, Config, serve};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) => EnvFilter::try_new(&directives)
            .with_context(|| format!("invalid RUST_LOG {directives:?}"))?,
        Err(_) => EnvFilter::new("info"),
    };
    // Logs go to stderr, coloured only on a terminal, so stdout stays clean for output.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let shutdown = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(config.addr())
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (--bind/BIND, --port/PORT)",
                config.addr()
            )
        })?;
    let addr = listener
        .local_addr()
        .context("listener has no local address")?;
    tracing::info!(
        %addr,
        body_limit = config.body_limit,
        max_spans = config.max_spans,
        "collector listening: POST spans to http://{addr}/api/v2/spans"
    );
    let collector = Collector::new(config.collector_config());
    serve(listener, collector.clone(), shutdown)
        .await
        .context("server failed")?;
    tracing::info!(spans = collector.span_count(), "collector stopped");
    Ok(())
}

/// A future that completes on the first SIGINT (Ctrl-C) or SIGTERM. The handlers are
/// installed now, before the address is announced, so a signal sent as soon as the server
/// answers is never missed.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("shutting down: finishing in-flight requests");
    })
}

/// A future that completes on the first Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down: finishing in-flight requests");
    })
}
