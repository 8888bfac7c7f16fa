//! Settings of the collector, for embedding and for the command line.
//!
//! [`CollectorConfig`] is what a [`Collector`](crate::Collector) needs: how large a request
//! body may be, how many spans to keep in memory and which tags autocomplete offers. [`Config`] is the binary's command
//! line, where every setting is both a flag and an environment variable, and a bad value
//! stops the program with a message naming the setting.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The default port, the one the real Zipkin server listens on.
pub const DEFAULT_PORT: u16 = 9411;
/// The default limit on a request body, compressed or not: 10 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 10 * 1024 * 1024;
/// The default number of spans kept in memory before the oldest traces are evicted.
pub const DEFAULT_MAX_SPANS: usize = 100_000;

/// What a [`Collector`](crate::Collector) is allowed to accept and keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorConfig {
    /// Largest accepted request body in bytes, checked on the wire and again after gzip
    /// decompression, so a small compressed "bomb" cannot expand past it.
    pub body_limit: usize,
    /// Most spans kept at once; beyond it, whole traces are evicted, oldest arrival first.
    pub max_spans: usize,
    /// The tag keys whose values `/api/v2/autocompleteValues` offers and
    /// `/api/v2/autocompleteKeys` lists: Zipkin's `AUTOCOMPLETE_KEYS`, none by default.
    pub autocomplete_keys: Vec<String>,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            body_limit: DEFAULT_BODY_LIMIT,
            max_spans: DEFAULT_MAX_SPANS,
            autocomplete_keys: Vec::new(),
        }
    }
}

/// The `collector` binary's settings: each a flag and an environment variable.
#[derive(Debug, Clone, PartialEq, Eq, clap::Parser)]
#[command(
    name = "collector",
    version,
    about = "A stand-in Zipkin collector, in memory"
)]
pub struct Config {
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Address to listen on; `0.0.0.0` to accept connections from other hosts.
    #[arg(long, env = "BIND", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Largest accepted request body in bytes, also after gzip decompression.
    #[arg(long, env = "BODY_LIMIT", default_value_t = DEFAULT_BODY_LIMIT,
          value_parser = positive_usize)]
    pub body_limit: usize,
    /// Most spans kept in memory; the oldest traces are evicted beyond it.
    #[arg(long, env = "MAX_SPANS", default_value_t = DEFAULT_MAX_SPANS,
          value_parser = positive_usize)]
    pub max_spans: usize,
    /// Tag keys offered by autocomplete, comma-separated (Zipkin's setting of the same name).
    #[arg(long, env = "AUTOCOMPLETE_KEYS", value_delimiter = ',', value_parser = tag_key)]
    pub autocomplete_keys: Vec<String>,
}

impl Config {
    /// The socket address to bind.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }

    /// The part of the settings the [`Collector`](crate::Collector) itself uses.
    pub fn collector_config(&self) -> CollectorConfig {
        CollectorConfig {
            body_limit: self.body_limit,
            max_spans: self.max_spans,
            autocomplete_keys: self.autocomplete_keys.clone(),
        }
    }
}

/// One autocomplete key, trimmed as Zipkin trims the entries of its list.
fn tag_key(text: &str) -> Result<String, String> {
    match text.trim() {
        "" => Err("a key may not be empty".to_owned()),
        key => Ok(key.to_owned()),
    }
}

/// Parses a count that must be at least 1: a zero body limit or span cap would make the
/// collector reject or drop everything, which is never what anyone means.
fn positive_usize(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(value) => Ok(value),
        Err(e) => Err(format!("expected a whole number of at least 1: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn defaults_match_the_documented_contract() {
        let config = Config::try_parse_from(["collector"]).unwrap();
        assert_eq!(config.addr(), "127.0.0.1:9411".parse().unwrap());
        assert_eq!(config.collector_config(), CollectorConfig::default());
        assert_eq!(config.body_limit, 10_485_760);
    }

    #[test]
    fn flags_set_every_field() {
        let config = Config::try_parse_from([
            "collector",
            "--port",
            "0",
            "--bind",
            "0.0.0.0",
            "--body-limit",
            "1024",
            "--max-spans",
            "7",
            "--autocomplete-keys",
            "http.method, env",
        ])
        .unwrap();
        assert_eq!(config.addr(), "0.0.0.0:0".parse().unwrap());
        assert_eq!(
            config.collector_config(),
            CollectorConfig {
                body_limit: 1024,
                max_spans: 7,
                autocomplete_keys: vec!["http.method".to_owned(), "env".to_owned()],
            }
        );
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (flag, value) in [
            ("--port", "70000"),
            ("--bind", "localhost:1"),
            ("--body-limit", "ten"),
            ("--max-spans", "0"),
        ] {
            let err = Config::try_parse_from(["collector", flag, value]).unwrap_err();
            assert!(err.to_string().contains(flag), "{flag}: {err}");
        }
    }
}
