//! Listening, and serving a traced app until told to stop, then flushing its spans.
//!
//! A span is only useful once it reaches the collector, so shutdown is ordered: stop
//! accepting connections, let requests in flight finish (their spans finish with them),
//! then flush the reporter with a deadline, so that a collector outage cannot hang the exit.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use zipkin_reporter::{AsyncReporter, Destination};

/// How long shutdown waits for queued spans to reach the collector.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A listening socket could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {address} (set --bind/BIND and --port/PORT): {source}")]
pub struct BindError {
    /// The address that could not be bound.
    pub address: SocketAddr,
    /// Why, e.g. the port is already in use.
    pub source: std::io::Error,
}

/// Binds `address`; the error names the address and the settings that chose it.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, BindError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| BindError { address, source })
}

/// A service's router, ready to serve, and the reporter its spans go to.
///
/// Each service builds its own (`service1::server`, `service2::server`); the binaries, the
/// demo, the tests and the benchmarks then all serve it with [`Server::run`].
#[derive(Debug)]
pub struct Server {
    name: &'static str,
    app: Router,
    reporter: Option<AsyncReporter>,
    destination: Option<String>,
}

impl Server {
    /// `app`, whose spans go to `reporter`, which is flushed when serving ends.
    pub fn traced(name: &'static str, app: Router, reporter: AsyncReporter) -> Self {
        Server {
            name,
            app,
            reporter: Some(reporter),
            destination: None,
        }
    }

    /// `app` without tracing: nothing to flush at the end. Benchmarks compare it with the
    /// traced service.
    pub fn untraced(name: &'static str, app: Router) -> Self {
        Server {
            name,
            app,
            reporter: None,
            destination: None,
        }
    }

    /// The same server with its router wrapped by `wrap`, e.g. in one more layer that sees
    /// every request before the service's own tracing layer does.
    pub fn map_app(mut self, wrap: impl FnOnce(Router) -> Router) -> Self {
        self.app = wrap(self.app);
        self
    }

    /// The same server, saying in its start-up log line that its spans go to
    /// `destination` (the endpoint, queue or topic its reporter sends to; a broker's URI
    /// is shown without its password).
    pub fn reporting_to(mut self, destination: &Destination) -> Self {
        self.destination = Some(destination.to_string());
        self
    }

    /// Serves on `listener` until `shutdown` resolves and requests in flight are done, then
    /// flushes the reporter for at most [`FLUSH_TIMEOUT`]. Handlers see the client's
    /// address (`ConnectInfo<SocketAddr>`), which server spans record.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let name = self.name;
        let address = listener.local_addr()?;
        match (&self.reporter, &self.destination) {
            (Some(_), Some(spans)) => {
                tracing::info!(%address, %spans, "{name} listening; spans go to {spans}");
            }
            (Some(_), None) => tracing::info!(%address, "{name} listening"),
            (None, _) => tracing::info!(%address, "{name} listening, untraced"),
        }
        let service = self.app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await?;
        let Some(reporter) = self.reporter else {
            return Ok(());
        };
        tracing::info!("{name} stopped accepting requests; flushing spans");
        if !reporter.flush(FLUSH_TIMEOUT).await {
            let stats = reporter.stats();
            tracing::warn!(
                ?stats,
                "{name}: some spans were not delivered within {FLUSH_TIMEOUT:?}"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::routing::{get, post};
    use tokio::sync::oneshot;
    use zipkin_reporter::ReporterConfig;
    use zipkin_tracing::Tracer;

    use super::*;

    #[cfg(feature = "rabbitmq")]
    #[test]
    fn the_destination_in_the_log_line_hides_a_password() {
        let destination = Destination::RabbitMq {
            uri: "amqp://zipkin:secret@rabbit:5672".parse().unwrap(),
            queue: "zipkin".parse().unwrap(),
        };
        let server = Server::untraced("svc", Router::new()).reporting_to(&destination);
        let shown = server.destination.unwrap();
        assert_eq!(shown, "queue zipkin at amqp://zipkin@rabbit:5672/");
        let endpoint = Destination::Http("http://127.0.0.1:9411/api/v2/spans".parse().unwrap());
        let server = Server::untraced("svc", Router::new()).reporting_to(&endpoint);
        assert_eq!(
            server.destination.unwrap(),
            "http://127.0.0.1:9411/api/v2/spans"
        );
    }

    #[tokio::test]
    async fn a_bind_error_names_the_address_and_the_settings() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = taken.local_addr().unwrap();
        let error = bind(address).await.unwrap_err().to_string();
        for expected in [address.to_string().as_str(), "--bind/BIND", "--port/PORT"] {
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }

    /// A collector on a local port that counts the spans POSTed to it.
    async fn counting_collector() -> (String, Arc<AtomicUsize>) {
        let received = Arc::new(AtomicUsize::new(0));
        let counter = received.clone();
        let app = Router::new().route(
            "/api/v2/spans",
            post(move |body: axum::Json<Vec<serde_json::Value>>| async move {
                counter.fetch_add(body.0.len(), Ordering::SeqCst);
                axum::http::StatusCode::ACCEPTED
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{address}/api/v2/spans"), received)
    }

    #[tokio::test]
    async fn run_serves_until_shutdown_then_flushes_the_spans_still_queued() {
        let (endpoint, received) = counting_collector().await;
        // Batches wait a minute to fill: only the final flush can send the span in time.
        let reporter = AsyncReporter::start(ReporterConfig {
            batch_interval: Duration::from_secs(60),
            ..ReporterConfig::http(endpoint.parse().unwrap())
        })
        .unwrap();
        let tracer = Tracer::builder("test").reporter(reporter.clone()).build();
        let app = Router::new()
            .route("/", get(|| async { "OK" }))
            .layer(zipkin_tracing::ZipkinLayer::new(tracer));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = Server::traced("test", app, reporter.clone());
        let serving = tokio::spawn(server.run(listener, async {
            let _ = stopped.await;
        }));

        let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
        assert_eq!(body, "OK");
        assert_eq!(
            received.load(Ordering::SeqCst),
            0,
            "the batch is still waiting"
        );
        stop.send(()).unwrap();
        serving.await.unwrap().unwrap();
        assert_eq!(
            received.load(Ordering::SeqCst),
            1,
            "flushed before run returned"
        );
        assert_eq!(reporter.stats().sent, 1);
        assert!(reqwest::get(&url).await.is_err(), "no longer serving");
    }
}
