//! The settings both services share, each a command-line flag and an environment variable.
//!
//! [`ServiceArgs`] holds where a service listens and how fast it runs (`TIME_SCALE`
//! multiplies the article's sleeps, see [`scaled_sleep`]), and flattens [`TracingArgs`]:
//! where spans go and how traces are sampled and propagated. Each service flattens
//! [`ServiceArgs`] into its own clap `Config`, so a bad value stops the program at start
//! with clap's message naming the setting.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use zipkin_tracing::{
    B3Format, HttpReporter, HttpReporterConfig, ProbabilitySampler, Propagation, ReporterError,
    Tracer,
};

/// Parses a `TIME_SCALE`-style multiplier: a finite number, zero or more.
pub fn parse_time_scale(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale >= 0.0 => Ok(scale),
        _ => Err(format!("expected a number of 0 or more, got {text:?}")),
    }
}

/// Sleeps `seconds` of the article's time, multiplied by `scale`.
pub async fn scaled_sleep(seconds: f64, scale: f64) {
    // `TIME_SCALE=0` means no sleep at all: even a zero-length tokio sleep waits for the
    // timer driver's next millisecond tick, which would add ~1 ms per sleep.
    if scale > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(seconds * scale)).await;
    }
}

/// Where and how a service reports its spans.
#[derive(Debug, Clone, PartialEq, clap::Args)]
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

    /// B3 header form on outgoing calls: multi or single.
    #[arg(long, env = "B3_FORMAT", default_value = "multi", value_parser = str::parse::<B3Format>)]
    pub b3_format: B3Format,

    /// Trace headers read on requests and written on calls: b3, w3c, or both in the order
    /// to read them (b3,w3c or w3c,b3). Every listed format is written.
    #[arg(long, env = "PROPAGATION", default_value = "b3", value_parser = str::parse::<Propagation>)]
    pub propagation: Propagation,

    /// Join the caller's span (shared span id) rather than record a child of it.
    #[arg(long, env = "JOIN_SPANS", default_value_t = true, action = clap::ArgAction::Set)]
    pub join_spans: bool,
}

fn parse_endpoint(text: &str) -> Result<String, String> {
    zipkin_tracing::parse_http_url(text).map(|_| text.to_owned())
}

fn parse_sample_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("not a number from 0.0 to 1.0: {text:?}"))?;
    ProbabilitySampler::new(rate)
        .map(|sampler| sampler.rate())
        .map_err(|e| e.to_string())
}

/// The span reporter did not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot report spans to {endpoint} (set --zipkin-endpoint/ZIPKIN_ENDPOINT): {source}")]
pub struct ReporterStartError {
    /// The endpoint as set.
    pub endpoint: String,
    /// Why.
    pub source: ReporterError,
}

impl TracingArgs {
    /// The flags' defaults, reporting to `zipkin_endpoint`: every new trace sampled, the
    /// multi-header B3 form, the caller's span joined. For programs that start a service
    /// in-process rather than from a command line (whose environment could change them).
    pub fn new(zipkin_endpoint: impl Into<String>) -> Self {
        TracingArgs {
            zipkin_endpoint: zipkin_endpoint.into(),
            sample_rate: 1.0,
            b3_format: B3Format::Multi,
            propagation: Propagation::default(),
            join_spans: true,
        }
    }

    /// Starts a reporter to `--zipkin-endpoint` with the default queue, batch and retry
    /// settings; the error names the setting.
    pub fn start_reporter(&self) -> Result<HttpReporter, ReporterStartError> {
        HttpReporter::start(HttpReporterConfig::new(&self.zipkin_endpoint)).map_err(|source| {
            ReporterStartError {
                endpoint: self.zipkin_endpoint.clone(),
                source,
            }
        })
    }

    /// A tracer for `service_name` that samples, propagates and joins as these settings
    /// say, and reports to `reporter`.
    pub fn tracer(&self, service_name: &str, reporter: HttpReporter) -> Tracer {
        let sampler = ProbabilitySampler::new(self.sample_rate)
            .expect("the value parser accepted only rates from 0.0 to 1.0");
        Tracer::builder(service_name)
            .sampler(sampler)
            .reporter(reporter)
            .b3_format(self.b3_format)
            .propagation(self.propagation)
            .join_spans(self.join_spans)
            .build()
    }
}

/// The settings of a traced service other than its port, whose default differs.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct ServiceArgs {
    /// Address to listen on (0.0.0.0 in a container).
    #[arg(long, env = "BIND", default_value = "127.0.0.1")]
    pub bind: IpAddr,

    /// Multiplies every simulated sleep: 1.0 as in the article, 0 for none.
    #[arg(long, env = "TIME_SCALE", default_value_t = 1.0, value_parser = parse_time_scale)]
    pub time_scale: f64,

    /// Where and how spans are reported.
    #[command(flatten)]
    pub tracing: TracingArgs,
}

impl ServiceArgs {
    /// The flags' defaults (listening on 127.0.0.1) with `tracing`, at `time_scale`.
    pub fn new(tracing: TracingArgs, time_scale: f64) -> Self {
        ServiceArgs {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            time_scale,
            tracing,
        }
    }

    /// The address to listen on: `--bind` with `port`.
    pub fn address(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.bind, port)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Command {
        #[command(flatten)]
        service: ServiceArgs,
    }

    fn parse(args: &[&str]) -> Result<ServiceArgs, clap::Error> {
        let line = std::iter::once("service").chain(args.iter().copied());
        Command::try_parse_from(line).map(|command| command.service)
    }

    #[test]
    fn scales_are_finite_numbers_of_zero_or_more() {
        for (text, scale) in [("1", 1.0), ("0.01", 0.01), ("0", 0.0), ("2.5", 2.5)] {
            assert_eq!(parse_time_scale(text), Ok(scale), "{text}");
        }
        for text in ["-1", "fast", "", "NaN", "inf"] {
            let error = parse_time_scale(text).unwrap_err();
            assert!(error.contains(&format!("{text:?}")), "{text}: {error}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_sleep_lasts_its_seconds_times_the_scale() {
        let started = tokio::time::Instant::now();
        scaled_sleep(2.0, 0.5).await;
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }

    #[test]
    fn the_defaults_are_the_articles() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.address(5000).to_string(), "127.0.0.1:5000");
        assert_eq!(args.time_scale, 1.0);
        let tracing = &args.tracing;
        assert_eq!(
            tracing.zipkin_endpoint,
            "http://127.0.0.1:9411/api/v2/spans"
        );
        assert_eq!(tracing.sample_rate, 1.0);
        assert_eq!(tracing.b3_format, B3Format::Multi);
        assert_eq!(tracing.propagation, Propagation::default());
        assert_eq!(tracing.propagation.to_string(), "b3");
        assert!(tracing.join_spans);
    }

    #[test]
    fn new_gives_the_flags_defaults() {
        let parsed = parse(&[
            "--time-scale=0.5",
            "--zipkin-endpoint=http://z:1/api/v2/spans",
        ]);
        let built = ServiceArgs::new(TracingArgs::new("http://z:1/api/v2/spans"), 0.5);
        assert_eq!(parsed.unwrap(), built);
    }

    #[test]
    fn every_flag_sets_its_field() {
        let args = parse(&[
            "--bind=0.0.0.0",
            "--time-scale=0.01",
            "--zipkin-endpoint=http://zipkin:9411/api/v2/spans",
            "--sample-rate=0.5",
            "--b3-format=single",
            "--propagation=w3c,b3",
            "--join-spans=false",
        ])
        .unwrap();
        assert_eq!(args.address(6000).to_string(), "0.0.0.0:6000");
        assert_eq!(args.time_scale, 0.01);
        assert_eq!(
            args.tracing.zipkin_endpoint,
            "http://zipkin:9411/api/v2/spans"
        );
        assert_eq!(args.tracing.sample_rate, 0.5);
        assert_eq!(args.tracing.b3_format, B3Format::Single);
        assert_eq!(args.tracing.propagation.to_string(), "w3c,b3");
        assert!(!args.tracing.join_spans);
    }

    #[test]
    fn a_bad_value_is_rejected_with_the_flag_and_what_is_expected() {
        for (flag, value, expected) in [
            ("--bind", "localhost", "invalid"),
            ("--time-scale", "-1", "0 or more"),
            ("--zipkin-endpoint", "zipkin:9411", "http"),
            (
                "--zipkin-endpoint",
                "https://zipkin:9411/api/v2/spans",
                "https",
            ),
            ("--sample-rate", "5", "1"),
            ("--sample-rate", "all", "0.0 to 1.0"),
            ("--b3-format", "both", "expected multi or single"),
            ("--propagation", "tracecontext", "expected b3, w3c"),
            ("--propagation", "b3,b3", "listed twice"),
            ("--join-spans", "maybe", "true"),
        ] {
            let error = parse(&[&format!("{flag}={value}")])
                .unwrap_err()
                .to_string();
            assert!(error.contains(flag), "{flag}={value}: {error}");
            assert!(error.contains(expected), "{flag}={value}: {error}");
        }
    }
}
