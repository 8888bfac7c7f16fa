//! The `demo` binary (`cargo run` from the repository root): read the flags, run the demo
//! on standard output until it is done (`--once`) or Ctrl-C/SIGTERM.

use clap::Parser;
use collector::waterfall::WaterfallOptions;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = demo::Config::parse();
    demo::init_logging()?;
    let mut printer = demo::Printer::new(std::io::stdout(), WaterfallOptions::for_stdout());
    demo::run(
        &config,
        &mut printer,
        zipkin_tracing::serve::shutdown_signal(),
    )
    .await?;
    Ok(())
}
