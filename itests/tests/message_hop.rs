//! A message through the real RabbitMQ and the real Kafka makes one trace in the real
//! Zipkin: the producer's request, its PRODUCER span, the consumer's CONSUMER span and the
//! work done for the message, with the broker as the remote service of both hops.
//!
//! For each broker (a private node or broker on free ports) the test publishes a message
//! inside a `root_span` of one service, its context written into the message's own headers
//! by `producer_span` (AMQP properties' headers, Kafka record headers), then receives it as
//! a second service and handles it in `consumer_span` around a `local_span`. Both report
//! over HTTP to the real Zipkin (the jar), whose stored trace is checked whole: one trace
//! id, root -> PRODUCER -> CONSUMER (a child with its own id, never a shared one) -> the
//! local span; and Zipkin's dependency graph draws the broker between the two services.
//!
//! The two header types show what a user writes for a broker's headers: a small
//! [`Carrier`] for each. Needs Java and the Zipkin jar (`scripts/zipkin-server fetch`) and
//! the broker: `apt-get install rabbitmq-server`, `scripts/kafka-broker fetch`. With
//! `CI=true` a missing engine fails these tests; elsewhere each prints one skip line.

use std::collections::BTreeMap;
use std::time::Duration;

use amqprs::channel::{BasicGetArguments, BasicPublishArguments, Channel, QueueDeclareArguments};
use amqprs::connection::{Connection, OpenConnectionArguments};
use amqprs::{BasicProperties, FieldName, FieldTable, FieldValue};
use anyhow::Context as _;
use itests::trace_source::wait_until;
use itests::tree::{assert_child_of, assert_within};
use itests::zipkin_queries::{now_millis, wait_for_link};
use itests::{
    Kafka, NameMatch, RabbitMq, TraceTree, ZipkinApi, ZipkinServer, wait_for_trace_within,
};
use rskafka::client::ClientBuilder;
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::record::Record;
use zipkin_reporter::{AsyncReporter, ReporterConfig};
use zipkin_tracing::{
    Carrier, Kind, Span, SpanId, Tracer, consumer_span, current_context, local_span, producer_span,
    root_span,
};

const TEST: &str = "message_hop";
/// How long a message or a trace may take to arrive on a busy machine.
const DEADLINE: Duration = Duration::from_secs(30);
/// What the producer sends.
const BODY: &[u8] = b"order 17";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_through_rabbitmq_is_one_trace_in_zipkin() {
    let (broker, zipkin) = tokio::join!(
        RabbitMq::started_or_skip(TEST),
        ZipkinServer::shared_or_skip(TEST)
    );
    let (Some(broker), Some(zipkin)) = (broker, zipkin) else {
        return;
    };
    let outcome = async {
        let queue = RabbitQueue::declare(&broker).await?;
        message_hop(&queue, &zipkin.api()).await
    };
    if let Err(error) = outcome.await {
        panic!(
            "{error:#}\n--- RabbitMQ's last log lines:\n{}\n--- Zipkin's last 40 log lines:\n{}",
            broker.log_tail(40),
            zipkin.log_tail(40)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_through_kafka_is_one_trace_in_zipkin() {
    let (broker, zipkin) = tokio::join!(
        Kafka::started_or_skip(TEST),
        ZipkinServer::shared_or_skip(TEST)
    );
    let (Some(broker), Some(zipkin)) = (broker, zipkin) else {
        return;
    };
    let outcome = async {
        let topic = KafkaTopic::create(&broker).await?;
        message_hop(&topic, &zipkin.api()).await
    };
    if let Err(error) = outcome.await {
        panic!(
            "{error:#}\n--- Kafka's last log lines:\n{}\n--- Zipkin's last 40 log lines:\n{}",
            broker.log_tail(40),
            zipkin.log_tail(40)
        );
    }
}

/// A broker as the test uses it: messages with headers, in and out.
trait Broker {
    /// The message headers it carries, as a [`Carrier`].
    type Headers: Carrier + Default;
    /// Its name as a remote service: `rabbitmq`, `kafka`.
    const NAME: &'static str;
    /// Publishes a message and waits until the broker has taken it.
    async fn publish(&self, headers: Self::Headers, body: &[u8]) -> anyhow::Result<()>;
    /// The next message, waiting for it at most [`DEADLINE`].
    async fn receive(&self) -> anyhow::Result<(Self::Headers, Vec<u8>)>;
}

/// The whole hop through `broker`, checked in `api`'s Zipkin (see the module doc).
async fn message_hop<B: Broker>(broker: &B, api: &ZipkinApi) -> anyhow::Result<()> {
    let (orders, producer, producer_reporter) = tracer("orders", api)?;
    let (billing, consumer, consumer_reporter) = tracer("billing", api)?;
    let start_ms = now_millis();

    let trace_id = root_span(&producer, "place order", async {
        let mut headers = B::Headers::default();
        let publish = producer_span(&producer, "publish order", B::NAME, &mut headers);
        broker.publish(headers, BODY).await?;
        // The broker has the message: the PRODUCER span ends here.
        publish.finish();
        let context = current_context().context("no current span inside root_span")?;
        Ok::<_, anyhow::Error>(context.trace_id)
    })
    .await?;

    let (headers, body) = broker.receive().await?;
    anyhow::ensure!(body == BODY, "received {body:?}, not what was sent");
    let b3 = headers.get("b3").map(str::to_owned);
    let handled = consumer_span(&consumer, "bill order", B::NAME, &headers, async {
        local_span("charge card", async { current_context() }).await
    });
    let charged_in = handled
        .await
        .context("no current span inside consumer_span")?;
    anyhow::ensure!(
        charged_in.trace_id == trace_id,
        "the consumer's work ran in trace {}, not the producer's {trace_id}",
        charged_in.trace_id
    );
    for reporter in [&producer_reporter, &consumer_reporter] {
        anyhow::ensure!(reporter.flush(DEADLINE).await, "a reporter did not flush");
    }

    let spans = wait_for_trace_within(api, trace_id, 4, DEADLINE).await?;
    let mut tree = TraceTree::new(spans).with_names(NameMatch::IgnoreCase);
    let listing = tree.describe();
    let root = tree.take(&orders, None, "place order");
    let publish = tree.take(&orders, Some(Kind::Producer), "publish order");
    let consume = tree.take(&billing, Some(Kind::Consumer), "bill order");
    let charge = tree.take(&billing, None, "charge card");
    tree.finish();

    anyhow::ensure!(
        root.parent_id.is_none(),
        "the root has a parent:\n{listing}"
    );
    assert_child_of(&publish, &root);
    assert_within(&publish, &root);
    // A child of the producer's span with an id of its own: a message may be read many
    // times or never, so the consumer never joins the producer's span.
    assert_child_of(&consume, &publish);
    anyhow::ensure!(
        consume.id != publish.id && !consume.shared && !publish.shared,
        "the CONSUMER span must be a child, not a shared span:\n{listing}"
    );
    assert_child_of(&charge, &consume);
    assert_within(&charge, &consume);
    for span in [&publish, &consume] {
        anyhow::ensure!(
            remote_service(span) == Some(B::NAME),
            "{:?} names {:?} as its remote service, not {}:\n{listing}",
            span.name,
            remote_service(span),
            B::NAME
        );
    }
    // What travelled in the message: the PRODUCER span's own context, in B3's single form.
    let expected = format!("{trace_id}-{}-1", publish.id);
    anyhow::ensure!(
        b3.as_deref()
            .is_some_and(|value| value.starts_with(&expected)),
        "the message's b3 header is {b3:?}, not {expected}..."
    );
    // The broker records nothing, yet the graph shows it: named by both hops.
    wait_for_link(api, &orders, B::NAME, 1, start_ms).await?;
    wait_for_link(api, B::NAME, &billing, 1, start_ms).await
}

/// A service named `prefix` with a random suffix (so that tests sharing one Zipkin never
/// read each other's spans), its tracer reporting to `api`, and that reporter.
fn tracer(prefix: &str, api: &ZipkinApi) -> anyhow::Result<(String, Tracer, AsyncReporter)> {
    let service = unique(prefix);
    let reporter = AsyncReporter::start(ReporterConfig::http(api.spans_endpoint().parse()?))?;
    let tracer = Tracer::builder(&service).reporter(reporter.clone()).build();
    Ok((service, tracer, reporter))
}

/// `prefix` and a random suffix, in lower case as Zipkin stores names.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &SpanId::random().hex().as_ref()[..8])
}

fn remote_service(span: &Span) -> Option<&str> {
    span.remote_endpoint.as_ref()?.service_name.as_deref()
}

// ---------------------------------------------------------------------------------------
// RabbitMQ: a queue of the test's own on the default exchange.

/// An AMQP message's headers (a `FieldTable`), carrying B3 as long-string values.
#[derive(Default)]
struct AmqpHeaders(FieldTable);

impl Carrier for AmqpHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        let key = FieldName::try_from(key).ok()?;
        match self.0.get(&key)? {
            FieldValue::S(value) => Some(value.as_ref().as_str()),
            _ => None,
        }
    }

    fn set(&mut self, key: &str, value: String) {
        // Header names are short strings (at most 255 bytes); B3's names are a few.
        if let Ok(key) = FieldName::try_from(key) {
            self.0.insert(key, FieldValue::from(value));
        }
    }
}

/// A connection to a RabbitMQ node with a queue of its own, published to in transactions
/// (a commit returns once the broker has the message).
struct RabbitQueue {
    _connection: Connection,
    publisher: Channel,
    consumer: Channel,
    queue: String,
}

impl RabbitQueue {
    async fn declare(broker: &RabbitMq) -> anyhow::Result<RabbitQueue> {
        let uri = broker.uri();
        let port: u16 = uri
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .with_context(|| format!("no port at the end of {uri}"))?;
        let arguments = OpenConnectionArguments::new("127.0.0.1", port, "guest", "guest");
        let connection = Connection::open(&arguments)
            .await
            .with_context(|| format!("cannot connect to {uri}"))?;
        let publisher = connection.open_channel(None).await?;
        let consumer = connection.open_channel(None).await?;
        let queue = unique("orders");
        publisher
            .queue_declare(QueueDeclareArguments::new(&queue))
            .await
            .with_context(|| format!("cannot declare the queue {queue}"))?;
        publisher.tx_select().await?;
        Ok(RabbitQueue {
            _connection: connection,
            publisher,
            consumer,
            queue,
        })
    }
}

impl Broker for RabbitQueue {
    type Headers = AmqpHeaders;
    const NAME: &'static str = "rabbitmq";

    async fn publish(&self, headers: AmqpHeaders, body: &[u8]) -> anyhow::Result<()> {
        let properties = BasicProperties::default()
            .with_content_type("text/plain")
            .with_headers(headers.0)
            .finish();
        let arguments = BasicPublishArguments::new("", &self.queue);
        self.publisher
            .basic_publish(properties, body.to_vec(), arguments)
            .await?;
        self.publisher
            .tx_commit()
            .await
            .context("the broker did not commit the publish")
    }

    async fn receive(&self) -> anyhow::Result<(AmqpHeaders, Vec<u8>)> {
        let what = format!("a message on the queue {}", self.queue);
        wait_until(&what, DEADLINE, || async {
            let arguments = BasicGetArguments::new(&self.queue).no_ack(true).finish();
            match self.consumer.basic_get(arguments).await {
                Ok(Some((_, properties, body))) => {
                    let headers = properties.headers().cloned().unwrap_or_default();
                    Ok((AmqpHeaders(headers), body))
                }
                Ok(None) => Err("the queue is empty".to_owned()),
                Err(error) => Err(error.to_string()),
            }
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------
// Kafka: a topic of the test's own, created on first use, one partition.

/// A Kafka record's headers: string keys, byte values; B3 travels as UTF-8.
#[derive(Default)]
struct RecordHeaders(BTreeMap<String, Vec<u8>>);

impl Carrier for RecordHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        std::str::from_utf8(self.0.get(key)?).ok()
    }

    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value.into_bytes());
    }
}

/// Partition 0 of a topic of the test's own.
struct KafkaTopic {
    partition: PartitionClient,
}

impl KafkaTopic {
    async fn create(broker: &Kafka) -> anyhow::Result<KafkaTopic> {
        let servers = broker.bootstrap_servers();
        let client = ClientBuilder::new(vec![servers.clone()])
            .build()
            .await
            .with_context(|| format!("cannot connect to Kafka at {servers}"))?;
        let topic = unique("orders");
        // The first metadata request makes the broker create the topic.
        let partition = client
            .partition_client(topic.clone(), 0, UnknownTopicHandling::Retry)
            .await
            .with_context(|| format!("no partition 0 of {topic}"))?;
        Ok(KafkaTopic { partition })
    }
}

impl Broker for KafkaTopic {
    type Headers = RecordHeaders;
    const NAME: &'static str = "kafka";

    async fn publish(&self, headers: RecordHeaders, body: &[u8]) -> anyhow::Result<()> {
        let record = Record {
            key: None,
            value: Some(body.to_vec()),
            headers: headers.0,
            timestamp: now(),
        };
        // Answers once the broker has appended the record.
        self.partition
            .produce(vec![record], Compression::NoCompression)
            .await
            .context("the broker did not take the record")?;
        Ok(())
    }

    async fn receive(&self) -> anyhow::Result<(RecordHeaders, Vec<u8>)> {
        let what = format!("a record on {}", self.partition.topic());
        wait_until(&what, DEADLINE, || async {
            let fetched = self.partition.fetch_records(0, 1..1_000_000, 500).await;
            match fetched {
                Ok((records, _)) => match records.into_iter().next() {
                    Some(first) => {
                        let record = first.record;
                        Ok((
                            RecordHeaders(record.headers),
                            record.value.unwrap_or_default(),
                        ))
                    }
                    None => Err("the topic is empty".to_owned()),
                },
                Err(error) => Err(error.to_string()),
            }
        })
        .await
    }
}

/// The wall-clock time, for a record's timestamp (rskafka's `chrono` has no clock).
fn now() -> rskafka::chrono::DateTime<rskafka::chrono::Utc> {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
    rskafka::chrono::DateTime::from_timestamp(seconds, since_epoch.subsec_nanos())
        .unwrap_or_default()
}
