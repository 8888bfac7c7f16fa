//! Shared by the integration tests: a traced axum app on a loopback socket.

use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;
use zipkin_tracing::{InMemoryReporter, Tracer, ZipkinLayer, local_span};

/// A server traced by `tracer` with `/ok`, `/fail` (500), `/items/{id}` and an untraced
/// `/health`; returns its base URL.
pub async fn spawn_server(tracer: Tracer) -> String {
    let app = Router::new()
        .route("/ok", get(|| local_span("work", async { "ok" })))
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

/// A tracer for `service` reporting into a fresh in-memory reporter.
pub fn tracer(service: &str) -> (Tracer, InMemoryReporter) {
    let reporter = InMemoryReporter::new();
    let tracer = Tracer::builder(service).reporter(reporter.clone()).build();
    (tracer, reporter)
}
