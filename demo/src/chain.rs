//! The article's chain, started one way for the demo, the tests and the benchmarks: a
//! stand-in Zipkin collector (unless spans go to a Zipkin already running), service2, then
//! service1 calling it, all in this process on loopback.
//!
//! [`ChainSettings`] says what to start: where spans go, the ports (0 picks free ones),
//! the time scale, the services' sampling and propagation settings, the reporters' queue
//! and retry settings, a stand-in in place of service2. [`ChainSettings::start`], here,
//! binds every port first, so a port in use fails before anything runs; then each service is built by
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
use zipkin_reporter::{AsyncReporter, Destination, HttpEndpoint, ReporterConfig};
use zipkin_tracing::Tracer;

use crate::headers::HeaderLog;
use crate::served::{ChainError, Served, Server, bind};
use crate::settings::{ChainSettings, Spans};

/// How long each server may take to stop: finish its requests and flush its spans.
pub const STOP_DEADLINE: Duration = Duration::from_secs(20);

impl ChainSettings {
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
                let endpoint = format!("http://{address}/api/v2/spans");
                endpoint
                    .parse()
                    .expect("an address and a path make an endpoint")
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

    /// Where the services' spans go: the transport, or the endpoint.
    fn destination(&self, endpoint: &HttpEndpoint) -> Destination {
        self.transport
            .clone()
            .unwrap_or_else(|| Destination::Http(endpoint.clone()))
    }

    /// A reporter for `server`'s spans, to [`Self::destination`]; none untraced.
    fn reporter_for(
        &self,
        server: Server,
        endpoint: &HttpEndpoint,
    ) -> Result<Option<AsyncReporter>, ChainError> {
        if !self.traced {
            return Ok(None);
        }
        let config = ReporterConfig {
            destination: self.destination(endpoint),
            ..self
                .reporter
                .clone()
                .unwrap_or_else(|| ReporterConfig::http(endpoint.clone()))
        };
        AsyncReporter::start(config)
            .map(Some)
            .map_err(|error| ChainError::Reporter { server, error })
    }

    fn start_service2(
        &self,
        listener: TcpListener,
        service: &ServiceArgs,
        endpoint: &HttpEndpoint,
    ) -> Result<Served, ChainError> {
        let reporter = self.reporter_for(Server::Service2, endpoint)?;
        let config = service2::Config {
            port: local_addr(Server::Service2, &listener)?.port(),
            service: service.clone(),
            instrument: self.instrument,
        };
        let server = match &reporter {
            Some(reporter) => service2::server(&config, reporter.clone())
                .reporting_to(&self.destination(endpoint)),
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
        endpoint: &HttpEndpoint,
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
            Some(reporter) => service1::server(&config, reporter.clone())
                .map_err(|e| setup(&format!("{e:#}")))?
                .reporting_to(&self.destination(endpoint)),
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
    endpoint: HttpEndpoint,
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
    pub fn zipkin_endpoint(&self) -> &HttpEndpoint {
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
