//! The rule about one span reported more than once (`repeated-report`). A late report
//! that only adds what the first lacked (a tag, a duration) is normal and Zipkin merges
//! it; reports that give the same field different values mean the span was recorded
//! twice. The stand-in collector merges repeated reports as they arrive, keeping the
//! first value, so only raw span lists (and Zipkin, which stores each report) show them.

use zipkin_tracing::Span;

use super::Finding;
use super::rules::REPEATED_REPORT;
use super::view::{TraceView, describe};

/// `repeated-report`: reports of one span (same id, `shared` flag and service) that
/// disagree on the name (in any case), kind, parent, timestamp or duration.
pub(crate) fn repeated_report(view: &TraceView<'_>, findings: &mut Vec<Finding>) {
    for group in view.reports() {
        if group.len() < 2 {
            continue;
        }
        let reports: Vec<&Span> = group.iter().map(|&i| &view.spans[i]).collect();
        let mut differences = Vec::new();
        let mut compare = |field: &str, values: Vec<Option<String>>| {
            let mut known: Vec<String> = values.into_iter().flatten().collect();
            known.dedup();
            known.sort();
            known.dedup();
            if known.len() > 1 {
                differences.push(format!("{field} {}", known.join(" vs ")));
            }
        };
        compare(
            "name",
            reports
                .iter()
                .map(|s| s.name.as_deref().map(str::to_lowercase))
                .collect(),
        );
        compare(
            "kind",
            reports
                .iter()
                .map(|s| s.kind.map(|k| format!("{k:?}")))
                .collect(),
        );
        compare(
            "parent",
            reports
                .iter()
                .map(|s| s.parent_id.map(|p| p.to_string()))
                .collect(),
        );
        compare(
            "timestamp",
            reports
                .iter()
                .map(|s| s.timestamp.map(|t| t.to_string()))
                .collect(),
        );
        compare(
            "duration",
            reports
                .iter()
                .map(|s| s.duration.map(|d| d.to_string()))
                .collect(),
        );
        if differences.is_empty() {
            continue;
        }
        findings.push(Finding::new(
            REPEATED_REPORT,
            [reports[0].id],
            format!(
                "{} was reported {} times with different values ({}): Zipkin keeps the \
                 first value it lists, so what it shows depends on storage order",
                describe(reports[0]),
                reports.len(),
                differences.join("; ")
            ),
        ));
    }
}
