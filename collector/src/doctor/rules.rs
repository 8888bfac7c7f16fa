//! The doctor's rules: each mistake it recognises, with a stable id, its usual cause and
//! the fix. The ids are what tests, scripts and the documentation refer to, so they never
//! change; the texts are for people reading a finding.

/// One mistake the doctor recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Stable kebab-case id, such as `context-lost`.
    pub id: &'static str,
    /// What usually causes it, in one line.
    pub cause: &'static str,
    /// How to fix it, in one line.
    pub fix: &'static str,
}

/// A parent id that is not in the trace.
pub const CONTEXT_LOST: Rule = Rule {
    id: "context-lost",
    cause: "work ran without the current span (a spawned task or thread, a callback), or \
            its parent span was never reported",
    fix: "carry the span into the task (e.g. `.in_current_span()`, a carried context) \
          and make sure every started span is finished and reported",
};

/// A CLIENT span whose callee started a new trace at that moment.
pub const HEADERS_LOST: Rule = Rule {
    id: "headers-lost",
    cause: "the call went out without B3 headers, or the callee did not read them, so \
            the callee started a new trace instead of joining this one",
    fix: "inject the headers on every outgoing call and extract them in the callee (same \
          propagation format, B3 or W3C, on both sides)",
};

/// A server span that starts before, or ends after, its client.
pub const CLOCK_SKEW: Rule = Rule {
    id: "clock-skew",
    cause: "the two hosts' wall clocks disagree; Zipkin's UI silently shifts the server's \
            spans to fit",
    fix: "synchronise the hosts' clocks (NTP or chrony); durations stay right, only \
          positions are off",
};

/// A CLIENT and a SERVER span sharing an id, the server without `shared`.
pub const UNSHARED_JOIN: Rule = Rule {
    id: "unshared-join",
    cause: "the server reused its caller's span id but did not mark its span `shared`",
    fix: "set `shared: true` on a server span that joins the caller's span id, or give \
          the server a span id of its own with the caller's as parent",
};

/// A span name carrying ids, paths or other unbounded values.
pub const ID_IN_NAME: Rule = Rule {
    id: "id-in-name",
    cause: "the span is named after the raw URL or a value of the request",
    fix: "name it after the route template (`GET /items/{id}`) and put the value in a \
          tag: Zipkin indexes names, and one name per value floods its name lists",
};

/// A CLIENT or PRODUCER span that leaves a hole in the dependency graph.
pub const DEPENDENCY_HOLE: Rule = Rule {
    id: "dependency-hole",
    cause: "the callee is not traced (or did not join), and the caller did not name it",
    fix: "trace the callee with the same propagation, or name it on the caller's span \
          (remote service name) so the dependency graph shows the edge",
};

/// A timestamp that is not epoch microseconds.
pub const TIMESTAMP_UNIT: Rule = Rule {
    id: "timestamp-unit",
    cause: "the timestamp was written in milliseconds or nanoseconds, not microseconds \
            since 1970",
    fix: "write epoch microseconds (about 1.7e15 today): milliseconds × 1000, \
          nanoseconds ÷ 1000",
};

/// A finished span without a duration.
pub const ZERO_DURATION: Rule = Rule {
    id: "zero-duration",
    cause: "the span was reported without being finished, or its duration was computed \
            in too coarse a unit and rounded to 0",
    fix: "finish every span once, and take its duration from a monotonic clock in \
          microseconds (at least 1)",
};

/// One span reported more than once, with reports that disagree.
pub const REPEATED_REPORT: Rule = Rule {
    id: "repeated-report",
    cause: "the same span was finished or reported twice with different values (a retry \
            that re-records, two tracers on one request, a copied context)",
    fix: "finish each span exactly once; a retry or second tracer needs a span id of its \
          own",
};

/// Every rule, in the order findings are listed.
pub const RULES: [Rule; 9] = [
    CONTEXT_LOST,
    HEADERS_LOST,
    CLOCK_SKEW,
    UNSHARED_JOIN,
    ID_IN_NAME,
    DEPENDENCY_HOLE,
    TIMESTAMP_UNIT,
    ZERO_DURATION,
    REPEATED_REPORT,
];

/// The rule with this id, if any.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_found() {
        for (index, rule) in RULES.iter().enumerate() {
            assert!(
                rule.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                rule.id
            );
            assert_eq!(super::rule(rule.id).map(|r| r.id), Some(rule.id));
            assert!(RULES[..index].iter().all(|other| other.id != rule.id));
        }
        assert_eq!(super::rule("no-such-rule"), None);
    }
}
