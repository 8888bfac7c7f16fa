//! The `demo` binary (`cargo run` from the repository root): read the flags, run the demo
//! (against the Zipkin at `--zipkin`, if given) on standard output until it is done
//! (`--once`) or Ctrl-C/SIGTERM. An error is printed as its message and causes, never as a
//! stack trace, and the demo exits with code 1. `demo doctor TRACE_ID|FILE.json` runs the
//! trace doctor instead: exit code 0 without findings, 1 with some, 2 on an error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use collector::waterfall::WaterfallOptions;
use demo::DoctorArgs;
use demo::scenario::{self, ScenarioChoice};

/// The command line: the demo's flags, or a subcommand.
#[derive(Debug, Parser)]
#[command(
    name = "demo",
    version,
    allow_negative_numbers = true,
    args_conflicts_with_subcommands = true,
    about = "The article's two services and a stand-in Zipkin collector in one process: \
             sends one request and prints its trace, then prints each further trace"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    demo: demo::Config,
    /// A lesson: change one thing in the chain, send one request, show the trace and
    /// what to notice (`list` lists them; `healthy` is the plain demo).
    #[arg(long, value_name = "NAME", value_parser = scenario::parse_scenario)]
    scenario: Option<ScenarioChoice>,
}

/// What the binary runs instead of the demo.
#[derive(Debug, Subcommand)]
enum Command {
    /// Examines a trace (by id, from --zipkin) or a JSON file of spans for the usual
    /// tracing mistakes; exits 0 without findings, 1 with some, 2 on an error.
    Doctor(DoctorArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Doctor(args)) = &cli.command {
        let mut stdout = std::io::stdout();
        return match demo::doctor(args, &mut stdout, WaterfallOptions::for_stdout()).await {
            Ok(0) => ExitCode::SUCCESS,
            Ok(_) => ExitCode::from(1),
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::from(2)
            }
        };
    }
    let lesson = match cli.scenario {
        Some(ScenarioChoice::List) => {
            print!("{}", scenario::list());
            return ExitCode::SUCCESS;
        }
        // The healthy lesson is the demo itself, as `cargo run` shows it.
        Some(ScenarioChoice::Run(chosen)) if chosen.name != "healthy" => Some(chosen),
        Some(ScenarioChoice::Run(_)) | None => None,
    };
    let outcome = match lesson {
        Some(chosen) => run_lesson(chosen, &cli.demo).await,
        None => run(&cli.demo).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` is the message and its causes on one line; a `main` returning the
            // error would print its backtrace too when RUST_BACKTRACE is set.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_lesson(chosen: &scenario::Scenario, config: &demo::Config) -> anyhow::Result<()> {
    plumbing::init_logging("error", None)?;
    let mut printer = demo::Printer::new(std::io::stdout(), WaterfallOptions::for_stdout());
    scenario::run_scenario(chosen, config, &mut printer).await?;
    Ok(())
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
