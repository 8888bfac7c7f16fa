//! What Zipkin's query API answers about the article's chain: the service and span names
//! it knows, trace searches by service, span name, duration and time window, and the
//! dependency link between the two services.
//!
//! Units differ between parameters: `endTs` and `lookback` are epoch **milliseconds**,
//! `minDuration` is **microseconds**, like span durations. Searches return at most 10
//! traces unless told otherwise, so these queries pass a generous `limit`.

use std::collections::BTreeSet;

use anyhow::Context as _;
use zipkin_tracing::{Span, TraceId};

use crate::caller::call;
use crate::chain::Chain;
use crate::trace_source::{ZipkinApi, wait_until};
use crate::zipkin_scenarios::{STORE_DEADLINE, TIME_SCALE, one_request, stored_article};

/// One request, then: `/services` lists both services, `/spans?serviceName=service1` lists
/// exactly service1's three span names, and `/traces` finds the trace by service, by span
/// name and by minimum duration within a window around the request, and only there.
pub async fn query_api(api: &ZipkinApi) -> anyhow::Result<()> {
    let start_ms = now_millis();
    let trace = one_request(api).await?;
    let id = trace.server1.trace_id;
    let end_ms = now_millis() + 1;

    let services = names(&get_json(api, "/api/v2/services").await?)?;
    anyhow::ensure!(
        services.contains("service1") && services.contains("service2"),
        "/api/v2/services: {services:?}"
    );
    let spans = names(&get_json(api, "/api/v2/spans?serviceName=service1").await?)?;
    let expected: BTreeSet<String> = ["get /", "get /service/", "service_1_do_stuff"]
        .map(String::from)
        .into();
    anyhow::ensure!(
        spans == expected,
        "/api/v2/spans?serviceName=service1: {spans:?}"
    );

    // The window is the request's own milliseconds: read as microseconds, it would be a
    // thousand times too short to hold the trace.
    let window = format!("endTs={end_ms}&lookback={}&limit=1000", end_ms - start_ms);
    let db_search = trace
        .db_search
        .duration
        .context("db_search has no duration")?;
    let longest_of_service2 = [&trace.server2, &trace.do_stuff2, &trace.db_search]
        .iter()
        .filter_map(|span| span.duration)
        .max()
        .unwrap_or(db_search);
    for (filter, present) in [
        ("serviceName=service1".to_owned(), true),
        ("serviceName=service2&spanName=db_search".to_owned(), true),
        // db_search is service2's span, not service1's.
        ("serviceName=service1&spanName=db_search".to_owned(), false),
        // minDuration is in microseconds and inclusive.
        (
            format!("serviceName=service2&spanName=db_search&minDuration={db_search}"),
            true,
        ),
        (
            format!(
                "serviceName=service2&minDuration={}",
                longest_of_service2 + 1
            ),
            false,
        ),
    ] {
        let query = format!("{filter}&{window}");
        let found = traces_found(api, &query).await?.contains(&id);
        anyhow::ensure!(
            found == present,
            "/api/v2/traces?{query} found trace {id}: {found}"
        );
    }
    // A window that closes just before the request started cannot hold it.
    let before = format!("serviceName=service1&endTs={}&lookback=60000", start_ms - 1);
    anyhow::ensure!(
        !traces_found(api, &before).await?.contains(&id),
        "/api/v2/traces?{before} found trace {id}, which started after endTs"
    );
    Ok(())
}

/// `requests` requests, then `/dependencies` over their time window shows exactly one
/// link, service1 -> service2, with `callCount` = `requests` and no errors. Exact only
/// when nothing else called service2 in that window: give it a Zipkin of its own.
pub async fn dependencies(api: &ZipkinApi, requests: u64) -> anyhow::Result<()> {
    let sent = stored_requests(api, requests).await?;
    assert_one_link(api, &sent).await
}

/// Requests sent through the chain, and the time window they were sent in.
#[derive(Debug, Clone)]
pub struct SentRequests {
    /// The trace of each request, in the order they were sent.
    pub trace_ids: Vec<TraceId>,
    /// Epoch milliseconds before the first request.
    pub start_ms: u64,
    /// Epoch milliseconds after every trace was stored.
    pub end_ms: u64,
}

/// `requests` requests one after another through the in-process chain, once each of their
/// traces is whole in `api`'s Zipkin.
pub async fn stored_requests(api: &ZipkinApi, requests: u64) -> anyhow::Result<SentRequests> {
    let start_ms = now_millis();
    let mut chain = Chain::options(api.spans_endpoint())
        .time_scale(TIME_SCALE)
        .start()
        .await?;
    let mut trace_ids = Vec::new();
    for _ in 0..requests {
        trace_ids.push(call(&chain.entry_url(), &[]).await?);
    }
    chain.stop().await?;
    for &id in &trace_ids {
        stored_article(api, id).await?;
    }
    Ok(SentRequests {
        trace_ids,
        start_ms,
        end_ms: now_millis() + 1,
    })
}

/// `/dependencies` over the window of `sent` shows exactly one link, service1 ->
/// service2, with one call per request and no errors.
pub async fn assert_one_link(api: &ZipkinApi, sent: &SentRequests) -> anyhow::Result<()> {
    let requests = sent.trace_ids.len() as u64;
    let query = format!(
        "/api/v2/dependencies?endTs={}&lookback={}",
        sent.end_ms,
        sent.end_ms - sent.start_ms
    );
    // Some storages link traces after storing them: wait for the count to be reached.
    let links = wait_until(
        &format!("{query} to count {requests} calls"),
        STORE_DEADLINE,
        || async {
            let links = get_json(api, &query)
                .await
                .map_err(|error| format!("{error:#}"))?;
            let calls: u64 = links
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|link| link["callCount"].as_u64())
                .sum();
            if calls >= requests {
                Ok(links)
            } else {
                Err(links.to_string())
            }
        },
    )
    .await?;
    let [link] = links.as_array().map(Vec::as_slice).unwrap_or_default() else {
        anyhow::bail!("{query}: expected one link, got {links}");
    };
    let is = |field: &str, service: &str| {
        link[field]
            .as_str()
            .is_some_and(|name| name.eq_ignore_ascii_case(service))
    };
    anyhow::ensure!(
        is("parent", "service1")
            && is("child", "service2")
            && link["callCount"].as_u64() == Some(requests)
            && link["errorCount"].as_u64().unwrap_or(0) == 0,
        "{query}: expected service1 -> service2 with callCount {requests} and no errors, got {link}"
    );
    Ok(())
}

/// Waits until `/dependencies`, over the window from `start_ms` to now, holds the link
/// `parent -> child` with exactly `calls` calls (names compared ignoring case); fails with
/// the last links seen. Other links may be there: for a Zipkin that tests share.
pub async fn wait_for_link(
    api: &ZipkinApi,
    parent: &str,
    child: &str,
    calls: u64,
    start_ms: u64,
) -> anyhow::Result<()> {
    let what = format!("the dependency link {parent} -> {child} with callCount {calls}");
    wait_until(&what, STORE_DEADLINE, || async {
        let end_ms = now_millis() + 1;
        let query = format!(
            "/api/v2/dependencies?endTs={end_ms}&lookback={}",
            end_ms.saturating_sub(start_ms) + 1000
        );
        let links = get_json(api, &query)
            .await
            .map_err(|error| format!("{error:#}"))?;
        let is = |link: &serde_json::Value, field: &str, service: &str| {
            link[field]
                .as_str()
                .is_some_and(|name| name.eq_ignore_ascii_case(service))
        };
        let found = links.as_array().into_iter().flatten().any(|link| {
            is(link, "parent", parent)
                && is(link, "child", child)
                && link["callCount"].as_u64() == Some(calls)
        });
        if found {
            Ok(())
        } else {
            Err(format!("{query} answered {links}"))
        }
    })
    .await
}

/// `GET {base}{path_and_query}` answered 200 with JSON.
pub async fn get_json(api: &ZipkinApi, path_and_query: &str) -> anyhow::Result<serde_json::Value> {
    let url = format!("{}{path_and_query}", api.base_url());
    let response = reqwest::get(&url)
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .with_context(|| format!("GET {url}: the body"))?;
    anyhow::ensure!(
        status == reqwest::StatusCode::OK,
        "GET {url} answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).with_context(|| format!("GET {url}: not JSON"))
}

/// Milliseconds since the epoch, the unit of the query API's `endTs` and `lookback`.
pub fn now_millis() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

/// Lower-cased names from a JSON list of strings (`/services`, `/spans`).
pub fn names(list: &serde_json::Value) -> anyhow::Result<BTreeSet<String>> {
    let names: Vec<String> = serde_json::from_value(list.clone())
        .with_context(|| format!("not a list of names: {list}"))?;
    Ok(names.iter().map(|name| name.to_ascii_lowercase()).collect())
}

/// The ids of the traces `/api/v2/traces?{query}` returned.
pub async fn traces_found(api: &ZipkinApi, query: &str) -> anyhow::Result<BTreeSet<TraceId>> {
    let json = get_json(api, &format!("/api/v2/traces?{query}")).await?;
    let traces: Vec<Vec<Span>> = serde_json::from_value(json)
        .with_context(|| format!("/api/v2/traces?{query} is not a list of traces"))?;
    Ok(traces
        .iter()
        .filter_map(|trace| trace.first().map(|span| span.trace_id))
        .collect())
}
