//! Memory while the collector is down: the resident set size of a process reporting a
//! million spans, from several threads, to an endpoint that refuses connections.
//!
//! A reporter that kept every span it could not send would grow without bound during an
//! outage. `AsyncReporter` holds at most its queue (10,000 spans and 16 MiB by default)
//! and drops and counts the rest, so the resident size should rise while the queue fills
//! and then stay flat, whatever the spans carry: `--tag-bytes` adds a tag of that size to
//! every span, and the byte bound then holds fewer of them. This prints the resident size
//! every 100,000 spans, with the reporter's counters, as a markdown table.
//!
//! ```sh
//! cargo run --release -p bench --bin memory -- --spans 1000000
//! cargo run --release -p bench --bin memory -- --tag-bytes 10000
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bench::procfs::{mib, peak_resident_bytes, resident_bytes};
use bench::report::{Table, command_line, parse_seconds, thousands};
use bench::spans::record_service2_spans;
use clap::Parser;
use zipkin_reporter::{AsyncReporter, ReporterConfig, ReporterStats};
use zipkin_tracing::{Kind, SamplingFlags, TraceContext, Tracer};

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

    /// Threads recording spans at once, each with its own lane in the reporter.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    threads: u64,

    /// Adds a tag of this many bytes to every span (0: service2's spans as they are).
    #[arg(long, default_value_t = 0)]
    tag_bytes: usize,

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
    let endpoint = refused_endpoint()?;
    let before = resident_bytes()?;
    let samples = report_to_nowhere(&args, &endpoint)?;
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

/// Records `args.spans` spans on `args.threads` threads, paced together at `args.rate`,
/// and samples the resident size each time another `args.sample_every` are recorded.
fn report_to_nowhere(args: &Args, endpoint: &str) -> anyhow::Result<Vec<Sample>> {
    let peer: SocketAddr = PEER.parse().expect("invariant: a valid socket address");
    let mut config = ReporterConfig::http(endpoint.parse()?);
    config.queue_capacity = args.queue_capacity as usize;
    config.retry_window = args.retry_window;
    let reporter = AsyncReporter::start(config)?;
    let tracer = Tracer::builder(service2::SERVICE_NAME)
        .reporter(reporter.clone())
        .build();
    let tag = "x".repeat(args.tag_bytes);

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
    let recorded = AtomicU64::new(0);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        for thread in 0..args.threads {
            // The spans split as evenly as they go; each thread keeps to its share of
            // the rate.
            let share = args.spans / args.threads + u64::from(thread < args.spans % args.threads);
            let (tracer, tag, recorded) = (&tracer, &tag, &recorded);
            scope.spawn(move || {
                let mut done = 0;
                while done < share {
                    let chunk = CHUNK.min(share - done);
                    if tag.is_empty() {
                        record_service2_spans(tracer, peer, chunk);
                    } else {
                        record_tagged_spans(tracer, tag, chunk);
                    }
                    done += chunk;
                    recorded.fetch_add(chunk, Ordering::Relaxed);
                    if args.rate > 0 {
                        let rate = args.rate as f64 / args.threads as f64;
                        let due = start + Duration::from_secs_f64(done as f64 / rate);
                        std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    }
                }
            });
        }
        let mut next_sample = args.sample_every.min(args.spans);
        while next_sample <= args.spans {
            let now = recorded.load(Ordering::Relaxed);
            if now >= next_sample {
                samples.push(sample(thousands(now))?);
                if next_sample == args.spans {
                    break;
                }
                next_sample = (next_sample + args.sample_every).min(args.spans);
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(())
    })?;
    Ok(samples)
}

/// The reporter's byte bound, which this benchmark leaves at its default.
fn default_queue_bytes(endpoint: &str) -> u64 {
    endpoint.parse().map_or(0, |endpoint| {
        ReporterConfig::http(endpoint).queue_max_bytes as u64
    })
}

/// Records `count` server spans, each with a tag of `tag`'s size.
fn record_tagged_spans(tracer: &Tracer, tag: &str, count: u64) {
    for _ in 0..count {
        let context = TraceContext::new_root(SamplingFlags::SAMPLED, true);
        let mut span = tracer.start(context, "GET /service/", Some(Kind::Server));
        span.tag("payload", tag.to_owned());
        span.finish();
    }
}

fn print_report(args: &Args, endpoint: &str, before: u64, samples: &[Sample], peak: u64) {
    println!("## Memory while the collector is down\n");
    println!("Command: `{}`\n", command_line("memory"));
    println!(
        "{} spans ({}) reported {} from {} threads through one AsyncReporter to \
         {endpoint}, where nothing listens (connection refused); queue {} spans and {:.0} MiB, \
         retry window {:?}. The reporter sends from its own thread. RSS is VmRSS of \
         /proc/self/status; {:.1} MiB before the reporter started.\n",
        thousands(args.spans),
        match args.tag_bytes {
            0 => "service2's server span with http tags, then its two local spans".to_owned(),
            bytes => format!(
                "server spans, each with a tag of {} bytes",
                thousands(bytes as u64)
            ),
        },
        match args.rate {
            0 => "as fast as possible".to_owned(),
            rate => format!("at {} spans/s", thousands(rate)),
        },
        args.threads,
        thousands(u64::from(args.queue_capacity)),
        mib(default_queue_bytes(endpoint)),
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
