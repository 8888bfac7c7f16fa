//! The RabbitMQ transport: each batch is one AMQP 0-9-1 message on a queue that Zipkin's
//! RabbitMQ collector reads (`RABBIT_URI`, `RABBIT_QUEUE`).
//!
//! Like Brave's `RabbitMQSender`, it publishes each encoded batch (a JSON list of v2 spans)
//! as one message to the default exchange with the queue's name as routing key. A batch
//! counts as sent only once the broker has confirmed it (publisher confirms), and it is
//! published persistent (delivery mode 2), so the spans waiting in the queue for Zipkin
//! outlive a broker restart; a publish that only reached the socket could be lost without
//! a count. It also declares the queue with the flags Zipkin's collector declares it with
//! (durable, not exclusive, not auto-deleted): the same declaration is a no-op for either
//! side, and batches published before Zipkin first starts wait in the queue instead of
//! being dropped by the default exchange as unroutable.
//!
//! The client is `amqprs`: it runs on tokio itself (`lapin` goes through executor and
//! reactor adapter traits), is pure Rust with no TLS unless asked, and is maintained. It
//! reports confirms to a callback, which passes them on to the transport over a channel.

use std::time::Duration;

use amqprs::callbacks::ChannelCallback;
use amqprs::channel::{
    BasicPublishArguments, Channel, ConfirmSelectArguments, QueueDeclareArguments,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use amqprs::{Ack, BasicProperties, Cancel, CloseChannel, Nack, Return};
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::delivery::{Attempt, Transport};
use crate::destination::{AmqpUri, QueueName};

/// AMQP's delivery mode for a message the broker keeps on disk.
const PERSISTENT: u8 = 2;

/// Publishes batches to one queue; connects on first use and again after a failure.
pub(crate) struct RabbitMqTransport {
    uri: AmqpUri,
    queue: QueueName,
    timeout: Duration,
    /// The connection and channel, while they work. Dropped on any failure.
    link: Option<Link>,
}

/// An open channel in confirm mode, and the confirms the broker sends on it.
struct Link {
    connection: Connection,
    channel: Channel,
    confirms: mpsc::UnboundedReceiver<Confirm>,
    /// The delivery tag of the next publish: the broker numbers them from 1 per channel.
    next_tag: u64,
}

/// A broker's answer to publishes up to `tag` (or `tag` alone unless `multiple`).
struct Confirm {
    tag: u64,
    multiple: bool,
    taken: bool,
}

impl Confirm {
    fn covers(&self, tag: u64) -> bool {
        self.tag == tag || (self.multiple && self.tag >= tag)
    }
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

    async fn connect(&self) -> Result<Link, amqprs::error::Error> {
        let uri = &self.uri;
        let mut arguments =
            OpenConnectionArguments::new(&uri.host, uri.port, &uri.user, &uri.password);
        arguments
            .virtual_host(&uri.vhost)
            .connection_name("zipkin-reporter");
        let connection = Connection::open(&arguments).await?;
        let channel = connection.open_channel(None).await?;
        let (sender, confirms) = mpsc::unbounded_channel();
        channel.register_callback(Confirms(sender)).await?;
        channel
            .confirm_select(ConfirmSelectArguments::default())
            .await?;
        channel
            .queue_declare(QueueDeclareArguments::durable_client_named(&self.queue.0))
            .await?;
        Ok(Link {
            connection,
            channel,
            confirms,
            next_tag: 1,
        })
    }

    /// Publishes `batch` and waits for the broker's confirm; an error says why not.
    async fn publish(&mut self, batch: &Bytes) -> Result<(), String> {
        let usable = |link: &Link| link.connection.is_open() && link.channel.is_open();
        if !self.link.as_ref().is_some_and(usable) {
            self.link = None;
            self.link = Some(self.connect().await.map_err(|e| e.to_string())?);
        }
        let link = self.link.as_mut().expect("connected just above");
        let properties = BasicProperties::default()
            .with_content_type("application/json")
            .with_delivery_mode(PERSISTENT)
            .finish();
        let arguments = BasicPublishArguments::new("", &self.queue.0);
        link.channel
            .basic_publish(properties, batch.to_vec(), arguments)
            .await
            .map_err(|e| e.to_string())?;
        let tag = link.next_tag;
        link.next_tag += 1;
        loop {
            match link.confirms.recv().await {
                Some(confirm) if confirm.covers(tag) && confirm.taken => return Ok(()),
                Some(confirm) if confirm.covers(tag) => {
                    return Err("the broker did not take the batch (nack)".to_owned());
                }
                // A confirm of an earlier publish, given up on already.
                Some(_) => {}
                None => return Err("the channel closed before the broker confirmed".to_owned()),
            }
        }
    }
}

impl Transport for RabbitMqTransport {
    fn destination(&self) -> String {
        let uri = &self.uri;
        format!("amqp://{}:{} queue {}", uri.host, uri.port, self.queue)
    }

    /// Publishes each batch in turn; a send carries one, as this transport joins none
    /// ([`Transport::JOIN_BYTES`] is 0).
    async fn send(&mut self, batches: &[Bytes]) -> Attempt {
        let timeout = self.timeout;
        let publish_all = async {
            for batch in batches {
                self.publish(batch).await?;
            }
            Ok::<(), String>(())
        };
        let outcome = tokio::time::timeout(timeout, publish_all).await;
        let reason = match outcome {
            Ok(Ok(())) => return Attempt::Sent,
            Ok(Err(reason)) => reason,
            Err(_) => format!("no answer within {timeout:?}"),
        };
        // Whatever broke, start from a fresh connection next time.
        self.link = None;
        Attempt::Failed(reason)
    }
}

/// Passes the broker's confirms on to the transport; the channel's other events need
/// nothing from a publisher.
struct Confirms(mpsc::UnboundedSender<Confirm>);

#[async_trait::async_trait]
impl ChannelCallback for Confirms {
    async fn close(
        &mut self,
        _channel: &Channel,
        _close: CloseChannel,
    ) -> Result<(), amqprs::error::Error> {
        Ok(())
    }

    async fn cancel(
        &mut self,
        _channel: &Channel,
        _cancel: Cancel,
    ) -> Result<(), amqprs::error::Error> {
        Ok(())
    }

    async fn flow(
        &mut self,
        _channel: &Channel,
        active: bool,
    ) -> Result<bool, amqprs::error::Error> {
        Ok(active)
    }

    async fn publish_ack(&mut self, _channel: &Channel, ack: Ack) {
        let _ = self.0.send(Confirm {
            tag: ack.delivery_tag(),
            multiple: ack.mutiple(),
            taken: true,
        });
    }

    async fn publish_nack(&mut self, _channel: &Channel, nack: Nack) {
        let _ = self.0.send(Confirm {
            tag: nack.delivery_tag(),
            multiple: nack.multiple(),
            taken: false,
        });
    }

    async fn publish_return(
        &mut self,
        _channel: &Channel,
        _return: Return,
        _properties: BasicProperties,
        _content: Vec<u8>,
    ) {
    }
}
