//! The `demo` binary (`cargo run` from the repository root): read the flags, run the demo
//! (against the Zipkin at `--zipkin`, if given) on standard output until it is done
//! (`--once`) or Ctrl-C/SIGTERM.

use clap::Parser;
use collector::waterfall::WaterfallOptions;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = demo::Config::parse();
    // Only warnings unless RUST_LOG says otherwise: the services' per-request lines would
    // bury the waterfall.
    plumbing::init_logging("warn", None)?;
    let shutdown = plumbing::shutdown_signal()?;
    if let Some(zipkin) = &config.zipkin {
        let mut stdout = std::io::stdout();
        let waterfall = WaterfallOptions::for_stdout();
        demo::run_with_zipkin(&config, zipkin, &mut stdout, waterfall, shutdown).await?;
        return Ok(());
    }
    let mut printer = demo::Printer::new(std::io::stdout(), WaterfallOptions::for_stdout());
    demo::run(&config, &mut printer, shutdown).await?;
    Ok(())
}
