//! The dependency page at `/dependencies`: who called whom in a lookback window, with call
//! and error counts, as `/api/v2/dependencies` answers. A plain list of edges reads well
//! in any window width; the window is chosen with a GET form.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::html::{error_page, escape, now_ms, page, url_encode};
use crate::query::{DEFAULT_LOOKBACK_MS, Params, above_zero};
use crate::{Collector, DependencyLink};

/// The windows offered in the form, in milliseconds, with their names.
const WINDOWS: [(u64, &str); 4] = [
    (3_600_000, "last hour"),
    (86_400_000, "last day"),
    (604_800_000, "last 7 days"),
    (2_592_000_000, "last 30 days"),
];

/// `GET /dependencies?lookback=`: the edges of the last `lookback` milliseconds (one day
/// by default), up to now.
pub(crate) async fn get_dependencies_page(
    State(collector): State<Collector>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params::new(query);
    let lookback = params
        .number("lookback", true)
        .and_then(|n| above_zero("lookback", n.unwrap_or(DEFAULT_LOOKBACK_MS)));
    let lookback = match lookback {
        // Above zero by now.
        Ok(lookback) => u64::try_from(lookback).unwrap_or(0),
        Err(error) => {
            return error_page(StatusCode::BAD_REQUEST, "Bad window", &error.to_string());
        }
    };
    let links = collector.dependencies(now_ms(), lookback);
    page("Dependencies", &render(&links, lookback)).into_response()
}

/// The page's body: the window form and one line per edge.
pub(crate) fn render(links: &[DependencyLink], lookback: u64) -> String {
    let mut options = String::new();
    for (ms, name) in WINDOWS {
        let selected = if ms == lookback { " selected" } else { "" };
        let _ = write!(options, "<option value=\"{ms}\"{selected}>{name}</option>");
    }
    if !WINDOWS.iter().any(|(ms, _)| *ms == lookback) {
        let _ = write!(
            options,
            "<option value=\"{lookback}\" selected>last {lookback} ms</option>"
        );
    }
    let mut out = format!(
        "<h1>Dependencies</h1><form method=\"get\" action=\"/dependencies\">\
         <label>Window<select name=\"lookback\">{options}</select></label>\
         <button type=\"submit\">Show</button></form>\
         <p class=\"muted\">Each line is a caller and a service it called, counted from the \
         traces that started in the window; a client and the server that joined it are one \
         call.</p>"
    );
    if links.is_empty() {
        out.push_str("<p class=\"card\">No call between services in this window.</p>");
    }
    out.push_str("<ul class=\"edges\">");
    for link in links {
        let plural = if link.call_count == 1 { "" } else { "s" };
        let errors = match link.error_count {
            0 => String::new(),
            1 => ", <b>1 error</b>".to_owned(),
            n => format!(", <b>{n} errors</b>"),
        };
        let _ = write!(
            out,
            "<li class=\"card edge{class}\"><a href=\"/?serviceName={parent_q}\">{parent}</a> \
             → <a href=\"/?serviceName={child_q}\">{child}</a> \
             <span class=\"muted\">({calls} call{plural}{errors})</span></li>",
            class = if link.error_count > 0 { " finding" } else { "" },
            parent_q = url_encode(&link.parent),
            child_q = url_encode(&link.child),
            parent = escape(&link.parent),
            child = escape(&link.child),
            calls = link.call_count,
        );
    }
    out.push_str("</ul>");
    out
}
