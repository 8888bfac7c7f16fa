//! Router tests at TIME_SCALE=0: the span tree, joining, sampling and the health check.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use zipkin_tracing::{InMemoryReporter, Kind, ProbabilitySampler, Span, TraceContext, Tracer};

use super::*;

fn service(reporter: &InMemoryReporter) -> Router {
    let tracer = Tracer::builder(SERVICE_NAME)
        .reporter(reporter.clone())
        .build();
    app(AppState {
        tracer,
        time_scale: 0.0,
        instrument: false,
    })
}

async fn get(router: Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn by_name<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
}

#[tokio::test]
async fn a_request_without_b3_starts_a_trace_of_three_spans() {
    let reporter = InMemoryReporter::new();
    let request = Request::get("/service/").body(Body::empty()).unwrap();
    assert_eq!(
        get(service(&reporter), request).await,
        (StatusCode::OK, "OK".into())
    );

    let spans = reporter.spans();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let server = by_name(&spans, "GET /service/");
    let work = by_name(&spans, "service_2_do_stuff");
    let db = by_name(&spans, "db_search");
    assert_eq!(server.kind, Some(Kind::Server));
    assert_eq!(server.parent_id, None);
    assert!(!server.shared);
    assert_eq!(server.tag("http.method"), Some("GET"));
    assert_eq!(server.tag("http.path"), Some("/service/"));
    assert_eq!(server.tag("http.status_code"), None);
    assert_eq!(server.tag("error"), None);
    assert_eq!((work.kind, db.kind), (None, None));
    assert_eq!(work.parent_id, Some(server.id));
    assert_eq!(db.parent_id, Some(work.id));
    for span in &spans {
        assert_eq!(span.trace_id, server.trace_id);
        assert_eq!(span.service_name(), Some(SERVICE_NAME));
    }
}

#[tokio::test]
async fn the_server_span_joins_the_callers_span() {
    let reporter = InMemoryReporter::new();
    let caller = TraceContext::new_root(zipkin_tracing::SamplingFlags::SAMPLED, true).new_child();
    let mut request = Request::get("/service/").body(Body::empty()).unwrap();
    zipkin_tracing::inject(
        &caller,
        zipkin_tracing::B3Format::Multi,
        request.headers_mut(),
    );
    assert_eq!(get(service(&reporter), request).await.0, StatusCode::OK);

    let spans = reporter.spans();
    let server = by_name(&spans, "GET /service/");
    assert_eq!(server.trace_id, caller.trace_id);
    assert_eq!(server.id, caller.span_id);
    assert_eq!(server.parent_id, caller.parent_id);
    assert!(server.shared);
    assert_eq!(
        by_name(&spans, "service_2_do_stuff").parent_id,
        Some(caller.span_id)
    );
}

#[tokio::test]
async fn an_unsampled_caller_gets_an_answer_and_nothing_is_reported() {
    let reporter = InMemoryReporter::new();
    let request = Request::get("/service/")
        .header("b3", "0")
        .body(Body::empty())
        .unwrap();
    assert_eq!(get(service(&reporter), request).await.0, StatusCode::OK);
    assert!(reporter.spans().is_empty());

    // A sampler that keeps nothing has the same effect on new traces.
    let reporter = InMemoryReporter::new();
    let tracer = Tracer::builder(SERVICE_NAME)
        .sampler(ProbabilitySampler::never())
        .reporter(reporter.clone())
        .build();
    let router = app(AppState {
        tracer,
        time_scale: 0.0,
        instrument: false,
    });
    let request = Request::get("/service/").body(Body::empty()).unwrap();
    assert_eq!(get(router, request).await.0, StatusCode::OK);
    assert!(reporter.spans().is_empty());
}

#[tokio::test]
async fn a_malformed_b3_header_starts_a_new_trace() {
    let reporter = InMemoryReporter::new();
    let request = Request::get("/service/")
        .header("X-B3-TraceId", "NOT-HEX")
        .header("X-B3-SpanId", "a2fb4a1d1a96d312")
        .body(Body::empty())
        .unwrap();
    assert_eq!(get(service(&reporter), request).await.0, StatusCode::OK);
    let spans = reporter.spans();
    assert_eq!(spans.len(), 3);
    let server = by_name(&spans, "GET /service/");
    assert_eq!(server.parent_id, None);
    assert!(!server.shared);
}

#[tokio::test]
async fn health_answers_and_is_not_traced() {
    let reporter = InMemoryReporter::new();
    let request = Request::get("/health").body(Body::empty()).unwrap();
    assert_eq!(
        get(service(&reporter), request).await,
        (StatusCode::OK, "OK".into())
    );
    assert!(reporter.spans().is_empty());
}

#[tokio::test]
async fn an_unknown_route_is_a_traced_404() {
    let reporter = InMemoryReporter::new();
    let request = Request::get("/nope/42").body(Body::empty()).unwrap();
    assert_eq!(
        get(service(&reporter), request).await.0,
        StatusCode::NOT_FOUND
    );
    let spans = reporter.spans();
    assert_eq!(spans.len(), 1);
    // No route matched, so the name is the method alone: never the raw path.
    assert_eq!(spans[0].name.as_deref(), Some("GET"));
    assert_eq!(spans[0].tag("http.status_code"), Some("404"));
    assert_eq!(spans[0].tag("error"), Some("404"));
}

#[test]
fn bad_settings_are_rejected_with_their_name() {
    let err = Config::try_parse_from(["service2", "--time-scale=-1"]).unwrap_err();
    assert!(err.to_string().contains("--time-scale"), "{err}");
    let err = Config::try_parse_from(["service2", "--sample-rate", "5"]).unwrap_err();
    assert!(err.to_string().contains("--sample-rate"), "{err}");
    let err = Config::try_parse_from(["service2", "--port", "http"]).unwrap_err();
    assert!(err.to_string().contains("--port"), "{err}");
    let err = Config::try_parse_from(["service2", "--zipkin-endpoint", "zipkin:9411"]).unwrap_err();
    assert!(err.to_string().contains("--zipkin-endpoint"), "{err}");
    let config = Config::try_parse_from(["service2"]).unwrap();
    assert_eq!(
        (config.port, config.service.bind.to_string()),
        (6000, "127.0.0.1".into())
    );
    assert_eq!(config.service.time_scale, 1.0);
}

#[tokio::test]
async fn the_routes_alone_answer_the_same_and_record_nothing() {
    let reporter = InMemoryReporter::new();
    let tracer = Tracer::builder(SERVICE_NAME)
        .reporter(reporter.clone())
        .build();
    let untraced = routes().with_state(AppState {
        tracer,
        time_scale: 0.0,
        instrument: false,
    });
    let request = Request::get("/service/").body(Body::empty()).unwrap();
    assert_eq!(get(untraced, request).await, (StatusCode::OK, "OK".into()));
    assert!(reporter.spans().is_empty(), "{:#?}", reporter.spans());
}
