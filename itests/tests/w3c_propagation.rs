//! An OpenTelemetry-instrumented caller, which sends W3C Trace Context (`traceparent`,
//! `tracestate`), continues its trace through service1 and service2 when they read W3C,
//! whichever format service1 then uses towards service2.

use std::collections::HashMap;
use std::time::Duration;

use itests::stand_in::header;
use itests::tree::{assert_child_of, assert_within};
use itests::{
    ArticleTrace, Chain, Service2StandIn, StandInCollector, TraceTree, wait_for_trace_within,
};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    SpanContext, SpanKind, TraceContextExt, TraceFlags, TraceState, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Context, trace};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use zipkin_tracing::{Kind, Propagation, SpanId, TraceId};

const TIME_SCALE: f64 = 0.01;
const DEADLINE: Duration = Duration::from_secs(20);
/// A vendor's entry the caller's trace carries, to be passed on unchanged.
const TRACESTATE: &str = "vendor=opaque-value";

/// What an OpenTelemetry client sent: its headers and the ids of its CLIENT span.
struct OtelCall {
    headers: Vec<(&'static str, String)>,
    trace_id: TraceId,
    span_id: SpanId,
}

/// Starts a CLIENT span with the OpenTelemetry SDK, under a remote parent carrying
/// [`TRACESTATE`], and injects it with the SDK's W3C propagator.
fn otel_client_call() -> OtelCall {
    let provider = SdkTracerProvider::builder().build();
    let tracer = provider.tracer("otel-caller");
    let remote_parent = SpanContext::new(
        trace::TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex"),
        trace::SpanId::from_hex("00f067aa0ba902b7").expect("hex"),
        TraceFlags::SAMPLED,
        true,
        TRACESTATE
            .parse::<TraceState>()
            .expect("a valid tracestate"),
    );
    let parent = Context::new().with_remote_span_context(remote_parent);
    let span = tracer
        .span_builder("GET /")
        .with_kind(SpanKind::Client)
        .start_with_context(&tracer, &parent);
    let context = parent.with_span(span);
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    let span_context = context.span().span_context().clone();
    let headers = ["traceparent", "tracestate"]
        .into_iter()
        .map(|name| (name, carrier[name].clone()))
        .collect();
    OtelCall {
        headers,
        trace_id: span_context.trace_id().to_string().parse().expect("hex"),
        span_id: span_context.span_id().to_string().parse().expect("hex"),
    }
}

#[tokio::test]
async fn an_opentelemetry_callers_trace_continues_through_both_services() {
    for setting in ["w3c", "b3,w3c", "w3c,b3"] {
        let propagation: Propagation = setting.parse().unwrap();
        let collector = StandInCollector::start().await.unwrap();
        let api = collector.api();
        let otel = otel_client_call();
        let answered = Chain::options(api.spans_endpoint())
            .time_scale(TIME_SCALE)
            .propagation(propagation)
            .one_request(&otel.headers)
            .await
            .unwrap();
        assert_eq!(answered, otel.trace_id, "PROPAGATION={setting}: x-trace-id");

        let spans = wait_for_trace_within(api, otel.trace_id, 6, DEADLINE)
            .await
            .unwrap();
        let mut tree = TraceTree::new(spans);
        let server1 = tree.root().clone();
        // A W3C caller expects a child, not a shared span: service1 never joins it.
        assert_eq!(server1.parent_id, Some(otel.span_id), "{setting}");
        assert_ne!(server1.id, otel.span_id, "{setting}");
        assert!(!server1.shared, "{setting}");
        if setting.starts_with("b3") {
            // service2 reads service1's B3 headers first and joins its CLIENT span.
            ArticleTrace::take(&mut tree);
        } else {
            // service2 reads traceparent first: its SERVER span is a child of the CLIENT.
            let server1 = tree.take("service1", Some(Kind::Server), "GET /");
            let do_stuff1 = tree.take("service1", None, "service_1_do_stuff");
            let client = tree.take("service1", Some(Kind::Client), "GET /service/");
            let server2 = tree.take("service2", Some(Kind::Server), "GET /service/");
            let do_stuff2 = tree.take("service2", None, "service_2_do_stuff");
            let db_search = tree.take("service2", None, "db_search");
            for (child, parent) in [
                (&do_stuff1, &server1),
                (&client, &do_stuff1),
                (&server2, &client),
                (&do_stuff2, &server2),
                (&db_search, &do_stuff2),
            ] {
                assert_child_of(child, parent);
                assert_within(child, parent);
            }
            assert!(!server2.shared, "{setting}");
        }
        tree.finish();
    }
}

#[tokio::test]
async fn service1_passes_the_callers_tracestate_on_and_writes_every_listed_format() {
    for (setting, b3, w3c) in [("w3c", false, true), ("w3c,b3", true, true)] {
        let service2 = Service2StandIn::start().await;
        let collector = StandInCollector::start().await.unwrap();
        let otel = otel_client_call();
        Chain::options(collector.api().spans_endpoint())
            .time_scale(TIME_SCALE)
            .propagation(setting.parse().unwrap())
            .service2_url(service2.url())
            .one_request(&otel.headers)
            .await
            .unwrap();

        let received = service2.received_headers().await.unwrap();
        let sent = &received[0];
        let traceparent = header(sent, "traceparent");
        assert_eq!(traceparent.is_some(), w3c, "{setting}: {sent:?}");
        assert_eq!(
            header(sent, "x-b3-traceid").is_some(),
            b3,
            "{setting}: {sent:?}"
        );
        let traceparent = traceparent.unwrap();
        let fields: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(fields[0], "00", "{traceparent}");
        assert_eq!(fields[1], otel.trace_id.to_string(), "{traceparent}");
        assert_eq!(fields[3], "01", "sampled: {traceparent}");
        assert_eq!(header(sent, "tracestate"), Some(TRACESTATE), "{setting}");
    }
}

#[tokio::test]
async fn a_b3_only_service_starts_a_new_trace_for_a_w3c_caller() {
    let collector = StandInCollector::start().await.unwrap();
    let otel = otel_client_call();
    let answered = Chain::options(collector.api().spans_endpoint())
        .time_scale(TIME_SCALE)
        .one_request(&otel.headers)
        .await
        .unwrap();
    assert_ne!(
        answered, otel.trace_id,
        "PROPAGATION=b3 does not read traceparent"
    );
    let spans = wait_for_trace_within(collector.api(), answered, 6, DEADLINE)
        .await
        .unwrap();
    assert_eq!(TraceTree::new(spans).root().parent_id, None);
}

#[tokio::test]
async fn the_binaries_read_propagation_from_the_environment() {
    let collector = StandInCollector::start().await.unwrap();
    let otel = otel_client_call();
    let answered = Chain::options(collector.api().spans_endpoint())
        .time_scale(TIME_SCALE)
        .propagation("w3c".parse().unwrap())
        .binaries()
        .one_request(&otel.headers)
        .await
        .unwrap();
    assert_eq!(answered, otel.trace_id, "PROPAGATION=w3c: x-trace-id");
    let spans = wait_for_trace_within(collector.api(), otel.trace_id, 6, DEADLINE)
        .await
        .unwrap();
    assert_eq!(TraceTree::new(spans).root().parent_id, Some(otel.span_id));
}
