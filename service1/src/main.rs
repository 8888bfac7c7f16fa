//! The service1 binary: read the configuration, listen, serve until SIGINT/SIGTERM.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = service1::Config::parse();
    zipkin_tracing::serve::init_logging().map_err(anyhow::Error::msg)?;
    let listener = zipkin_tracing::serve::bind(config.address()).await?;
    service1::run(config, listener, zipkin_tracing::serve::shutdown_signal()).await
}
