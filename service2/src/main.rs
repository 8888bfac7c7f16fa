//! The service2 binary: read the configuration, listen, serve until SIGINT/SIGTERM.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = service2::Config::parse();
    // `--instrument` spells db_search with `#[instrument]`, which the bridge records.
    let bridge = config.instrument.then(zipkin_tracing::TracingBridge::new);
    plumbing::init_logging("info", bridge)?;
    let shutdown = plumbing::shutdown_signal()?;
    let listener = plumbing::bind(config.service.address(config.port)).await?;
    let reporter = config.service.tracing.start_reporter()?;
    service2::server(&config, reporter)
        .run(listener, shutdown)
        .await?;
    Ok(())
}
