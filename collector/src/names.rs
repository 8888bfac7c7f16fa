//! The name lists the Zipkin UI fills its search form from, as Zipkin 3.6.1 answers them.
//!
//! `GET /api/v2/services`, `/api/v2/spans?serviceName=` (span names of a service),
//! `/api/v2/remoteServices?serviceName=` (the services it calls), `/api/v2/autocompleteKeys`
//! and `/api/v2/autocompleteValues?key=`. Each is a sorted JSON list of distinct strings.
//! A service is matched whatever its case; an empty `serviceName` is an empty list, a
//! missing one a 400. Autocomplete offers the tags named in the collector's
//! `autocomplete_keys`, Zipkin's `AUTOCOMPLETE_KEYS` (none by default).

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Query, State};
use zipkin_tracing::Span;

use crate::Collector;
use crate::query::{Params, QueryError};

impl Collector {
    /// Every local service name seen, sorted.
    pub fn services(&self) -> Vec<String> {
        self.names(|span| span.service_name())
    }

    /// The span names recorded by `service` (any case), sorted.
    pub fn span_names(&self, service: &str) -> Vec<String> {
        self.names(|span| of_service(span, service).then_some(span.name.as_deref()?))
    }

    /// The remote service names `service` (any case) recorded, sorted.
    pub fn remote_services(&self, service: &str) -> Vec<String> {
        self.names(|span| {
            let remote = span.remote_endpoint.as_ref()?.service_name.as_deref();
            of_service(span, service).then_some(remote?)
        })
    }

    /// The values seen of the tag `key`, sorted; none unless `key` is one of the
    /// configured autocomplete keys.
    pub fn autocomplete_values(&self, key: &str) -> Vec<String> {
        if !self.config().autocomplete_keys.iter().any(|k| k == key) {
            return Vec::new();
        }
        self.names(|span| span.tag(key))
    }

    fn names(&self, name: impl Fn(&Span) -> Option<&str>) -> Vec<String> {
        self.with_store(|store| {
            let names: BTreeSet<&str> = store.all_traces().flatten().filter_map(&name).collect();
            names.into_iter().map(str::to_owned).collect()
        })
    }
}

/// Whether `span` was recorded by `service`, whatever the case of either.
fn of_service(span: &Span, service: &str) -> bool {
    let name = span.service_name();
    name.is_some_and(|name| name.to_lowercase() == service.to_lowercase())
}

/// `GET /api/v2/services`.
pub(crate) async fn get_services(State(collector): State<Collector>) -> Json<Vec<String>> {
    Json(collector.services())
}

/// `GET /api/v2/spans?serviceName=`.
pub(crate) async fn get_span_names(
    State(collector): State<Collector>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Vec<String>>, QueryError> {
    names_of_service(query, |service| collector.span_names(service))
}

/// `GET /api/v2/remoteServices?serviceName=`.
pub(crate) async fn get_remote_services(
    State(collector): State<Collector>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Vec<String>>, QueryError> {
    names_of_service(query, |service| collector.remote_services(service))
}

/// The names `list` gives for the query's `serviceName`, which must be there; an empty
/// one has none, as in Zipkin.
fn names_of_service(
    query: Vec<(String, String)>,
    list: impl FnOnce(&str) -> Vec<String>,
) -> Result<Json<Vec<String>>, QueryError> {
    let params = Params::new(query);
    let service = params.required("serviceName")?;
    Ok(Json(if service.is_empty() {
        Vec::new()
    } else {
        list(service)
    }))
}

/// `GET /api/v2/autocompleteKeys`: the configured keys, sorted as Zipkin sorts them
/// (a key configured twice is listed twice, as Zipkin lists it).
pub(crate) async fn get_autocomplete_keys(State(collector): State<Collector>) -> Json<Vec<String>> {
    let mut keys = collector.config().autocomplete_keys.clone();
    keys.sort();
    Json(keys)
}

/// `GET /api/v2/autocompleteValues?key=`: `key` is required and may not be empty.
pub(crate) async fn get_autocomplete_values(
    State(collector): State<Collector>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Vec<String>>, QueryError> {
    let params = Params::new(query);
    let key = params.required("key")?;
    if key.is_empty() {
        return Err(QueryError::Invalid {
            name: "key",
            value: String::new(),
            reason: "is empty".to_owned(),
        });
    }
    Ok(Json(collector.autocomplete_values(key)))
}
