//! The real Zipkin server reading its RabbitMQ queue or its Kafka topic, fed by the real
//! service binaries configured as a user would: `ZIPKIN_TRANSPORT` and the broker's
//! address, with `ZIPKIN_ENDPOINT` at a port that refuses connections (so nothing goes
//! over HTTP).
//!
//! For each broker: the article's trace is whole in Zipkin's API; then the broker stops
//! while requests go on, and they stay as fast as before, each service logs one warning
//! for the outage, and after the broker is back each service logs that it recovered
//! (with how many spans the outage cost), and later traces arrive whole in Zipkin.
//!
//! And RabbitMQ keeps what it confirmed: spans published while no Zipkin reads the queue
//! outlive a restart of the broker and reach Zipkin once it starts.
//!
//! Needs Java and the Zipkin jar (`scripts/zipkin-server fetch`) and the broker:
//! `apt-get install rabbitmq-server`, `scripts/kafka-broker fetch`. With `CI=true` a
//! missing engine fails these tests; elsewhere each prints one skip line.

// Tests may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use itests::CollectorDouble;
use itests::caller::call;
use itests::latency::{Comparison, Latencies, timed_get};
use itests::trace_source::wait_until;
use itests::zipkin_scenarios::{TIME_SCALE, stored_article};
use itests::{
    Chain, Kafka, RabbitMq, TransportEngine, ZipkinServer, wait_for_trace_within, warning_lines,
};

const TEST: &str = "broker_zipkin";
/// Requests timed before and during the outage.
const TIMED_REQUESTS: usize = 10;
/// How long a log line or a trace may take after the broker is back: Zipkin's clients
/// reconnect on their own schedule (RabbitMQ's every 5 s), then the reporters' retries.
const RECOVERY_DEADLINE: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zipkin_reads_the_article_from_rabbitmq_and_again_after_an_outage() {
    let Some(broker) = RabbitMq::started_or_skip(TEST).await else {
        return;
    };
    let uri = broker.uri();
    let env = [("RABBIT_URI", uri.as_str())];
    let Some(zipkin) = ZipkinServer::start_or_skip(TEST, &env).await else {
        return;
    };
    through_the_broker(TransportEngine::RabbitMq(broker), zipkin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zipkin_reads_the_article_from_kafka_and_again_after_an_outage() {
    let Some(broker) = Kafka::started_or_skip(TEST).await else {
        return;
    };
    let servers = broker.bootstrap_servers();
    let env = [("KAFKA_BOOTSTRAP_SERVERS", servers.as_str())];
    let Some(zipkin) = ZipkinServer::start_or_skip(TEST, &env).await else {
        return;
    };
    through_the_broker(TransportEngine::Kafka(broker), zipkin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_queued_in_rabbitmq_outlive_a_broker_restart_and_reach_zipkin() {
    let Some(mut broker) = RabbitMq::started_or_skip(TEST).await else {
        return;
    };
    let closed = CollectorDouble::down().unwrap();
    let chain = Chain::options(closed.endpoint())
        .transport(broker.destination())
        .time_scale(TIME_SCALE)
        .start()
        .await
        .unwrap();
    // No Zipkin reads the queue yet: the traces wait in it.
    let mut traces = Vec::new();
    for _ in 0..3 {
        traces.push(call(&chain.entry_url(), &[]).await.unwrap());
    }
    for service in chain.services() {
        let what = format!("{}'s spans confirmed by the broker", service.name());
        wait_until(&what, RECOVERY_DEADLINE, || {
            let stats = service.stats();
            async move {
                if stats.queued > 0 && stats.sent == stats.queued {
                    Ok(())
                } else {
                    Err(format!("{stats:?}"))
                }
            }
        })
        .await
        .unwrap();
    }
    broker.stop();
    broker.start().await.unwrap();
    let uri = broker.uri();
    let Some(zipkin) = ZipkinServer::start_or_skip(TEST, &[("RABBIT_URI", uri.as_str())]).await
    else {
        return;
    };
    for id in traces {
        let spans = wait_for_trace_within(&zipkin.api(), id, 6, RECOVERY_DEADLINE).await;
        if let Err(error) = spans {
            panic!(
                "trace {id} did not outlive the broker's restart: {error:#}\n--- the broker's last log lines:\n{}\n--- Zipkin's last 40 log lines:\n{}",
                broker.log_tail(40),
                zipkin.log_tail(40)
            );
        }
    }
}

/// The whole scenario (see the module doc) with a started broker and a Zipkin reading it.
async fn through_the_broker(mut broker: TransportEngine, zipkin: ZipkinServer) {
    let closed = CollectorDouble::down().unwrap();
    let mut chain = Chain::options(closed.endpoint())
        .transport(broker.destination())
        .time_scale(TIME_SCALE)
        .binaries()
        .start()
        .await
        .unwrap();
    let outcome = scenario(&mut broker, &zipkin, &chain).await;
    let _ = chain.stop().await;
    if let Err(error) = outcome {
        panic!(
            "{error:#}\n--- the services' output:\n{}\n--- the broker's last log lines:\n{}\n--- Zipkin's last 40 log lines:\n{}",
            chain.describe_output(),
            broker.log_tail(),
            zipkin.log_tail(40)
        );
    }
}

async fn scenario(
    broker: &mut TransportEngine,
    zipkin: &ZipkinServer,
    chain: &Chain,
) -> anyhow::Result<()> {
    let api = zipkin.api();
    let url = chain.entry_url();
    let first = call(&url, &[]).await?;
    stored_article(&api, first).await?;

    let client = reqwest::Client::new();
    let mut healthy = Latencies::default();
    for _ in 0..TIMED_REQUESTS {
        healthy.push(timed_get(&client, &url).await?);
    }
    broker.stop();
    let mut faulty = Latencies::default();
    for _ in 0..TIMED_REQUESTS {
        faulty.push(timed_get(&client, &url).await?);
    }
    Comparison { healthy, faulty }.assert_faulty_like_healthy();
    for service in chain.services() {
        let what = format!("{}'s warning about the outage", service.name());
        wait_until(&what, RECOVERY_DEADLINE, || {
            let output = service.output();
            async move {
                let warnings = warning_lines(&output).len();
                if warnings >= 1 {
                    Ok(())
                } else {
                    Err(format!("{warnings} warnings"))
                }
            }
        })
        .await?;
    }
    // More requests during the outage: still one warning each.
    for _ in 0..3 {
        timed_get(&client, &url).await?;
    }

    broker.start().await?;
    for service in chain.services() {
        let what = format!("{}'s recovery line", service.name());
        wait_until(&what, RECOVERY_DEADLINE, || {
            let output = service.output();
            async move {
                match output.lines().find(|line| line.contains("reachable again")) {
                    Some(line) if line.contains("lost_spans=") => Ok(()),
                    Some(line) => Err(format!("no lost_spans count in {line:?}")),
                    None => Err("not logged yet".to_owned()),
                }
            }
        })
        .await?;
        let output = service.output();
        let warnings = warning_lines(&output);
        anyhow::ensure!(
            warnings.len() == 1,
            "{}: one warning for the outage, got:\n{}",
            service.name(),
            warnings.join("\n")
        );
    }
    let later = call(&url, &[]).await?;
    wait_until("a trace sent after the outage", RECOVERY_DEADLINE, || {
        let api = api.clone();
        async move {
            stored_article(&api, later)
                .await
                .map_err(|e| format!("{e:#}"))
        }
    })
    .await?;
    Ok(())
}
