//! Running service1 and service2 in-process, each on its own `127.0.0.1:0` socket.
//!
//! Each service is configured exactly as a user would (its clap `Config`, parsed from flags)
//! and served by its own `run` function on a tokio task. Stopping resolves the service's
//! shutdown future and awaits the task, so the reporter's final flush has happened when
//! [`RunningService::stop`] returns.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What the services are told: where to report, how fast to run, how much to sample.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// The collector's span endpoint, e.g. `http://127.0.0.1:9411/api/v2/spans`.
    pub zipkin_endpoint: String,
    /// `TIME_SCALE`: multiplies the article's sleeps (0.01 turns 7 s into 70 ms).
    pub time_scale: f64,
    /// `SAMPLE_RATE`: the fraction of new traces recorded, 0.0 to 1.0.
    pub sample_rate: f64,
}

impl ServiceOptions {
    /// Options reporting to `zipkin_endpoint`, at `time_scale`, sampling every new trace.
    pub fn new(zipkin_endpoint: impl Into<String>, time_scale: f64) -> Self {
        ServiceOptions {
            zipkin_endpoint: zipkin_endpoint.into(),
            time_scale,
            sample_rate: 1.0,
        }
    }

    /// The same options with another sample rate.
    pub fn sample_rate(mut self, rate: f64) -> Self {
        self.sample_rate = rate;
        self
    }

    /// The flags both services share, as on a command line.
    fn common_flags(&self) -> Vec<String> {
        vec![
            "--bind".into(),
            "127.0.0.1".into(),
            "--port".into(),
            "0".into(),
            "--zipkin-endpoint".into(),
            self.zipkin_endpoint.clone(),
            "--time-scale".into(),
            self.time_scale.to_string(),
            "--sample-rate".into(),
            self.sample_rate.to_string(),
        ]
    }
}

/// One service serving on a local socket until [`RunningService::stop`].
#[derive(Debug)]
pub struct RunningService {
    address: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl RunningService {
    /// Binds `127.0.0.1:0` and spawns `run(listener, shutdown)` on the current runtime.
    async fn spawn<F, Fut>(run: F) -> anyhow::Result<Self>
    where
        F: FnOnce(TcpListener, oneshot::Receiver<()>) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind 127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let (shutdown, signal) = oneshot::channel();
        let task = tokio::spawn(run(listener, signal));
        Ok(RunningService {
            address,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// The address the service listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The service's base URL, `http://127.0.0.1:{port}` (no trailing path).
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Asks the service to shut down and waits until it has: in-flight requests done, spans
    /// flushed to the collector. Fails if the service's `run` failed or panicked.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            // An error means the task already ended; awaiting it below tells why.
            let _ = shutdown.send(());
        }
        let task = self
            .task
            .take()
            .context("the service was already stopped")?;
        task.await
            .with_context(|| format!("the service on {} panicked", self.address))?
            .with_context(|| format!("the service on {} failed", self.address))
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        // A test that fails before `stop` still ends the service rather than leaking it.
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Starts service2, configured through its command-line flags.
pub async fn start_service2(options: &ServiceOptions) -> anyhow::Result<RunningService> {
    let mut args = vec!["service2".to_owned()];
    args.extend(options.common_flags());
    let config = service2::Config::try_parse_from(args).context("service2's flags")?;
    RunningService::spawn(move |listener, signal| {
        service2::run(config, listener, async {
            let _ = signal.await;
        })
    })
    .await
}

/// Starts service1, calling service2 at `service2_url` (a base URL such as
/// `http://127.0.0.1:6000`; a stand-in works too).
pub async fn start_service1(
    options: &ServiceOptions,
    service2_url: &str,
) -> anyhow::Result<RunningService> {
    let mut args = vec!["service1".to_owned()];
    args.extend(options.common_flags());
    args.extend(["--service2-url".to_owned(), service2_url.to_owned()]);
    let config = service1::Config::try_parse_from(args).context("service1's flags")?;
    RunningService::spawn(move |listener, signal| {
        service1::run(config, listener, async {
            let _ = signal.await;
        })
    })
    .await
}

/// The article's two services, service1 calling service2.
#[derive(Debug)]
pub struct Chain {
    /// The caller, `GET /`.
    pub service1: RunningService,
    /// The callee, `GET /service/`.
    pub service2: RunningService,
}

impl Chain {
    /// Starts service2, then service1 pointed at it, both with `options`.
    pub async fn start(options: &ServiceOptions) -> anyhow::Result<Self> {
        let service2 = start_service2(options).await?;
        let service1 = start_service1(options, &service2.url()).await?;
        Ok(Chain { service1, service2 })
    }

    /// service1's `GET /` URL, where a user's request starts.
    pub fn entry_url(&self) -> String {
        format!("{}/", self.service1.url())
    }

    /// Stops service1 first (it calls service2), then service2; both flush their spans.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.service1.stop().await?;
        self.service2.stop().await
    }
}
