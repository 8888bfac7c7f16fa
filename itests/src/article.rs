//! The article's trace (six spans; see the README) as one assertion: six spans, their tree, kinds and timing.
//!
//! [`ArticleTrace::take`] claims the six spans from a [`TraceTree`] and checks everything
//! that does not depend on timing; [`ArticleTrace::assert_timing`] then checks that each
//! span lasted at least its (scaled) sleep. Tests of one behaviour call these and add the
//! checks that are theirs.

use std::time::Duration;

use zipkin_tracing::{Kind, Span};

use crate::tree::{TraceTree, assert_child_of, assert_shared_pair, assert_within};

/// The span name of service1's SERVER span.
pub const ROOT_NAME: &str = "GET /";
/// The span name of the call to service2, on both sides.
pub const CALL_NAME: &str = "GET /service/";

/// The six spans of one run of the article's chain, by role.
#[derive(Debug, Clone)]
pub struct ArticleTrace {
    /// service1's SERVER span for `GET /`: the root, or joined to a caller.
    pub server1: Span,
    /// service1's local `service_1_do_stuff`.
    pub do_stuff1: Span,
    /// service1's CLIENT span calling service2.
    pub client: Span,
    /// service2's SERVER span, joined to `client`.
    pub server2: Span,
    /// service2's local `service_2_do_stuff`.
    pub do_stuff2: Span,
    /// service2's local `db_search`, inside `do_stuff2`.
    pub db_search: Span,
}

impl ArticleTrace {
    /// Claims the six spans from `tree` and checks their tree: `server1` is the single
    /// root, parent links, the shared client/server pair, kinds, service names, HTTP tags,
    /// no `error` tag, and each child's interval inside its parent's. Does not call
    /// [`TraceTree::finish`], so a test may claim more spans first.
    #[track_caller]
    pub fn take(tree: &mut TraceTree) -> Self {
        let root_id = tree.root().id;
        let server1 = tree.take("service1", Some(Kind::Server), ROOT_NAME);
        let do_stuff1 = tree.take("service1", None, "service_1_do_stuff");
        let client = tree.take("service1", Some(Kind::Client), CALL_NAME);
        let server2 = tree.take("service2", Some(Kind::Server), CALL_NAME);
        let do_stuff2 = tree.take("service2", None, "service_2_do_stuff");
        let db_search = tree.take("service2", None, "db_search");
        let trace = ArticleTrace {
            server1,
            do_stuff1,
            client,
            server2,
            do_stuff2,
            db_search,
        };
        let all = trace.all();
        let listing = crate::trace_source::describe_spans(&all);
        assert_eq!(
            trace.server1.id, root_id,
            "service1's SERVER span must be the root:\n{listing}"
        );

        assert_child_of(&trace.do_stuff1, &trace.server1);
        assert_child_of(&trace.client, &trace.do_stuff1);
        assert_shared_pair(&trace.client, &trace.server2);
        assert_child_of(&trace.do_stuff2, &trace.server2);
        assert_child_of(&trace.db_search, &trace.do_stuff2);

        let distinct: std::collections::BTreeSet<_> = all.iter().map(|span| span.id).collect();
        assert_eq!(
            distinct.len(),
            5,
            "six spans, five distinct ids:\n{listing}"
        );

        for (child, parent) in [
            (&trace.do_stuff1, &trace.server1),
            (&trace.client, &trace.do_stuff1),
            (&trace.server2, &trace.client),
            (&trace.do_stuff2, &trace.server2),
            (&trace.db_search, &trace.do_stuff2),
        ] {
            assert_within(child, parent);
        }

        for (span, path) in [
            (&trace.server1, "/"),
            (&trace.client, "/service/"),
            (&trace.server2, "/service/"),
        ] {
            assert_eq!(span.tag("http.method"), Some("GET"), "{span:?}");
            assert_eq!(span.tag("http.path"), Some(path), "{span:?}");
        }
        for span in &all {
            assert_eq!(span.tag("error"), None, "unexpected error tag:\n{listing}");
            assert_eq!(span.tag("http.status_code"), None, "not a 2xx:\n{listing}");
        }
        trace
    }

    /// The six spans in the order they start: service1's SERVER, `service_1_do_stuff` and
    /// CLIENT spans, then service2's SERVER, `service_2_do_stuff` and `db_search`.
    pub fn all(&self) -> [Span; 6] {
        [
            self.server1.clone(),
            self.do_stuff1.clone(),
            self.client.clone(),
            self.server2.clone(),
            self.do_stuff2.clone(),
            self.db_search.clone(),
        ]
    }

    /// Checks that each span lasted at least its sleeps at `time_scale` (root 7 s,
    /// `service_1_do_stuff` 6 s, client and server 4 s, `service_2_do_stuff` 4 s,
    /// `db_search` 2 s, all scaled) and at most that plus `slack`; and that the sleeps
    /// between spans happened: the client call starts 2 s into `service_1_do_stuff`, the
    /// root ends 1 s after it, `db_search` starts 2 s into `service_2_do_stuff` (each at
    /// least that, scaled, and at most `slack` more).
    #[track_caller]
    pub fn assert_timing(&self, time_scale: f64, slack: Duration) {
        let scaled = |seconds: f64| Duration::from_secs_f64(seconds * time_scale);
        for (span, seconds) in [
            (&self.server1, 7.0),
            (&self.do_stuff1, 6.0),
            (&self.client, 4.0),
            (&self.server2, 4.0),
            (&self.do_stuff2, 4.0),
            (&self.db_search, 2.0),
        ] {
            crate::tree::assert_duration(span, scaled(seconds), Some(scaled(seconds) + slack));
        }
        // The sleeps between spans, which durations alone would not catch: service1 works
        // 2 s before calling, and sleeps 1 s after `service_1_do_stuff` returns; service2
        // works 2 s before `db_search`.
        let start = |span: &Span| crate::tree::interval(span).0;
        let end = |span: &Span| crate::tree::interval(span).1;
        for (what, from, to, seconds) in [
            (
                "the call to service2 starts after service_1_do_stuff's sleep",
                start(&self.do_stuff1),
                start(&self.client),
                2.0,
            ),
            (
                "service1 answers after its final sleep",
                end(&self.do_stuff1),
                end(&self.server1),
                1.0,
            ),
            (
                "db_search starts after service_2_do_stuff's sleep",
                start(&self.do_stuff2),
                start(&self.db_search),
                2.0,
            ),
        ] {
            let gap = Duration::from_micros(to.saturating_sub(from));
            assert!(
                gap >= scaled(seconds) && gap <= scaled(seconds) + slack,
                "{what}: {gap:?} apart, expected {:?} (+ up to {slack:?})",
                scaled(seconds)
            );
        }
    }
}
