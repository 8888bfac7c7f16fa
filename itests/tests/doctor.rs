//! The trace doctor on what a collector gives back: each example trace of
//! `collector::doctor::examples` (with its neighbours) is posted to the stand-in collector
//! and to the real Zipkin, read back through `/api/v2/trace/{id}`, and must give the same
//! findings (rule ids and spans) as the raw span list.
//!
//! Where a collector's storage changes a trace, the test says so and asserts what the
//! doctor finds instead (`changed_by_storage`): only the stand-in does, since it merges
//! repeated reports on ingest and repairs a client/server pair on read. Zipkin 3.6.1 stores
//! every report and returns them as stored (its UI merges them), so the doctor sees there
//! what it sees in the raw list. Both collectors lower-case names, which no rule depends
//! on, and drop a zero duration, which `zero-duration` reports as a missing one.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use collector::doctor::{Example, Finding, diagnose, examples};
use itests::trace_source::wait_until;
use itests::{StandInCollector, TraceSource, ZipkinApi, ZipkinServer};
use zipkin_tracing::{Span, SpanId, TraceId};

/// Zipkin answers a POST before it stores the spans: reads poll up to this long.
const STORE_DEADLINE: Duration = Duration::from_secs(30);

/// Which collector a trace went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    StandIn,
    Zipkin,
}

/// The rule ids the doctor finds in `example` as `engine` returns it, where its storage
/// changes the trace; `None` where it returns what was posted.
fn changed_by_storage(engine: Engine, example: &Example) -> Option<Vec<&'static str>> {
    match (engine, example.name) {
        // The stand-in merges repeated reports as they arrive, keeping the first values:
        // one db_search comes back, so the disagreement is gone.
        (Engine::StandIn, "repeated report") => Some(vec![]),
        // The stand-in applies Zipkin's read repair: a SERVER after a CLIENT of the same
        // id is marked `shared`, so the missing flag no longer shows.
        (Engine::StandIn, "unshared join") => Some(vec![]),
        _ => None,
    }
}

/// A finding as compared across collectors: its rule and spans, not its message (which
/// quotes names, lower-cased by both collectors).
fn key(findings: &[Finding]) -> Vec<(&'static str, Vec<SpanId>)> {
    findings
        .iter()
        .map(|finding| (finding.rule.id, finding.spans.clone()))
        .collect()
}

/// `example` with trace ids of its own for this run: the trace first, then its neighbours.
fn fresh_ids(example: &Example) -> Vec<Vec<Span>> {
    let mut ids: HashMap<TraceId, TraceId> = HashMap::new();
    let traces = std::iter::once(&example.spans).chain(&example.neighbours);
    traces
        .map(|trace| {
            let mut trace = trace.clone();
            for span in &mut trace {
                span.trace_id = *ids.entry(span.trace_id).or_insert_with(TraceId::random_128);
            }
            trace
        })
        .collect()
}

/// Posts `trace` to `api`'s server.
async fn post(api: &ZipkinApi, trace: &[Span]) -> anyhow::Result<()> {
    let url = api.spans_endpoint();
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .body(serde_json::to_string(trace)?)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = response.status();
    anyhow::ensure!(status == 202, "POST {url} answered {status}");
    Ok(())
}

/// How many spans `engine` stores of `trace`: the stand-in merges reports of one span.
fn stored_count(engine: Engine, trace: &[Span]) -> usize {
    if engine == Engine::Zipkin {
        return trace.len();
    }
    let mut seen: Vec<(SpanId, bool, Option<String>)> = Vec::new();
    for span in trace {
        let key = (
            span.id,
            span.shared,
            span.service_name().map(str::to_lowercase),
        );
        if !seen.contains(&key) {
            seen.push(key);
        }
    }
    seen.len()
}

/// Every example through `api`: posted, read back, diagnosed, compared.
async fn same_findings(engine: Engine, api: &ZipkinApi) -> anyhow::Result<()> {
    let sets: Vec<(Example, Vec<Vec<Span>>)> = examples()
        .into_iter()
        .map(|example| {
            let traces = fresh_ids(&example);
            (example, traces)
        })
        .collect();
    for (_, traces) in &sets {
        for trace in traces {
            post(api, trace).await?;
        }
    }
    for (example, traces) in &sets {
        let mut read = Vec::new();
        for trace in traces {
            let id = trace[0].trace_id;
            let count = stored_count(engine, trace);
            let spans = wait_until(&format!("{count} spans of {id}"), STORE_DEADLINE, || {
                let api = api.clone();
                async move {
                    let spans = api.trace(id).await.map_err(|e| format!("{e:#}"))?;
                    if spans.len() >= count {
                        Ok(spans)
                    } else {
                        Err(format!("{} spans", spans.len()))
                    }
                }
            })
            .await
            .with_context(|| example.name)?;
            anyhow::ensure!(
                spans.len() == count,
                "{}: {engine:?} returned {} spans, not {count}",
                example.name,
                spans.len()
            );
            read.push(spans);
        }
        let raw = diagnose(&traces[0], &traces[1..]);
        let returned = diagnose(&read[0], &read[1..]);
        match changed_by_storage(engine, example) {
            None => anyhow::ensure!(
                key(&returned) == key(&raw),
                "{}: {engine:?} gave {:?}, the raw spans {:?}",
                example.name,
                key(&returned),
                key(&raw)
            ),
            Some(expected) => {
                let ids: Vec<&str> = returned.iter().map(|f| f.rule.id).collect();
                anyhow::ensure!(
                    ids == expected,
                    "{}: {engine:?} gave {ids:?}, expected {expected:?}",
                    example.name
                );
            }
        }
        // The raw spans give what the example says.
        let ids: Vec<&str> = raw.iter().map(|f| f.rule.id).collect();
        anyhow::ensure!(ids == example.expected, "{}: raw {ids:?}", example.name);
    }
    Ok(())
}

#[tokio::test]
async fn the_stand_in_returns_traces_that_give_the_same_findings() {
    let stand_in = StandInCollector::start().await.unwrap();
    same_findings(Engine::StandIn, stand_in.api())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_real_zipkin_returns_traces_that_give_the_same_findings() {
    let Some(zipkin) = ZipkinServer::shared_or_skip("doctor").await else {
        return;
    };
    let api = zipkin.api();
    zipkin
        .assert_scenario("the doctor's examples", async move {
            same_findings(Engine::Zipkin, &api).await
        })
        .await;
}
