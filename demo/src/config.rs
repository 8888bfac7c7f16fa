//! The demo's command line.
//!
//! Every setting is a flag, and where it cannot clash with the services' own variables
//! (`PORT`, `BIND`) also an environment variable. The time scale, the sample rate and the
//! trace header formats are the services' own settings ([`TracingFlags`]), so a value the
//! services would refuse is refused here too, with a message naming the setting.

use clap::Parser;
use plumbing::{TracingArgs, parse_time_scale};
use zipkin_reporter::{HttpEndpoint, ReporterError};

use crate::flags::TracingFlags;
use crate::headers::HeaderLog;
use crate::settings::ChainSettings;

/// The article's request lasts this many seconds at time scale 1: 2 s in service1, 4 s
/// in service2, then 1 s more in service1.
pub const ARTICLE_SECONDS: f64 = 7.0;

/// The demo's settings.
#[derive(Debug, Clone, PartialEq, Parser)]
#[command(
    name = "demo",
    version,
    // `--time-scale -1` is a value to refuse with the parser's own message, not a flag.
    allow_negative_numbers = true,
    about = "The article's two services and a stand-in Zipkin collector in one process: \
             sends one request and prints its trace, then prints each further trace"
)]
pub struct Config {
    /// Exit after printing the first trace, instead of serving until Ctrl-C.
    #[arg(long)]
    pub once: bool,

    /// Multiplies the article's sleeps: 1.0 as in the article (~7 s), 0.01 for a quick
    /// look, 0 for none.
    #[arg(long, env = "TIME_SCALE", default_value_t = 1.0, value_parser = parse_time_scale)]
    pub time_scale: f64,

    /// Port of service1, the caller (0 picks a free one).
    #[arg(long, env = "SERVICE1_PORT", default_value_t = 5000)]
    pub service1_port: u16,

    /// Port of service2, the callee (0 picks a free one).
    #[arg(long, env = "SERVICE2_PORT", default_value_t = 6000)]
    pub service2_port: u16,

    /// Port of the stand-in Zipkin collector (0 picks a free one).
    #[arg(long, env = "COLLECTOR_PORT", default_value_t = 9411)]
    pub collector_port: u16,

    /// Base URL of a running Zipkin (e.g. http://127.0.0.1:9411) to report to and read
    /// the trace back from, instead of starting the stand-in collector.
    #[arg(long, env = "ZIPKIN_URL", value_parser = parse_zipkin_url)]
    pub zipkin: Option<String>,

    /// The services' sampling and trace header settings, read as the services read them.
    #[command(flatten)]
    pub tracing: TracingFlags,
}

/// Checks a `--zipkin` value: an `http` or `https` URL with a host, no query, and not
/// Zipkin's spans endpoint. Returns it without a trailing slash, so paths can be appended.
pub fn parse_zipkin_url(text: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(text)
        .map_err(|error| format!("{text:?} is not a URL ({error}); e.g. http://127.0.0.1:9411"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "{text:?} must be an http:// or https:// URL with a host"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{text:?} must be Zipkin's base URL, without ? or #"
        ));
    }
    let base = text.trim_end_matches('/');
    if let Some(server) = base.strip_suffix("/api/v2/spans") {
        return Err(format!(
            "{text:?} is Zipkin's spans endpoint (what --zipkin-endpoint/ZIPKIN_ENDPOINT \
             takes); --zipkin takes the server's base URL, e.g. {server}"
        ));
    }
    // The services must be able to send there too (no https: built without TLS).
    spans_endpoint_of(base).map_err(|error| format!("{text:?}: {error}"))?;
    Ok(base.to_owned())
}

/// The spans endpoint of the Zipkin at `base`, a `--zipkin` value.
fn spans_endpoint_of(base: &str) -> Result<HttpEndpoint, ReporterError> {
    format!("{base}/api/v2/spans").parse()
}

/// The spans endpoint of a `--zipkin` value that [`parse_zipkin_url`] accepted.
pub fn spans_endpoint(zipkin: &str) -> HttpEndpoint {
    spans_endpoint_of(zipkin.trim_end_matches('/'))
        .expect("parse_zipkin_url checked that its spans endpoint parses")
}

impl Config {
    /// `--once` at `time_scale` with every port 0, so the system picks free ones: what a
    /// test needs to run the whole demo next to other tests.
    pub fn ephemeral(time_scale: f64) -> Self {
        Config {
            once: true,
            time_scale,
            service1_port: 0,
            service2_port: 0,
            collector_port: 0,
            zipkin: None,
            tracing: TracingFlags::default(),
        }
    }

    /// The chain these settings start: a stand-in collector on `--collector-port`, or
    /// none when spans go to `--zipkin`; see [`Config::services`].
    pub fn chain(&self) -> ChainSettings {
        let spans = match &self.zipkin {
            Some(zipkin) => ChainSettings::reporting_to(spans_endpoint(zipkin)),
            None => ChainSettings::stand_in().collector_port(self.collector_port),
        };
        self.services(spans)
    }

    /// `settings` with the services' ports, time scale and tracing flags of this command
    /// line, recording the trace headers service2 receives, which the demo prints.
    pub fn services(&self, settings: ChainSettings) -> ChainSettings {
        settings
            .ports(self.service1_port, self.service2_port)
            .time_scale(self.time_scale)
            .tracing(self.tracing.apply(TracingArgs::default()))
            .capture_headers(HeaderLog::new())
    }

    /// How long the article's request should take at this time scale, in seconds.
    pub fn expected_seconds(&self) -> f64 {
        ARTICLE_SECONDS * self.time_scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_set_every_field() {
        let config = Config::try_parse_from([
            "demo",
            "--once",
            "--time-scale",
            "0.05",
            "--service1-port",
            "5001",
            "--service2-port",
            "6001",
            "--collector-port",
            "9412",
        ])
        .unwrap();
        assert_eq!(
            config,
            Config {
                once: true,
                time_scale: 0.05,
                service1_port: 5001,
                service2_port: 6001,
                collector_port: 9412,
                zipkin: None,
                tracing: TracingFlags::default(),
            }
        );
        assert!((config.expected_seconds() - 0.35).abs() < 1e-9);
    }

    #[test]
    fn bad_values_name_the_flag() {
        for (flag, value) in [
            ("--time-scale", "-1"),
            ("--time-scale", "fast"),
            ("--service1-port", "70000"),
            ("--service2-port", "x"),
            ("--collector-port", "-5"),
        ] {
            let argument = format!("{flag}={value}");
            let err = Config::try_parse_from(["demo", &argument]).unwrap_err();
            assert!(err.to_string().contains(flag), "{flag} {value}: {err}");
        }
    }

    #[test]
    fn a_negative_time_scale_is_refused_as_a_value_not_taken_for_a_flag() {
        let err = Config::try_parse_from(["demo", "--time-scale", "-1"]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("--time-scale"), "{message}");
        assert!(message.contains("0 or more"), "{message}");
        assert!(!message.contains("unexpected argument"), "{message}");
    }

    #[test]
    fn the_zipkin_flag_takes_a_base_url_and_names_it_when_given_the_spans_endpoint() {
        assert_eq!(
            parse_zipkin_url("http://127.0.0.1:9411/"),
            Ok("http://127.0.0.1:9411".to_owned())
        );
        for endpoint in [
            "http://127.0.0.1:9411/api/v2/spans",
            "http://127.0.0.1:9411/api/v2/spans/",
        ] {
            let err = Config::try_parse_from(["demo", "--zipkin", endpoint]).unwrap_err();
            let message = err.to_string();
            assert!(message.contains("--zipkin"), "{message}");
            assert!(
                message.contains("base URL, e.g. http://127.0.0.1:9411"),
                "{message}"
            );
        }
    }
}
