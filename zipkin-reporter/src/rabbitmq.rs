//! The RabbitMQ transport: each batch is one AMQP 0-9-1 message on a queue that Zipkin's
//! RabbitMQ collector reads (`RABBIT_URI`, `RABBIT_QUEUE`).
//!
//! Like Brave's `RabbitMQSender`, it publishes each encoded batch (a JSON list of v2 spans)
//! as one message to the default exchange with the queue's name as routing key, without
//! publisher confirms: a publish that reaches the socket counts as sent. Unlike Brave's
//! sender, it also declares the queue, with the flags Zipkin's collector declares it with
//! (durable, not exclusive, not auto-deleted): the same declaration is a no-op for either
//! side, and batches published before Zipkin first starts then wait in the queue instead
//! of being dropped by the default exchange as unroutable.
//!
//! The client is `amqprs`: it runs on tokio itself (`lapin` goes through executor and
//! reactor adapter traits), is pure Rust with no TLS unless asked, and is maintained.

use std::time::Duration;

use amqprs::BasicProperties;
use amqprs::channel::{BasicPublishArguments, Channel, QueueDeclareArguments};
use amqprs::connection::{Connection, OpenConnectionArguments};
use bytes::Bytes;

use crate::delivery::{Attempt, Transport};

/// Publishes batches to one queue; connects on first use and again after a failure.
pub(crate) struct RabbitMqTransport {
    uri: AmqpUri,
    queue: String,
    timeout: Duration,
    /// The connection and channel, while they work. Dropped on any failure.
    link: Option<(Connection, Channel)>,
}

impl RabbitMqTransport {
    /// A transport to `queue` at `uri`; each attempt, connecting included, gives up after
    /// `timeout`.
    pub(crate) fn new(uri: AmqpUri, queue: String, timeout: Duration) -> Self {
        RabbitMqTransport {
            uri,
            queue,
            timeout,
            link: None,
        }
    }

    async fn connect(&self) -> Result<(Connection, Channel), amqprs::error::Error> {
        let uri = &self.uri;
        let mut arguments =
            OpenConnectionArguments::new(&uri.host, uri.port, &uri.user, &uri.password);
        arguments
            .virtual_host(&uri.vhost)
            .connection_name("zipkin-reporter");
        let connection = Connection::open(&arguments).await?;
        let channel = connection.open_channel(None).await?;
        channel
            .queue_declare(QueueDeclareArguments::durable_client_named(&self.queue))
            .await?;
        Ok((connection, channel))
    }

    async fn publish(&mut self, batch: Bytes) -> Result<(), amqprs::error::Error> {
        let usable = |(connection, channel): &(Connection, Channel)| {
            connection.is_open() && channel.is_open()
        };
        if !self.link.as_ref().is_some_and(usable) {
            self.link = None;
            self.link = Some(self.connect().await?);
        }
        let (_, channel) = self.link.as_ref().expect("connected just above");
        let properties = BasicProperties::default()
            .with_content_type("application/json")
            .finish();
        let arguments = BasicPublishArguments::new("", &self.queue);
        channel
            .basic_publish(properties, batch.to_vec(), arguments)
            .await
    }
}

impl Transport for RabbitMqTransport {
    fn destination(&self) -> String {
        let uri = &self.uri;
        format!("amqp://{}:{} queue {}", uri.host, uri.port, self.queue)
    }

    async fn send(&mut self, batch: Bytes) -> Attempt {
        let outcome = tokio::time::timeout(self.timeout, self.publish(batch)).await;
        let reason = match outcome {
            Ok(Ok(())) => return Attempt::Sent,
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {:?}", self.timeout),
        };
        // Whatever broke, start from a fresh connection next time.
        self.link = None;
        Attempt::Failed(reason)
    }
}

/// An AMQP 0-9-1 broker address, from a URI such as `amqp://guest:guest@127.0.0.1:5672/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AmqpUri {
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

/// Parses an `amqp://[user[:password]@]host[:port][/vhost]` URI, as RabbitMQ's clients
/// read it. `amqps://` is refused: the library is built without TLS.
pub(crate) fn parse_amqp_uri(text: &str) -> Result<AmqpUri, String> {
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

/// Checks a RabbitMQ queue name: 1 to 255 bytes, as AMQP 0-9-1 allows (the empty name
/// would ask the broker to invent one, which no collector would read).
pub(crate) fn parse_queue_name(text: &str) -> Result<String, String> {
    match text.len() {
        0 => Err("the queue name is empty".into()),
        1..=255 => Ok(text.to_owned()),
        n => Err(format!("the queue name is {n} bytes long; at most 255")),
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
    fn queue_names_follow_the_brokers_rules() {
        assert_eq!(parse_queue_name("zipkin").unwrap(), "zipkin");
        assert!(parse_queue_name("").is_err());
        assert!(parse_queue_name(&"q".repeat(256)).is_err());
    }
}
