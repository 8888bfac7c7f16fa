//! The in-memory span store: traces by id, with a cap on the total number of spans.
//!
//! Spans are grouped by trace as they arrive, and repeated reports of one span are merged
//! on the way in (see `merge`), so a trace read back is what Zipkin's merge of its reports
//! would give.
//! Memory is bounded: when the store holds more than `max_spans`, whole traces are evicted
//! in the order they first arrived, oldest first, so a trace is never left half-deleted.

use std::collections::{BTreeMap, HashMap, VecDeque};

use zipkin_tracing::{Span, SpanId, TraceId};

use crate::merge::{merge_into, repair_shared, same_span};

/// One stored trace: its spans in arrival order, when each first arrived (an arrival
/// number grows with every report the store takes), the milliseconds its reports started
/// in, and where the spans of each id and `shared` flag sit.
#[derive(Debug, Default)]
pub(crate) struct StoredTrace {
    spans: Vec<Span>,
    arrivals: Vec<u64>,
    report_times: BTreeMap<u64, u64>,
    positions: HashMap<(SpanId, bool), Vec<usize>>,
}

impl StoredTrace {
    /// The spans, merged, in arrival order.
    pub(crate) fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// The arrival number of each span's first report, beside [`StoredTrace::spans`].
    pub(crate) fn arrivals(&self) -> &[u64] {
        &self.arrivals
    }

    /// Each millisecond a report of this trace started in (a report without a timestamp
    /// at zero), with the arrival number of the first such report. Zipkin keeps every
    /// report, so a report merged away still places the trace in time, as in Zipkin.
    pub(crate) fn report_times(&self) -> &BTreeMap<u64, u64> {
        &self.report_times
    }
}

/// Traces by id, plus the arrival order used for eviction. Not synchronised: the
/// [`Collector`](crate::Collector) holds it behind a lock.
#[derive(Debug)]
pub(crate) struct Store {
    max_spans: usize,
    traces: HashMap<TraceId, StoredTrace>,
    /// Trace ids by first arrival, oldest at the front; holds exactly the keys of `traces`.
    arrival: VecDeque<TraceId>,
    span_count: usize,
    /// The arrival number of the next report.
    next_arrival: u64,
}

impl Store {
    /// An empty store holding at most `max_spans` spans.
    pub(crate) fn new(max_spans: usize) -> Self {
        Store {
            max_spans,
            traces: HashMap::new(),
            arrival: VecDeque::new(),
            span_count: 0,
            next_arrival: 0,
        }
    }

    /// Adds `spans`, merging repeated reports, then evicts the oldest traces while the
    /// store is over its cap. Returns how many traces were evicted.
    pub(crate) fn insert(&mut self, spans: Vec<Span>) -> usize {
        for span in spans {
            let trace = self.traces.entry(span.trace_id).or_insert_with(|| {
                self.arrival.push_back(span.trace_id);
                StoredTrace::default()
            });
            let arrival = self.next_arrival;
            self.next_arrival += 1;
            let millisecond = span.timestamp.unwrap_or(0) / 1000;
            trace.report_times.entry(millisecond).or_insert(arrival);
            let positions = trace.positions.entry((span.id, span.shared)).or_default();
            let kept = positions
                .iter()
                .copied()
                .find(|&at| same_span(&trace.spans[at], &span));
            match kept {
                Some(at) => merge_into(&mut trace.spans[at], span),
                None => {
                    let mut span = span;
                    // Zipkin keeps a span's annotations in time order, without duplicates,
                    // whatever order the tracer sent them in.
                    span.annotations
                        .sort_by(|a, b| (a.timestamp, &a.value).cmp(&(b.timestamp, &b.value)));
                    span.annotations.dedup();
                    positions.push(trace.spans.len());
                    trace.spans.push(span);
                    trace.arrivals.push(arrival);
                    self.span_count += 1;
                }
            }
        }
        self.evict()
    }

    /// Drops whole traces, oldest arrival first, until the span count is within the cap.
    /// The cap is a hard bound: a single trace larger than the cap is dropped too.
    fn evict(&mut self) -> usize {
        let mut evicted = 0;
        while self.span_count > self.max_spans {
            let Some(oldest) = self.arrival.pop_front() else {
                break;
            };
            if let Some(trace) = self.traces.remove(&oldest) {
                self.span_count -= trace.spans.len();
                evicted += 1;
            }
        }
        evicted
    }

    /// The spans of one trace as they are read (see [`read_trace`]).
    pub(crate) fn trace(&self, id: &TraceId) -> Option<Vec<Span>> {
        let mut spans = self.traces.get(id)?.spans.clone();
        read_trace(&mut spans);
        Some(spans)
    }

    /// Every stored trace, spans in arrival order, traces in no particular order.
    pub(crate) fn all_traces(&self) -> impl Iterator<Item = &[Span]> {
        self.traces.values().map(|trace| trace.spans.as_slice())
    }

    /// Every stored trace with what it knows of its reports' arrival and times, traces in
    /// no particular order.
    pub(crate) fn stored_traces(&self) -> impl Iterator<Item = &StoredTrace> {
        self.traces.values()
    }

    /// The number of spans stored, after merging.
    pub(crate) fn span_count(&self) -> usize {
        self.span_count
    }

    /// The number of traces stored.
    pub(crate) fn trace_count(&self) -> usize {
        self.traces.len()
    }
}

/// A stored trace as it is answered: Zipkin's repairs of shared spans (see
/// `merge::repair_shared`), then in a stable order (see [`sort_trace`]).
pub(crate) fn read_trace(spans: &mut [Span]) {
    repair_shared(spans);
    sort_trace(spans);
}

/// Sorts a trace's spans by start time, spans without a timestamp last, ties broken by id
/// and kind so that the JSON answer does not depend on arrival order.
fn sort_trace(spans: &mut [Span]) {
    spans.sort_by_key(|span| {
        (
            span.timestamp.is_none(),
            span.timestamp,
            span.id,
            span.kind.map(|kind| kind as u8),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use zipkin_tracing::{Endpoint, Kind};

    fn span(trace: u64, id: u64, kind: Option<Kind>) -> Span {
        let mut span = Span::new(
            TraceId::Bits64(std::num::NonZeroU64::new(trace).unwrap()),
            zipkin_tracing::SpanId::new(id).unwrap(),
        );
        span.kind = kind;
        span.local_endpoint = Some(Endpoint::service("svc"));
        span
    }

    #[test]
    fn duplicates_merge_and_shared_ids_do_not() {
        let mut shared = span(1, 1, Some(Kind::Server));
        shared.shared = true;
        let mut elsewhere = span(1, 1, Some(Kind::Server));
        elsewhere.local_endpoint = Some(Endpoint::service("other"));
        let mut store = Store::new(100);
        store.insert(vec![
            span(1, 1, Some(Kind::Client)),
            shared,
            span(1, 1, Some(Kind::Client)),
            elsewhere,
        ]);
        assert_eq!(store.span_count(), 3);
        assert_eq!(store.trace_count(), 1);
    }

    #[test]
    fn a_late_report_without_kind_or_endpoint_joins_its_span() {
        let mut late = span(1, 1, None);
        late.local_endpoint = None;
        late.duration = Some(7);
        let mut store = Store::new(100);
        store.insert(vec![span(1, 1, Some(Kind::Server)), late]);
        let trace = store.trace(&span(1, 1, None).trace_id).unwrap();
        assert_eq!(trace.len(), 1);
        assert_eq!(
            (trace[0].kind, trace[0].duration),
            (Some(Kind::Server), Some(7))
        );
    }

    #[test]
    fn eviction_drops_whole_oldest_traces() {
        let mut store = Store::new(3);
        store.insert(vec![span(1, 1, None), span(1, 2, None)]);
        store.insert(vec![span(2, 1, None)]);
        // Adding to trace 1 later does not make it younger: arrival is first arrival.
        assert_eq!(store.insert(vec![span(1, 3, None), span(3, 1, None)]), 1);
        assert!(store.trace(&span(1, 1, None).trace_id).is_none());
        assert_eq!(store.span_count(), 2);
        assert_eq!(store.trace_count(), 2);
    }

    #[test]
    fn annotations_are_kept_in_time_order_without_duplicates() {
        let mut store = Store::new(10);
        let mut late_first = span(1, 1, None);
        for (timestamp, value) in [(30, "c"), (10, "a"), (20, "b"), (10, "a")] {
            let value = value.to_owned();
            late_first
                .annotations
                .push(zipkin_tracing::Annotation { timestamp, value });
        }
        store.insert(vec![late_first.clone()]);
        let stored = store.trace(&late_first.trace_id).unwrap();
        let values: Vec<&str> = stored[0]
            .annotations
            .iter()
            .map(|a| a.value.as_str())
            .collect();
        assert_eq!(values, ["a", "b", "c"]);
    }

    #[test]
    fn a_trace_larger_than_the_cap_is_not_kept() {
        let mut store = Store::new(1);
        assert_eq!(store.insert(vec![span(1, 1, None), span(1, 2, None)]), 1);
        assert_eq!((store.span_count(), store.trace_count()), (0, 0));
    }
}
