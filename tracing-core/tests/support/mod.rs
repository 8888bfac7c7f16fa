//! Shared by the integration tests: a traced axum app on a loopback socket.

use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;
use zipkin_tracing::{
    InMemoryReporter, ParentSpan, Tracer, ZipkinLayer, local_span, with_current_span,
};

/// A server traced by `tracer` with `/ok`, `/fail` (500), `/items/{id}`, `/edited` (whose
/// handler edits its span and answers 500), `/spawned` (which runs a local span in a task
/// with and one without the request's span) and an untraced `/health`; returns its base URL.
pub async fn spawn_server(tracer: Tracer) -> String {
    let app = Router::new()
        .route("/ok", get(|| local_span("work", async { "ok" })))
        .route("/edited", get(edited))
        .route("/spawned", get(spawned))
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "no") }),
        )
        .route("/items/{id}", get(|| async { "item" }))
        .layer(ZipkinLayer::new(tracer))
        .route("/health", get(|| async { "ok" }));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    format!("http://{address}")
}

async fn edited() -> StatusCode {
    with_current_span(|span| {
        span.rename("reserve stock");
        span.tag("stock.sku", "A-42");
        span.annotate("stock checked");
        span.error("out of stock");
    });
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn spawned() -> &'static str {
    let carried = ParentSpan::current().wrap(local_span("carried", async {}));
    tokio::spawn(carried).await.expect("the carried task");
    tokio::spawn(local_span("not_carried", async {}))
        .await
        .expect("the task");
    "ok"
}

/// A tracer for `service` reporting into a fresh in-memory reporter.
pub fn tracer(service: &str) -> (Tracer, InMemoryReporter) {
    let reporter = InMemoryReporter::new();
    let tracer = Tracer::builder(service).reporter(reporter.clone()).build();
    (tracer, reporter)
}
