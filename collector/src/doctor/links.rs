//! The rules about links between spans: a parent that is not there (`context-lost`), a
//! call whose callee never joined (`headers-lost` when the callee started a trace of its
//! own at that moment, `dependency-hole` otherwise), and a joined server span that does
//! not say it is shared (`unshared-join`). These are the mistakes that break a trace into
//! pieces, or leave the dependency graph with a hole.

use std::collections::BTreeMap;

use zipkin_tracing::{Kind, Span, SpanId};

use super::Finding;
use super::rules::{CONTEXT_LOST, DEPENDENCY_HOLE, HEADERS_LOST, UNSHARED_JOIN};
use super::view::{TraceView, describe, micros, remote_service, same_service};

/// `context-lost`: one finding per missing parent id, naming the spans that point to it.
pub(crate) fn context_lost(view: &TraceView<'_>, findings: &mut Vec<Finding>) {
    let mut orphans: BTreeMap<SpanId, Vec<&Span>> = BTreeMap::new();
    for span in view.spans {
        if let Some(parent) = span.parent_id
            && view.with_id(parent).is_empty()
        {
            orphans.entry(parent).or_default().push(span);
        }
    }
    for (parent, spans) in orphans {
        let names: Vec<String> = spans.iter().map(|span| describe(span)).collect();
        findings.push(Finding::new(
            CONTEXT_LOST,
            spans.iter().map(|span| span.id),
            format!(
                "{} name{} parent {parent}, which is not in the trace: the waterfall shows \
                 {} as a root",
                names.join(", "),
                if spans.len() == 1 { "s" } else { "" },
                if spans.len() == 1 { "it" } else { "them" },
            ),
        ));
    }
}

/// `unshared-join`: a SERVER span with its CLIENT's id but without `shared`.
pub(crate) fn unshared_join(view: &TraceView<'_>, findings: &mut Vec<Finding>) {
    for server in view.spans {
        if server.kind != Some(Kind::Server) || server.shared {
            continue;
        }
        let client = view
            .with_id(server.id)
            .iter()
            .map(|&i| &view.spans[i])
            .find(|span| span.kind == Some(Kind::Client));
        if let Some(client) = client {
            findings.push(Finding::new(
                UNSHARED_JOIN,
                [server.id],
                format!(
                    "{} has the id of its caller {} but no `shared: true`: Zipkin cannot tell \
                     the two halves apart, and tools that merge reports of one span by id \
                     may fold them into one",
                    describe(server),
                    describe(client)
                ),
            ));
        }
    }
}

/// `headers-lost` or `dependency-hole`: a CLIENT or PRODUCER span with no callee in the
/// trace. It is `headers-lost` when one of `neighbours` starts a trace on another service
/// inside the CLIENT span's interval; otherwise, if the caller does not name its remote
/// service either, `dependency-hole`.
pub(crate) fn unjoined_calls(
    view: &TraceView<'_>,
    neighbours: &[Vec<Span>],
    findings: &mut Vec<Finding>,
) {
    for (index, call) in view.spans.iter().enumerate() {
        if !matches!(call.kind, Some(Kind::Client | Kind::Producer))
            || !view.callees(index).is_empty()
        {
            continue;
        }
        if call.kind == Some(Kind::Client)
            && let Some(root) = new_trace_during(call, neighbours)
        {
            let start = root.timestamp.unwrap_or(0) - call.timestamp.unwrap_or(0);
            findings.push(Finding::new(
                HEADERS_LOST,
                [call.id],
                format!(
                    "{} has no callee span, while trace {} started at {} {} after this call \
                     began: the callee did not get or did not understand the trace headers",
                    describe(call),
                    root.trace_id,
                    describe(root),
                    crate::waterfall::format_duration(start),
                ),
            ));
        } else if remote_service(call).is_none() {
            let what = if call.kind == Some(Kind::Producer) {
                "no consumer span joined it"
            } else {
                "no server span joined it"
            };
            findings.push(Finding::new(
                DEPENDENCY_HOLE,
                [call.id],
                format!(
                    "{} names no remote service and {what}: Zipkin's dependency graph has \
                     no edge for this call. If the callee is traced, it did not join this \
                     trace (its trace headers were lost or not understood): give the doctor \
                     the traces that started at that moment to tell",
                    describe(call)
                ),
            ));
        }
    }
}

/// The root span of another trace, on another service (the one `call` names, if any),
/// that started inside `call`'s interval.
fn new_trace_during<'n>(call: &Span, neighbours: &'n [Vec<Span>]) -> Option<&'n Span> {
    let start = micros(call)?;
    let end = start + call.duration.unwrap_or(0);
    let named = remote_service(call).map(str::to_lowercase);
    neighbours
        .iter()
        .flatten()
        .filter(|span| span.trace_id != call.trace_id && span.parent_id.is_none())
        .filter(|span| !same_service(span, call))
        .filter(|span| {
            let service = span.service_name().map(str::to_lowercase);
            named.is_none() || service == named
        })
        .filter(|span| micros(span).is_some_and(|ts| (start..=end).contains(&ts)))
        .min_by_key(|span| span.timestamp)
}
