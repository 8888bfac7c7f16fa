//! A collector that is down (connections refused) does not hurt the traced services:
//! requests through service1 and service2 answer as fast as with a working collector, the
//! reporters count every span they could not deliver, and each service logs the outage
//! once, not once per span, batch or retry.
//!
//! The real binaries show what a user sees: one warning while the first batch is retried,
//! one line when the collector is back. Their 30 s retry window is too long for a test to
//! see several batches given up, so a child run of this test binary, logging like the
//! binaries, runs two reporters that give up a batch every 100 ms, and its log is read
//! reporter by reporter.

// Tests may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use itests::collector_double::ACCEPTED;
use itests::latency::{compare, timed_get};
use itests::trace_source::wait_until;
use itests::{ArticleTrace, Chain, CollectorDouble, TraceTree, wait_for_trace, warning_lines};
use zipkin_reporter::{AsyncReporter, ReporterConfig};
use zipkin_tracing::Tracer;

/// Timed requests through each chain.
const ROUNDS: usize = 60;
/// Untimed requests through each chain first, to open connections and warm caches.
const WARM_UP: usize = 3;
/// Spans each service records per request: service1 has SERVER, local and CLIENT spans;
/// service2 has SERVER and two local spans.
const SPANS_PER_SERVICE: u64 = 3;

/// Small batches given up quickly, so that many batches fail during the test.
fn quick_to_give_up(endpoint: String) -> ReporterConfig {
    ReporterConfig {
        batch_size: 50,
        batch_interval: Duration::from_millis(20),
        retry_window: Duration::from_millis(200),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..ReporterConfig::http(endpoint.parse().unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_as_fast_with_the_collector_down_and_lost_spans_are_counted() {
    let collector = CollectorDouble::start().await;
    let healthy = Chain::options(collector.endpoint())
        .reporter(quick_to_give_up(collector.endpoint()))
        .start()
        .await
        .unwrap();
    let refusing = CollectorDouble::down().unwrap();
    let down = Chain::options(refusing.endpoint())
        .reporter(quick_to_give_up(refusing.endpoint()))
        .start()
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let (healthy_url, down_url) = (healthy.entry_url(), down.entry_url());
    compare(&client, &healthy_url, &down_url, WARM_UP, |_| {})
        .await
        .unwrap();

    let comparison = compare(&client, &healthy_url, &down_url, ROUNDS, |_| {})
        .await
        .unwrap();
    comparison.assert_faulty_like_healthy();

    // Every span the down chain recorded ends up counted as lost: given up after the retry
    // window (failed) or refused by a full queue (dropped). None counts as sent.
    let recorded = SPANS_PER_SERVICE * (WARM_UP + ROUNDS) as u64;
    for service in down.services() {
        let what = format!(
            "{}'s reporter to give up all {recorded} spans",
            service.name()
        );
        let stats = wait_until(&what, Duration::from_secs(10), || {
            let stats = service.stats();
            async move {
                if stats.failed + stats.dropped >= recorded {
                    Ok(stats)
                } else {
                    Err(format!("{stats:?}"))
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(stats.sent, 0, "{}: {stats:?}", service.name());
        assert!(stats.failed > 0, "{}: {stats:?}", service.name());
        assert_eq!(
            (stats.queued + stats.dropped, stats.failed),
            (recorded, stats.queued),
            "{}: each recorded span is counted once, as failed or dropped: {stats:?}",
            service.name()
        );
    }

    // The healthy chain delivered everything: it was a fair comparison.
    assert!(healthy.flush(Duration::from_secs(10)).await);
    assert_eq!(
        collector.spans().unwrap().len() as u64,
        2 * recorded,
        "the healthy chain's spans"
    );
}

/// How long requests keep coming after both services have logged the outage. The
/// reporter's default backoff (100 ms, doubling) retries its batch 4 times in 1.5 s, so a
/// reporter that logged every failed attempt would have logged at least 4 more lines.
const OUTAGE_AFTER_FIRST_WARNING: Duration = Duration::from_millis(2500);
/// How long the services may take to notice the outage: their first batch waits up to the
/// default 1 s batch interval before it is sent.
const NOTICE_DEADLINE: Duration = Duration::from_secs(10);
/// How long the services may take to notice the collector is back: the default backoff
/// reaches 3.2 s between attempts a few seconds into an outage.
const RECOVERY_DEADLINE: Duration = Duration::from_secs(10);
/// The pace of requests: a steady trickle, 50 a second.
const REQUEST_EVERY: Duration = Duration::from_millis(20);
/// What the services log, at `INFO`, when the collector answers again.
const RECOVERED: &str = "Zipkin collector reachable again";

#[tokio::test]
async fn an_outage_is_logged_once_per_service_and_its_end_once_while_requests_succeed() {
    let down = CollectorDouble::down().unwrap();
    let chain = Chain::options(down.endpoint())
        .binaries()
        .start()
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let url = chain.entry_url();
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", chain.describe_output());
    let first_trace = itests::trace_id_of(&response).unwrap();

    let started = Instant::now();
    let mut both_warned_at = None;
    let mut pace = tokio::time::interval(REQUEST_EVERY);
    let mut answered = 1;
    loop {
        pace.tick().await;
        if let Err(error) = timed_get(&client, &url).await {
            panic!(
                "request {answered} failed during the outage: {error:#}\n{}",
                chain.describe_output()
            );
        }
        answered += 1;
        let both_warned = chain
            .services()
            .iter()
            .all(|service| !warning_lines(&service.output()).is_empty());
        match both_warned_at {
            None if both_warned => both_warned_at = Some(Instant::now()),
            Some(at) if at.elapsed() >= OUTAGE_AFTER_FIRST_WARNING => break,
            _ => {}
        }
        assert!(
            both_warned_at.is_some() || started.elapsed() < NOTICE_DEADLINE,
            "both services should log a warning about the collector within \
             {NOTICE_DEADLINE:?}; after {answered} requests:\n{}",
            chain.describe_output()
        );
    }

    // Back within the 30 s retry window: the batch being retried goes through, the first
    // request's trace with it, and each service says once that the outage is over.
    let collector = down.come_up(ACCEPTED).await.unwrap();
    wait_until(
        "both services to log that the collector is back",
        RECOVERY_DEADLINE,
        || {
            let back = chain
                .services()
                .iter()
                .all(|service| service.output().contains(RECOVERED));
            async move {
                if back {
                    Ok(())
                } else {
                    Err("not yet".to_owned())
                }
            }
        },
    )
    .await
    .unwrap_or_else(|error| panic!("{error:#}\n{}", chain.describe_output()));
    let mut tree = TraceTree::new(wait_for_trace(&collector, first_trace, 6).await.unwrap());
    ArticleTrace::take(&mut tree);
    tree.finish();

    for service in chain.services() {
        let (name, output) = (service.name(), service.output());
        let warnings = warning_lines(&output);
        assert_eq!(
            warnings.len(),
            1,
            "{name}: a collector outage is logged once, not once per span, batch or \
             retry; it logged {} warnings over {answered} requests:\n{}",
            warnings.len(),
            warnings.join("\n")
        );
        assert!(
            warnings[0].contains("Zipkin collector unavailable"),
            "{name}: the warning names the problem: {}",
            warnings[0]
        );
        assert_eq!(
            output.matches(RECOVERED).count(),
            1,
            "{name}: the end of the outage is logged once:\n{output}"
        );
    }
}

/// Set in the environment when this test binary runs itself again as the logging child.
const LOGGING_CHILD: &str = "ITESTS_COLLECTOR_DOWN_LOGGING_CHILD";
/// The test the child runs: the one that starts it.
const LOGGING_TEST: &str = "many_batches_given_up_make_one_warning_per_reporter";
/// Batches each of the child's reporters gives up before its collector comes up.
const BATCHES_GIVEN_UP: u64 = 10;
const CHILD_BATCH_SIZE: usize = 3;
/// How the child tells the parent what each reporter counted: this, its endpoint, and
/// `failed=N`.
const CHILD_COUNTS: &str = "child reporter";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_batches_given_up_make_one_warning_per_reporter() {
    if std::env::var_os(LOGGING_CHILD).is_some() {
        give_up_many_batches_with_logging().await;
        return;
    }
    // A global log subscriber would see every test's logs, so the child gets a process of
    // its own: this binary, running only this test.
    let output = tokio::task::spawn_blocking(|| {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", LOGGING_TEST, "--nocapture"])
            .env(LOGGING_CHILD, "1")
            .env("RUST_LOG", "info")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the logging child failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // Each reporter's endpoint and the spans it gave up, as the child counted them.
    let reporters: Vec<(&str, u64)> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix(CHILD_COUNTS))
        .map(|line| {
            let (endpoint, failed) = line.trim().split_once(" failed=").unwrap();
            (endpoint, failed.parse().unwrap())
        })
        .collect();
    assert_eq!(reporters.len(), 2, "{stdout}");
    let warnings = warning_lines(&stderr);
    for (endpoint, failed) in reporters {
        assert!(
            failed >= BATCHES_GIVEN_UP * CHILD_BATCH_SIZE as u64,
            "{endpoint} gave up {failed} spans"
        );
        let field = format!("endpoint={endpoint}");
        let its_warnings: Vec<&&str> = warnings.iter().filter(|l| l.contains(&field)).collect();
        assert_eq!(
            its_warnings.len(),
            1,
            "the reporter to {endpoint} gave up {failed} spans and should log the outage \
             once; the child logged:\n{}",
            warnings.join("\n")
        );
        assert!(
            its_warnings[0].contains("Zipkin collector unavailable"),
            "{}",
            its_warnings[0]
        );
        let recoveries: Vec<&str> = stderr
            .lines()
            .filter(|line| line.contains(RECOVERED) && line.contains(&field))
            .collect();
        assert_eq!(
            recoveries.len(),
            1,
            "the reporter to {endpoint} logs the end of the outage once:\n{stderr}"
        );
        assert_eq!(
            lost_spans(recoveries[0]),
            Some(failed),
            "the end of the outage counts exactly the spans given up meanwhile: {}",
            recoveries[0]
        );
    }
}

/// The `lost_spans=N` field of a log line.
fn lost_spans(line: &str) -> Option<u64> {
    let (_, after) = line.split_once("lost_spans=")?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The child's part: logs as the binaries do, and makes two reporters, each to a refused
/// endpoint of its own, give up at least [`BATCHES_GIVEN_UP`] batches; once every span
/// is given up, brings the collectors up and sends one more span through each. Prints
/// each reporter's endpoint and `failed` count for the parent.
async fn give_up_many_batches_with_logging() {
    plumbing::init_logging("info", None).unwrap();
    let config = |endpoint: String| ReporterConfig {
        batch_size: CHILD_BATCH_SIZE,
        batch_interval: Duration::from_millis(10),
        retry_window: Duration::from_millis(100),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        ..ReporterConfig::http(endpoint.parse().unwrap())
    };
    let doubles = [
        CollectorDouble::down().unwrap(),
        CollectorDouble::down().unwrap(),
    ];
    let mut reporters = Vec::new();
    for double in &doubles {
        let reporter = AsyncReporter::start(config(double.endpoint())).unwrap();
        let tracer = Tracer::builder("child").reporter(reporter.clone()).build();
        reporters.push((double.endpoint(), reporter, tracer));
    }
    let spans = BATCHES_GIVEN_UP * CHILD_BATCH_SIZE as u64;
    for (endpoint, reporter, tracer) in &reporters {
        for _ in 0..spans {
            tracer.start(tracer.new_trace(), "work", None).finish();
        }
        // Every span given up, none left retrying: the outage's count is then final.
        let what = format!("the reporter to {endpoint} to give up all {spans} spans");
        wait_until(&what, Duration::from_secs(10), || {
            let stats = reporter.stats();
            async move {
                if stats.failed == spans && stats.queued == spans {
                    Ok(())
                } else {
                    Err(format!("{stats:?}"))
                }
            }
        })
        .await
        .unwrap();
    }
    let mut up = Vec::new();
    for double in doubles {
        up.push(double.come_up(ACCEPTED).await.unwrap());
    }
    for (endpoint, reporter, tracer) in &reporters {
        // A span after the recovery, so that the reporter has something to send; the
        // flush returns once it is sent, after the reporter logged the recovery.
        tracer.start(tracer.new_trace(), "work", None).finish();
        assert!(reporter.flush(Duration::from_secs(10)).await);
        println!(
            "{CHILD_COUNTS} {endpoint} failed={}",
            reporter.stats().failed
        );
    }
}
