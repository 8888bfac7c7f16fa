//! The reporter's fault rules hold for every transport, run from one table (HTTP,
//! RabbitMQ, Kafka): a collector or broker that is down when the services start does not
//! stop them (they serve, count what they lose, and deliver once it comes up); an outage
//! while requests go on does not slow them, its losses are counted and each reporter logs
//! one warning for it; and spans still queued at shutdown are delivered by the flush.
//!
//! The brokers are real (Debian's `rabbitmq-server`; Kafka from `scripts/kafka-broker
//! fetch`), each on private ports with its data in a temporary folder. With `CI=true` a
//! broker that cannot start fails its test; elsewhere the test prints one skip line.

// Tests may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use itests::CollectorDouble;
use itests::latency::{Comparison, Latencies, timed_get};
use itests::trace_source::wait_until;
use itests::{Chain, Service, TransportEngine};
use zipkin_reporter::{Destination, ReporterConfig, ReporterStats};

const TEST: &str = "transport_faults";
/// Requests timed before and during an outage.
const TIMED_REQUESTS: usize = 15;
/// How long counters and deliveries may take to show: a broker's reconnection and a retry
/// on a busy machine.
const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http() {
    faults_hold_for("http").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq() {
    faults_hold_for("rabbitmq").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka() {
    faults_hold_for("kafka").await;
}

/// Every scenario, in order, against one engine of `transport`.
async fn faults_hold_for(transport: &str) {
    // The table's rows are the test functions above; each names one of these.
    assert!(itests::TRANSPORTS.contains(&transport), "{transport}");
    let Some(mut engine) = TransportEngine::new_or_skip(transport, TEST) else {
        return;
    };
    let logs = captured_logs();
    let outcome = async {
        down_at_start(&mut engine).await?;
        outage_mid_run(&mut engine, logs).await?;
        flush_on_shutdown(&engine).await
    }
    .await;
    if let Err(error) = outcome {
        panic!(
            "{transport}: {error:#}\n--- the engine's last log lines:\n{}",
            engine.log_tail()
        );
    }
}

/// Settings that give up a batch quickly, so that losses show within a test.
fn quick_to_give_up(destination: Destination) -> ReporterConfig {
    ReporterConfig {
        batch_size: 10,
        batch_interval: Duration::from_millis(50),
        request_timeout: Duration::from_secs(2),
        retry_window: Duration::from_millis(300),
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(100),
        ..ReporterConfig::new(destination)
    }
}

/// A chain reporting to `engine` through its transport, with `ZIPKIN_ENDPOINT` (unused
/// unless the transport is HTTP) at a port that refuses connections.
async fn chain_to(engine: &TransportEngine, config: ReporterConfig) -> anyhow::Result<Chain> {
    let closed = CollectorDouble::down()?;
    Chain::options(closed.endpoint())
        .transport(engine.destination())
        .reporter(config)
        .start()
        .await
}

/// Waits until `check` holds for every service's counters.
async fn wait_for_stats(
    chain: &Chain,
    what: &str,
    check: impl Fn(&Service, ReporterStats) -> bool,
) -> anyhow::Result<()> {
    for service in chain.services() {
        let what = format!("{}: {what}", service.name());
        wait_until(&what, DEADLINE, || {
            let stats = service.stats();
            let holds = check(service, stats);
            async move {
                if holds {
                    Ok(())
                } else {
                    Err(format!("{stats:?}"))
                }
            }
        })
        .await?;
    }
    Ok(())
}

/// The engine is down when the services start: they start and serve, the spans they
/// cannot deliver are counted, and once it comes up later spans are delivered.
async fn down_at_start(engine: &mut TransportEngine) -> anyhow::Result<()> {
    let chain = chain_to(engine, quick_to_give_up(engine.destination())).await?;
    let client = reqwest::Client::new();
    for _ in 0..3 {
        timed_get(&client, &chain.entry_url()).await?;
    }
    wait_for_stats(&chain, "spans lost while the engine is down", |_, stats| {
        stats.failed >= 3
    })
    .await?;
    engine.start().await?;
    let before: Vec<u64> = chain.services().iter().map(|s| s.stats().sent).collect();
    timed_get(&client, &chain.entry_url()).await?;
    wait_for_stats(
        &chain,
        "spans delivered once the engine is up",
        |service, stats| {
            let index = usize::from(service.name() == "service2");
            stats.sent >= before[index] + 3
        },
    )
    .await
}

/// The engine goes down while requests go on: they are as fast as before, the spans lost
/// are counted, each reporter logs one warning for the outage, and after the engine is
/// back later spans are delivered.
async fn outage_mid_run(engine: &mut TransportEngine, logs: &CapturedLogs) -> anyhow::Result<()> {
    let chain = chain_to(engine, quick_to_give_up(engine.destination())).await?;
    let client = reqwest::Client::new();
    let url = chain.entry_url();
    let mut healthy = Latencies::default();
    for _ in 0..TIMED_REQUESTS {
        healthy.push(timed_get(&client, &url).await?);
    }
    wait_for_stats(
        &chain,
        "every span delivered before the outage",
        |_, stats| stats.sent == stats.queued,
    )
    .await?;
    let failed_before: Vec<u64> = chain.services().iter().map(|s| s.stats().failed).collect();
    let mark = logs.len();
    engine.stop();
    let mut faulty = Latencies::default();
    for _ in 0..TIMED_REQUESTS {
        faulty.push(timed_get(&client, &url).await?);
    }
    Comparison { healthy, faulty }.assert_faulty_like_healthy();
    wait_for_stats(&chain, "spans lost in the outage", |service, stats| {
        let index = usize::from(service.name() == "service2");
        stats.failed >= failed_before[index] + 3
    })
    .await?;
    // More failures after the first: still only one warning per reporter.
    for _ in 0..3 {
        timed_get(&client, &url).await?;
    }
    let address = engine.address();
    wait_for_stats(&chain, "the later requests' spans lost too", |_, stats| {
        stats.sent + stats.failed == stats.queued
    })
    .await?;
    let warnings = logs.warnings_since(mark, &address);
    anyhow::ensure!(
        warnings.len() == chain.services().len(),
        "expected one warning per reporter about {address}, got:\n{}",
        warnings.join("\n")
    );
    engine.start().await?;
    let sent_before: Vec<u64> = chain.services().iter().map(|s| s.stats().sent).collect();
    timed_get(&client, &url).await?;
    wait_for_stats(
        &chain,
        "spans delivered after the outage",
        |service, stats| {
            let index = usize::from(service.name() == "service2");
            stats.sent >= sent_before[index] + 3
        },
    )
    .await
}

/// Spans still queued when the services stop are delivered by the flush on shutdown:
/// batches wait a minute to fill, so only the flush can send them in time.
async fn flush_on_shutdown(engine: &TransportEngine) -> anyhow::Result<()> {
    let config = ReporterConfig {
        batch_interval: Duration::from_secs(60),
        ..ReporterConfig::new(engine.destination())
    };
    let mut chain = chain_to(engine, config).await?;
    timed_get(&reqwest::Client::new(), &chain.entry_url()).await?;
    chain.stop().await?;
    for service in chain.services() {
        let stats = service.stats();
        anyhow::ensure!(
            stats.queued == 3 && stats.sent == 3,
            "{}: every span delivered at shutdown, got {stats:?}",
            service.name()
        );
    }
    Ok(())
}

/// What this test process logged, at INFO and above, without colours.
#[derive(Default)]
struct CapturedLogs(Mutex<Vec<String>>);

impl CapturedLogs {
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// The reporter's warnings about `address` logged after the first `mark` lines.
    fn warnings_since(&self, mark: usize, address: &str) -> Vec<String> {
        self.0.lock().unwrap()[mark..]
            .iter()
            .filter(|line| line.contains(" WARN ") && line.contains("zipkin_reporter"))
            .filter(|line| line.contains(address))
            .cloned()
            .collect()
    }
}

/// One subscriber for the whole process (the reporters log from their own threads), whose
/// lines every test reads, each looking only for its own engine's address.
fn captured_logs() -> &'static CapturedLogs {
    static LOGS: OnceLock<Arc<CapturedLogs>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(CapturedLogs::default());
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || LineWriter(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        logs
    })
}

/// Appends each formatted event to the captured lines.
struct LineWriter(Arc<CapturedLogs>);

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(bytes);
        self.0
            .0
            .lock()
            .unwrap()
            .extend(text.lines().map(str::to_owned));
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
