//! The spans of one service2 request, recorded through the real tracer, for the reporter
//! benchmarks.
//!
//! A reporter's cost depends on what it carries, so the benchmarks feed it what a service
//! produces rather than minimal spans: per request, service2's SERVER span (joined to its
//! caller's, with `http.method`, `http.path` and the caller's address) and its two local
//! spans, `service_2_do_stuff` and `db_search`, recorded with the same calls `ZipkinLayer`
//! and `local_span` make.

use std::net::SocketAddr;

use zipkin_tracing::{Endpoint, Kind, SamplingFlags, TraceContext, Tracer};

/// Spans recorded by one call of [`record_service2_request`].
pub const SPANS_PER_REQUEST: u64 = 3;

/// Records, and so reports through `tracer`'s reporter, the three spans of one sampled
/// `GET /service/` on service2 that joins a caller's CLIENT span from `peer`.
pub fn record_service2_request(tracer: &Tracer, peer: SocketAddr) {
    record_request_spans(tracer, peer, 3);
}

/// Records exactly `count` spans: as many whole service2 requests as fit, then the first
/// spans of one more (its server span, then `service_2_do_stuff`).
pub fn record_service2_spans(tracer: &Tracer, peer: SocketAddr, count: u64) {
    for _ in 0..count / SPANS_PER_REQUEST {
        record_service2_request(tracer, peer);
    }
    let rest = count % SPANS_PER_REQUEST;
    if rest > 0 {
        record_request_spans(tracer, peer, rest);
    }
}

/// The first `count` (1 to 3) spans of a service2 request: server, do_stuff, db_search.
fn record_request_spans(tracer: &Tracer, peer: SocketAddr, count: u64) {
    // The server joins its sampled caller's span: the same context, marked shared.
    let context = TraceContext::new_root(SamplingFlags::SAMPLED, true).new_child();
    let mut server = tracer.start(context, "GET /service/", Some(Kind::Server));
    server.set_shared(true);
    server.tag("http.method", "GET");
    server.tag("http.path", "/service/");
    server.set_remote_endpoint(Endpoint::from_socket(peer));
    if count >= 2 {
        let work_context = tracer.child(&context);
        let work = tracer.start(work_context, "service_2_do_stuff", None);
        if count >= 3 {
            let db = tracer.start(tracer.child(&work_context), "db_search", None);
            db.finish();
        }
        work.finish();
    }
    server.finish();
}

#[cfg(test)]
mod tests {
    use super::*;
    use zipkin_tracing::InMemoryReporter;

    #[test]
    fn one_request_is_three_spans_of_one_trace_like_service2s() {
        let reporter = InMemoryReporter::new();
        let tracer = Tracer::builder("service2")
            .reporter(reporter.clone())
            .build();
        record_service2_request(&tracer, "127.0.0.1:40000".parse().unwrap());
        let spans = reporter.spans();
        assert_eq!(spans.len() as u64, SPANS_PER_REQUEST);
        let (db, work, server) = (&spans[0], &spans[1], &spans[2]);
        assert_eq!(server.name.as_deref(), Some("GET /service/"));
        assert_eq!(server.kind, Some(Kind::Server));
        assert!(server.shared && server.parent_id.is_some());
        assert_eq!(server.tag("http.method"), Some("GET"));
        assert_eq!(server.tag("http.path"), Some("/service/"));
        assert!(server.remote_endpoint.is_some());
        assert_eq!(work.parent_id, Some(server.id));
        assert_eq!(db.parent_id, Some(work.id));
        assert!(spans.iter().all(|s| s.trace_id == server.trace_id));
    }

    #[test]
    fn any_count_of_spans_can_be_recorded() {
        for count in [0, 1, 2, 3, 4, 5, 7] {
            let reporter = InMemoryReporter::new();
            let tracer = Tracer::builder("service2")
                .reporter(reporter.clone())
                .build();
            record_service2_spans(&tracer, "127.0.0.1:40000".parse().unwrap(), count);
            assert_eq!(reporter.spans().len() as u64, count);
        }
    }
}
