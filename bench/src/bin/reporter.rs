//! Reporter throughput: spans per second that `AsyncReporter` encodes and delivers to a
//! collector over loopback, over HTTP or through a broker.
//!
//! With `--transport rabbitmq --rabbit-uri URI` or `--transport kafka
//! --kafka-bootstrap-servers HOST:PORT` the batches go to a broker the user started (Debian's
//! `rabbitmq-server`; `scripts/kafka-broker run`), to its queue or topic `zipkin`, and
//! count as sent when the broker took them: Kafka acknowledges each produce, and RabbitMQ
//! confirms each persistent message (publisher confirms).
//!
//! The spans (service2's server span with its http tags and its two local spans) are
//! recorded through the real tracer on the main thread; `AsyncReporter` drains, encodes and
//! sends them from its own `zipkin-reporter` thread (up to four POSTs in flight for HTTP);
//! the collector runs on a thread of its own. Only spans the collector
//! acknowledged count (`ReporterStats::sent`), and the stand-in collector's store is
//! checked to hold exactly that many. The target is 1,000,000 spans/s to the sink.
//!
//! ```sh
//! cargo run --release -p bench --bin reporter -- --spans 300000 --rounds 3
//! scripts/kafka-broker run &   # a broker on 127.0.0.1:9092
//! cargo run --release -p bench --bin reporter -- --transport kafka \
//!     --kafka-bootstrap-servers 127.0.0.1:9092
//! ```

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bench::backend::{Backend, BackendKind};
use bench::procfs::{ThreadSet, thread_cpu_time, threads_named};
use bench::report::{Table, command_line, median, thousands};
use bench::spans::record_service2_spans;
use clap::Parser;
use zipkin_reporter::{
    AmqpUri, AsyncReporter, BootstrapServers, Destination, HttpCompression, ReporterConfig,
    ReporterStats,
};
use zipkin_tracing::{NopReporter, Tracer};

/// The throughput the reporter should reach.
const TARGET: f64 = 1_000_000.0;

/// Spans recorded between two looks at the queue.
const CHUNK: u64 = 300;

/// The reporter benchmark's settings.
#[derive(Debug, Parser)]
#[command(
    name = "reporter",
    about = "Spans per second AsyncReporter delivers to a collector on loopback"
)]
struct Args {
    /// Spans reported per round.
    #[arg(long, default_value_t = 300_000, value_parser = clap::value_parser!(u64).range(1..=20_000_000))]
    spans: u64,

    /// Rounds, each with a fresh collector and reporter; the table gives their median.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,

    /// How batches travel: POSTed to a collector the benchmark starts, or through a
    /// broker the user started (`--rabbit-uri`, `--kafka-bootstrap-servers`).
    #[arg(long, value_enum, default_value_t = plumbing::ZipkinTransport::Http)]
    transport: plumbing::ZipkinTransport,

    /// With `--transport rabbitmq`: a running node's AMQP URI, e.g.
    /// `amqp://guest:guest@127.0.0.1:5672`; batches go to its queue `zipkin`.
    #[arg(long, value_parser = str::parse::<AmqpUri>)]
    rabbit_uri: Option<AmqpUri>,

    /// With `--transport kafka`: a running broker's address, e.g. `127.0.0.1:9092`;
    /// batches go to its topic `zipkin`.
    #[arg(long, value_parser = str::parse::<BootstrapServers>)]
    kafka_bootstrap_servers: Option<BootstrapServers>,

    /// With `--transport http`, the receiving side: the stand-in collector (decodes and
    /// stores every span) or a sink (reads the body, answers 202).
    #[arg(long, value_enum, default_value_t = BackendKind::StandIn)]
    collector: BackendKind,

    /// Spans per POST (the reporter's default is 100).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    batch_size: u32,

    /// The reporter's queue (default 10,000, as in the services).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    queue_capacity: u32,

    /// With `--transport http`: POST bodies as they are (none) or gzip-compressed.
    #[arg(long, default_value = "none", value_parser = str::parse::<HttpCompression>)]
    compression: HttpCompression,
}

/// One round's measurements.
#[derive(Debug, Clone, Copy)]
struct Round {
    stats: ReporterStats,
    /// Spans the stand-in collector holds at the end (`None` for the sink).
    stored: Option<usize>,
    /// From the first span recorded to the flush that saw the last one acknowledged.
    wall: Duration,
    /// CPU time of the reporter's own thread over `wall`: queue, JSON encoding, HTTP.
    cpu: Duration,
    /// CPU time of the main thread, which records the spans.
    recording_cpu: Duration,
    /// Body bytes the sink received, as sent (`None` for the stand-in and brokers).
    body_bytes: Option<u64>,
    /// CPU time of the collector's thread (`None` for a broker, a process of its own).
    collector_cpu: Option<Duration>,
}

impl Round {
    fn per_wall_second(&self) -> f64 {
        self.stats.sent as f64 / self.wall.as_secs_f64()
    }

    fn per_cpu_second(&self) -> f64 {
        self.stats.sent as f64 / self.cpu.as_secs_f64()
    }
}

/// A peer address for the server spans' `remoteEndpoint`, as a real client would have.
const PEER: &str = "127.0.0.1:53124";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let peer: SocketAddr = PEER.parse().expect("invariant: a valid socket address");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot build the reporter's runtime")?;

    let recording_only = recording_rate(peer, args.spans.min(300_000))?;
    let broker = broker_destination(&args)?;
    let mut rounds = Vec::new();
    for round in 1..=args.rounds {
        eprintln!(
            "round {round}/{}: {} spans …",
            args.rounds,
            thousands(args.spans)
        );
        let Some(destination) = broker.clone() else {
            let backend = Backend::start(args.collector, args.spans as usize + 1)?;
            let destination = Destination::Http(backend.endpoint().parse()?);
            let (stats, wall, cpu, recording_cpu) =
                runtime.block_on(report_spans(&args, destination, peer))?;
            let stored = backend.collector().map(collector::Collector::span_count);
            let usage = backend.stop()?;
            rounds.push(Round {
                stats,
                stored,
                wall,
                cpu,
                recording_cpu,
                collector_cpu: Some(usage.cpu),
                body_bytes: (usage.posts > 0).then_some(usage.bytes),
            });
            continue;
        };
        let (stats, wall, cpu, recording_cpu) =
            runtime.block_on(report_spans(&args, destination, peer))?;
        rounds.push(Round {
            stats,
            stored: None,
            wall,
            cpu,
            recording_cpu,
            collector_cpu: None,
            body_bytes: None,
        });
    }
    print_report(&args, &rounds, recording_only);
    let unconfirmed = rounds
        .iter()
        .find(|r| r.stored.is_some_and(|stored| stored as u64 != r.stats.sent));
    if let Some(round) = unconfirmed {
        anyhow::bail!(
            "the collector stored {:?} spans where the reporter counted {} sent",
            round.stored,
            round.stats.sent
        );
    }
    Ok(())
}

/// Where batches go when the transport is a broker: the one named on the command line.
fn broker_destination(args: &Args) -> anyhow::Result<Option<Destination>> {
    Ok(match args.transport {
        plumbing::ZipkinTransport::Http => None,
        plumbing::ZipkinTransport::Rabbitmq => Some(Destination::RabbitMq {
            uri: args.rabbit_uri.clone().context(
                "--transport rabbitmq needs --rabbit-uri amqp://USER:PASS@HOST:PORT of a \
                 running node (Debian: apt-get install rabbitmq-server, then its service or \
                 `sudo rabbitmq-server` listens on 5672)",
            )?,
            queue: "zipkin".parse()?,
        }),
        plumbing::ZipkinTransport::Kafka => Some(Destination::Kafka {
            bootstrap_servers: args.kafka_bootstrap_servers.clone().context(
                "--transport kafka needs --kafka-bootstrap-servers HOST:PORT of a running \
                 broker (scripts/kafka-broker run starts one on 127.0.0.1:9092)",
            )?,
            topic: "zipkin".parse()?,
        }),
    })
}

/// Records and reports `args.spans` spans to `destination`, never letting the queue overflow,
/// then flushes; returns the reporter's counters, the wall time, the CPU time of the
/// reporter's thread and that of this (recording) thread.
async fn report_spans(
    args: &Args,
    destination: Destination,
    peer: SocketAddr,
) -> anyhow::Result<(ReporterStats, Duration, Duration, Duration)> {
    let http = matches!(destination, Destination::Http(_));
    let mut config = ReporterConfig::new(destination);
    if http {
        config.http_compression = args.compression;
    }
    config.batch_size = args.batch_size as usize;
    config.queue_capacity = args.queue_capacity as usize;
    // The previous round's reporter threads end within its batch interval; wait for them,
    // so that the threads measured below are this round's.
    let waited = Instant::now();
    while !threads_named("zipkin-reporter")?.is_empty() {
        anyhow::ensure!(
            waited.elapsed() < Duration::from_secs(5),
            "an earlier reporter's thread is still running"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reporter = AsyncReporter::start(config)?;
    // Reporter threads of earlier rounds may still be winding down; deltas leave them out.
    let reporter_threads = ThreadSet::new();
    // A reporter sends from one thread of its own.
    let found = reporter_threads.register_named("zipkin-reporter", 1, Duration::from_secs(5))?;
    anyhow::ensure!(
        found == 1,
        "found {found} zipkin-reporter threads, expected 1"
    );
    let tracer = Tracer::builder(service2::SERVICE_NAME)
        .reporter(reporter.clone())
        .build();
    // Keep the queue at most half full: a full queue would drop spans, and an empty one
    // would leave the sender idle.
    let high_water = (u64::from(args.queue_capacity) / 2).max(CHUNK);

    let cpu_start = thread_cpu_time()?;
    let reporter_cpu_start = reporter_threads.cpu_time();
    let start = Instant::now();
    let mut recorded = 0;
    while recorded < args.spans {
        let stats = reporter.stats();
        let pending = stats.queued - stats.sent - stats.failed;
        if pending + CHUNK > high_water {
            // Sleeping, not spinning: the CPU time measured is the reporter's work.
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        let count = CHUNK.min(args.spans - recorded);
        record_service2_spans(&tracer, peer, count);
        recorded += count;
        // Let the sending task run between chunks, as it would between requests.
        tokio::task::yield_now().await;
    }
    let flushed = reporter.flush(Duration::from_secs(120)).await;
    let wall = start.elapsed();
    let recording_cpu = thread_cpu_time()?.saturating_sub(cpu_start);
    let cpu = reporter_threads
        .cpu_time()
        .saturating_sub(reporter_cpu_start);
    anyhow::ensure!(
        flushed,
        "the reporter did not deliver its spans within 120 s"
    );
    Ok((reporter.stats(), wall, cpu, recording_cpu))
}

/// Spans per second of recording alone (the same spans, to a reporter that discards them),
/// for comparison with the reporter thread's rate.
fn recording_rate(peer: SocketAddr, spans: u64) -> anyhow::Result<f64> {
    let tracer = Tracer::builder(service2::SERVICE_NAME)
        .reporter(NopReporter)
        .build();
    record_service2_spans(&tracer, peer, spans.min(10_000)); // warm-up
    let cpu_start = thread_cpu_time()?;
    record_service2_spans(&tracer, peer, spans);
    let cpu = thread_cpu_time()?.saturating_sub(cpu_start);
    Ok(spans as f64 / cpu.as_secs_f64())
}

fn print_report(args: &Args, rounds: &[Round], recording_only: f64) {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let receiver = match args.transport {
        plumbing::ZipkinTransport::Http => format!("{} collector", args.collector),
        other => format!("{} broker", other.name()),
    };
    println!("## Reporter throughput: AsyncReporter → {receiver}, loopback\n");
    println!("Command: `{}`\n", command_line("reporter"));
    println!(
        "{} rounds of {} spans (service2's server span with http tags, then its two local \
         spans, recorded through the tracer on the main thread). Sending side: the \
         reporter's own thread; queue {}, batches of {}, kept at most half full so nothing \
         is dropped. Receiving side: {}. {} CPUs.\n",
        args.rounds,
        thousands(args.spans),
        thousands(u64::from(args.queue_capacity)),
        args.batch_size,
        match (args.transport, args.collector) {
            (plumbing::ZipkinTransport::Http, BackendKind::StandIn) =>
                "the stand-in collector on its own thread and current-thread runtime, \
                 decoding and storing every span (its store is checked)",
            (plumbing::ZipkinTransport::Http, BackendKind::Sink) =>
                "a sink on its own thread and current-thread runtime, reading each body \
                 and answering 202",
            (plumbing::ZipkinTransport::Rabbitmq, _) =>
                "a RabbitMQ node (its own process), one persistent message per batch on a \
                 durable queue nobody reads, each confirmed by the broker",
            (plumbing::ZipkinTransport::Kafka, _) =>
                "a one-node Kafka broker (its own process), one record per batch, each \
                 produce acknowledged by the partition leader",
        },
        cpus,
    );
    let mut table = Table::new(&[
        "round",
        "spans sent",
        "dropped + failed",
        "stored by collector",
        "wall",
        "spans/s (wall)",
        "recording thread CPU",
        "reporter threads' CPU",
        "busy",
        "spans per CPU-second",
        "collector CPU",
    ]);
    for (i, round) in rounds.iter().enumerate() {
        table.row(vec![
            (i + 1).to_string(),
            thousands(round.stats.sent),
            thousands(round.stats.dropped + round.stats.failed),
            round
                .stored
                .map_or_else(|| "n/a".to_owned(), |n| thousands(n as u64)),
            format!("{:.2} s", round.wall.as_secs_f64()),
            thousands(round.per_wall_second() as u64),
            format!("{:.2} s", round.recording_cpu.as_secs_f64()),
            format!("{:.2} s", round.cpu.as_secs_f64()),
            format!(
                "{:.0}%",
                100.0 * round.cpu.as_secs_f64() / round.wall.as_secs_f64()
            ),
            thousands(round.per_cpu_second() as u64),
            round.collector_cpu.map_or_else(
                || "n/a".to_owned(),
                |cpu| format!("{:.2} s", cpu.as_secs_f64()),
            ),
        ]);
    }
    let wall_rate = median(
        &rounds
            .iter()
            .map(Round::per_wall_second)
            .collect::<Vec<_>>(),
    );
    let cpu_rate = median(&rounds.iter().map(Round::per_cpu_second).collect::<Vec<_>>());
    table.row(vec![
        "median".to_owned(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        thousands(wall_rate as u64),
        String::new(),
        String::new(),
        String::new(),
        thousands(cpu_rate as u64),
        String::new(),
    ]);
    println!("{}", table.to_markdown());
    if let Some(round) = rounds.last()
        && let Some(bytes) = round.body_bytes
        && round.stats.sent > 0
    {
        println!(
            "Body bytes per span received by the sink, compression {}: {:.0}.\n",
            match args.compression {
                HttpCompression::None => "none",
                HttpCompression::Gzip => "gzip",
            },
            bytes as f64 / round.stats.sent as f64
        );
    }
    let verdict = if wall_rate >= TARGET { "met" } else { "missed" };
    println!(
        "Target: ≥ {} spans/s delivered: {} spans/s ({verdict}); per CPU-second of the \
         reporter's thread: {}.",
        thousands(TARGET as u64),
        thousands(wall_rate as u64),
        thousands(cpu_rate as u64),
    );
    println!(
        "Recording alone (the same spans to a NopReporter): {} spans per CPU-second of the \
         recording thread. The reporter's thread drains the lanes, encodes JSON and sends; \
         \"busy\" is its CPU time over wall time (100% = one core).",
        thousands(recording_only as u64),
    );
}
