//! Queries: the part of Zipkin's v2 read API that UIs and tests use.
//!
//! `GET /api/v2/trace/{traceId}`, `/api/v2/traces`, `/api/v2/services` and `/api/v2/spans`
//! answer with the shapes of `zipkin2-api.yaml`: a trace is a list of spans, a search is a
//! list of traces. Searches follow Zipkin's in-memory storage: a trace is placed in time by
//! its root span (or its earliest span), and each span filter must hold on some span of the
//! service searched for (not necessarily the same span).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use zipkin_tracing::{Span, TraceId};

use crate::Collector;
use crate::store::sort_trace;

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A required query parameter is absent.
    #[error("the query parameter {0} is required")]
    Missing(&'static str),
    /// A query parameter or path segment has a bad value.
    #[error("invalid {name} {value:?}: {reason}")]
    Invalid {
        /// The parameter's name, as in the API.
        name: &'static str,
        /// The value received.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No trace has this id (never stored, or evicted).
    #[error("trace {0} not found")]
    NotFound(TraceId),
}

impl IntoResponse for QueryError {
    fn into_response(self) -> Response {
        let status = match self {
            QueryError::NotFound(_) => StatusCode::NOT_FOUND,
            QueryError::Missing(_) | QueryError::Invalid { .. } => StatusCode::BAD_REQUEST,
        };
        (status, self.to_string()).into_response()
    }
}

/// The filters of `GET /api/v2/traces`. Times are epoch milliseconds, durations
/// microseconds, as in the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceQuery {
    /// Some span's local service name must equal this (case-insensitive); the filters
    /// below then look only at that service's spans.
    pub service_name: Option<String>,
    /// Some span must have this remote service name (case-insensitive).
    pub remote_service_name: Option<String>,
    /// Some span must have this name (case-insensitive).
    pub span_name: Option<String>,
    /// Tags/annotations: `key=value` terms and bare words, joined by ` and `; each term
    /// must hold on some span.
    pub annotation_query: Option<String>,
    /// Some span must last at least this many microseconds.
    pub min_duration: Option<u64>,
    /// That span must last at most this many microseconds (only with `min_duration`).
    pub max_duration: Option<u64>,
    /// The trace must start at or before this epoch millisecond.
    pub end_ts: u64,
    /// The trace must start at or after `end_ts - lookback`.
    pub lookback: u64,
    /// The most traces returned, newest first.
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

    /// Reads the query parameters of `/api/v2/traces`; `endTs` defaults to `now_ms` and
    /// `lookback` to `endTs`. Empty values count as absent; unknown names are ignored.
    pub fn from_params(params: &BTreeMap<String, String>, now_ms: u64) -> Result<Self, QueryError> {
        let text = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
        let number = |name: &'static str| -> Result<Option<u64>, QueryError> {
            let Some(value) = text(name) else {
                return Ok(None);
            };
            value.parse().map(Some).map_err(|e| QueryError::Invalid {
                name,
                reason: format!("expected a whole number: {e}"),
                value,
            })
        };
        let mut query = TraceQuery::everything(now_ms);
        query.service_name = text("serviceName");
        query.remote_service_name = text("remoteServiceName");
        query.span_name = text("spanName");
        query.annotation_query = text("annotationQuery");
        query.min_duration = number("minDuration")?;
        query.max_duration = number("maxDuration")?;
        query.end_ts = number("endTs")?.unwrap_or(now_ms);
        query.lookback = number("lookback")?.unwrap_or(query.end_ts);
        if let Some(limit) = number("limit")? {
            query.limit = usize::try_from(limit).unwrap_or(usize::MAX);
            if limit == 0 {
                return Err(invalid("limit", limit, "must be at least 1"));
            }
        }
        match (query.min_duration, query.max_duration) {
            (None, Some(max)) => return Err(invalid("maxDuration", max, "needs minDuration")),
            (Some(min), Some(max)) if max < min => {
                return Err(invalid("maxDuration", max, "is less than minDuration"));
            }
            _ => {}
        }
        Ok(query)
    }

    /// Whether `spans` (one whole trace) passes the filters. As in Zipkin, each filter may
    /// be met by a different span, as long as that span is on the service searched for.
    pub fn matches(&self, spans: &[Span]) -> bool {
        let Some(start) = trace_start(spans) else {
            return false;
        };
        let earliest = self
            .end_ts
            .saturating_sub(self.lookback)
            .saturating_mul(1000);
        let latest = self.end_ts.saturating_mul(1000);
        if !(earliest..=latest).contains(&start) {
            return false;
        }
        let same = |wanted: &str, actual: Option<&str>| {
            actual.is_some_and(|actual| actual.eq_ignore_ascii_case(wanted))
        };
        let candidates: Vec<&Span> = spans
            .iter()
            .filter(|span| {
                let service = self.service_name.as_deref();
                service.is_none_or(|wanted| same(wanted, span.service_name()))
            })
            .collect();
        let some_span = |test: &dyn Fn(&Span) -> bool| candidates.iter().any(|span| test(span));
        let terms = self.annotation_query.as_deref().map_or(Vec::new(), |q| {
            let terms = q.split(" and ").map(str::trim);
            terms.filter(|t| !t.is_empty()).collect()
        });
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
                .all(|term| some_span(&|span| matches_term(term, span)))
    }
}

fn invalid(name: &'static str, value: u64, reason: &str) -> QueryError {
    let (value, reason) = (value.to_string(), reason.to_owned());
    QueryError::Invalid {
        name,
        value,
        reason,
    }
}

/// One term of an annotation query: `key=value` must be a tag, a bare word an annotation
/// value or a tag key.
fn matches_term(term: &str, span: &Span) -> bool {
    match term.split_once('=') {
        Some((key, value)) => span.tag(key) == Some(value),
        None => span.tags.contains_key(term) || span.annotations.iter().any(|a| a.value == term),
    }
}

/// When a trace started: its root span's timestamp, else its earliest one.
fn trace_start(spans: &[Span]) -> Option<u64> {
    let root = spans
        .iter()
        .find(|s| s.parent_id.is_none() && s.timestamp.is_some());
    root.and_then(|s| s.timestamp)
        .or_else(|| spans.iter().filter_map(|s| s.timestamp).min())
}

impl Collector {
    /// The traces matching `query`, newest first, at most `query.limit` of them.
    pub fn traces(&self, query: &TraceQuery) -> Vec<Vec<Span>> {
        let mut found: Vec<(u64, Vec<Span>)> = self.with_store(|store| {
            let matching = store.all_traces().filter(|spans| query.matches(spans));
            matching
                .filter_map(|s| Some((trace_start(s)?, s.to_vec())))
                .collect()
        });
        found.sort_by_key(|(start, _)| std::cmp::Reverse(*start));
        found.truncate(query.limit);
        found
            .into_iter()
            .map(|(_, mut spans)| {
                sort_trace(&mut spans);
                spans
            })
            .collect()
    }

    /// Every local service name seen, sorted.
    pub fn services(&self) -> Vec<String> {
        self.names(|span| span.service_name())
    }

    /// The span names recorded by `service` (case-insensitive), sorted.
    pub fn span_names(&self, service: &str) -> Vec<String> {
        self.names(|span| {
            let ours = span.service_name()?.eq_ignore_ascii_case(service);
            if ours { span.name.as_deref() } else { None }
        })
    }

    fn names(&self, name: impl Fn(&Span) -> Option<&str>) -> Vec<String> {
        self.with_store(|store| {
            let names: BTreeSet<&str> = store.all_traces().flatten().filter_map(&name).collect();
            names.into_iter().map(str::to_owned).collect()
        })
    }
}

/// `GET /api/v2/trace/{traceId}`.
pub(crate) async fn get_trace(
    State(collector): State<Collector>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Span>>, QueryError> {
    let trace_id: TraceId =
        id.parse()
            .map_err(|e: zipkin_tracing::IdParseError| QueryError::Invalid {
                name: "traceId",
                value: id.clone(),
                reason: e.to_string(),
            })?;
    collector
        .trace(&trace_id)
        .map(Json)
        .ok_or(QueryError::NotFound(trace_id))
}

/// `GET /api/v2/traces`.
pub(crate) async fn get_traces(
    State(collector): State<Collector>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<Json<Vec<Vec<Span>>>, QueryError> {
    // A clock before 1970 is a broken host; searching up to time zero is harmless then.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let now_ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
    let query = TraceQuery::from_params(&params, now_ms)?;
    Ok(Json(collector.traces(&query)))
}

/// `GET /api/v2/services`.
pub(crate) async fn get_services(State(collector): State<Collector>) -> Json<Vec<String>> {
    Json(collector.services())
}

/// `GET /api/v2/spans?serviceName=`.
pub(crate) async fn get_span_names(
    State(collector): State<Collector>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<Json<Vec<String>>, QueryError> {
    let service = params.get("serviceName").filter(|s| !s.is_empty());
    let service = service.ok_or(QueryError::Missing("serviceName"))?;
    Ok(Json(collector.span_names(service)))
}
