//! What the chain starts: [`ChainSettings`], one value for the demo's command line, the
//! tests' options and the benchmarks' variants.
//!
//! Each setting is a builder method named after the services' own setting where there is
//! one (`TIME_SCALE`, `SAMPLE_RATE`, `CLIENT_TIMEOUT_SECS`, `INSTRUMENT`), and readable
//! back, so that a caller running the real binaries can pass the same values as
//! environment variables. [`ChainSettings::start`] starts what they say.

use std::time::Duration;

use plumbing::TracingArgs;
use zipkin_reporter::{Destination, HttpEndpoint, ReporterConfig};
use zipkin_tracing::ProbabilitySampler;

use crate::headers::HeaderLog;

/// Where the services' spans go.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Spans {
    /// A stand-in collector the chain starts, on this port.
    StandIn(u16),
    /// A Zipkin (or compatible) server's `/api/v2/spans` that is already running.
    Endpoint(HttpEndpoint),
}

/// What to start; see the module documentation. Every setting has a default: the
/// article's time scale (1.0), every trace sampled, B3 headers, free ports.
#[derive(Debug, Clone)]
pub struct ChainSettings {
    pub(crate) spans: Spans,
    pub(crate) service1_port: u16,
    pub(crate) service2_port: u16,
    pub(crate) time_scale: f64,
    pub(crate) tracing: TracingArgs,
    pub(crate) traced: bool,
    pub(crate) service1: bool,
    pub(crate) reporter: Option<ReporterConfig>,
    pub(crate) transport: Option<Destination>,
    pub(crate) service2_url: Option<String>,
    pub(crate) client_timeout: Option<Duration>,
    pub(crate) instrument: bool,
    pub(crate) headers: Option<HeaderLog>,
}

impl ChainSettings {
    fn new(spans: Spans) -> Self {
        ChainSettings {
            spans,
            service1_port: 0,
            service2_port: 0,
            time_scale: 1.0,
            tracing: TracingArgs::default(),
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
    pub fn reporting_to(zipkin_endpoint: HttpEndpoint) -> Self {
        ChainSettings::new(Spans::Endpoint(zipkin_endpoint))
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

    /// `SAMPLE_RATE`: the sampler of new traces.
    pub fn sampler(mut self, sampler: ProbabilitySampler) -> Self {
        self.tracing.sample_rate = sampler;
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
    pub fn zipkin_endpoint(&self) -> Option<&HttpEndpoint> {
        match &self.spans {
            Spans::Endpoint(endpoint) => Some(endpoint),
            Spans::StandIn(_) => None,
        }
    }
}
