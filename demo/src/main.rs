//! The `demo` binary (`cargo run` from the repository root): read the flags, run the demo
//! (against the Zipkin at `--zipkin`, if given) on standard output until it is done
//! (`--once`) or Ctrl-C/SIGTERM.

use clap::Parser;
use collector::waterfall::WaterfallOptions;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = demo::Config::parse();
    demo::init_logging()?;
    if let Some(zipkin) = &config.zipkin {
        let mut stdout = std::io::stdout();
        let waterfall = WaterfallOptions::for_stdout();
        let shutdown = zipkin_tracing::serve::shutdown_signal();
        demo::run_with_zipkin(&config, zipkin, &mut stdout, waterfall, shutdown).await?;
        return Ok(());
    }
    let mut printer = demo::Printer::new(std::io::stdout(), WaterfallOptions::for_stdout());
    demo::run(
        &config,
        &mut printer,
        zipkin_tracing::serve::shutdown_signal(),
    )
    .await?;
    Ok(())
}
