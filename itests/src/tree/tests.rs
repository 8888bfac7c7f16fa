//! The assertions must fail when the trace is wrong, or the end-to-end tests prove nothing.

use std::sync::Arc;

use zipkin_tracing::{Endpoint, Kind, Span, SpanId, TraceId};

use super::*;

fn span(id: u64, parent: Option<u64>, kind: Option<Kind>, service: &str, name: &str) -> Span {
    let trace: TraceId = "463ac35c9f6413ad48485a3953bb6124".parse().unwrap();
    let mut span = Span::new(trace, SpanId::new(id).unwrap());
    span.parent_id = parent.and_then(SpanId::new);
    span.kind = kind;
    span.name = Some(name.to_owned());
    span.local_endpoint = Some(Endpoint {
        service_name: Some(Arc::from(service)),
        ..Endpoint::default()
    });
    span.timestamp = Some(1_000_000 + id * 10);
    span.duration = Some(1_000 - id * 20);
    span
}

fn pair() -> Vec<Span> {
    let mut server = span(2, Some(1), Some(Kind::Server), "b", "GET /x");
    server.shared = true;
    vec![
        span(1, None, Some(Kind::Server), "a", "GET /"),
        span(2, Some(1), Some(Kind::Client), "a", "GET /x"),
        server,
    ]
}

#[test]
fn a_well_formed_trace_passes() {
    let mut tree = TraceTree::new(pair());
    assert_eq!(tree.root().id.get(), 1);
    let root = tree.take("a", Some(Kind::Server), "GET /");
    let client = tree.take("a", Some(Kind::Client), "GET /x");
    let server = tree.take("b", Some(Kind::Server), "GET /x");
    assert_child_of(&client, &root);
    assert_shared_pair(&client, &server);
    assert_within(&client, &root);
    tree.finish();
}

#[test]
#[should_panic(expected = "left unaccounted for")]
fn an_unclaimed_span_fails() {
    let mut tree = TraceTree::new(pair());
    tree.take("a", Some(Kind::Server), "GET /");
    tree.take("a", Some(Kind::Client), "GET /x");
    tree.finish();
}

#[test]
#[should_panic(expected = "single root")]
fn two_roots_fail() {
    let mut spans = pair();
    spans.push(span(9, None, None, "a", "stray"));
    TraceTree::new(spans).root();
}

#[test]
#[should_panic(expected = "more than one trace")]
fn mixed_traces_fail() {
    let mut spans = pair();
    spans[0].trace_id = "0000000000000001".parse().unwrap();
    TraceTree::new(spans);
}

#[test]
#[should_panic(expected = "should be a child")]
fn a_wrong_parent_fails() {
    let spans = pair();
    assert_child_of(&spans[0], &spans[1]);
}

#[test]
#[should_panic(expected = "must be shared")]
fn an_unshared_server_fails() {
    let mut spans = pair();
    spans[2].shared = false;
    assert_shared_pair(&spans[1], &spans[2]);
}

#[test]
#[should_panic(expected = "is not inside")]
fn a_child_outside_its_parent_fails() {
    let spans = pair();
    assert_within(&spans[0], &spans[1]);
}

#[test]
#[should_panic(expected = "found 0")]
fn names_are_exact_unless_told_otherwise() {
    let mut tree = TraceTree::new(pair());
    tree.take("a", Some(Kind::Server), "get /");
}

#[test]
fn names_can_ignore_case_as_zipkin_lowercases_them() {
    let mut tree = TraceTree::new(pair()).with_names(NameMatch::IgnoreCase);
    tree.take("A", Some(Kind::Server), "get /");
}
