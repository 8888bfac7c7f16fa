//! A web view of the stand-in's traces, served beside the Zipkin API so that `cargo run`
//! shows traces in a browser without Java, Docker or a JavaScript build.
//!
//! Three server-rendered pages, readable in a narrow window and working without
//! JavaScript: `/` lists and searches traces (`list`), `/traces/{id}` draws one trace as a
//! waterfall with its B3 headers and the doctor's findings (`trace`), and `/dependencies`
//! lists who calls whom (`dependencies`). Every piece of span data is escaped (`html`).

mod dependencies;
mod hops;
mod html;
mod list;
mod rows;
mod trace;

use axum::Router;
use axum::routing::get;
use zipkin_tracing::Span;

use crate::Collector;

/// The web view's routes; they share no path with the Zipkin API under `/api/`.
pub(crate) fn routes() -> Router<Collector> {
    Router::new()
        .route("/", get(list::get_list))
        .route("/traces/{trace_id}", get(trace::get_trace_page))
        .route("/dependencies", get(dependencies::get_dependencies_page))
}

/// The span that names a trace: its first root (no parent) with a timestamp, else its
/// earliest span.
pub(crate) fn root_span(spans: &[Span]) -> Option<&Span> {
    let root = spans
        .iter()
        .filter(|s| s.parent_id.is_none())
        .min_by_key(|s| (s.timestamp.is_none(), s.timestamp));
    root.or_else(|| {
        spans
            .iter()
            .min_by_key(|s| (s.timestamp.is_none(), s.timestamp))
    })
}

/// A trace's start and end in epoch microseconds, over every span with a timestamp.
pub(crate) fn time_span(spans: &[Span]) -> Option<(u64, u64)> {
    let start = spans.iter().filter_map(|s| s.timestamp).min()?;
    let end = spans
        .iter()
        .filter_map(|s| Some(s.timestamp? + s.duration.unwrap_or(0)))
        .max()?;
    Some((start, end.max(start)))
}

/// `service: name` as the Zipkin UI labels a span, with placeholders for what is missing.
pub(crate) fn label(span: &Span) -> String {
    format!(
        "{}: {}",
        span.service_name().unwrap_or("(unknown service)"),
        span.name.as_deref().unwrap_or("(unnamed)")
    )
}

#[cfg(test)]
mod tests;
