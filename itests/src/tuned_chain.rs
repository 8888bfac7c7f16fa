//! The article's chain in-process, with reporter settings chosen by the test.
//!
//! The services' `run` functions start a reporter with the default settings (a 30 s retry
//! window, a queue of 10,000); tests of a faulty collector need small ones, and the
//! reporters' counters. [`TunedChain`] wires each service from its public parts instead:
//! its router (`app`), a [`Tracer`] reporting to an [`HttpReporter`] built from the test's
//! [`HttpReporterConfig`], and the same `serve` function the binaries use.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use zipkin_tracing::ReporterStats;
use zipkin_tracing::{HttpReporter, HttpReporterConfig, Tracer};

/// How long service1 waits for service2 (the binaries' default).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// One service of a [`TunedChain`]: its address, its reporter and its serving task.
#[derive(Debug)]
pub struct TunedService {
    name: &'static str,
    address: SocketAddr,
    reporter: HttpReporter,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TunedService {
    /// Binds a fresh `127.0.0.1:0` socket and spawns `run(listener, shutdown)`, which
    /// serves until `shutdown` resolves.
    async fn spawn<F, Fut>(
        name: &'static str,
        reporter: HttpReporter,
        run: F,
    ) -> anyhow::Result<Self>
    where
        F: FnOnce(TcpListener, oneshot::Receiver<()>) -> Fut,
        Fut: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind 127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let (shutdown, signal) = oneshot::channel::<()>();
        tokio::spawn(run(listener, signal));
        Ok(TunedService {
            name,
            address,
            reporter,
            shutdown: Some(shutdown),
        })
    }

    /// The service's name, as on its spans.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The service's base URL, `http://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The service's reporter's counters so far.
    pub fn stats(&self) -> ReporterStats {
        self.reporter.stats()
    }

    /// The service's reporter.
    pub fn reporter(&self) -> &HttpReporter {
        &self.reporter
    }
}

impl Drop for TunedService {
    fn drop(&mut self) {
        // Stops accepting; the final flush runs on in the background and ends with the
        // test's runtime, so a faulty collector cannot hold a test up.
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// service1 calling service2, in-process, each with its own reporter.
#[derive(Debug)]
pub struct TunedChain {
    /// The caller, `GET /`.
    pub service1: TunedService,
    /// The callee, `GET /service/`.
    pub service2: TunedService,
}

impl TunedChain {
    /// Starts service2, then service1 calling it, at `time_scale`; each service gets its
    /// own reporter with the settings of `reporter` (endpoint included), sampling every
    /// trace.
    pub async fn start(reporter: &HttpReporterConfig, time_scale: f64) -> anyhow::Result<Self> {
        let reporter2 = HttpReporter::start(reporter.clone()).context("service2's reporter")?;
        let tracer2 = Tracer::builder(service2::SERVICE_NAME)
            .reporter(reporter2.clone())
            .build();
        let app2 = service2::app(service2::AppState {
            tracer: tracer2,
            time_scale,
        });
        let service2 = TunedService::spawn(
            service2::SERVICE_NAME,
            reporter2.clone(),
            move |listener, signal| async move {
                let shutdown = async {
                    let _ = signal.await;
                };
                zipkin_tracing::serve::serve(listener, app2, &reporter2, shutdown).await
            },
        )
        .await?;

        let reporter1 = HttpReporter::start(reporter.clone()).context("service1's reporter")?;
        let tracer1 = Tracer::builder(service1::SERVICE_NAME)
            .reporter(reporter1.clone())
            .build();
        let service2_url: reqwest::Url = service2.url().parse()?;
        let state = service1::AppState::new(tracer1, &service2_url, CLIENT_TIMEOUT, time_scale)?;
        let app1 = service1::app(state);
        let service1 = TunedService::spawn(
            service1::SERVICE_NAME,
            reporter1.clone(),
            move |listener, signal| async move {
                let shutdown = async {
                    let _ = signal.await;
                };
                zipkin_tracing::serve::serve(listener, app1, &reporter1, shutdown).await
            },
        )
        .await?;
        Ok(TunedChain { service1, service2 })
    }

    /// service1's `GET /` URL, where a user's request starts.
    pub fn entry_url(&self) -> String {
        format!("{}/", self.service1.url())
    }

    /// Both services, caller first.
    pub fn services(&self) -> [&TunedService; 2] {
        [&self.service1, &self.service2]
    }

    /// Flushes both reporters, each for at most `timeout`; `true` if both finished with
    /// every span queued so far (sent or given up).
    pub async fn flush(&self, timeout: Duration) -> bool {
        let (one, two) = tokio::join!(
            self.service1.reporter.flush(timeout),
            self.service2.reporter.flush(timeout)
        );
        one && two
    }
}
