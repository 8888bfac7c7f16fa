//! Where a reporter's batches go, parsed once from what a user writes: a spans endpoint
//! for HTTP, an AMQP URI and a queue for RabbitMQ, bootstrap servers and a topic for Kafka.
//!
//! Each is a type with `FromStr`, so a program's settings parse straight into it (clap's
//! `value_parser = str::parse::<HttpEndpoint>`) and a bad value is refused when the program
//! starts, with a message saying what is wrong. The parsers accept what Zipkin's own
//! collectors accept for `RABBIT_URI`, `RABBIT_QUEUE`, `KAFKA_BOOTSTRAP_SERVERS` and
//! `KAFKA_TOPIC`, so one set of settings serves both the services and the server.

use std::fmt;
use std::str::FromStr;

use crate::error::ReporterError;

/// Where Zipkin takes spans, after its address.
const SPANS_PATH: &str = "/api/v2/spans";

/// A Zipkin spans endpoint: an absolute `http://` URL with a path, such as
/// `http://127.0.0.1:9411/api/v2/spans`, or `https://` with the crate's `https` feature.
///
/// Without that feature `https://` is refused (reqwest is then built without TLS, to keep
/// the build small and free of C code). A server's bare address is refused too, since it
/// would answer every batch with a 404: the error names the URL meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpEndpoint(reqwest::Url);

impl HttpEndpoint {
    /// The URL batches are POSTed to.
    pub(crate) fn url(&self) -> &reqwest::Url {
        &self.0
    }

    /// Whether the path is Zipkin's own, to explain a 404 when it is not.
    pub(crate) fn is_zipkins_path(&self) -> bool {
        self.0.path().ends_with(SPANS_PATH)
    }
}

impl FromStr for HttpEndpoint {
    type Err = ReporterError;

    fn from_str(text: &str) -> Result<Self, ReporterError> {
        parse_http_endpoint(text).map_err(ReporterError::BadDestination)
    }
}

fn parse_http_endpoint(text: &str) -> Result<HttpEndpoint, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("not a URL ({e})"))?;
    let tls = cfg!(feature = "https");
    match url.scheme() {
        "http" => {}
        "https" if tls => {}
        "https" => {
            return Err(
                "https needs zipkin-reporter's `https` feature (this build has no \
                 TLS): build with it, or use http:// and a TLS-terminating proxy next to the \
                 service"
                    .to_owned(),
            );
        }
        other if tls => return Err(format!("the scheme must be http or https, not {other}")),
        other => return Err(format!("the scheme must be http, not {other}")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_owned());
    }
    if url.path() == "/" {
        return Err(format!(
            "the URL has no path: Zipkin takes spans at {SPANS_PATH}, e.g. {}",
            url.join(SPANS_PATH)
                .map_or_else(|_| SPANS_PATH.to_owned(), String::from)
        ));
    }
    Ok(HttpEndpoint(url))
}

impl fmt::Display for HttpEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// A RabbitMQ broker, from an `amqp://[user[:password]@]host[:port][/vhost]` URI such as
/// `amqp://guest:guest@127.0.0.1:5672/`, read as RabbitMQ's clients read it. `amqps://`
/// is refused: the crate is built without TLS. Shown without its password, by `Display`
/// and by `Debug` alike.
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpUri {
    /// The broker's host name or address.
    pub(crate) host: String,
    /// The broker's port: 5672 unless the URI gives one.
    pub(crate) port: u16,
    /// The user name: `guest` unless the URI gives one.
    pub(crate) user: String,
    /// The password: `guest` unless the URI gives one.
    pub(crate) password: String,
    /// The virtual host: `/` unless the URI's path names another (`/%2F` is `/` too).
    pub(crate) vhost: String,
}

impl FromStr for AmqpUri {
    type Err = ReporterError;

    fn from_str(text: &str) -> Result<Self, ReporterError> {
        parse_amqp_uri(text).map_err(ReporterError::BadDestination)
    }
}

impl fmt::Debug for AmqpUri {
    /// Every part but the password, which is written `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpUri")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"***")
            .field("vhost", &self.vhost)
            .finish()
    }
}

impl fmt::Display for AmqpUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vhost = if self.vhost == "/" { "" } else { &self.vhost };
        write!(
            f,
            "amqp://{}@{}:{}/{vhost}",
            self.user, self.host, self.port
        )
    }
}

fn parse_amqp_uri(text: &str) -> Result<AmqpUri, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("not a URI ({e})"))?;
    match url.scheme() {
        "amqp" => {}
        "amqps" => return Err("amqps is not supported (built without TLS): use amqp://".into()),
        other => return Err(format!("the scheme must be amqp, not {other}")),
    }
    let host = match url.host_str() {
        Some(host) if !host.is_empty() => host.to_owned(),
        _ => return Err("the URI has no host".into()),
    };
    let decode = |part: &str| {
        percent_decode(part).ok_or_else(|| format!("bad percent-encoding in {part:?}"))
    };
    let user = if url.username().is_empty() {
        "guest".to_owned()
    } else {
        decode(url.username())?
    };
    let password = match url.password() {
        Some(password) => decode(password)?,
        None => "guest".to_owned(),
    };
    let vhost = match url.path().strip_prefix('/').unwrap_or_default() {
        "" => "/".to_owned(),
        path if path.contains('/') => {
            return Err(format!(
                "the virtual host {path:?} has a '/': write it as %2F"
            ));
        }
        path => decode(path)?,
    };
    Ok(AmqpUri {
        host,
        port: url.port().unwrap_or(5672),
        user,
        password,
        vhost,
    })
}

/// Decodes `%XX` escapes; `None` when an escape is malformed or the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// A RabbitMQ queue name: 1 to 255 bytes, as AMQP 0-9-1 allows (the empty name would ask
/// the broker to invent one, which no collector would read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueName(pub(crate) String);

impl FromStr for QueueName {
    type Err = ReporterError;

    fn from_str(text: &str) -> Result<Self, ReporterError> {
        parse_queue_name(text).map_err(ReporterError::BadDestination)
    }
}

fn parse_queue_name(text: &str) -> Result<QueueName, String> {
    match text.len() {
        0 => Err("the queue name is empty".into()),
        1..=255 => Ok(QueueName(text.to_owned())),
        n => Err(format!("the queue name is {n} bytes long; at most 255")),
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The Kafka brokers a client starts from, a comma-separated `host:port[,host:port...]`.
/// Empty entries, a missing host or a port that is not a number are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapServers(pub(crate) Vec<String>);

impl FromStr for BootstrapServers {
    type Err = ReporterError;

    fn from_str(text: &str) -> Result<Self, ReporterError> {
        parse_bootstrap_servers(text).map_err(ReporterError::BadDestination)
    }
}

fn parse_bootstrap_servers(text: &str) -> Result<BootstrapServers, String> {
    if text.trim().is_empty() {
        return Err("no broker given: expected host:port[,host:port...]".into());
    }
    let servers = text.split(',').map(|server| {
        let server = server.trim();
        match server.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(server.to_owned())
            }
            _ => Err(format!("expected host:port, got {server:?}")),
        }
    });
    servers.collect::<Result<_, _>>().map(BootstrapServers)
}

impl fmt::Display for BootstrapServers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

/// A Kafka topic name: 1 to 249 characters of `a-z A-Z 0-9 . _ -`, not `.` or `..`, as the
/// broker requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicName(pub(crate) String);

impl FromStr for TopicName {
    type Err = ReporterError;

    fn from_str(text: &str) -> Result<Self, ReporterError> {
        parse_topic_name(text)
            .map(TopicName)
            .map_err(ReporterError::BadDestination)
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn parse_topic_name(text: &str) -> Result<String, String> {
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if text.is_empty() || text == "." || text == ".." {
        Err(format!("{text:?} is not a topic name"))
    } else if text.len() > 249 {
        Err(format!(
            "the topic name is {} characters; at most 249",
            text.len()
        ))
    } else if let Some(c) = text.chars().find(|&c| !legal(c)) {
        Err(format!(
            "{c:?} is not allowed in a topic name (only a-z A-Z 0-9 . _ -)"
        ))
    } else {
        Ok(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_endpoint_is_an_http_url_with_a_path() {
        let endpoint: HttpEndpoint = "http://zipkin:9411/api/v2/spans".parse().unwrap();
        assert_eq!(endpoint.to_string(), "http://zipkin:9411/api/v2/spans");
        for (text, expected) in [
            ("zipkin:9411/api/v2/spans", "must be http"),
            ("ftp://zipkin/api/v2/spans", "must be http"),
            ("", "not a URL"),
            ("http://zipkin:9411", "http://zipkin:9411/api/v2/spans"),
            ("http://zipkin:9411/", "http://zipkin:9411/api/v2/spans"),
        ] {
            let error = text.parse::<HttpEndpoint>().unwrap_err();
            assert!(error.to_string().contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn an_https_endpoint_needs_the_https_feature() {
        let parsed = "https://zipkin:9411/api/v2/spans".parse::<HttpEndpoint>();
        if cfg!(feature = "https") {
            assert_eq!(
                parsed.unwrap().to_string(),
                "https://zipkin:9411/api/v2/spans"
            );
            let error = "https://zipkin:9411".parse::<HttpEndpoint>().unwrap_err();
            assert!(error.to_string().contains("/api/v2/spans"), "{error}");
        } else {
            let error = parsed.unwrap_err().to_string();
            assert!(error.contains("`https` feature"), "{error}");
        }
    }

    #[test]
    fn a_broker_uri_is_shown_without_its_password() {
        let uri: AmqpUri = "amqp://zipkin:secret@rabbit:5673/traces".parse().unwrap();
        assert_eq!(uri.to_string(), "amqp://zipkin@rabbit:5673/traces");
        let debug = format!("{uri:?}");
        assert!(
            !debug.contains("secret") && debug.contains("rabbit"),
            "{debug}"
        );
    }

    #[test]
    fn an_amqp_uri_gives_rabbitmqs_defaults_for_what_it_leaves_out() {
        let uri = parse_amqp_uri("amqp://127.0.0.1").unwrap();
        assert_eq!(
            uri,
            AmqpUri {
                host: "127.0.0.1".into(),
                port: 5672,
                user: "guest".into(),
                password: "guest".into(),
                vhost: "/".into(),
            }
        );
        let uri = parse_amqp_uri("amqp://zipkin:s%40cret@rabbit:5673/%2Ftraces").unwrap();
        assert_eq!(
            (uri.user.as_str(), uri.password.as_str()),
            ("zipkin", "s@cret")
        );
        assert_eq!((uri.host.as_str(), uri.port), ("rabbit", 5673));
        assert_eq!(uri.vhost, "/traces");
        assert_eq!(parse_amqp_uri("amqp://h/%2F").unwrap().vhost, "/");
    }

    #[test]
    fn a_bad_amqp_uri_says_what_is_wrong() {
        for (text, expected) in [
            ("127.0.0.1:5672", "not a URI"),
            ("localhost:5672", "must be amqp"),
            ("rabbit", "not a URI"),
            ("http://rabbit:5672", "must be amqp"),
            ("amqps://rabbit", "TLS"),
            ("amqp://rabbit:notaport", "not a URI"),
            ("amqp://rabbit/a/b", "%2F"),
            ("amqp://rabbit/%zz", "percent"),
        ] {
            let error = parse_amqp_uri(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn queue_names_follow_the_brokers_rules() {
        assert_eq!(
            str::parse::<QueueName>("zipkin").unwrap().to_string(),
            "zipkin"
        );
        assert!(str::parse::<QueueName>("").is_err());
        assert!(str::parse::<QueueName>(&"q".repeat(256)).is_err());
    }

    #[test]
    fn bootstrap_servers_are_host_port_pairs() {
        assert_eq!(
            str::parse::<BootstrapServers>("k1:9092, k2:9093")
                .unwrap()
                .0,
            ["k1:9092", "k2:9093"]
        );
        for text in ["", " ", "k1", "k1:", ":9092", "k1:9092,", "k1:port"] {
            assert!(str::parse::<BootstrapServers>(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn topic_names_follow_the_brokers_rules() {
        assert_eq!(
            str::parse::<TopicName>("zipkin.spans-v2_1")
                .unwrap()
                .to_string(),
            "zipkin.spans-v2_1"
        );
        for text in ["", ".", "..", "zip kin", "zipkin/x", &"t".repeat(250)] {
            assert!(str::parse::<TopicName>(text).is_err(), "{text:?}");
        }
    }
}
