//! The collector end of the measurement: an HTTP server on loopback that counts the spans
//! it is sent and keeps nothing.
//!
//! It runs on a thread and a current-thread runtime of its own, like a collector in
//! another process, but inside the measured process, so callgrind counts its instructions
//! too. Each `POST /api/v2/spans` body is read whole, its spans counted as the
//! occurrences of `"traceId"` (one per span in both libraries' Zipkin v2 JSON), and
//! answered `202 Accepted`, as Zipkin answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::post;
use tokio::sync::oneshot;

/// What the sink has received so far.
#[derive(Debug, Default)]
pub struct Received {
    /// Spans counted in the bodies.
    pub spans: AtomicU64,
    /// POST requests answered.
    pub posts: AtomicU64,
    /// Body bytes read.
    pub bytes: AtomicU64,
}

/// A running sink; [`Sink::stop`] ends its thread.
pub struct Sink {
    /// The URL to POST spans to.
    pub endpoint: String,
    /// The counters, shared with the server's handler.
    pub received: Arc<Received>,
    shutdown: oneshot::Sender<()>,
    thread: JoinHandle<anyhow::Result<()>>,
}

impl Sink {
    /// Binds an ephemeral loopback port and serves on a new thread named `sink`.
    pub fn start() -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .context("cannot bind a loopback port for the sink")?;
        listener.set_nonblocking(true)?;
        let endpoint = format!("http://{}/api/v2/spans", listener.local_addr()?);
        let received = Arc::new(Received::default());
        let app = Router::new()
            .route("/api/v2/spans", post(take))
            .layer(DefaultBodyLimit::max(collector::config::DEFAULT_BODY_LIMIT))
            .with_state(received.clone());
        let (shutdown, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("sink".to_owned())
            .spawn(move || serve_sink(listener, app, stopped))
            .context("cannot start the sink's thread")?;
        Ok(Sink {
            endpoint,
            received,
            shutdown,
            thread,
        })
    }

    /// Spans counted so far.
    pub fn spans(&self) -> u64 {
        self.received.spans.load(Ordering::Acquire)
    }

    /// Stops the server once its connections are closed, and waits for its thread.
    pub fn stop(self) -> anyhow::Result<()> {
        // The thread may have ended already, with an error that `join` returns.
        let _ = self.shutdown.send(());
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the sink's thread panicked"))?
    }
}

/// The handler: counts the spans in one body and answers 202.
async fn take(State(received): State<Arc<Received>>, body: Bytes) -> StatusCode {
    let spans = memchr::memmem::find_iter(&body, b"\"traceId\"").count() as u64;
    received.posts.fetch_add(1, Ordering::Relaxed);
    received
        .bytes
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    // Counted before the answer leaves, so a sender that saw its 202 sees its spans here.
    received.spans.fetch_add(spans, Ordering::Release);
    StatusCode::ACCEPTED
}

/// The sink's thread: serves `app` on a current-thread runtime until `stopped`. Not
/// inlined, so that callgrind's report names the thread's whole cost.
#[inline(never)]
fn serve_sink(
    listener: std::net::TcpListener,
    app: Router,
    stopped: oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot build the sink's runtime")?;
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
        .context("the sink's server failed")
    })
}
