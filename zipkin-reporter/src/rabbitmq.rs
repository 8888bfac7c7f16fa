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
use crate::destination::{AmqpUri, QueueName};

/// Publishes batches to one queue; connects on first use and again after a failure.
pub(crate) struct RabbitMqTransport {
    uri: AmqpUri,
    queue: QueueName,
    timeout: Duration,
    /// The connection and channel, while they work. Dropped on any failure.
    link: Option<(Connection, Channel)>,
}

impl RabbitMqTransport {
    /// A transport to `queue` at `uri`; each attempt, connecting included, gives up after
    /// `timeout`.
    pub(crate) fn new(uri: AmqpUri, queue: QueueName, timeout: Duration) -> Self {
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
            .queue_declare(QueueDeclareArguments::durable_client_named(&self.queue.0))
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
        let arguments = BasicPublishArguments::new("", &self.queue.0);
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
