//! Command-line and environment configuration of a tracer (feature `cli`).
//!
//! Both services take the same tracing settings, each as a flag and an environment
//! variable; [`TracingArgs`] defines them once for clap, and [`TracingArgs::start`] turns
//! them into a running [`Tracer`] and [`HttpReporter`]. Bad values stop the program at
//! start with clap's message naming the setting.

use crate::b3::B3Format;
use crate::report::{HttpReporter, HttpReporterConfig, ReporterError};
use crate::sample::ProbabilitySampler;
use crate::tracer::Tracer;

/// Tracing settings shared by every traced program.
#[derive(Debug, Clone, clap::Args)]
pub struct TracingArgs {
    /// Where spans are sent: a Zipkin (or compatible) server's `/api/v2/spans`.
    #[arg(
        long,
        env = "ZIPKIN_ENDPOINT",
        default_value = "http://127.0.0.1:9411/api/v2/spans",
        value_parser = parse_endpoint
    )]
    pub zipkin_endpoint: String,

    /// Fraction of new traces to record, from 0.0 to 1.0 (py_zipkin's 100 is 1.0).
    #[arg(long, env = "SAMPLE_RATE", default_value_t = 1.0, value_parser = parse_sample_rate)]
    pub sample_rate: f64,

    /// B3 header form on outgoing calls.
    #[arg(long, env = "B3_FORMAT", value_enum, default_value_t = B3Format::Multi)]
    pub b3_format: B3Format,

    /// Join the caller's span (shared span id) rather than record a child of it.
    #[arg(long, env = "JOIN_SPANS", default_value_t = true, action = clap::ArgAction::Set)]
    pub join_spans: bool,
}

fn parse_endpoint(text: &str) -> Result<String, String> {
    crate::report::parse_http_url(text).map(|_| text.to_owned())
}

fn parse_sample_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("not a number from 0.0 to 1.0: {text:?}"))?;
    ProbabilitySampler::new(rate)
        .map(|sampler| sampler.rate())
        .map_err(|e| e.to_string())
}

/// Parses a `TIME_SCALE`-style multiplier: a finite number, zero or more.
pub fn parse_time_scale(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale >= 0.0 => Ok(scale),
        _ => Err(format!("expected a number of 0 or more, got {text:?}")),
    }
}

impl TracingArgs {
    /// Starts an HTTP reporter with the default queue and batch settings and a tracer for
    /// `service_name` that reports to it.
    pub fn start(&self, service_name: &str) -> Result<(Tracer, HttpReporter), ReporterError> {
        let reporter = HttpReporter::start(HttpReporterConfig::new(&self.zipkin_endpoint))?;
        let sampler = ProbabilitySampler::new(self.sample_rate)
            .expect("the value parser accepted only rates from 0.0 to 1.0");
        let tracer = Tracer::builder(service_name)
            .sampler(sampler)
            .reporter(reporter.clone())
            .b3_format(self.b3_format)
            .join_spans(self.join_spans)
            .build();
        Ok((tracer, reporter))
    }
}
