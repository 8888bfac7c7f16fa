//! The article's chain, started one way for the demo, the tests and the benchmarks: a
//! stand-in Zipkin collector (unless spans go to a Zipkin already running), service2, then
//! service1 calling it, all in this process on loopback.
//!
//! [`ChainSettings`] says what to start: where spans go, the ports (0 picks free ones),
//! the time scale, the services' sampling and propagation settings, the reporters' queue
//! and retry settings, a stand-in in place of service2. [`ChainSettings::start`] binds every
//! port first, so a port in use fails before anything runs; then each service is built by
//! its own `server` function and served as its binary serves it. [`Chain::shutdown`] stops
//! them from the caller inwards, so every request in flight can still reach the servers it
//! calls and every span still reaches the collector.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), demo::ChainError> {
//! let chain = demo::ChainSettings::stand_in().time_scale(0.0).start().await?;
//! let response = reqwest::get(chain.entry_url()).await.expect("service1 answers");
//! assert!(response.headers().contains_key("x-trace-id"));
//! chain.shutdown().await
//! # }
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use collector::{Collector, CollectorConfig};
use plumbing::{ServiceArgs, TracingArgs};
use tokio::net::TcpListener;
use zipkin_tracing::{AsyncReporter, Destination, ReporterConfig, Tracer};

use crate::headers::HeaderLog;
use crate::served::{ChainError, Served, Server, bind};

/// How long each server may take to stop: finish its requests and flush its spans.
pub const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// Where the services' spans go.
#[derive(Debug, Clone, PartialEq)]
enum Spans {
    /// A stand-in collector the chain starts, on this port.
    StandIn(u16),
    /// A Zipkin (or compatible) server's `/api/v2/spans` that is already running.
    Endpoint(String),
}

/// What to start; see the module documentation. Every setting has a default: the
/// article's time scale (1.0), every trace sampled, B3 headers, free ports.
#[derive(Debug, Clone)]
pub struct ChainSettings {
    spans: Spans,
    service1_port: u16,
    service2_port: u16,
    time_scale: f64,
    tracing: TracingArgs,
    traced: bool,
    service1: bool,
    reporter: Option<ReporterConfig>,
    transport: Option<Destination>,
    service2_url: Option<String>,
    client_timeout: Option<Duration>,
    instrument: bool,
    headers: Option<HeaderLog>,
}

impl ChainSettings {
    fn new(spans: Spans) -> Self {
        ChainSettings {
            spans,
            service1_port: 0,
            service2_port: 0,
            time_scale: 1.0,
            tracing: TracingArgs::new(String::new()),
            traced: true,
            service1: true,
            reporter: None,
            transport: None,
            service2_url: None,
            client_timeout: None,
            instrument: false,
            headers: None,
        }
    }

    /// A chain reporting to a stand-in collector it starts on a free port.
    pub fn stand_in() -> Self {
        ChainSettings::new(Spans::StandIn(0))
    }

    /// A chain reporting to a Zipkin already running at `zipkin_endpoint`, e.g.
    /// `http://127.0.0.1:9411/api/v2/spans`: no stand-in collector starts.
    pub fn reporting_to(zipkin_endpoint: impl Into<String>) -> Self {
        ChainSettings::new(Spans::Endpoint(zipkin_endpoint.into()))
    }

    /// The stand-in collector's port (0 picks a free one); ignored by [`Self::reporting_to`].
    pub fn collector_port(mut self, port: u16) -> Self {
        if let Spans::StandIn(_) = self.spans {
            self.spans = Spans::StandIn(port);
        }
        self
    }

    /// The services' ports (0 picks free ones).
    pub fn ports(mut self, service1: u16, service2: u16) -> Self {
        self.service1_port = service1;
        self.service2_port = service2;
        self
    }

    /// `TIME_SCALE`: multiplies the article's sleeps (0.01 turns 7 s into 70 ms).
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale;
        self
    }

    /// The services' tracing settings (`SAMPLE_RATE`, `B3_FORMAT`, `PROPAGATION`,
    /// `JOIN_SPANS`, ...); the chain sets their `ZIPKIN_ENDPOINT` itself.
    pub fn tracing(mut self, tracing: TracingArgs) -> Self {
        self.tracing = tracing;
        self
    }

    /// `SAMPLE_RATE`: the fraction of new traces recorded, 0.0 to 1.0.
    pub fn sample_rate(mut self, rate: f64) -> Self {
        self.tracing.sample_rate = rate;
        self
    }

    /// The services' routes without their tracing layer and without reporters: the same
    /// handlers, no spans, no B3 headers. Benchmarks compare it with the traced chain.
    pub fn untraced(mut self) -> Self {
        self.traced = false;
        self
    }

    /// Starts service2 alone, without service1 calling it: its `GET /service/` is the
    /// chain's entry. Benchmarks load it alone.
    pub fn without_service1(mut self) -> Self {
        self.service1 = false;
        self
    }

    /// Each service's reporter settings, such as a small queue or a short retry window;
    /// their destination is replaced by where the chain's spans go.
    pub fn reporter(mut self, config: ReporterConfig) -> Self {
        self.reporter = Some(config);
        self
    }

    /// Reports through `destination` (a RabbitMQ queue, a Kafka topic) instead of POSTing
    /// to the collector, which stays the services' `ZIPKIN_ENDPOINT`.
    pub fn transport(mut self, destination: Destination) -> Self {
        self.transport = Some(destination);
        self
    }

    /// Calls this base URL (a stand-in the caller runs) instead of starting service2.
    pub fn service2_url(mut self, url: impl Into<String>) -> Self {
        self.service2_url = Some(url.into());
        self
    }

    /// `CLIENT_TIMEOUT_SECS`: how long service1 waits for service2. By default 10 s plus
    /// twice service2's article time at this time scale.
    pub fn client_timeout(mut self, timeout: Duration) -> Self {
        self.client_timeout = Some(timeout);
        self
    }

    /// `INSTRUMENT=true` for service2: db_search is timed by `#[instrument]`, which only the
    /// tracing bridge records; the caller installs the bridge as its global subscriber.
    pub fn instrument(mut self, instrument: bool) -> Self {
        self.instrument = instrument;
        self
    }

    /// Records the trace headers service2 receives into `log`.
    pub fn capture_headers(mut self, log: HeaderLog) -> Self {
        self.headers = Some(log);
        self
    }

    /// The time scale.
    pub fn scale(&self) -> f64 {
        self.time_scale
    }

    /// The services' tracing settings (their endpoint is set when the chain starts).
    pub fn tracing_settings(&self) -> &TracingArgs {
        &self.tracing
    }

    /// The destination given by [`Self::transport`], if any.
    pub fn transport_destination(&self) -> Option<&Destination> {
        self.transport.as_ref()
    }

    /// The base URL given by [`Self::service2_url`], if any.
    pub fn service2_stand_in(&self) -> Option<&str> {
        self.service2_url.as_deref()
    }

    /// Whether reporter settings other than the destination were given.
    pub fn tunes_reporter(&self) -> bool {
        self.reporter.is_some()
    }

    /// Whether service2 times db_search with `#[instrument]`.
    pub fn instruments(&self) -> bool {
        self.instrument
    }

    /// How long service1 waits for service2.
    pub fn client_timeout_or_default(&self) -> Duration {
        self.client_timeout
            .unwrap_or_else(|| Duration::from_secs_f64(10.0 + 8.0 * self.time_scale))
    }

    /// The services' `ZIPKIN_ENDPOINT`, or `None` for a stand-in not started yet.
    pub fn zipkin_endpoint(&self) -> Option<&str> {
        match &self.spans {
            Spans::Endpoint(endpoint) => Some(endpoint),
            Spans::StandIn(_) => None,
        }
    }

    /// Binds every port on 127.0.0.1, then starts the collector (unless spans go to a
    /// running Zipkin), service2 (unless a stand-in replaces it) and service1. Call inside
    /// a tokio runtime.
    pub async fn start(self) -> Result<Chain, ChainError> {
        let collector_listener = match self.spans {
            Spans::StandIn(port) => Some(bind(Server::Collector, port).await?),
            Spans::Endpoint(_) => None,
        };
        let service2_listener = match self.service2_url {
            None => Some(bind(Server::Service2, self.service2_port).await?),
            Some(_) => None,
        };
        let service1_listener = if self.service1 {
            Some(bind(Server::Service1, self.service1_port).await?)
        } else {
            None
        };
        if service1_listener.is_none() && service2_listener.is_none() {
            let reason = "without service1, service2 must start: there is no stand-in for it";
            return Err(setup_error(Server::Service2, &reason));
        }

        let mut collector = None;
        let endpoint = match (&self.spans, collector_listener) {
            (Spans::Endpoint(endpoint), _) => endpoint.clone(),
            (Spans::StandIn(_), Some(listener)) => {
                let address = local_addr(Server::Collector, &listener)?;
                let store = Collector::new(CollectorConfig::default());
                let served = Served::spawn("collector", address, None, |stop| {
                    collector::serve(listener, store.clone(), stop)
                });
                collector = Some((store, served));
                format!("http://{address}/api/v2/spans")
            }
            (Spans::StandIn(_), None) => unreachable!("a stand-in's port is bound above"),
        };
        let service = ServiceArgs::new(
            TracingArgs {
                zipkin_endpoint: endpoint.clone(),
                ..self.tracing.clone()
            },
            self.time_scale,
        );

        let service2 = match service2_listener {
            Some(listener) => Some(self.start_service2(listener, &service, &endpoint)?),
            None => None,
        };
        let service2_url = match (&service2, &self.service2_url) {
            (Some(served), _) => served.url(),
            (None, Some(url)) => url.clone(),
            (None, None) => unreachable!("service2 starts unless a stand-in replaces it"),
        };
        let service1 = match service1_listener {
            Some(listener) => {
                Some(self.start_service1(listener, service, &endpoint, &service2_url)?)
            }
            None => None,
        };
        Ok(Chain {
            endpoint,
            headers: self.headers,
            collector,
            service2,
            service1,
        })
    }

    /// A reporter for `server`'s spans, to the transport or the endpoint; none untraced.
    fn reporter_for(
        &self,
        server: Server,
        endpoint: &str,
    ) -> Result<Option<AsyncReporter>, ChainError> {
        if !self.traced {
            return Ok(None);
        }
        let destination = self
            .transport
            .clone()
            .unwrap_or_else(|| Destination::Http(endpoint.to_owned()));
        let config = ReporterConfig {
            destination,
            ..self
                .reporter
                .clone()
                .unwrap_or_else(|| ReporterConfig::http(endpoint))
        };
        AsyncReporter::start(config)
            .map(Some)
            .map_err(|error| ChainError::Reporter { server, error })
    }

    fn start_service2(
        &self,
        listener: TcpListener,
        service: &ServiceArgs,
        endpoint: &str,
    ) -> Result<Served, ChainError> {
        let reporter = self.reporter_for(Server::Service2, endpoint)?;
        let config = service2::Config {
            port: local_addr(Server::Service2, &listener)?.port(),
            service: service.clone(),
            instrument: self.instrument,
        };
        let server = match &reporter {
            Some(reporter) => service2::server(&config, reporter.clone()),
            None => {
                let state = service2::AppState {
                    tracer: Tracer::builder(service2::SERVICE_NAME).build(),
                    time_scale: self.time_scale,
                    instrument: self.instrument,
                };
                let routes = service2::routes().with_state(state);
                plumbing::Server::untraced(service2::SERVICE_NAME, routes)
            }
        };
        let server = match &self.headers {
            Some(log) => {
                let capture = log.layer();
                server.map_app(|app| app.layer(capture))
            }
            None => server,
        };
        Served::service(service2::SERVICE_NAME, listener, server, reporter)
            .map_err(|e| setup_error(Server::Service2, &e))
    }

    fn start_service1(
        &self,
        listener: TcpListener,
        service: ServiceArgs,
        endpoint: &str,
        service2_url: &str,
    ) -> Result<Served, ChainError> {
        let setup = |reason: &dyn std::fmt::Display| setup_error(Server::Service1, reason);
        let reporter = self.reporter_for(Server::Service1, endpoint)?;
        let config = service1::Config {
            port: local_addr(Server::Service1, &listener)?.port(),
            service2_url: reqwest::Url::parse(service2_url).map_err(|e| setup(&e))?,
            client_timeout_secs: self.client_timeout_or_default().as_secs_f64(),
            service,
        };
        let server = match &reporter {
            Some(reporter) => {
                service1::server(&config, reporter.clone()).map_err(|e| setup(&format!("{e:#}")))?
            }
            None => {
                let state = service1::AppState::new(
                    Tracer::builder(service1::SERVICE_NAME).build(),
                    &config.service2_url,
                    Duration::from_secs_f64(config.client_timeout_secs),
                    self.time_scale,
                )
                .map_err(|e| setup(&format!("{e:#}")))?;
                let routes = service1::routes().with_state(state);
                plumbing::Server::untraced(service1::SERVICE_NAME, routes)
            }
        };
        Served::service(service1::SERVICE_NAME, listener, server, reporter).map_err(|e| setup(&e))
    }
}

/// The address `listener` is bound to.
fn local_addr(server: Server, listener: &TcpListener) -> Result<SocketAddr, ChainError> {
    listener
        .local_addr()
        .map_err(|e| setup_error(server, &format!("the listener has no address: {e}")))
}

fn setup_error(server: Server, reason: &dyn std::fmt::Display) -> ChainError {
    ChainError::Setup {
        server,
        reason: reason.to_string(),
    }
}

/// The running chain: the collector (if the chain started one), service2 (unless a
/// stand-in replaces it) and service1. Dropping it stops them too, without waiting;
/// [`Chain::shutdown`] waits.
#[derive(Debug)]
pub struct Chain {
    endpoint: String,
    headers: Option<HeaderLog>,
    collector: Option<(Collector, Served)>,
    // At least one of the two: `ChainSettings::start` refuses a chain without services.
    service2: Option<Served>,
    service1: Option<Served>,
}

impl Chain {
    /// The service a user's request starts at: service1, or service2 when it runs alone
    /// ([`ChainSettings::without_service1`]).
    pub fn entry(&self) -> &Served {
        self.service1
            .as_ref()
            .or(self.service2.as_ref())
            .expect("ChainSettings::start starts service1 or service2, or fails")
    }

    /// Where a user's request starts: service1's `GET /`, or service2's `GET /service/`
    /// when it runs alone.
    pub fn entry_url(&self) -> String {
        match &self.service1 {
            Some(service1) => format!("{}/", service1.url()),
            None => format!("{}/service/", self.entry().url()),
        }
    }

    /// Where the services POST their spans: the stand-in's or the given Zipkin's
    /// `/api/v2/spans`.
    pub fn zipkin_endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The stand-in collector's store, where every span ends up; `None` when spans go to
    /// a Zipkin that was already running.
    pub fn collector(&self) -> Option<&Collector> {
        self.collector.as_ref().map(|(store, _)| store)
    }

    /// The trace headers service2 received, if [`ChainSettings::capture_headers`] asked.
    pub fn headers(&self) -> Option<&HeaderLog> {
        self.headers.as_ref()
    }

    /// Where the stand-in collector listens, if the chain started one.
    pub fn collector_address(&self) -> Option<SocketAddr> {
        self.collector.as_ref().map(|(_, served)| served.address())
    }

    /// service1, the caller; `None` when service2 runs alone.
    pub fn service1(&self) -> Option<&Served> {
        self.service1.as_ref()
    }

    /// service2, the callee; `None` when a stand-in replaces it.
    pub fn service2(&self) -> Option<&Served> {
        self.service2.as_ref()
    }

    /// The span reporters of the services started (none untraced), to flush them.
    pub fn reporters(&self) -> Vec<AsyncReporter> {
        self.service1
            .iter()
            .chain(&self.service2)
            .filter_map(|served| served.reporter().cloned())
            .collect()
    }

    /// The services started, to stop them one by one: service1 and service2. The
    /// collector, if any, stops when it is dropped.
    pub fn into_services(self) -> (Option<Served>, Option<Served>) {
        (self.service1, self.service2)
    }

    /// Stops service1, then service2, then the collector: each stops accepting, finishes
    /// its requests in flight and (for a service) flushes its spans, within
    /// [`STOP_DEADLINE`], before the next one stops. Returns the first failure, after
    /// stopping everything.
    pub async fn shutdown(self) -> Result<(), ChainError> {
        let servers = [self.service1, self.service2]
            .into_iter()
            .chain([self.collector.map(|(_, served)| served)])
            .flatten();
        let mut outcome = Ok(());
        for mut server in servers {
            let result = server.stop(STOP_DEADLINE).await;
            if outcome.is_ok() {
                outcome = result;
            }
        }
        outcome
    }
}
