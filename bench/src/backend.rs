//! Where a benchmark's spans go: the stand-in collector, or a sink that only reads them,
//! each on a thread and a tokio runtime of its own.
//!
//! In production the collector runs on another machine, so its work must not be charged
//! to the service being measured: it gets its own thread (a current-thread runtime), and
//! the CPU time that thread used is reported separately. The stand-in collector decodes
//! and stores every span, which proves they arrived intact; the sink answers `202` after
//! reading the body and counting its spans (the occurrences of `"traceId"`, one per span
//! in Zipkin v2 JSON), the cheapest peer that still tells what arrived, so the reporter
//! alone is measured.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use collector::{Collector, CollectorConfig};
use tokio::sync::oneshot;

/// Which peer receives the spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// The stand-in Zipkin collector of this workspace: decodes, merges and stores.
    StandIn,
    /// Reads each POST's body, counts its spans and answers 202, decoding nothing.
    Sink,
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackendKind::StandIn => "stand-in",
            BackendKind::Sink => "sink",
        })
    }
}

/// What the sink has received.
#[derive(Debug, Default)]
struct SinkCounters {
    posts: AtomicU64,
    bytes: AtomicU64,
    spans: AtomicU64,
}

/// A running backend. Stop it with [`Backend::stop`].
#[derive(Debug)]
pub struct Backend {
    kind: BackendKind,
    endpoint: String,
    collector: Option<Collector>,
    sink: Arc<SinkCounters>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<anyhow::Result<Duration>>>,
}

/// What a backend did, read when it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendUsage {
    /// CPU time of the backend's thread, from start to stop.
    pub cpu: Duration,
    /// POST requests the sink answered (0 for the stand-in collector).
    pub posts: u64,
    /// Body bytes the sink read, as sent (compressed, for gzip bodies; 0 for the stand-in
    /// collector).
    pub bytes: u64,
    /// Spans the sink counted in those bodies (0 for the stand-in collector).
    pub spans: u64,
}

impl Backend {
    /// Starts a `kind` backend on `127.0.0.1` at an ephemeral port, on a new thread. The
    /// stand-in collector keeps at most `max_spans` spans, as its `--max-spans` does.
    pub fn start(kind: BackendKind, max_spans: usize) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .context("cannot bind a loopback port for the backend")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let sink = Arc::new(SinkCounters::default());
        let (collector, app) = match kind {
            BackendKind::StandIn => {
                let collector = Collector::new(CollectorConfig {
                    max_spans: max_spans.max(1),
                    ..CollectorConfig::default()
                });
                (Some(collector.clone()), collector::app(collector))
            }
            BackendKind::Sink => (None, sink_app(sink.clone())),
        };
        let (shutdown, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("backend-{kind}"))
            .spawn(move || serve_on_this_thread(listener, app, stopped))
            .context("cannot start the backend's thread")?;
        Ok(Backend {
            kind,
            endpoint: format!("http://{address}/api/v2/spans"),
            collector,
            sink,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// Which backend this is.
    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// The URL to POST spans to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The stand-in collector's store, to count what arrived; `None` for the sink.
    pub fn collector(&self) -> Option<&Collector> {
        self.collector.as_ref()
    }

    /// Spans the sink has counted so far, each counted before its POST was answered
    /// (0 for the stand-in collector).
    pub fn sink_spans(&self) -> u64 {
        self.sink.spans.load(Ordering::Acquire)
    }

    /// Stops the server, lets in-flight requests finish, and returns what it used.
    pub fn stop(mut self) -> anyhow::Result<BackendUsage> {
        if let Some(shutdown) = self.shutdown.take() {
            // The thread may already have ended (with an error, returned below).
            let _ = shutdown.send(());
        }
        let thread = self
            .thread
            .take()
            .expect("invariant: the thread is taken only here, once");
        let cpu = thread
            .join()
            .map_err(|_| anyhow::anyhow!("the backend's thread panicked"))??;
        Ok(BackendUsage {
            cpu,
            posts: self.sink.posts.load(Ordering::Relaxed),
            bytes: self.sink.bytes.load(Ordering::Relaxed),
            spans: self.sink.spans.load(Ordering::Acquire),
        })
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        // Not stopped by hand (an error path): stop the thread, without waiting for it.
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// The sink: `POST /api/v2/spans` reads the body, counts its spans and answers 202, like
/// Zipkin.
fn sink_app(counters: Arc<SinkCounters>) -> Router {
    async fn take(
        State(counters): State<Arc<SinkCounters>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        counters.posts.fetch_add(1, Ordering::Relaxed);
        counters
            .bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        // A gzip body is inflated to count its spans, as Zipkin would read it.
        let gzip = headers
            .get(header::CONTENT_ENCODING)
            .is_some_and(|encoding| encoding == "gzip");
        let json = if gzip {
            match collector::gunzip(&body, collector::config::DEFAULT_BODY_LIMIT) {
                Ok(json) => Bytes::from(json),
                Err(_) => return StatusCode::BAD_REQUEST,
            }
        } else {
            body
        };
        let spans = memchr::memmem::find_iter(&json, b"\"traceId\"").count() as u64;
        // Counted before the answer leaves, so a sender that saw its 202 sees its spans.
        counters.spans.fetch_add(spans, Ordering::Release);
        StatusCode::ACCEPTED
    }
    Router::new()
        .route("/api/v2/spans", post(take))
        .layer(DefaultBodyLimit::max(collector::config::DEFAULT_BODY_LIMIT))
        .with_state(counters)
}

/// Serves `app` on a current-thread runtime until `stopped`, then reports this thread's
/// CPU time. Not inlined, so that callgrind's report names the backend's whole cost
/// (`bench/cost` reads it by this name).
#[inline(never)]
fn serve_on_this_thread(
    listener: std::net::TcpListener,
    app: Router,
    stopped: oneshot::Receiver<()>,
) -> anyhow::Result<Duration> {
    let start = crate::procfs::thread_cpu_time()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot build the backend's runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        })
        .await
        .context("the backend's server failed")
    })?;
    drop(runtime);
    Ok(crate::procfs::thread_cpu_time()?.saturating_sub(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn both_backends_accept_a_span_post() {
        let json = r#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","timestamp":1,"duration":1,"localEndpoint":{"serviceName":"s"}}]"#;
        for kind in [BackendKind::StandIn, BackendKind::Sink] {
            let backend = Backend::start(kind, 10).unwrap();
            let client = reqwest::Client::new();
            let response = client
                .post(backend.endpoint())
                .header("content-type", "application/json")
                .body(json)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::ACCEPTED, "{kind}");
            if let Some(collector) = backend.collector() {
                assert_eq!(collector.span_count(), 1);
            }
            let usage = tokio::task::spawn_blocking(move || backend.stop())
                .await
                .unwrap()
                .unwrap();
            if kind == BackendKind::Sink {
                assert_eq!((usage.posts, usage.bytes), (1, json.len() as u64));
            }
        }
    }
}
