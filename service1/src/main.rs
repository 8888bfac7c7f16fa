//! The service1 binary: read the configuration, listen, serve until SIGINT/SIGTERM.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = service1::Config::parse();
    plumbing::init_logging("info", None)?;
    let shutdown = plumbing::shutdown_signal()?;
    let listener = plumbing::bind(config.service.address(config.port)).await?;
    let reporter = config.service.tracing.start_reporter()?;
    service1::server(&config, reporter)?
        .run(listener, shutdown)
        .await?;
    Ok(())
}
