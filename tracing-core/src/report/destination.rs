//! Where a reporter's batches go, as a user writes it: an AMQP URI and queue for RabbitMQ,
//! bootstrap servers and a topic for Kafka (the HTTP endpoint's parser is in `http.rs`).
//!
//! The parsers accept what Zipkin's own collectors accept for `RABBIT_URI`, `RABBIT_QUEUE`,
//! `KAFKA_BOOTSTRAP_SERVERS` and `KAFKA_TOPIC`, so one set of settings serves both the
//! services and the server, and a bad value is refused when a program starts rather than
//! on its first batch. Each error says what is wrong, for a message naming the setting.

/// An AMQP 0-9-1 broker address, from a URI such as `amqp://guest:guest@127.0.0.1:5672/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpUri {
    /// The broker's host name or address.
    pub host: String,
    /// The broker's port: 5672 unless the URI gives one.
    pub port: u16,
    /// The user name: `guest` unless the URI gives one.
    pub user: String,
    /// The password: `guest` unless the URI gives one.
    pub password: String,
    /// The virtual host: `/` unless the URI's path names another (`/%2F` is `/` too).
    pub vhost: String,
}

/// Parses an `amqp://[user[:password]@]host[:port][/vhost]` URI, as RabbitMQ's clients
/// read it. `amqps://` is refused: the library is built without TLS.
pub fn parse_amqp_uri(text: &str) -> Result<AmqpUri, String> {
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

/// Parses a comma-separated list of Kafka brokers, `host:port[,host:port...]`, into its
/// entries. Empty entries, a missing host or a port that is not a number are refused.
pub fn parse_bootstrap_servers(text: &str) -> Result<Vec<String>, String> {
    if text.trim().is_empty() {
        return Err("no broker given: expected host:port[,host:port...]".into());
    }
    text.split(',')
        .map(|server| {
            let server = server.trim();
            match server.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    Ok(server.to_owned())
                }
                _ => Err(format!("expected host:port, got {server:?}")),
            }
        })
        .collect()
}

/// Checks a RabbitMQ queue name: 1 to 255 bytes, as AMQP 0-9-1 allows (the empty name
/// would ask the broker to invent one, which no collector would read).
pub fn parse_queue_name(text: &str) -> Result<String, String> {
    match text.len() {
        0 => Err("the queue name is empty".into()),
        1..=255 => Ok(text.to_owned()),
        n => Err(format!("the queue name is {n} bytes long; at most 255")),
    }
}

/// Checks a Kafka topic name: 1 to 249 characters of `a-z A-Z 0-9 . _ -`, not `.` or `..`,
/// as the broker requires.
pub fn parse_topic_name(text: &str) -> Result<String, String> {
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
    fn bootstrap_servers_are_host_port_pairs() {
        assert_eq!(
            parse_bootstrap_servers("k1:9092, k2:9093").unwrap(),
            ["k1:9092", "k2:9093"]
        );
        for text in ["", " ", "k1", "k1:", ":9092", "k1:9092,", "k1:port"] {
            assert!(parse_bootstrap_servers(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn queue_and_topic_names_follow_the_brokers_rules() {
        assert_eq!(parse_queue_name("zipkin").unwrap(), "zipkin");
        assert!(parse_queue_name("").is_err());
        assert!(parse_queue_name(&"q".repeat(256)).is_err());
        assert_eq!(
            parse_topic_name("zipkin.spans-v2_1").unwrap(),
            "zipkin.spans-v2_1"
        );
        for text in ["", ".", "..", "zip kin", "zipkin/x", &"t".repeat(250)] {
            assert!(parse_topic_name(text).is_err(), "{text:?}");
        }
    }
}
