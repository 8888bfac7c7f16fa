//! The `collector` binary: reads its settings, binds, and serves until SIGINT or SIGTERM.

use anyhow::Context;
use clap::Parser;
use collector::{Collector, Config, serve};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    plumbing::init_logging("info", None)?;
    // Before the address is announced: a signal sent as soon as the server answers stops
    // it cleanly rather than killing it.
    let shutdown = plumbing::shutdown_signal()?;
    let listener = plumbing::bind(config.addr()).await?;
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
