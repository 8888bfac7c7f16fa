//! Dependency links: which service called which, how often, and how often it failed.
//!
//! `GET /api/v2/dependencies?endTs=&lookback=` answers what Zipkin's dependency page
//! draws. Each trace in the window is rebuilt as a tree (see `span_tree`) and every remote
//! span contributes one call, following Zipkin's `DependencyLinker`: a server span links
//! its caller to itself, a client span links only when no server answered it (an
//! uninstrumented callee named by its remote endpoint), and an `error` tag counts as an error.

mod span_tree;

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use zipkin_tracing::{Kind, Span};

use crate::Collector;
use crate::query::{DEFAULT_LOOKBACK_MS, Params, QueryError, above_zero};
use span_tree::SpanTree;

/// One edge of the service graph, as `/api/v2/dependencies` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DependencyLink {
    /// The calling service.
    pub parent: String,
    /// The called service.
    pub child: String,
    /// How many calls were seen.
    pub call_count: u64,
    /// How many of them carried an `error` tag; left out of the JSON when zero, as Zipkin
    /// leaves it out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error_count: u64,
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

/// Call and error counts by (parent, child), sorted so the answer is stable.
type Counts = BTreeMap<(String, String), (u64, u64)>;

impl Collector {
    /// The links of every trace with a report that started between `end_ts - lookback`
    /// and `end_ts` (epoch milliseconds, both inclusive), sorted by parent then child.
    /// Traces are grouped by the low 64 bits of their id, as Zipkin groups them here.
    pub fn dependencies(&self, end_ts: u64, lookback: u64) -> Vec<DependencyLink> {
        let earliest = end_ts.saturating_sub(lookback);
        // Zipkin files a report without a timestamp under time zero, and keeps every
        // report: one merged away here still counts (see `store::StoredTrace`).
        let in_window = |ms: &u64| (earliest..=end_ts).contains(ms);
        let traces: Vec<Vec<Span>> = self.with_store(|store| {
            let mut by_low_id: HashMap<u64, (bool, Vec<Span>)> = HashMap::new();
            for trace in store.stored_traces() {
                let Some(first) = trace.spans().first() else {
                    continue;
                };
                let (seen, spans) = by_low_id.entry(first.trace_id.low()).or_default();
                *seen |= trace.report_times().keys().any(in_window);
                spans.extend(trace.spans().iter().cloned());
            }
            let in_window = by_low_id.into_values().filter(|(seen, _)| *seen);
            in_window.map(|(_, spans)| spans).collect()
        });
        let mut counts = Counts::new();
        for spans in traces {
            link_trace(&SpanTree::new(spans), &mut counts);
        }
        let links =
            counts.into_iter().map(
                |((parent, child), (call_count, error_count))| DependencyLink {
                    parent,
                    child,
                    call_count,
                    error_count,
                },
            );
        links.collect()
    }
}

/// Adds the calls of one trace to `counts`.
fn link_trace(tree: &SpanTree, counts: &mut Counts) {
    let mut add = |parent: &str, child: &str, error: bool| {
        let entry = counts.entry((parent.to_owned(), child.to_owned()));
        let (calls, errors) = entry.or_default();
        *calls += 1;
        *errors += u64::from(error);
    };
    for index in tree.reachable() {
        let span = tree.span(index);
        // A client answered by an instrumented server: the server's span is the link,
        // with the name the server knows itself by.
        if span.kind == Some(Kind::Client) && tree.has_children(index) {
            continue;
        }
        let local = span.service_name();
        let remote = span.remote_endpoint.as_ref();
        let remote = remote.and_then(|e| e.service_name.as_deref());
        // A local span that names both sides is read as a client call.
        let kind = match span.kind {
            Some(kind) => kind,
            None if local.is_some() && remote.is_some() => Kind::Client,
            None => continue,
        };
        let (mut parent, child) = match kind {
            Kind::Server | Kind::Consumer => (remote, local),
            Kind::Client | Kind::Producer => (local, remote),
        };
        // The root's caller is unknown unless it recorded one.
        if kind == Kind::Server && tree.is_root(index) && parent.is_none() {
            continue;
        }
        let mut error = span.tags.contains_key("error");
        if matches!(kind, Kind::Producer | Kind::Consumer) {
            // A broker sits between producer and consumer: no ancestor can stand in.
            if let (Some(parent), Some(child)) = (parent, child) {
                add(parent, child, error);
            }
            continue;
        }
        if let Some(ancestor) = tree.remote_ancestor(index)
            && let Some(ancestor_service) = ancestor.service_name()
        {
            // A client span whose nearest remote ancestor is on another service: the call
            // into this service went unrecorded, so it is counted here (errors unknown).
            if let (Kind::Client, Some(local)) = (kind, local)
                && local != ancestor_service
            {
                add(ancestor_service, local, false);
            }
            if kind == Kind::Server || parent.is_none() {
                parent = Some(ancestor_service);
            }
            // A server that is a plain child of its client inherits the client's error.
            let child_of_client =
                ancestor.kind == Some(Kind::Client) && span.parent_id == Some(ancestor.id);
            error = error || (child_of_client && ancestor.tags.contains_key("error"));
        }
        if let (Some(parent), Some(child)) = (parent, child) {
            add(parent, child, error);
        }
    }
}

/// `GET /api/v2/dependencies?endTs=&lookback=`: `endTs` is required (even empty, it is
/// refused), `lookback` defaults to one day; both are milliseconds, Java `long`s above 0.
pub(crate) async fn get_dependencies(
    State(collector): State<Collector>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Vec<DependencyLink>>, QueryError> {
    let params = Params::new(query);
    let end_ts = params.number("endTs", false)?;
    let end_ts = above_zero("endTs", end_ts.ok_or(QueryError::Missing("endTs"))?)?;
    let lookback = params.number("lookback", true)?;
    let lookback = above_zero("lookback", lookback.unwrap_or(DEFAULT_LOOKBACK_MS))?;
    // Both are above zero.
    let positive = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(Json(
        collector.dependencies(positive(end_ts), positive(lookback)),
    ))
}
