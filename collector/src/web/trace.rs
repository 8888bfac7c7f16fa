//! The trace page at `/traces/{id}`: the waterfall (bars on the trace's own time axis,
//! indented by depth, a shared client/server pair as one row), each span's details, the
//! B3 headers of each hop, and what the trace doctor finds in it.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use zipkin_tracing::Span;

use super::html::{error_page, escape, format_timestamp, page};
use super::rows::{Row, rows};
use super::{hops, label, root_span, time_span};
use crate::doctor::diagnose;
use crate::query::trace_id;
use crate::waterfall::format_duration;
use crate::{Collector, TraceQuery};

/// Bar colours given to services in name order, as Zipkin's UI colours rows by service.
const PALETTE: [&str; 6] = [
    "#5b7bd5", "#2f9e8f", "#c27c2c", "#8b5cc7", "#3a8fc2", "#9a9a2f",
];

/// The doctor's neighbours: traces that started this long before or after this one.
const NEIGHBOUR_WINDOW_MS: u64 = 60_000;

/// `GET /traces/{id}`: the trace's page, 404 when no trace has that id, 400 for a
/// malformed id.
pub(crate) async fn get_trace_page(
    State(collector): State<Collector>,
    Path(id): Path<String>,
) -> Response {
    let (normal, parsed) = match trace_id("traceId", id.trim()) {
        Ok(found) => found,
        Err(error) => {
            return error_page(StatusCode::BAD_REQUEST, "Bad trace id", &error.to_string());
        }
    };
    let Some(spans) = parsed.and_then(|parsed| collector.trace(&parsed)) else {
        let message = format!("No trace {normal} is stored here (never reported, or evicted).");
        return error_page(StatusCode::NOT_FOUND, "Trace not found", &message);
    };
    let neighbours = neighbours(&collector, &spans);
    page(&format!("Trace {normal}"), &render(&spans, &neighbours)).into_response()
}

/// The traces that started around `spans`, for the doctor to tell a lost header from an
/// untraced callee.
fn neighbours(collector: &Collector, spans: &[Span]) -> Vec<Vec<Span>> {
    let Some((start, _)) = time_span(spans) else {
        return Vec::new();
    };
    let mut query = TraceQuery::everything(start / 1000 + NEIGHBOUR_WINDOW_MS);
    query.lookback = 2 * NEIGHBOUR_WINDOW_MS;
    query.limit = 1000;
    collector.traces(&query)
}

/// The body of the trace page for `spans` (one trace, merged as the store returns it).
pub(crate) fn render(spans: &[Span], neighbours: &[Vec<Span>]) -> String {
    let mut out = String::new();
    let title = root_span(spans).map_or_else(|| "(empty trace)".to_owned(), label);
    let (start, end) = time_span(spans).unwrap_or((0, 0));
    let rows = rows(spans);
    let services: Vec<&str> = spans
        .iter()
        .filter_map(Span::service_name)
        .collect::<std::collections::BTreeSet<&str>>()
        .into_iter()
        .collect();
    let _ = write!(
        out,
        "<h1>{}</h1><p class=\"muted\"><code>{}</code><br>{} · {} spans in {} rows · \
         services: {}<br>started {}</p>",
        escape(&title),
        spans
            .first()
            .map(|s| s.trace_id.to_string())
            .unwrap_or_default(),
        format_duration(end - start),
        spans.len(),
        rows.len(),
        escape(&services.join(", ")),
        format_timestamp(start),
    );
    out.push_str(
        "<h2>Waterfall</h2><p class=\"muted\">One row per operation; a client and the \
         server that joined its span are one row. Open a row for its tags and \
         annotations.</p><div class=\"waterfall\">",
    );
    for row in &rows {
        let service = row.named_by().service_name();
        let index = services.iter().position(|s| Some(*s) == service);
        let colour = PALETTE[index.unwrap_or(0) % PALETTE.len()];
        out.push_str(&row_html(row, start, end, colour));
    }
    out.push_str("</div>");
    out.push_str(&hops::render(spans));
    out.push_str(&findings_html(spans, neighbours));
    let _ = write!(
        out,
        "<p class=\"muted\">As JSON: <a href=\"/api/v2/trace/{0}\">/api/v2/trace/{0}</a></p>",
        spans
            .first()
            .map(|s| s.trace_id.to_string())
            .unwrap_or_default(),
    );
    out
}

/// One waterfall row: its label and duration, its bar in `colour` (red for an error),
/// and the details of its spans.
fn row_html(row: &Row<'_>, start: u64, end: u64, colour: &str) -> String {
    let timed = row.timed_by();
    let total = (end - start).max(1) as f64;
    let offset = timed.timestamp.map_or(0, |ts| ts.saturating_sub(start));
    let left = 100.0 * offset as f64 / total;
    let width = (100.0 * timed.duration.unwrap_or(0) as f64 / total).min(100.0 - left);
    let duration = timed
        .duration
        .map_or_else(|| "?".to_owned(), format_duration);
    let mut details = String::new();
    for span in &row.spans {
        details.push_str(&span_details(span, start));
    }
    format!(
        "<details class=\"row{err}\"><summary><span style=\"padding-left:{indent}em\">\
         {label}</span> <span class=\"muted\">{duration}</span>\
         <div class=\"track\"><div class=\"bar\" style=\"left:{left:.2}%;width:{width:.2}%{background}\">\
         </div></div></summary>{details}</details>",
        err = if row.is_error() { " err" } else { "" },
        background = if row.is_error() {
            String::new()
        } else {
            format!(";background:{colour}")
        },
        indent = 0.8 * row.depth.min(12) as f64,
        label = escape(&label(row.named_by())),
    )
}

/// A span's ids, timing, endpoints, tags and annotations.
fn span_details(span: &Span, trace_start: u64) -> String {
    let mut facts = vec![
        (
            "kind",
            span.kind
                .map_or("local".to_owned(), |k| format!("{k:?}").to_uppercase()),
        ),
        ("service", span.service_name().unwrap_or("?").to_owned()),
        ("span id", span.id.to_string()),
        (
            "parent id",
            span.parent_id
                .map_or("none (root)".to_owned(), |p| p.to_string()),
        ),
    ];
    if let Some(ts) = span.timestamp {
        let offset = format_duration(ts.saturating_sub(trace_start));
        facts.push(("start", format!("{} (+{offset})", format_timestamp(ts))));
    }
    if let Some(duration) = span.duration {
        facts.push(("duration", format_duration(duration)));
    }
    if span.shared {
        facts.push(("shared", "true: joined its caller's span".to_owned()));
    }
    if span.debug {
        facts.push(("debug", "true".to_owned()));
    }
    if let Some(remote) = &span.remote_endpoint {
        let text = serde_json::to_string(remote).unwrap_or_default();
        facts.push(("remote endpoint", text));
    }
    let tags = span
        .tags
        .iter()
        .map(|(key, value)| (key.as_str(), value.clone()));
    let annotations = span.annotations.iter().map(|a| {
        let at = format_duration(a.timestamp.saturating_sub(trace_start));
        ("annotation", format!("+{at} {}", a.value))
    });
    let mut table = String::new();
    for (name, value) in facts.into_iter().chain(tags).chain(annotations) {
        let _ = write!(
            table,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(name),
            escape(&value)
        );
    }
    format!("<div class=\"card\"><table>{table}</table></div>")
}

/// The doctor's findings, or a line saying it found nothing.
fn findings_html(spans: &[Span], neighbours: &[Vec<Span>]) -> String {
    let findings = diagnose(spans, neighbours);
    let mut out = String::from("<h2>Doctor</h2>");
    if findings.is_empty() {
        out.push_str("<p class=\"card ok\">No finding: none of the usual tracing mistakes.</p>");
    }
    for finding in findings {
        let spans: Vec<String> = finding.spans.iter().map(ToString::to_string).collect();
        let _ = write!(
            out,
            "<div class=\"card finding\"><b>[{id}]</b> {message}<br>\
             <span class=\"muted\">spans: <code>{spans}</code><br>cause: {cause}<br>\
             fix: {fix}</span></div>",
            id = escape(finding.rule.id),
            message = escape(&finding.message),
            spans = spans.join(", "),
            cause = escape(finding.rule.cause),
            fix = escape(finding.rule.fix),
        );
    }
    out
}
