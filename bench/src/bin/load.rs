//! What tracing costs a request: a service route at `TIME_SCALE=0`, untraced, traced at
//! `SAMPLE_RATE=1.0` and traced at `0.0`, under the same concurrent load.
//!
//! The three variants are the same router (`service2::routes()`, or service1 calling
//! service2), once without the `ZipkinLayer` and twice with it, set up exactly as the
//! services' `run` does. They take turns, round after round (untraced, 1.0, 0.0, untraced,
//! …), so that noise on a shared machine hits all three alike; the medians across rounds
//! and their ratios to the untraced variant are printed as a markdown table.
//!
//! ```sh
//! cargo run --release -p bench --bin load -- --rounds 5 --duration 5
//! ```

use std::time::Duration;

use anyhow::Context as _;
use bench::backend::{Backend, BackendKind, BackendUsage};
use bench::deploy::{Route, Variant, deploy, difference, total_stats};
use bench::loadgen::{self, LoadSpec};
use bench::procfs::ThreadSet;
use bench::report::{Table, command_line, median, parse_seconds, parse_seconds_or_zero, thousands};
use clap::Parser;
use tokio::runtime::Runtime;
use zipkin_reporter::ReporterStats;
use zipkin_tracing::B3Format;

/// The throughput each traced variant of `route` should keep, as a share of untraced:
/// `(index in Variant::ALL, share)`.
fn targets(route: Route) -> &'static [(usize, f64)] {
    match route {
        // At SAMPLE_RATE=1.0.
        Route::Service2 => &[(1, 0.90)],
        // At 1.0, and at 0.0, where nothing is recorded and only ids travel.
        Route::Chain => &[(1, 0.85), (2, 0.97)],
    }
}

/// The load tool's settings.
#[derive(Debug, Parser)]
#[command(
    name = "load",
    about = "Request overhead of tracing: a service route untraced, traced at sampling 1.0 and 0.0, under load"
)]
struct Args {
    /// What is loaded: service2's `GET /service/` (one hop), or service1's `GET /`, which
    /// calls service2 (the article's chain, two services per request).
    #[arg(long, value_enum, default_value_t = Route::Service2)]
    route: Route,

    /// Rounds; each runs every variant once, in turn.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,

    /// Seconds measured per variant and round.
    #[arg(long, default_value = "5", value_parser = parse_seconds)]
    duration: Duration,

    /// Seconds of load before each measurement (connections open, pools warm).
    #[arg(long, default_value = "1", value_parser = parse_seconds_or_zero)]
    warmup: Duration,

    /// Concurrent keep-alive connections of the load generator.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    connections: u32,

    /// Worker threads of the services' tokio runtime.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    server_threads: u32,

    /// Worker threads of the load generator's tokio runtime (separate from the services').
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    client_threads: u32,

    /// Where the traced variants send spans: a sink that reads and discards them, or the
    /// stand-in collector, which decodes and stores them (more CPU taken from the machine).
    #[arg(long, value_enum, default_value_t = BackendKind::Sink)]
    collector: BackendKind,
}

/// What one variant did in one round.
#[derive(Debug, Clone, Copy)]
struct Phase {
    throughput: f64,
    p50: Duration,
    p99: Duration,
    /// Services' CPU time per counted request (all their runtime's threads).
    cpu_per_request: Duration,
    /// Share of the phase's wall time the services' threads were on a CPU (1.0 = one
    /// core's worth): near the thread count, the services are the bottleneck.
    server_busy: f64,
    /// The same for the load generator's threads.
    load_busy: f64,
    errors: u64,
    spans: ReporterStats,
}

/// One variant's phases summarised: medians across rounds.
#[derive(Debug, Clone, Copy)]
struct Summary {
    throughput: f64,
    p50: Duration,
    p99: Duration,
    cpu_per_request: Duration,
    server_busy: f64,
    load_busy: f64,
}

impl Summary {
    fn of(rounds: &[Phase]) -> Self {
        let pick = |f: fn(&Phase) -> f64| median(&rounds.iter().map(f).collect::<Vec<_>>());
        Summary {
            throughput: pick(|p| p.throughput),
            p50: Duration::from_secs_f64(pick(|p| p.p50.as_secs_f64())),
            p99: Duration::from_secs_f64(pick(|p| p.p99.as_secs_f64())),
            cpu_per_request: Duration::from_secs_f64(pick(|p| p.cpu_per_request.as_secs_f64())),
            server_busy: pick(|p| p.server_busy),
            load_busy: pick(|p| p.load_busy),
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let server_threads = ThreadSet::new();
    let server_runtime = runtime("server", args.server_threads, Some(server_threads.clone()))?;
    let client_threads = ThreadSet::new();
    let client_runtime = runtime("load", args.client_threads, Some(client_threads.clone()))?;
    let backend = Backend::start(args.collector, collector::config::DEFAULT_MAX_SPANS)?;

    let deployments = Variant::ALL
        .iter()
        .map(|&variant| {
            server_runtime.block_on(deploy(
                variant,
                args.route,
                backend.endpoint(),
                B3Format::Multi,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let path = args.route.path();
    // Each traced deployment's reporters send from a thread of their own, one each: its
    // CPU is part of what tracing costs the service, so it counts with the server's.
    let reporter_threads: usize = deployments.iter().map(|d| d.reporters.len()).sum();
    let found = server_threads.register_named(
        "zipkin-reporter",
        reporter_threads,
        Duration::from_secs(5),
    )?;
    anyhow::ensure!(
        found == reporter_threads,
        "found {found} zipkin-reporter threads, expected {reporter_threads}"
    );

    let mut phases: Vec<Vec<Phase>> = vec![Vec::new(); deployments.len()];
    for round in 1..=args.rounds {
        for (deployment, results) in deployments.iter().zip(&mut phases) {
            eprintln!(
                "round {round}/{}: {} …",
                args.rounds,
                deployment.variant.label()
            );
            let spec = LoadSpec {
                address: deployment.address,
                path: path.to_owned(),
                connections: args.connections as usize,
                warmup: args.warmup,
                duration: args.duration,
            };
            let spans_before = total_stats(&deployment.reporters);
            let cpu_before = server_threads.cpu_time();
            let load_cpu_before = client_threads.cpu_time();
            let started = std::time::Instant::now();
            let load = client_runtime.block_on(loadgen::run(&spec))?;
            // Deliver this variant's spans before the next variant runs, so that its
            // reporter's work is not charged to the next one: in its CPU time, not in req/s.
            server_runtime.block_on(async {
                for reporter in &deployment.reporters {
                    if !reporter.flush(Duration::from_secs(30)).await {
                        eprintln!("warning: spans still undelivered after 30 s");
                    }
                }
            });
            let wall = started.elapsed().as_secs_f64();
            let cpu = server_threads.cpu_time().saturating_sub(cpu_before);
            let load_cpu = client_threads.cpu_time().saturating_sub(load_cpu_before);
            let spans_after = total_stats(&deployment.reporters);
            anyhow::ensure!(
                load.requests > 0,
                "no request of {} succeeded ({} errors)",
                deployment.variant.label(),
                load.errors
            );
            results.push(Phase {
                throughput: load.throughput(),
                p50: load.latency_at(0.5),
                p99: load.latency_at(0.99),
                // The CPU of warm-up and of the flush is in `cpu` too (the flush sends the
                // phase's last spans); warm-up requests are not counted, so divide by an
                // estimate of the whole phase's requests.
                cpu_per_request: cpu
                    .div_f64(load.throughput() * (args.warmup + args.duration).as_secs_f64()),
                server_busy: cpu.as_secs_f64() / wall,
                load_busy: load_cpu.as_secs_f64() / wall,
                errors: load.errors,
                spans: difference(spans_after, spans_before),
            });
        }
    }

    drop(deployments);
    server_runtime.shutdown_timeout(Duration::from_secs(1));
    client_runtime.shutdown_timeout(Duration::from_secs(1));
    let usage = backend.stop()?;
    print_report(&args, &phases, usage, server_threads.len());
    Ok(())
}

/// A multi-thread runtime of `threads` workers, its threads named `name`, optionally
/// registered in `set` so that their CPU time can be read.
fn runtime(name: &str, threads: u32, set: Option<ThreadSet>) -> anyhow::Result<Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder
        .worker_threads(threads as usize)
        .thread_name(name)
        .enable_all();
    if let Some(set) = set {
        builder.on_thread_start(move || set.register_current());
    }
    builder
        .build()
        .with_context(|| format!("cannot build the {name} runtime"))
}

/// A latency or CPU time: in µs below a millisecond, else in ms.
fn micros(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.1} µs")
    } else {
        format!("{:.2} ms", micros / 1000.0)
    }
}

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

fn print_report(args: &Args, phases: &[Vec<Phase>], backend: BackendUsage, server_threads: usize) {
    let route = match args.route {
        Route::Service2 => "service2 `GET /service/`",
        Route::Chain => "service1 `GET /` → service2 `GET /service/`",
    };
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!("## Request overhead: {route}, TIME_SCALE=0\n");
    println!("Command: `{}`\n", command_line("load"));
    println!(
        "{} rounds × {} variants in turn; each phase {:?} warm-up + {:?} measured. Load: {} \
         keep-alive HTTP/1.1 connections, closed loop, from a {}-thread tokio runtime; services \
         on a separate {}-thread runtime (threads counted, with its blocking pool: {}); spans to the {} \
         on its own thread. {} CPUs. Figures are medians across rounds.\n",
        args.rounds,
        phases.len(),
        args.warmup,
        args.duration,
        args.connections,
        args.client_threads,
        args.server_threads,
        server_threads,
        args.collector,
        cpus,
    );

    let summary: Vec<Summary> = phases.iter().map(|rounds| Summary::of(rounds)).collect();
    let base = summary[0];
    let mut table = Table::new(&[
        "variant",
        "req/s",
        "p50",
        "p99",
        "CPU/req",
        "req/s vs untraced",
        "p50 vs untraced",
        "p99 vs untraced",
        "CPU/req vs untraced",
        "server busy",
        "load busy",
        "spans sent",
        "spans lost",
        "errors",
    ]);
    for ((variant, rounds), one) in Variant::ALL.iter().zip(phases).zip(&summary) {
        let sum = |f: fn(&Phase) -> u64| thousands(rounds.iter().map(f).sum());
        table.row(vec![
            variant.label(),
            format!("{:.0}", one.throughput),
            micros(one.p50),
            micros(one.p99),
            micros(one.cpu_per_request),
            percent(one.throughput / base.throughput),
            percent(one.p50.as_secs_f64() / base.p50.as_secs_f64()),
            percent(one.p99.as_secs_f64() / base.p99.as_secs_f64()),
            percent(one.cpu_per_request.as_secs_f64() / base.cpu_per_request.as_secs_f64()),
            percent(one.server_busy),
            percent(one.load_busy),
            sum(|p| p.spans.sent),
            sum(|p| p.spans.dropped + p.spans.failed),
            sum(|p| p.errors),
        ]);
    }
    println!("{}", table.to_markdown());

    let mut rounds = Table::new(&[
        "round",
        "variant",
        "req/s",
        "p50",
        "p99",
        "CPU/req",
        "server busy",
        "load busy",
    ]);
    for round in 0..args.rounds as usize {
        for (variant, results) in Variant::ALL.iter().zip(phases) {
            let phase = results[round];
            rounds.row(vec![
                (round + 1).to_string(),
                variant.label(),
                format!("{:.0}", phase.throughput),
                micros(phase.p50),
                micros(phase.p99),
                micros(phase.cpu_per_request),
                percent(phase.server_busy),
                percent(phase.load_busy),
            ]);
        }
    }
    println!(
        "<details><summary>Every round</summary>\n\n{}</details>\n",
        rounds.to_markdown()
    );

    for &(index, target) in targets(args.route) {
        let share = summary[index].throughput / base.throughput;
        let verdict = if share >= target { "met" } else { "missed" };
        println!(
            "Target: {} keeps ≥ {} of untraced throughput: {} ({verdict}).",
            Variant::ALL[index].label(),
            percent(target),
            percent(share)
        );
    }
    println!(
        "CPU/req: CPU time of all the services' threads (the runtime's handlers and the \
         reporters' own threads, which encode and send) per request, warm-up and the final flush included; steadier than req/s on \
         a busy machine. Busy: CPU time of the services' (or the load generator's) threads \
         over wall time, 100% = one core; req/s measures the services only where the server \
         is the busier side. The {} used {:.2} s of CPU on its own thread.",
        args.collector,
        backend.cpu.as_secs_f64()
    );
    let lost: u64 = phases
        .iter()
        .flatten()
        .map(|p| p.spans.dropped + p.spans.failed)
        .sum();
    if lost > 0 {
        println!(
            "\nWarning: {} spans were dropped or failed, so a traced variant did less work \
             than a service keeping every span would.",
            thousands(lost)
        );
    }
}
