//! The B3 headers of each hop, reconstructed from the spans: what the caller must have
//! sent so that the callee's spans joined the trace. A CLIENT span is a hop when a SERVER
//! span joined it (same id) or when a child of it was recorded by another service.

use std::fmt::Write as _;

use zipkin_tracing::{Kind, Span};

use super::html::escape;

/// One call that crossed the wire, with the headers it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hop {
    /// The calling service, from the CLIENT span.
    pub(crate) from: String,
    /// The called service, as the callee's spans name it.
    pub(crate) to: String,
    /// The call's span name.
    pub(crate) name: String,
    /// The B3 headers, name and value, in the order they are usually written.
    pub(crate) headers: Vec<(&'static str, String)>,
}

/// The hops of one trace, in the order of `spans`' CLIENT spans.
pub(crate) fn hops(spans: &[Span]) -> Vec<Hop> {
    let mut hops = Vec::new();
    for client in spans.iter().filter(|s| s.kind == Some(Kind::Client)) {
        let joined = spans
            .iter()
            .find(|s| s.kind == Some(Kind::Server) && s.id == client.id);
        let child_elsewhere = spans
            .iter()
            .find(|s| s.parent_id == Some(client.id) && s.service_name() != client.service_name());
        let Some(callee) = joined.or(child_elsewhere) else {
            continue;
        };
        let mut headers = vec![
            ("X-B3-TraceId", client.trace_id.to_string()),
            ("X-B3-SpanId", client.id.to_string()),
        ];
        if let Some(parent) = client.parent_id {
            headers.push(("X-B3-ParentSpanId", parent.to_string()));
        }
        // Debug implies sampled: B3 sends the flag instead of the sampling decision.
        if client.debug {
            headers.push(("X-B3-Flags", "1".to_owned()));
        } else {
            headers.push(("X-B3-Sampled", "1".to_owned()));
        }
        hops.push(Hop {
            from: client.service_name().unwrap_or("?").to_owned(),
            to: callee.service_name().unwrap_or("?").to_owned(),
            name: client.name.clone().unwrap_or_default(),
            headers,
        });
    }
    hops
}

/// The hops as HTML: a heading, the note on where they come from, one block per hop.
pub(crate) fn render(spans: &[Span]) -> String {
    let hops = hops(spans);
    let mut out = String::from("<h2>B3 headers of each hop</h2>");
    if hops.is_empty() {
        out.push_str("<p class=\"muted\">No call between services in this trace.</p>");
        return out;
    }
    out.push_str(
        "<p class=\"muted\">Reconstructed from the spans: the ids a caller must have sent \
         for the callee to join this trace. The sampled flag is 1 because the spans were \
         reported; this project's services also send <code>X-B3-Flags: 0</code>, as \
         py_zipkin does.</p>",
    );
    for hop in hops {
        let mut lines = String::new();
        for (name, value) in &hop.headers {
            let _ = writeln!(lines, "{name}: {}", escape(value));
        }
        let _ = write!(
            out,
            "<div class=\"card\"><b>{} → {}</b> <span class=\"muted\">{}</span>\
             <pre>{lines}</pre></div>",
            escape(&hop.from),
            escape(&hop.to),
            escape(&hop.name),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::article;

    #[test]
    fn the_article_has_one_hop_carrying_the_clients_ids() {
        let spans = article();
        let hops = hops(&spans);
        assert_eq!(hops.len(), 1);
        let hop = &hops[0];
        assert_eq!(
            (hop.from.as_str(), hop.to.as_str()),
            ("service1", "service2")
        );
        let expected = [
            ("X-B3-TraceId", "f0571d82cda70c06517c01898f079b02"),
            ("X-B3-SpanId", "994879b1adbb153c"),
            ("X-B3-ParentSpanId", "6b115b4cc3545b8c"),
            ("X-B3-Sampled", "1"),
        ];
        let headers: Vec<(&str, &str)> =
            hop.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(headers, expected);
    }

    #[test]
    fn a_debug_call_sends_the_flag_and_an_unanswered_client_is_no_hop() {
        let mut spans = article();
        spans[2].debug = true;
        assert!(
            hops(&spans)[0]
                .headers
                .contains(&("X-B3-Flags", "1".to_owned()))
        );
        // Without the server's span and with service2's spans gone, nothing crossed.
        spans.truncate(3);
        assert_eq!(hops(&spans), []);
    }
}
