//! A trace doctor: recognises the mistakes people make when they trace their own services,
//! and says, for each, which spans show it, what usually causes it and how to fix it.
//!
//! [`diagnose`] applies every [`Rule`] to one trace, as a collector returns it or as a raw
//! list of reported spans (repeated reports are only visible in the latter), and returns
//! [`Finding`]s; `neighbours`, the other traces of the same moment, let it tell a lost B3
//! header from an untraced callee. The article's healthy trace gives no finding.
//!
//! ```
//! use collector::doctor::{diagnose, examples};
//!
//! let orphan = examples().into_iter().find(|e| e.name == "orphan task").unwrap();
//! let findings = diagnose(&orphan.spans, &orphan.neighbours);
//! assert_eq!(findings[0].rule.id, "context-lost");
//! println!("{}", collector::doctor::render_findings(&findings));
//! ```

mod examples;
mod links;
mod names;
mod repeats;
mod rules;
mod timing;
mod view;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use zipkin_tracing::{Span, SpanId, TraceId};

pub use examples::{Example, article, examples};
pub use rules::{RULES, Rule, rule};
pub use timing::lens_skew;

/// One mistake found in a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule it breaks.
    pub rule: Rule,
    /// The spans concerned, by id (a client/server pair shares one), sorted.
    pub spans: Vec<SpanId>,
    /// What was found, with the spans' names and the values at fault.
    pub message: String,
}

impl Finding {
    fn new(rule: Rule, spans: impl IntoIterator<Item = SpanId>, message: String) -> Self {
        let mut spans: Vec<SpanId> = spans.into_iter().collect();
        spans.sort();
        spans.dedup();
        Finding {
            rule,
            spans,
            message,
        }
    }
}

/// The findings of every rule on `trace` (the spans of one trace, in any order, repeated
/// reports allowed), in rule order. `neighbours` are other traces of the same time (spans
/// of `trace`'s own id among them are ignored), used only to tell `headers-lost` from
/// `dependency-hole`; pass `&[]` when there are none.
pub fn diagnose(trace: &[Span], neighbours: &[Vec<Span>]) -> Vec<Finding> {
    let view = view::TraceView::new(trace);
    let mut findings = Vec::new();
    links::context_lost(&view, &mut findings);
    links::unjoined_calls(&view, neighbours, &mut findings);
    timing::clock_skew(&view, &mut findings);
    links::unshared_join(&view, &mut findings);
    names::id_in_name(trace, &mut findings);
    timing::timestamp_unit(&view, &mut findings);
    timing::zero_duration(&view, &mut findings);
    repeats::repeated_report(&view, &mut findings);
    let order = |finding: &Finding| RULES.iter().position(|r| r.id == finding.rule.id);
    findings.sort_by(|a, b| (order(a), &a.spans).cmp(&(order(b), &b.spans)));
    findings
}

/// The findings as text for a terminal: a heading, then for each its id and message, its
/// cause and fix. Empty when there is no finding, so a healthy trace prints nothing more.
pub fn render_findings(findings: &[Finding]) -> String {
    let mut out = String::new();
    if findings.is_empty() {
        return out;
    }
    let plural = if findings.len() == 1 { "" } else { "s" };
    // Writing to a String cannot fail.
    let _ = writeln!(out, "Doctor: {} finding{plural}", findings.len());
    for finding in findings {
        let _ = writeln!(out, "  [{}] {}", finding.rule.id, finding.message);
        let _ = writeln!(out, "      cause: {}", finding.rule.cause);
        let _ = writeln!(out, "      fix:   {}", finding.rule.fix);
    }
    out
}

/// Spans of any number of traces grouped by trace id, each trace in the order given.
pub fn group_by_trace(spans: Vec<Span>) -> Vec<Vec<Span>> {
    let mut traces: BTreeMap<TraceId, Vec<Span>> = BTreeMap::new();
    for span in spans {
        traces.entry(span.trace_id).or_default().push(span);
    }
    traces.into_values().collect()
}

/// Reads what a file or a collector holds: a JSON list of v2 spans, or a list of such
/// lists (one per trace, as `/api/v2/traces` answers); returns the traces, grouped by id.
pub fn traces_from_json(json: &str) -> Result<Vec<Vec<Span>>, serde_json::Error> {
    use serde::Deserialize as _;
    let value: serde_json::Value = serde_json::from_str(json)?;
    let first = value.as_array().and_then(|list| list.first());
    let spans = if first.is_some_and(serde_json::Value::is_array) {
        Vec::<Vec<Span>>::deserialize(value)?
            .into_iter()
            .flatten()
            .collect()
    } else {
        Vec::<Span>::deserialize(value)?
    };
    Ok(group_by_trace(spans))
}

/// Every trace's findings, each trace diagnosed with the others as its neighbours.
pub fn diagnose_all(traces: &[Vec<Span>]) -> Vec<Vec<Finding>> {
    // A trace among its own neighbours is ignored there: only other trace ids count.
    traces.iter().map(|trace| diagnose(trace, traces)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_example_gives_exactly_its_rules() {
        for example in examples() {
            let found: Vec<&str> = diagnose(&example.spans, &example.neighbours)
                .iter()
                .map(|finding| finding.rule.id)
                .collect();
            assert_eq!(found, example.expected, "{}", example.name);
        }
    }

    #[test]
    fn every_rule_has_an_example_and_the_healthy_article_has_no_finding() {
        let examples = examples();
        for rule in RULES {
            assert!(
                examples.iter().any(|e| e.expected.contains(&rule.id)),
                "{}",
                rule.id
            );
        }
        let article = examples
            .iter()
            .find(|e| e.name == "healthy article")
            .unwrap();
        assert_eq!(diagnose(&article.spans, &[]), []);
        assert_eq!(render_findings(&[]), "");
    }

    #[test]
    fn each_trace_of_a_list_has_the_others_as_neighbours_and_not_itself() {
        let lost = examples()
            .into_iter()
            .find(|e| e.name == "headers lost")
            .unwrap();
        let ids =
            |findings: &[Finding]| -> Vec<&str> { findings.iter().map(|f| f.rule.id).collect() };
        let alone = diagnose(&lost.spans, std::slice::from_ref(&lost.spans));
        assert_eq!(ids(&alone), ["dependency-hole"]);
        let both = diagnose_all(&[lost.spans.clone(), lost.neighbours[0].clone()]);
        assert_eq!(ids(&both[0]), ["headers-lost"]);
        assert_eq!(ids(&both[1]), Vec::<&str>::new());
    }

    #[test]
    fn a_file_holds_spans_or_traces() {
        let article = examples().remove(0).spans;
        let flat = serde_json::to_string(&article).unwrap();
        let nested = serde_json::to_string(&[&article]).unwrap();
        for json in [flat, nested] {
            let traces = traces_from_json(&json).unwrap();
            assert_eq!(traces.len(), 1);
            assert_eq!(traces[0].len(), article.len());
        }
        assert!(traces_from_json("{}").is_err());
    }
}
