//! The article's chain for the tests: the demo's own starter, plus the real binaries.
//!
//! [`Chain::options`] starts from where spans go; each option then says what the test
//! needs: another transport (RabbitMQ, Kafka) instead of HTTP, a time scale, a sample rate,
//! the reporters' queue and retry settings, a stand-in in place of service2, or the real
//! binaries (configured only by environment variables, as a user runs them) instead of the
//! services in-process. The options are the demo's [`ChainSettings`], which also start
//! the services in-process (`cargo run` starts its chain the same way); the binaries get
//! the same settings as environment variables.

use std::time::Duration;

use anyhow::Context as _;
use demo::ChainSettings;
use zipkin_reporter::{Destination, HttpEndpoint, ReporterConfig};
use zipkin_tracing::{ProbabilitySampler, Propagation, TraceId, TracingBridge};

use crate::process::{build_binary, launch};
use crate::service::Service;

/// How long a service may take to stop: finish its requests and flush its spans.
pub const STOP_DEADLINE: Duration = demo::STOP_DEADLINE;

/// What to start; see [`Chain::options`].
#[derive(Debug, Clone)]
pub struct ChainOptions {
    zipkin_endpoint: HttpEndpoint,
    settings: ChainSettings,
    binaries: bool,
    rust_log: String,
}

impl ChainOptions {
    /// `TIME_SCALE`: multiplies the article's sleeps (0.01 turns 7 s into 70 ms). Default 0.
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.settings = self.settings.time_scale(scale);
        self
    }

    /// `SAMPLE_RATE`: the fraction of new traces recorded, 0.0 to 1.0. Default 1.0.
    pub fn sample_rate(mut self, rate: f64) -> Self {
        let sampler = ProbabilitySampler::new(rate).expect("a sample rate from 0.0 to 1.0");
        self.settings = self.settings.sampler(sampler);
        self
    }

    /// Reports through `destination` (a RabbitMQ queue, a Kafka topic) instead of POSTing
    /// to the endpoint given to [`Chain::options`], which stays the services'
    /// `ZIPKIN_ENDPOINT`: a closed port there proves it is not used.
    pub fn transport(mut self, destination: Destination) -> Self {
        self.settings = self.settings.transport(destination);
        self
    }

    /// Each service's reporter settings, such as a small queue or a short retry window;
    /// their destination is ignored (see [`Chain::options`] and [`Self::transport`]).
    /// In-process only: a binary takes only the destination.
    pub fn reporter(mut self, config: ReporterConfig) -> Self {
        self.settings = self.settings.reporter(config);
        self
    }

    /// Calls this base URL (a stand-in the test runs) instead of starting service2.
    pub fn service2_url(mut self, url: impl Into<String>) -> Self {
        self.settings = self.settings.service2_url(url);
        self
    }

    /// `CLIENT_TIMEOUT_SECS`: how long service1 waits for service2. Default 10 s.
    pub fn client_timeout(mut self, timeout: Duration) -> Self {
        self.settings = self.settings.client_timeout(timeout);
        self
    }

    /// Runs the real binaries, built by cargo if needed, each on a free port.
    pub fn binaries(mut self) -> Self {
        self.binaries = true;
        self
    }

    /// `RUST_LOG` of the binaries. Default `info`.
    pub fn rust_log(mut self, filter: impl Into<String>) -> Self {
        self.rust_log = filter.into();
        self
    }

    /// `PROPAGATION` of both services: the trace header formats read and written, in
    /// order. Default B3 only.
    pub fn propagation(mut self, propagation: Propagation) -> Self {
        let tracing = self.settings.tracing_settings().clone();
        self.settings = self.settings.tracing(plumbing::TracingArgs {
            propagation,
            ..tracing
        });
        self
    }

    /// `INSTRUMENT=true` for service2: its db_search is timed by `#[instrument]` through
    /// the tracing bridge. In-process, this installs the bridge as the test process's
    /// global subscriber, so it only works in a test binary that installs no other first.
    pub fn instrument(mut self) -> Self {
        self.settings = self.settings.instrument(true);
        self
    }

    /// Starts the chain, sends one `GET /` with `headers`, stops the chain (its spans
    /// flushed) and returns the trace id service1 answered with.
    pub async fn one_request(self, headers: &[(&str, String)]) -> anyhow::Result<TraceId> {
        let mut chain = self.start().await?;
        let trace_id = crate::caller::call(&chain.entry_url(), headers).await?;
        chain.stop().await?;
        Ok(trace_id)
    }

    /// Starts service2 (unless a stand-in replaces it), then service1 calling it, and
    /// returns once both answer.
    pub async fn start(self) -> anyhow::Result<Chain> {
        if self.binaries {
            self.start_binaries().await
        } else {
            self.start_in_process().await
        }
    }

    async fn start_in_process(self) -> anyhow::Result<Chain> {
        let settings = self.settings;
        if settings.instruments() && settings.service2_stand_in().is_none() {
            plumbing::init_logging("warn", Some(TracingBridge::new()))?;
        }
        let (service1, service2) = settings.start().await?.into_services();
        let service1 = service1.context("the chain starts service1")?;
        Ok(Chain {
            service1: Service::in_process(service1),
            service2: service2.map(Service::in_process),
        })
    }

    async fn start_binaries(self) -> anyhow::Result<Chain> {
        let settings = &self.settings;
        anyhow::ensure!(
            !settings.tunes_reporter(),
            "the binaries take only the reporter's destination, not its other settings"
        );
        let destination = settings
            .transport_destination()
            .cloned()
            .unwrap_or_else(|| Destination::Http(self.zipkin_endpoint.clone()));
        let tracing = settings.tracing_settings();
        let mut environment = transport_environment(&destination);
        environment.extend([
            ("ZIPKIN_ENDPOINT", self.zipkin_endpoint.to_string()),
            ("TIME_SCALE", settings.scale().to_string()),
            ("SAMPLE_RATE", tracing.sample_rate.rate().to_string()),
            ("RUST_LOG", self.rust_log.clone()),
            ("PROPAGATION", tracing.propagation.to_string()),
        ]);
        let mut service2 = None;
        let service2_url = match settings.service2_stand_in() {
            Some(url) => url.to_owned(),
            None => {
                let mut env2 = environment.clone();
                env2.push(("INSTRUMENT", settings.instruments().to_string()));
                let started = start_binary(service2::SERVICE_NAME, &env2).await?;
                let url = started.url();
                service2 = Some(started);
                url
            }
        };
        let mut env1 = environment;
        env1.push(("SERVICE2_URL", service2_url));
        env1.push((
            "CLIENT_TIMEOUT_SECS",
            settings
                .client_timeout_or_default()
                .as_secs_f64()
                .to_string(),
        ));
        let service1 = start_binary(service1::SERVICE_NAME, &env1).await?;
        Ok(Chain { service1, service2 })
    }
}

/// The variables that choose `destination`'s transport, as a user sets them.
fn transport_environment(destination: &Destination) -> Vec<(&'static str, String)> {
    match destination {
        Destination::Http(_) => vec![("ZIPKIN_TRANSPORT", "http".to_owned())],
        Destination::RabbitMq { uri, queue } => vec![
            ("ZIPKIN_TRANSPORT", "rabbitmq".to_owned()),
            ("RABBIT_URI", uri.to_string()),
            ("RABBIT_QUEUE", queue.to_string()),
        ],
        Destination::Kafka {
            bootstrap_servers,
            topic,
        } => vec![
            ("ZIPKIN_TRANSPORT", "kafka".to_owned()),
            ("KAFKA_BOOTSTRAP_SERVERS", bootstrap_servers.to_string()),
            ("KAFKA_TOPIC", topic.to_string()),
        ],
    }
}

/// Builds the binary `name` if needed and starts it with `env` on a free port.
async fn start_binary(
    name: &'static str,
    env: &[(&'static str, String)],
) -> anyhow::Result<Service> {
    let binary = tokio::task::spawn_blocking(move || build_binary(name)).await??;
    let (process, url) = launch(&binary, env).await?;
    let address = url["http://".len()..]
        .parse()
        .with_context(|| format!("{name}'s address in {url}"))?;
    Ok(Service::binary(name, address, process))
}

/// service1 calling service2 (or a stand-in), running until [`Chain::stop`] or dropped.
#[derive(Debug)]
pub struct Chain {
    /// The caller, `GET /`.
    pub service1: Service,
    /// The callee, `GET /service/`; `None` when a stand-in replaces it.
    pub service2: Option<Service>,
}

impl Chain {
    /// Options for a chain reporting to `zipkin_endpoint`, e.g.
    /// `http://127.0.0.1:9411/api/v2/spans`, with every other setting at its default.
    pub fn options(zipkin_endpoint: impl AsRef<str>) -> ChainOptions {
        let zipkin_endpoint: HttpEndpoint = (zipkin_endpoint.as_ref().parse())
            .expect("a chain's Zipkin endpoint is an http URL with a path");
        ChainOptions {
            settings: ChainSettings::reporting_to(zipkin_endpoint.clone())
                .time_scale(0.0)
                .client_timeout(Duration::from_secs(10)),
            zipkin_endpoint,
            binaries: false,
            rust_log: "info".to_owned(),
        }
    }

    /// service1's `GET /` URL, where a user's request starts.
    pub fn entry_url(&self) -> String {
        format!("{}/", self.service1.url())
    }

    /// The services started, caller first.
    pub fn services(&self) -> Vec<&Service> {
        std::iter::once(&self.service1)
            .chain(self.service2.as_ref())
            .collect()
    }

    /// Flushes the in-process reporters, each for at most `timeout`; `true` if all finished
    /// with every span queued so far (sent or given up).
    pub async fn flush(&self, timeout: Duration) -> bool {
        let mut all = true;
        for service in self.services() {
            all &= service.reporter().flush(timeout).await;
        }
        all
    }

    /// Stops service1 first (it calls service2), then service2, each within
    /// [`STOP_DEADLINE`]; once this returns, every span they will send has been sent.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.service1.stop(STOP_DEADLINE).await?;
        if let Some(service2) = &mut self.service2 {
            service2.stop(STOP_DEADLINE).await?;
        }
        Ok(())
    }

    /// Each binary's output so far, labelled, for failure messages.
    pub fn describe_output(&self) -> String {
        self.services()
            .iter()
            .map(|service| format!("--- {}:\n{}", service.name(), service.output()))
            .collect()
    }
}
