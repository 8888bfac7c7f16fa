//! The trace list at `/`: the newest traces first, each with its root span, span count,
//! duration and services, and a search form. The form is plain HTML with GET parameters
//! named as in `/api/v2/traces`, read by the same [`TraceQuery`] rules.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use zipkin_tracing::Span;

use super::html::{error_page, escape, format_timestamp, now_ms, page};
use super::{label, root_span, time_span};
use crate::query::Params;
use crate::waterfall::format_duration;
use crate::{Collector, TraceQuery};

/// How many traces the page lists unless the URL asks for another `limit`.
const DEFAULT_LIMIT: &str = "50";

/// `GET /?serviceName=&spanName=&minDuration=&lookback=&limit=`: the search form and the
/// matching traces, newest first. A bad parameter answers 400 with the reason.
pub(crate) async fn get_list(
    State(collector): State<Collector>,
    Query(mut query): Query<Vec<(String, String)>>,
) -> Response {
    if !query.iter().any(|(name, _)| name == "limit") {
        query.push(("limit".to_owned(), DEFAULT_LIMIT.to_owned()));
    }
    let params = Params::new(query);
    let search = match TraceQuery::from_params(&params, now_ms()) {
        Ok(search) => search,
        Err(error) => {
            return error_page(StatusCode::BAD_REQUEST, "Bad search", &error.to_string());
        }
    };
    let traces = collector.traces(&search);
    let mut body = String::from("<h1>Traces</h1>");
    body.push_str(&form(&params, &collector));
    let plural = if traces.len() == 1 { "" } else { "s" };
    let _ = write!(
        body,
        "<p class=\"muted\">{} trace{plural}, newest first.</p>",
        traces.len()
    );
    for trace in &traces {
        body.push_str(&trace_card(trace));
    }
    page("Traces", &body).into_response()
}

/// The search form, filled in with the current parameters.
fn form(params: &Params, collector: &Collector) -> String {
    let value = |name: &str| escape(params.get(name).unwrap_or_default());
    let services = collector.with_store(|store| {
        let names = store.all_traces().flatten().filter_map(Span::service_name);
        names.map(str::to_owned).collect::<BTreeSet<String>>()
    });
    let mut options = String::from("<option value=\"\">any</option>");
    for service in &services {
        let selected = if params.get("serviceName") == Some(service.as_str()) {
            " selected"
        } else {
            ""
        };
        let service = escape(service);
        let _ = write!(
            options,
            "<option value=\"{service}\"{selected}>{service}</option>"
        );
    }
    format!(
        "<form method=\"get\" action=\"/\">\
         <label>Service<select name=\"serviceName\">{options}</select></label>\
         <label>Span name<input name=\"spanName\" value=\"{span}\" placeholder=\"any\"></label>\
         <label>Min duration (µs)<input name=\"minDuration\" inputmode=\"numeric\" \
         value=\"{min}\" placeholder=\"e.g. 100000\"></label>\
         <input type=\"hidden\" name=\"limit\" value=\"{limit}\">\
         <button type=\"submit\">Search</button></form>",
        span = value("spanName"),
        min = value("minDuration"),
        limit = value("limit"),
    )
}

/// One trace of the list: its root span as a link, then its numbers.
fn trace_card(spans: &[Span]) -> String {
    let Some(root) = root_span(spans) else {
        return String::new();
    };
    let services: BTreeSet<&str> = spans.iter().filter_map(Span::service_name).collect();
    let services: Vec<String> = services.into_iter().map(escape).collect();
    let (start, duration) = match time_span(spans) {
        Some((start, end)) => (format_timestamp(start), format_duration(end - start)),
        None => ("no timestamp".to_owned(), "?".to_owned()),
    };
    let error = spans.iter().any(|s| s.tags.contains_key("error"));
    format!(
        "<div class=\"card{class}\"><a href=\"/traces/{id}\">{label}</a>{error}<br>\
         <span class=\"muted\">{count} span{plural} · {duration} · {start}<br>{services}<br>\
         <code>{id}</code></span></div>",
        class = if error { " finding" } else { "" },
        id = root.trace_id,
        label = escape(&label(root)),
        error = if error { " <b>error</b>" } else { "" },
        count = spans.len(),
        plural = if spans.len() == 1 { "" } else { "s" },
        services = services.join(", "),
    )
}
