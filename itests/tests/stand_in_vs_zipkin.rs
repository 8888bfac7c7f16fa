//! The stand-in collector beside the real Zipkin: the same spans are posted to both, and
//! every query answer is compared field by field: one trace, services, span and remote
//! service names, trace search with filters (every span of every trace found), and the
//! dependency graph.
//!
//! The spans are the article's chain as the services report it (run against the
//! stand-in), plus generated sets of the shapes a collector could get wrong (see
//! `span_sets`). Zipkin keeps each report of a span and merges them when read; `normalise`
//! merges its answers by Zipkin's rules, written there, before comparing. Where the two
//! may differ by design, `normalise` says why; the table "The stand-in beside the real
//! Zipkin" in docs/operations.md lists the same differences. Generated requests of every
//! kind, valid and not, are compared in `stand_in_vs_zipkin_requests.rs`.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

#[path = "stand_in_vs_zipkin/normalise.rs"]
mod normalise;
#[path = "stand_in_vs_zipkin/span_sets.rs"]
mod span_sets;
#[path = "stand_in_vs_zipkin/zipkin_merge.rs"]
mod zipkin_merge;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use itests::trace_source::wait_until;
use itests::{Chain, ZipkinApi, ZipkinServer, wait_for_trace};
use serde_json::Value;
use tokio::net::TcpListener;

/// Zipkin answers a POST before it stores the spans: reads poll up to this long.
const STORE_DEADLINE: Duration = Duration::from_secs(30);

/// Both collectors, and a client to ask them the same things.
struct Pair {
    zipkin: String,
    stand_in: String,
    client: reqwest::Client,
}

impl Pair {
    async fn post(&self, spans: &[Value]) -> anyhow::Result<()> {
        let body = serde_json::to_string(spans)?;
        for base in [&self.zipkin, &self.stand_in] {
            let url = format!("{base}/api/v2/spans");
            let response = self.client.post(&url).body(body.clone());
            let response = response.header("content-type", "application/json").send();
            let response = response.await.with_context(|| format!("POST {url}"))?;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            anyhow::ensure!(status == 202, "POST {url} answered {status}: {text}");
        }
        Ok(())
    }

    async fn get(&self, base: &str, path: &str) -> anyhow::Result<Value> {
        let url = format!("{base}{path}");
        let response = self.client.get(&url).send().await;
        let response = response.with_context(|| format!("GET {url}"))?;
        let status = response.status();
        let body = response.bytes().await?;
        let text = String::from_utf8_lossy(&body);
        anyhow::ensure!(status == 200, "GET {url} answered {status}: {text}");
        serde_json::from_slice(&body).with_context(|| format!("GET {url}: not JSON: {text}"))
    }

    /// The same query to both: (Zipkin's answer, the stand-in's).
    async fn both(&self, path: &str) -> (Value, Value) {
        let zipkin = self.get(&self.zipkin, path).await;
        let stand_in = self.get(&self.stand_in, path).await;
        (zipkin.unwrap(), stand_in.unwrap())
    }
}

fn now_micros() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(since_epoch.as_micros()).unwrap()
}

#[tokio::test]
async fn the_stand_in_answers_every_query_as_zipkin_does() {
    let Some(zipkin) = ZipkinServer::start_or_skip("stand_in_vs_zipkin", &[]).await else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stand_in = format!("http://{}", listener.local_addr().unwrap());
    let store = collector::Collector::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(collector::serve(listener, store.clone(), async {
        let _ = stopped.await;
    }));
    let pair = Pair {
        zipkin: zipkin.base_url().to_owned(),
        stand_in: stand_in.clone(),
        client: reqwest::Client::new(),
    };

    // The article's chain, reported to the stand-in; its spans then go to Zipkin as well.
    let api = ZipkinApi::new(&stand_in);
    let mut chain = Chain::options(api.spans_endpoint())
        .time_scale(0.01)
        .start()
        .await
        .unwrap();
    let response = reqwest::get(chain.entry_url()).await.unwrap();
    let chain_trace = itests::trace_id_of(&response).unwrap();
    wait_for_trace(&api, chain_trace, 6).await.unwrap();
    chain.stop().await.unwrap();
    let chain_spans = pair
        .get(&stand_in, &format!("/api/v2/trace/{chain_trace}"))
        .await
        .unwrap();
    let chain_spans = chain_spans.as_array().unwrap().clone();
    let posted = pair.client.post(format!("{}/api/v2/spans", pair.zipkin));
    let posted = posted.header("content-type", "application/json");
    let posted = posted.body(serde_json::to_string(&chain_spans).unwrap());
    assert_eq!(posted.send().await.unwrap().status(), 202);

    let now = now_micros();
    let sets = span_sets::all(now);
    let mut reports: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    reports.insert(chain_trace.to_string(), chain_spans);
    for set in &sets {
        for batch in &set.batches {
            pair.post(batch)
                .await
                .unwrap_or_else(|e| panic!("{}: {e:#}", set.name));
            for span in batch {
                let trace = span["traceId"].as_str().unwrap().to_owned();
                reports.entry(trace).or_default().push(span.clone());
            }
        }
    }

    for (trace, spans) in &reports {
        let wanted = normalise::distinct_reports(spans);
        let path = format!("/api/v2/trace/{trace}");
        let what = format!("Zipkin to store the {wanted} reports of {trace}");
        let stored = wait_until(&what, STORE_DEADLINE, || async {
            match pair.get(&pair.zipkin, &path).await {
                Ok(Value::Array(spans)) if spans.len() >= wanted => Ok(Value::Array(spans)),
                Ok(answer) => Err(format!("it has {answer}")),
                Err(error) => Err(format!("{error:#}")),
            }
        });
        let zipkin_answer = stored.await.unwrap_or_else(|e| {
            panic!("{e:#}\nZipkin's log:\n{}", zipkin.log_tail(30));
        });
        let stand_in_answer = pair.get(&stand_in, &path).await.unwrap();
        normalise::assert_same_spans(
            &format!("GET {path}"),
            &normalise::zipkin_trace(zipkin_answer),
            &normalise::stand_in_trace(stand_in_answer),
        );
    }

    // Every trace at once: traceMany answers each trace as /api/v2/trace/{id} does.
    let ids: Vec<&str> = reports.keys().map(String::as_str).collect();
    let path = format!("/api/v2/traceMany?traceIds={}", ids.join(","));
    let (zipkin_answer, stand_in_answer) = pair.both(&path).await;
    let zipkin_traces = normalise::zipkin_traces(zipkin_answer);
    assert_eq!(zipkin_traces.len(), reports.len(), "GET {path}");
    normalise::assert_same_traces(
        &format!("GET {path}"),
        &zipkin_traces,
        &normalise::stand_in_traces(stand_in_answer),
    );

    compare_names(&pair).await;
    compare_searches(&pair, now).await;
    compare_dependencies(&pair, now, sets.len()).await;

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    zipkin.stop();
}

/// `/api/v2/services`, and `/api/v2/spans` and `/api/v2/remoteServices` for each service
/// (asked in mixed case too).
async fn compare_names(pair: &Pair) {
    let (zipkin, stand_in) = pair.both("/api/v2/services").await;
    let services = normalise::names(zipkin);
    assert_eq!(services, normalise::names(stand_in), "GET /api/v2/services");
    assert!(services.len() >= 14, "every set's services: {services:?}");
    let mut remote_services = 0;
    for service in services
        .iter()
        .chain(&["Frontend".to_owned(), "nobody".to_owned()])
    {
        for list in ["spans", "remoteServices"] {
            let path = format!("/api/v2/{list}?serviceName={service}");
            let (zipkin, stand_in) = pair.both(&path).await;
            let zipkin = normalise::names(zipkin);
            assert_eq!(zipkin, normalise::names(stand_in), "GET {path}");
            remote_services += usize::from(list == "remoteServices" && !zipkin.is_empty());
        }
    }
    assert!(remote_services >= 5, "most services call another");
}

/// `/api/v2/traces` with each filter, alone and combined, and time windows: the traces
/// found, and every field of their spans.
async fn compare_searches(pair: &Pair, now: u64) {
    let now_ms = now / 1000;
    let hour_ms = 3_600_000;
    let all = format!(
        "endTs={}&lookback={}&limit=100",
        now_ms + 60_000,
        10 * hour_ms
    );
    // The sets are an hour apart: the shared set starts at now - 1 h, and so on.
    let set_window = |k: u64| format!("endTs={}&lookback=1000", now_ms - k * hour_ms + 999);
    let queries = [
        all.clone(),
        format!("{all}&serviceName=frontend"),
        format!("{all}&serviceName=Frontend"),
        format!("{all}&serviceName=payments&spanName=charge"),
        format!("{all}&spanName=get%20%2Fcheckout"),
        // Each filter may be met by another span of the service: charge lasts 4 ms, the
        // server half 4.8 ms.
        format!("{all}&serviceName=payments&spanName=charge&minDuration=4500"),
        format!("{all}&serviceName=payments&spanName=charge&minDuration=5000"),
        format!("{all}&minDuration=9000"),
        format!("{all}&minDuration=4000&maxDuration=4600"),
        format!("{all}&annotationQuery=retried"),
        format!("{all}&annotationQuery=error"),
        format!("{all}&annotationQuery=error%3Dcard%20declined"),
        format!("{all}&annotationQuery=job.kind%3Dexport%20and%20flushed"),
        format!("{all}&annotationQuery=job.kind%3Dimport"),
        format!("{all}&remoteServiceName=mysql"),
        format!("{all}&remoteServiceName=kafka&serviceName=billing"),
        format!("{all}&serviceName=ids"),
        format!("{all}&serviceName=gateway&spanName=aggregate"),
        set_window(3),
        set_window(6),
        format!("endTs={}&lookback=1", now_ms - 7 * hour_ms + 49),
        format!("endTs={}&lookback=2", now_ms - 7 * hour_ms + 51),
        format!("endTs={}&limit=2", now_ms + 60_000),
    ];
    let mut found = 0;
    for query in queries {
        let path = format!("/api/v2/traces?{query}");
        let (zipkin, stand_in) = pair.both(&path).await;
        let zipkin = normalise::zipkin_traces(zipkin);
        normalise::assert_same_traces(
            &format!("GET {path}"),
            &zipkin,
            &normalise::stand_in_traces(stand_in),
        );
        found += usize::from(!zipkin.is_empty());
    }
    assert!(found >= 15, "most searches find traces to compare");
}

/// `/api/v2/dependencies` for each set's hour alone, for all of them, and with the
/// default lookback.
async fn compare_dependencies(pair: &Pair, now: u64, sets: usize) {
    let now_ms = now / 1000;
    let hour_ms = 3_600_000;
    let mut queries = vec![
        format!("endTs={}&lookback={}", now_ms + 60_000, 10 * hour_ms),
        format!("endTs={}", now_ms + 60_000),
    ];
    for k in 1..=sets as u64 {
        queries.push(format!(
            "endTs={}&lookback=1000",
            now_ms - k * hour_ms + 999
        ));
    }
    let mut linked_sets = 0;
    for query in queries {
        let path = format!("/api/v2/dependencies?{query}");
        let (zipkin, stand_in) = pair.both(&path).await;
        let zipkin = normalise::links(zipkin);
        assert_eq!(zipkin, normalise::links(stand_in), "GET {path}");
        linked_sets += usize::from(!zipkin.is_empty());
    }
    assert!(linked_sets >= 8, "most windows have links to compare");
}
