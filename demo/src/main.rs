//! The `demo` binary (`cargo run` from the repository root): read the flags, run the demo
//! (against the Zipkin at `--zipkin`, if given) on standard output until it is done
//! (`--once`) or Ctrl-C/SIGTERM. An error is printed as its message and causes, never as a
//! stack trace, and the demo exits with code 1.

use std::process::ExitCode;

use clap::Parser;
use collector::waterfall::WaterfallOptions;

#[tokio::main]
async fn main() -> ExitCode {
    let config = demo::Config::parse();
    match run(&config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` is the message and its causes on one line; a `main` returning the
            // error would print its backtrace too when RUST_BACKTRACE is set.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: &demo::Config) -> anyhow::Result<()> {
    // Only warnings unless RUST_LOG says otherwise: the services' per-request lines would
    // bury the waterfall.
    plumbing::init_logging("warn", None)?;
    let shutdown = plumbing::shutdown_signal()?;
    if let Some(zipkin) = &config.zipkin {
        let mut stdout = std::io::stdout();
        let waterfall = WaterfallOptions::for_stdout();
        demo::run_with_zipkin(config, zipkin, &mut stdout, waterfall, shutdown).await?;
        return Ok(());
    }
    let mut printer = demo::Printer::new(std::io::stdout(), WaterfallOptions::for_stdout());
    demo::run(config, &mut printer, shutdown).await?;
    Ok(())
}
