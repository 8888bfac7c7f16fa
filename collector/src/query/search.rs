//! Trace search, `GET /api/v2/traces`, as Zipkin 3.6.1's in-memory storage answers it.
//!
//! A trace is placed in time by its root span (or its earliest span). Each filter must hold
//! on some span of the service searched for, not necessarily the same span. Traces are
//! grouped by the low 64 bits of their id, as Zipkin indexes them, and the groups are
//! taken newest first by the latest millisecond at which one of their spans started
//! inside the window; `limit` counts groups, so a 64-bit trace and a 128-bit one sharing
//! its low bits come back together. Times are compared in Java's signed 64-bit
//! arithmetic, as Zipkin compares them (an `endTs` near the largest `long` overflows).

use std::cmp::Reverse;
use std::collections::BTreeMap;

use zipkin_tracing::Span;

use super::{Params, QueryError, above_zero};
use crate::Collector;
use crate::store::read_trace;

/// Zipkin's default `lookback`: one day, in milliseconds.
pub(crate) const DEFAULT_LOOKBACK_MS: i64 = 86_400_000;

/// The filters of `GET /api/v2/traces`. Times are epoch milliseconds, durations
/// microseconds, as in the API. Names match whatever their case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceQuery {
    /// Some span's local service name must equal this; the filters below then look only
    /// at that service's spans.
    pub service_name: Option<String>,
    /// Some span must have this remote service name.
    pub remote_service_name: Option<String>,
    /// Some span must have this name.
    pub span_name: Option<String>,
    /// Tags and annotations, Zipkin's syntax: terms joined by ` and `; `key=value` must be
    /// a tag, a bare `word` (or `word=`) an annotation value or a tag key.
    pub annotation_query: Option<String>,
    /// Some span must last at least this many microseconds.
    pub min_duration: Option<u64>,
    /// That span must last at most this many microseconds (only with `min_duration`).
    pub max_duration: Option<u64>,
    /// The trace must start at or before this epoch millisecond.
    pub end_ts: u64,
    /// The trace must start at or after `end_ts - lookback`.
    pub lookback: u64,
    /// The most traces returned, newest first (see the module documentation).
    pub limit: usize,
}

impl TraceQuery {
    /// The query that matches every trace up to `now_ms`, returning at most 10.
    pub fn everything(now_ms: u64) -> Self {
        TraceQuery {
            service_name: None,
            remote_service_name: None,
            span_name: None,
            annotation_query: None,
            min_duration: None,
            max_duration: None,
            end_ts: now_ms,
            lookback: now_ms,
            limit: 10,
        }
    }

    /// Reads the query parameters of `/api/v2/traces` by Zipkin's rules: `endTs` defaults
    /// to `now_ms` and `lookback` to one day; both, `limit` (10 by default) and
    /// `minDuration` must be above zero; `maxDuration` needs `minDuration` and may not be
    /// below it. An empty value is absent, except for `limit`; the span name `all` means
    /// any. Unknown names are ignored.
    pub(crate) fn from_params(params: &Params, now_ms: u64) -> Result<Self, QueryError> {
        let text = |name: &str| {
            params
                .get(name)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let mut query = TraceQuery::everything(now_ms);
        query.service_name = text("serviceName");
        query.remote_service_name = text("remoteServiceName");
        query.span_name = text("spanName").filter(|name| name.to_lowercase() != "all");
        query.annotation_query = text("annotationQuery");
        let now_ms = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let end_ts = above_zero("endTs", params.number("endTs", true)?.unwrap_or(now_ms))?;
        let lookback = params.number("lookback", true)?;
        let lookback = above_zero("lookback", lookback.unwrap_or(DEFAULT_LOOKBACK_MS))?;
        // Zipkin's limit is a Java `int`, and an empty one is refused.
        let limit = match params.get("limit") {
            None => 10,
            Some(value) => value.parse::<i32>().map_err(|e| QueryError::Invalid {
                name: "limit",
                value: value.to_owned(),
                reason: format!("expected a whole number: {e}"),
            })?,
        };
        let limit = above_zero("limit", i64::from(limit))?;
        let min = params.number("minDuration", true)?;
        let max = params.number("maxDuration", true)?;
        match (min, max) {
            (None, Some(max)) => return Err(invalid("maxDuration", max, "needs minDuration")),
            (Some(min), Some(max)) if max < min => {
                return Err(invalid("maxDuration", max, "is less than minDuration"));
            }
            (Some(min), _) => drop(above_zero("minDuration", min)?),
            (None, None) => {}
        }
        // Every number is above zero by now.
        let positive = |n: i64| u64::try_from(n).unwrap_or(0);
        query.end_ts = positive(end_ts);
        query.lookback = positive(lookback);
        query.limit = usize::try_from(limit).unwrap_or(usize::MAX);
        query.min_duration = min.map(positive);
        query.max_duration = max.map(positive);
        Ok(query)
    }

    /// Whether `spans` (one whole trace) passes the filters, by Zipkin's `QueryRequest.test`.
    pub fn matches(&self, spans: &[Span]) -> bool {
        let Some(start) = trace_start(spans) else {
            return false;
        };
        let (end_ts, lookback) = (java_long(self.end_ts), java_long(self.lookback));
        let earliest = end_ts.wrapping_sub(lookback).wrapping_mul(1000);
        let latest = end_ts.wrapping_mul(1000);
        let start = java_long(start);
        if start < earliest || start > latest {
            return false;
        }
        let same = |wanted: &str, actual: Option<&str>| {
            actual.is_some_and(|actual| actual.to_lowercase() == wanted.to_lowercase())
        };
        let candidates: Vec<&Span> = spans
            .iter()
            .filter(|span| {
                let service = self.service_name.as_deref();
                service.is_none_or(|wanted| same(wanted, span.service_name()))
            })
            .collect();
        let some_span = |test: &dyn Fn(&Span) -> bool| candidates.iter().any(|span| test(span));
        let terms = annotation_terms(self.annotation_query.as_deref().unwrap_or_default());
        !candidates.is_empty()
            && self.remote_service_name.as_deref().is_none_or(|wanted| {
                some_span(&|span| {
                    let remote = span.remote_endpoint.as_ref();
                    same(wanted, remote.and_then(|e| e.service_name.as_deref()))
                })
            })
            && (self.span_name.as_deref())
                .is_none_or(|wanted| some_span(&|span| same(wanted, span.name.as_deref())))
            && self.min_duration.is_none_or(|min| {
                some_span(&|span| {
                    // Zipkin reads a missing duration as zero.
                    let duration = span.duration.unwrap_or(0);
                    duration >= min && self.max_duration.is_none_or(|max| duration <= max)
                })
            })
            && terms
                .iter()
                .all(|(key, value)| some_span(&|span| matches_term(key, value, span)))
    }
}

/// `value` as Java's `long`: what Zipkin's arithmetic sees (large values wrap).
fn java_long(value: u64) -> i64 {
    i64::from_ne_bytes(value.to_ne_bytes())
}

fn invalid(name: &'static str, value: i64, reason: &str) -> QueryError {
    let (value, reason) = (value.to_string(), reason.to_owned());
    QueryError::Invalid {
        name,
        value,
        reason,
    }
}

/// Java's `String.trim`: what Zipkin strips from query terms.
fn java_trim(text: &str) -> &str {
    text.trim_matches(|c: char| c <= ' ')
}

/// The terms of an annotation query as Zipkin parses them: split on ` and ` (at most 100
/// parts), `key=value` sets the key's value (the last one wins), a bare word adds the
/// word with an empty value unless the key is there already. Keys and values are trimmed.
fn annotation_terms(query: &str) -> Vec<(String, String)> {
    let mut terms: Vec<(String, String)> = Vec::new();
    if query.is_empty() {
        return terms;
    }
    for part in query.splitn(100, " and ") {
        let (key, value) = match part.split_once('=') {
            Some((key, value)) => (java_trim(key), Some(java_trim(value))),
            None => (java_trim(part), None),
        };
        match (terms.iter_mut().find(|(seen, _)| seen == key), value) {
            (Some(term), Some(value)) => term.1 = value.to_owned(),
            (Some(_), None) => {}
            (None, value) => terms.push((key.to_owned(), value.unwrap_or_default().to_owned())),
        }
    }
    terms
}

/// One term on one span: with a value it must be a tag; without, an annotation value or
/// a tag key.
fn matches_term(key: &str, value: &str, span: &Span) -> bool {
    if value.is_empty() {
        span.tags.contains_key(key) || span.annotations.iter().any(|a| a.value == key)
    } else {
        span.tag(key) == Some(value)
    }
}

/// When a trace started: the timestamp of its first root span (in the order Zipkin lists
/// spans, see [`zipkin_listing`]), else its earliest one.
fn trace_start(spans: &[Span]) -> Option<u64> {
    let root = spans
        .iter()
        .find(|s| s.parent_id.is_none() && s.timestamp.is_some());
    root.and_then(|s| s.timestamp)
        .or_else(|| spans.iter().filter_map(|s| s.timestamp).min())
}

/// The spans of one trace with the arrival number of each, and the milliseconds its
/// reports started in with the first arrival in each (see `store::StoredTrace`).
struct Arrived {
    spans: Vec<(u64, Span)>,
    report_times: BTreeMap<u64, u64>,
}

/// The millisecond Zipkin files a span under (a span without a timestamp under zero).
fn millisecond(span: &Span) -> u64 {
    span.timestamp.unwrap_or(0) / 1000
}

/// When each millisecond of `traces` (traces sharing their low 64 bits) first had a
/// report: Zipkin lists such traces' spans by it.
fn first_arrivals(traces: &[Arrived]) -> BTreeMap<u64, u64> {
    let mut first: BTreeMap<u64, u64> = BTreeMap::new();
    for (&ms, &arrival) in traces.iter().flat_map(|trace| &trace.report_times) {
        let at = first.entry(ms).or_insert(arrival);
        *at = (*at).min(arrival);
    }
    first
}

/// `spans` in the order Zipkin's in-memory storage lists them: by the millisecond of
/// their start, the millisecond that first had a report (see [`first_arrivals`]) first,
/// then by arrival. Which root span places a trace in time depends on this order.
fn zipkin_listing<'a>(
    spans: impl Iterator<Item = &'a (u64, Span)>,
    first: &BTreeMap<u64, u64>,
) -> Vec<Span> {
    let mut spans: Vec<&(u64, Span)> = spans.collect();
    spans.sort_by_key(|(arrival, span)| (first.get(&millisecond(span)), *arrival));
    spans.into_iter().map(|(_, span)| span.clone()).collect()
}

impl Collector {
    /// The traces matching `query`, by Zipkin's order and limit (see the module
    /// documentation).
    pub fn traces(&self, query: &TraceQuery) -> Vec<Vec<Span>> {
        let end_ts = java_long(query.end_ts);
        let begin_ts = end_ts.wrapping_sub(java_long(query.lookback));
        let mut groups: BTreeMap<u64, Vec<Arrived>> = BTreeMap::new();
        self.with_store(|store| {
            for trace in store.stored_traces() {
                let Some(first) = trace.spans().first() else {
                    continue;
                };
                let spans = trace
                    .arrivals()
                    .iter()
                    .copied()
                    .zip(trace.spans().iter().cloned());
                let arrived = Arrived {
                    spans: spans.collect(),
                    report_times: trace.report_times().clone(),
                };
                groups
                    .entry(first.trace_id.low())
                    .or_default()
                    .push(arrived);
            }
        });
        // Each group's latest report start inside the window, in milliseconds.
        let latest_in_window = |traces: &Vec<Arrived>| {
            let starts = traces.iter().flat_map(|trace| trace.report_times.keys());
            let starts = starts.map(|&ms| java_long(ms));
            starts.filter(|ms| (begin_ts..=end_ts).contains(ms)).max()
        };
        let mut ordered: Vec<(i64, u64, Vec<Arrived>)> = groups
            .into_iter()
            .filter_map(|(low, traces)| Some((latest_in_window(&traces)?, low, traces)))
            .collect();
        ordered.sort_by_key(|(latest, low, _)| Reverse((*latest, *low)));
        let mut found = Vec::new();
        for (_, _, mut traces) in ordered {
            if found.len() >= query.limit {
                break;
            }
            let first = first_arrivals(&traces);
            let all = traces.iter().flat_map(|trace| &trace.spans);
            if !query.matches(&zipkin_listing(all, &first)) {
                continue;
            }
            traces.sort_by_key(|trace| trace.spans.first().map(|(_, span)| span.trace_id));
            for trace in &traces {
                let mut spans = zipkin_listing(trace.spans.iter(), &first);
                if query.matches(&spans) {
                    read_trace(&mut spans);
                    found.push(spans);
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_terms_are_parsed_as_zipkin_parses_them() {
        let terms = |query: &str| -> Vec<(String, String)> { annotation_terms(query) };
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(terms(""), []);
        assert_eq!(terms(" "), [pair("", "")]);
        assert_eq!(
            terms("error and http.method=GET and error=x and http.method"),
            [pair("error", "x"), pair("http.method", "GET")]
        );
        assert_eq!(terms(" a = b=c "), [pair("a", "b=c")]);
    }

    #[test]
    fn times_wrap_as_java_longs() {
        let mut query = TraceQuery::everything(i64::MAX as u64);
        query.lookback = 1;
        let mut span = Span::new(
            "463ac35c9f6413ad".parse().unwrap(),
            "0000000000000001".parse().unwrap(),
        );
        span.timestamp = Some(1_700_000_000_000_000);
        // `endTs * 1000` overflows to a negative number in Zipkin: nothing matches.
        assert!(!query.matches(&[span]));
    }
}
