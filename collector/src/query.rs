//! Queries: reading traces back, as Zipkin 3.6.1's v2 read API answers.
//!
//! `GET /api/v2/trace/{traceId}`, `/api/v2/traceMany?traceIds=` and `/api/v2/traces`
//! answer with the shapes of `zipkin2-api.yaml`: a trace is a list of spans, a search is a
//! list of traces. Trace ids are read as Zipkin reads them: trimmed, 1 to 32 hex digits,
//! left-padded. Parameters are checked by Zipkin's rules (`endTs`, `lookback`, `limit` and
//! `minDuration` above zero; the first of a repeated parameter counts), and searches follow
//! its in-memory storage (see [`TraceQuery`]). The name lists live in `names`.

mod search;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use zipkin_tracing::{Span, TraceId};

use crate::Collector;
use crate::ingest::normalise_trace_id;
pub(crate) use search::DEFAULT_LOOKBACK_MS;
pub use search::TraceQuery;

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
    /// No trace has this id (never stored, or evicted); the id as Zipkin writes it.
    #[error("trace {0} not found")]
    NotFound(String),
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

/// A request's query parameters; when one is repeated, the first counts, as in Zipkin.
#[derive(Debug, Default)]
pub(crate) struct Params(BTreeMap<String, String>);

impl Params {
    /// Reads the parameters of `query`.
    pub(crate) fn new(query: Vec<(String, String)>) -> Self {
        let mut params = BTreeMap::new();
        for (name, value) in query {
            params.entry(name).or_insert(value);
        }
        Params(params)
    }

    /// The value of `name`, possibly empty; `None` when absent.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The value of `name`, which must be present (it may be empty).
    pub(crate) fn required(&self, name: &'static str) -> Result<&str, QueryError> {
        self.get(name).ok_or(QueryError::Missing(name))
    }

    /// `name` as a whole number (Java's `long`, as Zipkin reads it); an empty value is
    /// absent unless `empty_is_absent` is false, as for Zipkin's required numbers.
    pub(crate) fn number(
        &self,
        name: &'static str,
        empty_is_absent: bool,
    ) -> Result<Option<i64>, QueryError> {
        match self.get(name) {
            None => Ok(None),
            Some("") if empty_is_absent => Ok(None),
            Some(value) => value.parse().map(Some).map_err(|e| QueryError::Invalid {
                name,
                value: value.to_owned(),
                reason: format!("expected a whole number: {e}"),
            }),
        }
    }
}

/// Refuses `value` of `name` unless it is above zero, as Zipkin does.
pub(crate) fn above_zero(name: &'static str, value: i64) -> Result<i64, QueryError> {
    if value > 0 {
        Ok(value)
    } else {
        Err(QueryError::Invalid {
            name,
            value: value.to_string(),
            reason: "must be above 0".to_owned(),
        })
    }
}

/// A trace id from a request in Zipkin's form, and the trace id to look up, unless no
/// trace can have it here (its low 64 bits are zeros, which the span model refuses).
///
/// Zipkin normalises the id twice on the way to its storage, so a 32-digit id whose high
/// half is zeros becomes the 64-bit id even when it was padded from fewer digits: a trace
/// stored under such a padded id (`0000000000000201c9c1f5`, 22 digits) is found by no id,
/// only by searches, in Zipkin and here alike.
pub(crate) fn trace_id(
    name: &'static str,
    id: &str,
) -> Result<(String, Option<TraceId>), QueryError> {
    let normal = normalise_trace_id(id).map_err(|reason| QueryError::Invalid {
        name,
        value: id.to_owned(),
        reason,
    })?;
    let looked_up = normalise_trace_id(&normal)
        .ok()
        .and_then(|id| id.parse().ok());
    Ok((normal, looked_up))
}

/// `GET /api/v2/trace/{traceId}`: the id is trimmed first, as Zipkin trims it.
pub(crate) async fn get_trace(
    State(collector): State<Collector>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Span>>, QueryError> {
    let (normal, parsed) = trace_id("traceId", id.trim_matches(|c: char| c <= ' '))?;
    let spans = parsed.and_then(|parsed| collector.trace(&parsed));
    spans.map(Json).ok_or(QueryError::NotFound(normal))
}

/// `GET /api/v2/traceMany?traceIds=`: two or more distinct comma-separated ids; the traces
/// found, in the order asked.
pub(crate) async fn get_trace_many(
    State(collector): State<Collector>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Vec<Vec<Span>>>, QueryError> {
    let params = Params::new(query);
    let ids = params.required("traceIds")?;
    let invalid = |reason: String| QueryError::Invalid {
        name: "traceIds",
        value: ids.to_owned(),
        reason,
    };
    if ids.is_empty() {
        return Err(invalid("is empty".to_owned()));
    }
    let mut wanted: Vec<(String, Option<TraceId>)> = Vec::new();
    // Zipkin splits into at most 1000 parts; the last keeps any further commas.
    for id in ids.splitn(1000, ',') {
        let (normal, parsed) = trace_id("traceIds", id)?;
        if wanted.iter().any(|(seen, _)| *seen == normal) {
            return Err(invalid(format!("asks for {id} twice")));
        }
        wanted.push((normal, parsed));
    }
    if wanted.len() == 1 {
        return Err(invalid(
            "names one trace: ask /api/v2/trace/{traceId}".to_owned(),
        ));
    }
    let traces = wanted
        .iter()
        .filter_map(|(_, id)| collector.trace(id.as_ref()?));
    Ok(Json(traces.collect()))
}

/// `GET /api/v2/traces`.
pub(crate) async fn get_traces(
    State(collector): State<Collector>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Vec<Vec<Span>>>, QueryError> {
    // A clock before 1970 is a broken host; searching up to time zero is harmless then.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let now_ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
    let query = TraceQuery::from_params(&Params::new(query), now_ms)?;
    Ok(Json(collector.traces(&query)))
}
