//! Memory while the collector is down: the resident set size of a process reporting a
//! million spans to an endpoint that refuses connections.
//!
//! A reporter that kept every span it could not send would grow without bound during an
//! outage. `AsyncReporter` holds at most its queue (10,000 spans by default) plus the batch
//! it is retrying, and drops and counts the rest, so the resident size should rise while
//! the queue fills and then stay flat. This prints it every 100,000 spans, with the
//! reporter's counters, as a markdown table.
//!
//! ```sh
//! cargo run --release -p bench --bin memory -- --spans 1000000
//! ```

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bench::procfs::{mib, peak_resident_bytes, resident_bytes};
use bench::report::{Table, command_line, parse_seconds, thousands};
use bench::spans::record_service2_spans;
use clap::Parser;
use zipkin_reporter::{AsyncReporter, ReporterConfig, ReporterStats};
use zipkin_tracing::Tracer;

/// Spans recorded between two looks at the clock.
const CHUNK: u64 = 1_000;

/// Growth after the first sample still called flat: allocator noise, not a leak.
const FLAT_SLACK_BYTES: u64 = 4 * 1024 * 1024;

/// The memory benchmark's settings.
#[derive(Debug, Parser)]
#[command(
    name = "memory",
    about = "Resident memory while spans are reported to a collector that is down"
)]
struct Args {
    /// Spans to report.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    spans: u64,

    /// Take a sample after every this many spans.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    sample_every: u64,

    /// Spans per second to report at (0: as fast as possible). Paced, the run lasts long
    /// enough for the reporter to go through several retries of its batch.
    #[arg(long, default_value_t = 200_000)]
    rate: u64,

    /// The reporter's queue (default 10,000, as in the services).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    queue_capacity: u32,

    /// How long the reporter retries a batch before giving it up (the default of the
    /// services is 30 s).
    #[arg(long, default_value = "30", value_parser = parse_seconds)]
    retry_window: Duration,
}

/// One row of the table.
struct Sample {
    label: String,
    rss: u64,
    stats: ReporterStats,
    at: Duration,
}

/// The peer address recorded on the server spans.
const PEER: &str = "127.0.0.1:53124";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot build the runtime")?;
    let endpoint = refused_endpoint()?;
    let before = resident_bytes()?;
    let samples = runtime.block_on(report_to_nowhere(&args, &endpoint))?;
    let peak = peak_resident_bytes()?;
    print_report(&args, &endpoint, before, &samples, peak);
    Ok(())
}

/// An endpoint on a loopback port nothing listens on: bound, then closed, then checked.
fn refused_endpoint() -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    drop(listener);
    match std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)) {
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
            Ok(format!("http://{address}/api/v2/spans"))
        }
        Err(error) => anyhow::bail!("expected {address} to refuse connections: {error}"),
        Ok(_) => anyhow::bail!("{address} accepts connections; run again for another port"),
    }
}

async fn report_to_nowhere(args: &Args, endpoint: &str) -> anyhow::Result<Vec<Sample>> {
    let peer: SocketAddr = PEER.parse().expect("invariant: a valid socket address");
    let mut config = ReporterConfig::http(endpoint.parse()?);
    config.queue_capacity = args.queue_capacity as usize;
    config.retry_window = args.retry_window;
    let reporter = AsyncReporter::start(config)?;
    let tracer = Tracer::builder(service2::SERVICE_NAME)
        .reporter(reporter.clone())
        .build();

    let start = Instant::now();
    let sample = |label: String| -> anyhow::Result<Sample> {
        Ok(Sample {
            label,
            rss: resident_bytes()?,
            stats: reporter.stats(),
            at: start.elapsed(),
        })
    };
    let mut samples = vec![sample("reporter started".to_owned())?];
    let mut recorded = 0;
    let mut next_sample = args.sample_every;
    while recorded < args.spans {
        let stop = (recorded + CHUNK).min(next_sample).min(args.spans);
        record_service2_spans(&tracer, peer, stop - recorded);
        recorded = stop;
        if recorded == next_sample || recorded == args.spans {
            samples.push(sample(thousands(recorded))?);
            next_sample += args.sample_every;
        }
        if args.rate == 0 {
            // Let the reporter's task run, as it would between requests.
            tokio::task::yield_now().await;
        } else {
            let due = start + Duration::from_secs_f64(recorded as f64 / args.rate as f64);
            tokio::time::sleep_until(due.into()).await;
        }
    }
    Ok(samples)
}

fn print_report(args: &Args, endpoint: &str, before: u64, samples: &[Sample], peak: u64) {
    println!("## Memory while the collector is down\n");
    println!("Command: `{}`\n", command_line("memory"));
    println!(
        "{} spans (service2's server span with http tags, then its two local spans) reported \
         {} through one AsyncReporter to {endpoint}, where nothing listens (connection \
         refused); queue {}, retry window {:?}. Spans recorded on a current-thread tokio \
         runtime; the reporter sends from its own thread. RSS is VmRSS \
         of /proc/self/status; {:.1} MiB before the reporter started.\n",
        thousands(args.spans),
        match args.rate {
            0 => "as fast as possible".to_owned(),
            rate => format!("at {} spans/s", thousands(rate)),
        },
        thousands(u64::from(args.queue_capacity)),
        args.retry_window,
        mib(before),
    );
    let mut table = Table::new(&[
        "spans reported",
        "time",
        "RSS",
        "queued",
        "dropped",
        "sent",
        "failed",
    ]);
    for sample in samples {
        table.row(vec![
            sample.label.clone(),
            format!("{:.2} s", sample.at.as_secs_f64()),
            format!("{:.1} MiB", mib(sample.rss)),
            thousands(sample.stats.queued),
            thousands(sample.stats.dropped),
            thousands(sample.stats.sent),
            thousands(sample.stats.failed),
        ]);
    }
    println!("{}", table.to_markdown());

    // Flat: from the first sample after the start (when the queue is full, for a queue
    // smaller than one sampling step) to the end.
    let (Some(first), Some(last)) = (samples.get(1), samples.last()) else {
        return;
    };
    let low = samples[1..]
        .iter()
        .map(|s| s.rss)
        .min()
        .unwrap_or(first.rss);
    let high = samples[1..]
        .iter()
        .map(|s| s.rss)
        .max()
        .unwrap_or(first.rss);
    let flat = high - low <= FLAT_SLACK_BYTES.max(low / 20);
    println!(
        "Final RSS {:.1} MiB (peak {:.1} MiB); from {} spans on it ranged over {:.2} MiB: {}.",
        mib(last.rss),
        mib(peak),
        first.label,
        mib(high - low),
        if flat {
            "flat, bounded by the capacity"
        } else {
            "NOT flat"
        }
    );
    let held = first.stats.queued - first.stats.sent - first.stats.failed;
    if held > 0 && first.rss > samples[0].rss {
        println!(
            "The {} spans held (in lanes and batches being retried) cost about {:.0} \
             bytes each ({:.1} MiB over the reporter's start).",
            thousands(held),
            (first.rss - samples[0].rss) as f64 / held as f64,
            mib(first.rss - samples[0].rss),
        );
    }
    println!(
        "Final counters: {} queued, {} dropped (capacity reached), {} sent, {} failed.",
        thousands(last.stats.queued),
        thousands(last.stats.dropped),
        thousands(last.stats.sent),
        thousands(last.stats.failed),
    );
}
