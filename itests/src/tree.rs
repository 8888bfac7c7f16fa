//! A trace as a tree, with assertions that consume its spans one by one.
//!
//! Like Brave's test harness, a test takes each span it expects out of a [`TraceTree`] and
//! [`TraceTree::finish`] fails if any span was left unaccounted for, so an extra or
//! duplicated span cannot slip through. Every assertion panics with the whole trace listed.

use std::time::Duration;

use zipkin_tracing::{Kind, Span, TraceId};

use crate::trace_source::describe_spans;

/// How much a server span may stick out of its client span on another service. Both run
/// on one machine with one wall clock, but each service computes its span's end as a
/// wall-clock start plus a monotonic duration, so the two ends can disagree by a hair.
pub const CROSS_SERVICE_SLACK: Duration = Duration::from_millis(1);

/// How span and service names are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameMatch {
    /// Exactly, as this project's reporter sends them.
    Exact,
    /// Ignoring ASCII case: a real Zipkin lowercases span and service names on ingestion.
    IgnoreCase,
}

impl NameMatch {
    fn same(self, actual: Option<&str>, expected: &str) -> bool {
        match (self, actual) {
            (_, None) => false,
            (NameMatch::Exact, Some(actual)) => actual == expected,
            (NameMatch::IgnoreCase, Some(actual)) => actual.eq_ignore_ascii_case(expected),
        }
    }
}

/// The spans of one trace, each to be claimed by exactly one assertion.
#[derive(Debug)]
pub struct TraceTree {
    spans: Vec<Span>,
    consumed: Vec<bool>,
    names: NameMatch,
}

impl TraceTree {
    /// A tree of `spans`; panics unless there is at least one span and all share one
    /// trace id.
    #[track_caller]
    pub fn new(spans: Vec<Span>) -> Self {
        assert!(!spans.is_empty(), "a trace needs at least one span");
        let trace_id = spans[0].trace_id;
        assert!(
            spans.iter().all(|span| span.trace_id == trace_id),
            "the spans belong to more than one trace:\n{}",
            describe_spans(&spans)
        );
        let consumed = vec![false; spans.len()];
        TraceTree {
            spans,
            consumed,
            names: NameMatch::Exact,
        }
    }

    /// The same tree, comparing names with `names`.
    pub fn with_names(mut self, names: NameMatch) -> Self {
        self.names = names;
        self
    }

    /// The trace id all spans share.
    pub fn trace_id(&self) -> TraceId {
        self.spans[0].trace_id
    }

    /// All spans, consumed or not.
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// The whole trace, one line per span, for messages.
    pub fn describe(&self) -> String {
        describe_spans(&self.spans)
    }

    /// The one span whose parent is not in the trace (absent, or the caller's span for a
    /// trace that joined a caller). Panics unless there is exactly one. Does not consume it.
    #[track_caller]
    pub fn root(&self) -> &Span {
        let roots: Vec<&Span> = self
            .spans
            .iter()
            .filter(|span| match span.parent_id {
                None => true,
                Some(parent) => !self.spans.iter().any(|other| other.id == parent),
            })
            .collect();
        assert_eq!(
            roots.len(),
            1,
            "expected a single root span, found {}:\n{}",
            roots.len(),
            self.describe()
        );
        roots[0]
    }

    /// Claims the one unclaimed span recorded by `service`, of `kind` (`None` = local),
    /// named `name`. Panics if there is none or more than one.
    #[track_caller]
    pub fn take(&mut self, service: &str, kind: Option<Kind>, name: &str) -> Span {
        let matches: Vec<usize> = (0..self.spans.len())
            .filter(|&i| {
                let span = &self.spans[i];
                !self.consumed[i]
                    && span.kind == kind
                    && self.names.same(span.service_name(), service)
                    && self.names.same(span.name.as_deref(), name)
            })
            .collect();
        assert_eq!(
            matches.len(),
            1,
            "expected one unclaimed {kind:?} span {name:?} of {service:?}, found {}:\n{}",
            matches.len(),
            self.describe()
        );
        self.consumed[matches[0]] = true;
        self.spans[matches[0]].clone()
    }

    /// Panics, listing them, if some spans were not claimed by [`TraceTree::take`].
    #[track_caller]
    pub fn finish(self) {
        let leftovers: Vec<Span> = self
            .spans
            .iter()
            .zip(&self.consumed)
            .filter(|(_, consumed)| !**consumed)
            .map(|(span, _)| span.clone())
            .collect();
        assert!(
            leftovers.is_empty(),
            "{} span(s) left unaccounted for:\n{}whole trace:\n{}",
            leftovers.len(),
            describe_spans(&leftovers),
            self.describe()
        );
    }
}

/// Panics unless `child`'s parent is `parent`.
#[track_caller]
pub fn assert_child_of(child: &Span, parent: &Span) {
    assert_eq!(child.trace_id, parent.trace_id, "{child:?} vs {parent:?}");
    assert_eq!(
        child.parent_id,
        Some(parent.id),
        "{:?} should be a child of {:?}\n{}",
        child.name,
        parent.name,
        describe_spans(&[parent.clone(), child.clone()])
    );
}

/// Panics unless `client` and `server` are the two halves of one shared span: same id and
/// parent, a CLIENT span not shared and a SERVER span `shared: true`.
#[track_caller]
pub fn assert_shared_pair(client: &Span, server: &Span) {
    let both = describe_spans(&[client.clone(), server.clone()]);
    assert_eq!(client.kind, Some(Kind::Client), "{both}");
    assert_eq!(server.kind, Some(Kind::Server), "{both}");
    assert_eq!(client.trace_id, server.trace_id, "{both}");
    assert_eq!(
        client.id, server.id,
        "the server must join the client's span:\n{both}"
    );
    assert_eq!(client.parent_id, server.parent_id, "{both}");
    assert!(
        server.shared,
        "the joined server span must be shared:\n{both}"
    );
    assert!(
        !client.shared,
        "the client span must not be shared:\n{both}"
    );
}

/// The start and end of a span in epoch microseconds; panics if either is missing.
#[track_caller]
pub fn interval(span: &Span) -> (u64, u64) {
    let start = span
        .timestamp
        .unwrap_or_else(|| panic!("no timestamp: {span:?}"));
    let duration = span
        .duration
        .unwrap_or_else(|| panic!("no duration: {span:?}"));
    (start, start + duration)
}

/// Panics unless `child`'s interval lies within `parent`'s: exactly when both were
/// recorded by one service, within [`CROSS_SERVICE_SLACK`] otherwise.
#[track_caller]
pub fn assert_within(child: &Span, parent: &Span) {
    let slack = if child.service_name() == parent.service_name() {
        0
    } else {
        CROSS_SERVICE_SLACK.as_micros() as u64
    };
    let (child_start, child_end) = interval(child);
    let (parent_start, parent_end) = interval(parent);
    assert!(
        child_start + slack >= parent_start && child_end <= parent_end + slack,
        "{:?} [{child_start}, {child_end}] is not inside {:?} [{parent_start}, {parent_end}]",
        child.name,
        parent.name
    );
}

/// Panics unless `span` lasted at least `at_least` and, when given, at most `at_most`.
#[track_caller]
pub fn assert_duration(span: &Span, at_least: Duration, at_most: Option<Duration>) {
    let (start, end) = interval(span);
    let lasted = Duration::from_micros(end - start);
    assert!(
        lasted >= at_least,
        "{:?} lasted {lasted:?}, less than its {at_least:?} of sleep",
        span.name
    );
    if let Some(at_most) = at_most {
        assert!(
            lasted <= at_most,
            "{:?} lasted {lasted:?}, more than {at_most:?}",
            span.name
        );
    }
}

#[cfg(test)]
mod tests;
