//! Log output: what a program prints about itself, filtered by `RUST_LOG`.
//!
//! Logs go to standard error, so standard output stays free for a program's own output
//! (the demo's waterfall). Each program picks the filter used when `RUST_LOG` is unset:
//! the services log `info`, the demo only warnings. A `RUST_LOG` that is not a valid filter
//! is an error that names it, rather than being silently ignored.
//!
//! A program may also install a [`TracingBridge`], which records the `tracing` spans of
//! traced requests (`#[tracing::instrument]`) as Zipkin spans. Each output filters for
//! itself: `RUST_LOG` decides which lines are printed, never which spans reach Zipkin.

use std::ffi::OsString;
use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};
use zipkin_tracing::TracingBridge;

/// `RUST_LOG` is set but is not a valid filter.
#[derive(Debug, thiserror::Error)]
#[error("invalid RUST_LOG {value:?}: {reason}")]
pub struct LoggingError {
    /// The value as found.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Installs the log output: standard error, filtered by `RUST_LOG`, or by `default` (such
/// as `"info"` or `"warn"`) when it is unset or blank; and `bridge`, if given. A second
/// call keeps what was installed first, so tests may call it freely.
pub fn init_logging(default: &str, bridge: Option<TracingBridge>) -> Result<(), LoggingError> {
    let filter = filter(std::env::var("RUST_LOG").ok(), default)?;
    let colour = colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR"),
    );
    let log_lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_filter(filter);
    // An error here means a subscriber is already installed, which is what we want.
    let _ = tracing_subscriber::registry()
        .with(log_lines)
        .with(bridge.map(TracingBridge::layer))
        .try_init();
    Ok(())
}

/// Client libraries that log each failed connection attempt at `WARN`: while a broker is
/// down that is a line every few hundred milliseconds, where the reporter logs the outage
/// once itself. Their errors still show; a `RUST_LOG` that names them decides instead.
const QUIET_TARGETS: [&str; 1] = ["rskafka"];

/// The filter for `rust_log` (the variable's value, if set), else for `default`, with
/// [`QUIET_TARGETS`] at `error` unless it names them.
fn filter(rust_log: Option<String>, default: &str) -> Result<EnvFilter, LoggingError> {
    let mut filter = chosen_filter(rust_log, default)?;
    let chosen = filter.to_string();
    for target in QUIET_TARGETS
        .iter()
        .filter(|target| !chosen.contains(**target))
    {
        let directive = format!("{target}=error")
            .parse()
            .expect("a target name and a level make a valid directive");
        filter = filter.add_directive(directive);
    }
    Ok(filter)
}

fn chosen_filter(rust_log: Option<String>, default: &str) -> Result<EnvFilter, LoggingError> {
    match rust_log {
        Some(value) if !value.trim().is_empty() => {
            EnvFilter::try_new(&value).map_err(|error| LoggingError {
                reason: error.to_string(),
                value,
            })
        }
        _ => EnvFilter::try_new(default).map_err(|error| LoggingError {
            reason: format!("the program's default filter is invalid: {error}"),
            value: default.to_owned(),
        }),
    }
}

/// Colour only for a person at a terminal: `docker compose logs`, pipes and files get plain
/// text, and a non-empty `NO_COLOR` (no-color.org) turns it off.
fn colour(is_terminal: bool, no_color: Option<OsString>) -> bool {
    is_terminal && no_color.is_none_or(|value| value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_wins_over_the_default_and_blank_means_unset() {
        let set = filter(Some("debug,hyper=warn".into()), "warn").unwrap();
        assert_eq!(set.to_string(), "rskafka=error,hyper=warn,debug");
        for unset in [None, Some(String::new()), Some("  ".into())] {
            assert_eq!(
                filter(unset, "warn").unwrap().to_string(),
                "rskafka=error,warn"
            );
        }
    }

    #[test]
    fn the_kafka_clients_reconnection_warnings_are_quiet_unless_rust_log_names_it() {
        let named = filter(Some("info,rskafka=debug".into()), "info").unwrap();
        assert_eq!(named.to_string(), "rskafka=debug,info");
    }

    #[test]
    fn an_invalid_rust_log_is_an_error_naming_it() {
        let error = filter(Some("service1=loud".into()), "info").unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("invalid RUST_LOG"), "{message}");
        assert!(message.contains("\"service1=loud\""), "{message}");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsString::new())));
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }
}
