//! Following traces as they complete: which trace is new, and when all its spans are in.
//!
//! A trace is done when service1's SERVER span, the last to finish, reaches the collector.
//! [`TraceWatcher::next_new_trace`] wakes on each batch the collector ingests (never on a
//! timer) and looks for such a trace it has not shown yet; [`TraceWatcher::collect`] then
//! flushes both reporters and waits, with a deadline, for the article's six spans, unless
//! service1 decided not to sample the trace: then no span of it will ever come.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use collector::{Collector, TraceQuery};
use tokio::sync::watch;
use zipkin_reporter::AsyncReporter;
use zipkin_tracing::{Kind, Span, TraceId};

use crate::headers::{CapturedRequest, HeaderLog};

/// The spans of the article's trace: three in service1, three in service2.
pub const ARTICLE_SPANS: usize = 6;

/// How long [`TraceWatcher::collect`] waits for the reporters to deliver, and then again
/// for the spans to show up in the collector.
pub const SPAN_DEADLINE: Duration = Duration::from_secs(5);

/// A trace as the demo shows it: its spans, and the B3 headers service2 received in it.
#[derive(Debug, Clone)]
pub struct CollectedTrace {
    /// The trace id.
    pub trace_id: TraceId,
    /// Its spans as the collector holds them, sorted by start time.
    pub spans: Vec<Span>,
    /// Whether all [`ARTICLE_SPANS`] arrived before the deadline.
    pub complete: bool,
    /// Whether the trace was sampled: `false` when service1 decided not to record it
    /// (`SAMPLE_RATE`), so that no span of it exists.
    pub sampled: bool,
    /// The requests that carried this trace's B3 headers into service2.
    pub headers: Vec<CapturedRequest>,
}

/// Finds traces that have finished and gathers their spans and headers.
#[derive(Debug)]
pub struct TraceWatcher {
    collector: Collector,
    reporters: Vec<AsyncReporter>,
    headers: HeaderLog,
    changes: watch::Receiver<u64>,
    shown: HashSet<TraceId>,
}

impl TraceWatcher {
    /// A watcher of `collector`, where `reporters` send their spans, with the trace
    /// headers service2 received in `headers`. Traces already stored count as new.
    pub fn new(collector: Collector, reporters: Vec<AsyncReporter>, headers: HeaderLog) -> Self {
        TraceWatcher {
            changes: collector.subscribe(),
            collector,
            reporters,
            headers,
            shown: HashSet::new(),
        }
    }

    /// Sends every span the services have queued, waits until `trace_id` has
    /// [`ARTICLE_SPANS`] spans or [`SPAN_DEADLINE`] passes, and returns what arrived. A
    /// trace that service2 was told not to sample is returned at once, without spans. The
    /// trace no longer counts as new.
    pub async fn collect(&mut self, trace_id: TraceId) -> CollectedTrace {
        self.shown.insert(trace_id);
        if self.headers.sampled(&trace_id) == Some(false) {
            return CollectedTrace {
                trace_id,
                spans: Vec::new(),
                complete: false,
                sampled: false,
                headers: self.headers.take(&trace_id),
            };
        }
        // service2's spans were queued before service1's response; service1's root span
        // when the response was produced. Flushing both delivers them all now, instead of
        // after the reporters' one-second batching.
        let flushes = self.reporters.iter().map(|r| r.flush(SPAN_DEADLINE));
        for flush in flushes {
            // A reporter that cannot deliver in time is visible as missing spans below.
            let _ = flush.await;
        }
        let wait = self
            .collector
            .wait_for_trace(&trace_id, ARTICLE_SPANS, SPAN_DEADLINE);
        let (spans, complete) = match wait.await {
            Ok(spans) => (spans, true),
            Err(_timeout) => (self.collector.trace(&trace_id).unwrap_or_default(), false),
        };
        CollectedTrace {
            trace_id,
            spans,
            complete,
            sampled: true,
            headers: self.headers.take(&trace_id),
        }
    }

    /// Waits until the collector holds a trace with a service1 SERVER span that this
    /// watcher has not collected, and returns its id (the oldest such trace first).
    pub async fn next_new_trace(&mut self) -> TraceId {
        loop {
            // Mark the current state as seen before looking, so that spans arriving
            // during the look still wake the wait below.
            self.changes.borrow_and_update();
            if let Some(trace_id) = self.first_new_trace() {
                return trace_id;
            }
            if self.changes.changed().await.is_err() {
                // The collector's sender lives as long as `self.collector`: unreachable.
                std::future::pending::<()>().await;
            }
        }
    }

    fn first_new_trace(&self) -> Option<TraceId> {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        // Up to the next millisecond, so a trace that started this millisecond counts.
        let mut query = TraceQuery::everything(now_ms.saturating_add(1));
        query.service_name = Some(service1::SERVICE_NAME.to_owned());
        query.limit = usize::MAX;
        // Newest first: the oldest new trace is the last match.
        let traces = self.collector.traces(&query);
        traces
            .iter()
            .rev()
            .filter(|spans| spans.iter().any(is_service1_server))
            .filter_map(|spans| spans.first().map(|span| span.trace_id))
            .find(|trace_id| !self.shown.contains(trace_id))
    }
}

/// Whether `span` is service1's SERVER span: the request's entry point, the last span of
/// the trace to finish.
fn is_service1_server(span: &Span) -> bool {
    span.kind == Some(Kind::Server) && span.service_name() == Some(service1::SERVICE_NAME)
}
