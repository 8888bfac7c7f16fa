//! The demo's command line.
//!
//! Every setting is a flag, and where it cannot clash with the services' own variables
//! (`PORT`, `BIND`) also an environment variable. The time scale is the services' own
//! setting, so a value the services would refuse is refused here too.

use clap::Parser;
use plumbing::parse_time_scale;

use crate::remote::parse_zipkin_url;

/// The article's request lasts this many seconds at time scale 1: 2 s in service1, 4 s
/// in service2, then 1 s more in service1.
pub const ARTICLE_SECONDS: f64 = 7.0;

/// The demo's settings.
#[derive(Debug, Clone, PartialEq, Parser)]
#[command(
    name = "demo",
    version,
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
        }
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
}
