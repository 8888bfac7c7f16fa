//! The settings both services share, each a command-line flag and an environment variable.
//!
//! [`ServiceArgs`] holds where a service listens and how fast it runs (`TIME_SCALE`
//! multiplies the article's sleeps, see [`scaled_sleep`]), and flattens [`TracingArgs`]:
//! where spans go and how traces are sampled and propagated. Each service flattens
//! [`ServiceArgs`] into its own clap `Config`, so a bad value stops the program at start
//! with clap's message naming the setting. Each setting is parsed once, into the type that
//! uses it: the sampler, the reporter's endpoint, headers and compression, broker and
//! queue or topic.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use zipkin_reporter::{
    AmqpUri, AsyncReporter, BootstrapServers, Destination, HttpCompression, HttpEndpoint,
    HttpHeaders, QueueName, ReporterConfig, ReporterError, TopicName,
};
use zipkin_tracing::{B3Format, ProbabilitySampler, Propagation, RuleSampler, Tracer};

/// Parses a `TIME_SCALE`-style multiplier: a finite number, zero or more.
pub fn parse_time_scale(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale >= 0.0 => Ok(scale),
        _ => Err(format!("expected a number of 0 or more, got {text:?}")),
    }
}

/// Sleeps `seconds` of the article's time, multiplied by `scale`.
pub async fn scaled_sleep(seconds: f64, scale: f64) {
    // `TIME_SCALE=0` means no sleep at all: even a zero-length tokio sleep waits for the
    // timer driver's next millisecond tick, which would add ~1 ms per sleep.
    if scale > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(seconds * scale)).await;
    }
}

/// Where and how a service reports its spans.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct TracingArgs {
    /// Where spans are sent: a Zipkin (or compatible) server's `/api/v2/spans`.
    #[arg(
        long,
        env = "ZIPKIN_ENDPOINT",
        default_value = "http://127.0.0.1:9411/api/v2/spans",
        value_parser = str::parse::<HttpEndpoint>
    )]
    pub zipkin_endpoint: HttpEndpoint,

    /// Fraction of new traces to record, from 0.0 to 1.0 (py_zipkin's 100 is 1.0).
    #[arg(long, env = "SAMPLE_RATE", default_value = "1.0", value_parser = parse_sample_rate)]
    pub sample_rate: ProbabilitySampler,

    /// Sampling rules by method and route, tried in order before SAMPLE_RATE: comma-separated
    /// `[METHOD] ROUTE=KEEP`, KEEP a probability or N/s, ROUTE a route template or a start
    /// ending in `*` (`GET /health=0,POST /orders=10/s,/api/*=0.5`). A caller's decision wins.
    #[arg(long, env = "SAMPLER_RULES", value_parser = str::parse::<RuleSampler>)]
    pub sampler_rules: Option<RuleSampler>,

    /// B3 header form on outgoing calls: multi or single.
    #[arg(long, env = "B3_FORMAT", default_value = "multi", value_parser = str::parse::<B3Format>)]
    pub b3_format: B3Format,

    /// Trace headers read on requests and written on calls: b3, w3c, or both in the order
    /// to read them (b3,w3c or w3c,b3). Every listed format is written.
    #[arg(long, env = "PROPAGATION", default_value = "b3", value_parser = str::parse::<Propagation>)]
    pub propagation: Propagation,

    /// Join the caller's span (shared span id) rather than record a child of it.
    #[arg(long, env = "JOIN_SPANS", default_value_t = true, action = clap::ArgAction::Set)]
    pub join_spans: bool,

    /// Headers sent with every POST to Zipkin, such as a proxy's `Authorization`:
    /// `Name=value` pairs separated by commas, values percent-encoded
    /// (`Authorization=Bearer%20abc`). Never shown, not even in an error.
    #[arg(long, env = "ZIPKIN_HEADERS", default_value = "", hide_env_values = true, value_parser = HeadersParser)]
    pub zipkin_headers: HttpHeaders,

    /// How POST bodies to Zipkin are compressed: none or gzip (`Content-Encoding: gzip`,
    /// which Zipkin and the stand-in read).
    #[arg(long, env = "ZIPKIN_COMPRESSION", default_value = "none", value_parser = str::parse::<HttpCompression>)]
    pub zipkin_compression: HttpCompression,

    /// How spans reach Zipkin: POSTed to the endpoint (http), or published to a RabbitMQ
    /// queue or a Kafka topic that the Zipkin server reads.
    #[arg(long, env = "ZIPKIN_TRANSPORT", value_enum, default_value_t = ZipkinTransport::Http)]
    pub zipkin_transport: ZipkinTransport,

    /// The RabbitMQ broker, for `ZIPKIN_TRANSPORT=rabbitmq`: `amqp://user:password@host:port/vhost`.
    /// `--help` does not show the variable's value, which holds a password.
    #[arg(
        long,
        env = "RABBIT_URI",
        default_value = "amqp://guest:guest@127.0.0.1:5672",
        hide_env_values = true,
        value_parser = str::parse::<AmqpUri>
    )]
    pub rabbit_uri: AmqpUri,

    /// The RabbitMQ queue Zipkin reads, for `ZIPKIN_TRANSPORT=rabbitmq`.
    #[arg(long, env = "RABBIT_QUEUE", default_value = "zipkin", value_parser = str::parse::<QueueName>)]
    pub rabbit_queue: QueueName,

    /// The Kafka brokers to start from, for `ZIPKIN_TRANSPORT=kafka`: `host:port[,host:port...]`.
    #[arg(
        long,
        env = "KAFKA_BOOTSTRAP_SERVERS",
        default_value = "127.0.0.1:9092",
        value_parser = str::parse::<BootstrapServers>
    )]
    pub kafka_bootstrap_servers: BootstrapServers,

    /// The Kafka topic Zipkin reads, for `ZIPKIN_TRANSPORT=kafka`.
    #[arg(long, env = "KAFKA_TOPIC", default_value = "zipkin", value_parser = str::parse::<TopicName>)]
    pub kafka_topic: TopicName,
}

/// How a service's spans reach Zipkin: the values of `ZIPKIN_TRANSPORT`, named as the
/// Zipkin server names its collectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ZipkinTransport {
    /// `POST` JSON to `ZIPKIN_ENDPOINT`.
    Http,
    /// Publish JSON messages to the queue `RABBIT_QUEUE` of the broker at `RABBIT_URI`.
    Rabbitmq,
    /// Produce JSON messages to the topic `KAFKA_TOPIC` on `KAFKA_BOOTSTRAP_SERVERS`.
    Kafka,
}

/// Parses `ZIPKIN_HEADERS`. A parser of its own, because clap's message for a value that
/// does not parse quotes the value, and a header's value is a secret.
#[derive(Debug, Clone, Copy)]
struct HeadersParser;

impl clap::builder::TypedValueParser for HeadersParser {
    type Value = HttpHeaders;

    fn parse_ref(
        &self,
        command: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<HttpHeaders, clap::Error> {
        let refuse = |why: String| {
            let message = format!("invalid --zipkin-headers/ZIPKIN_HEADERS: {why}\n");
            clap::Error::raw(clap::error::ErrorKind::ValueValidation, message).with_cmd(command)
        };
        let text = value
            .to_str()
            .ok_or_else(|| refuse("not UTF-8".to_owned()))?;
        text.parse()
            .map_err(|error: ReporterError| refuse(error.to_string()))
    }
}

/// Parses `SAMPLE_RATE` into the sampler the tracer uses.
fn parse_sample_rate(text: &str) -> Result<ProbabilitySampler, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("not a number from 0.0 to 1.0: {text:?}"))?;
    ProbabilitySampler::new(rate).map_err(|e| e.to_string())
}

/// Parses an absolute `http://` URL with a host, such as `SERVICE2_URL`: the services'
/// HTTP client is built without TLS, so `https://` is refused at start rather than on
/// every call.
pub fn parse_http_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "http" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(url),
        "http" => Err("the URL has no host".to_owned()),
        "https" => Err("https is not supported (built without TLS): use http://".to_owned()),
        other => Err(format!("the scheme must be http, not {other}")),
    }
}

impl ZipkinTransport {
    /// The settings that say where this transport sends, for error messages.
    pub fn settings(self) -> &'static str {
        match self {
            ZipkinTransport::Http => "--zipkin-endpoint/ZIPKIN_ENDPOINT",
            ZipkinTransport::Rabbitmq => "--rabbit-uri/RABBIT_URI and --rabbit-queue/RABBIT_QUEUE",
            ZipkinTransport::Kafka => {
                "--kafka-bootstrap-servers/KAFKA_BOOTSTRAP_SERVERS and --kafka-topic/KAFKA_TOPIC"
            }
        }
    }

    /// The value of `ZIPKIN_TRANSPORT` that chooses this transport.
    pub fn name(self) -> &'static str {
        match self {
            ZipkinTransport::Http => "http",
            ZipkinTransport::Rabbitmq => "rabbitmq",
            ZipkinTransport::Kafka => "kafka",
        }
    }
}

/// The span reporter did not start.
#[derive(Debug, thiserror::Error)]
pub enum ReporterStartError {
    /// `ZIPKIN_TRANSPORT` names a transport this program was built without.
    #[error(
        "--zipkin-transport/ZIPKIN_TRANSPORT={0}: this program was built without the {0} \
         transport (cargo feature `{0}`)"
    )]
    NotBuilt(&'static str),
    /// The reporter refused its settings or could not start its thread.
    #[error("cannot report spans to {destination} (set {settings}): {source}")]
    Failed {
        /// Where spans were to go.
        destination: String,
        /// The settings to change.
        settings: &'static str,
        /// Why.
        source: ReporterError,
    },
}

impl Default for TracingArgs {
    /// The flags' defaults, reporting to `http://127.0.0.1:9411/api/v2/spans`.
    fn default() -> Self {
        let endpoint = "http://127.0.0.1:9411/api/v2/spans".parse();
        TracingArgs::new(endpoint.expect("the default endpoint parses"))
    }
}

impl TracingArgs {
    /// The flags' defaults, reporting to `zipkin_endpoint`: every new trace sampled, the
    /// multi-header B3 form, the caller's span joined. For programs that start a service
    /// in-process rather than from a command line (whose environment could change them).
    pub fn new(zipkin_endpoint: HttpEndpoint) -> Self {
        /// One of the flags' default values below, each of which parses.
        fn parse<T: std::str::FromStr<Err = ReporterError>>(text: &str) -> T {
            text.parse().expect("a flag's default value parses")
        }
        TracingArgs {
            zipkin_endpoint,
            zipkin_headers: HttpHeaders::default(),
            zipkin_compression: HttpCompression::None,
            sample_rate: ProbabilitySampler::always(),
            sampler_rules: None,
            b3_format: B3Format::Multi,
            propagation: Propagation::default(),
            join_spans: true,
            zipkin_transport: ZipkinTransport::Http,
            rabbit_uri: parse("amqp://guest:guest@127.0.0.1:5672"),
            rabbit_queue: parse("zipkin"),
            kafka_bootstrap_servers: parse("127.0.0.1:9092"),
            kafka_topic: parse("zipkin"),
        }
    }

    /// Where spans go: the endpoint, queue or topic of `--zipkin-transport`. Fails when
    /// this program was built without that transport (a cargo feature of this crate).
    pub fn destination(&self) -> Result<Destination, ReporterStartError> {
        Ok(match self.zipkin_transport {
            ZipkinTransport::Http => Destination::Http(self.zipkin_endpoint.clone()),
            #[cfg(feature = "rabbitmq")]
            ZipkinTransport::Rabbitmq => Destination::RabbitMq {
                uri: self.rabbit_uri.clone(),
                queue: self.rabbit_queue.clone(),
            },
            #[cfg(feature = "kafka")]
            ZipkinTransport::Kafka => Destination::Kafka {
                bootstrap_servers: self.kafka_bootstrap_servers.clone(),
                topic: self.kafka_topic.clone(),
            },
            #[allow(unreachable_patterns, reason = "reached only without some features")]
            other => return Err(ReporterStartError::NotBuilt(other.name())),
        })
    }

    /// Starts a reporter to [`destination`](Self::destination) with the default queue,
    /// batch and retry settings. The reporter parses the destination's settings, once; a
    /// bad one is an error naming them. It does not wait for a broker: one that is down is
    /// an outage the reporter counts and recovers from.
    pub fn start_reporter(&self) -> Result<AsyncReporter, ReporterStartError> {
        let destination = self.destination()?;
        let shown = destination.to_string();
        let config = ReporterConfig {
            http_headers: self.zipkin_headers.clone(),
            http_compression: self.zipkin_compression,
            ..ReporterConfig::new(destination)
        };
        AsyncReporter::start(config).map_err(|source| ReporterStartError::Failed {
            destination: shown,
            settings: self.zipkin_transport.settings(),
            source,
        })
    }

    /// A tracer for `service_name` that samples, propagates and joins as these settings
    /// say, and reports to `reporter`.
    pub fn tracer(&self, service_name: &str, reporter: AsyncReporter) -> Tracer {
        let builder = Tracer::builder(service_name);
        let builder = match &self.sampler_rules {
            Some(rules) => builder.sampler(rules.clone().otherwise(self.sample_rate)),
            None => builder.sampler(self.sample_rate),
        };
        builder
            .reporter(reporter)
            .b3_format(self.b3_format)
            .propagation(self.propagation)
            .join_spans(self.join_spans)
            .build()
    }
}

/// The settings of a traced service other than its port, whose default differs.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct ServiceArgs {
    /// Address to listen on (0.0.0.0 in a container).
    #[arg(long, env = "BIND", default_value = "127.0.0.1")]
    pub bind: IpAddr,

    /// Multiplies every simulated sleep: 1.0 as in the article, 0 for none.
    #[arg(long, env = "TIME_SCALE", default_value_t = 1.0, value_parser = parse_time_scale)]
    pub time_scale: f64,

    /// Where and how spans are reported.
    #[command(flatten)]
    pub tracing: TracingArgs,
}

impl ServiceArgs {
    /// The flags' defaults (listening on 127.0.0.1) with `tracing`, at `time_scale`.
    pub fn new(tracing: TracingArgs, time_scale: f64) -> Self {
        ServiceArgs {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            time_scale,
            tracing,
        }
    }

    /// The address to listen on: `--bind` with `port`.
    pub fn address(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.bind, port)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Command {
        #[command(flatten)]
        service: ServiceArgs,
    }

    fn parse(args: &[&str]) -> Result<ServiceArgs, clap::Error> {
        let line = std::iter::once("service").chain(args.iter().copied());
        Command::try_parse_from(line).map(|command| command.service)
    }

    #[test]
    fn scales_are_finite_numbers_of_zero_or_more() {
        for (text, scale) in [("1", 1.0), ("0.01", 0.01), ("0", 0.0), ("2.5", 2.5)] {
            assert_eq!(parse_time_scale(text), Ok(scale), "{text}");
        }
        for text in ["-1", "fast", "", "NaN", "inf"] {
            let error = parse_time_scale(text).unwrap_err();
            assert!(error.contains(&format!("{text:?}")), "{text}: {error}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_sleep_lasts_its_seconds_times_the_scale() {
        let started = tokio::time::Instant::now();
        scaled_sleep(2.0, 0.5).await;
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }

    #[test]
    fn the_defaults_are_the_articles() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.address(5000).to_string(), "127.0.0.1:5000");
        assert_eq!(args.time_scale, 1.0);
        let tracing = &args.tracing;
        assert_eq!(
            tracing.zipkin_endpoint.to_string(),
            "http://127.0.0.1:9411/api/v2/spans"
        );
        assert_eq!(tracing.sample_rate.rate(), 1.0);
        assert_eq!(tracing.b3_format, B3Format::Multi);
        assert_eq!(tracing.propagation, Propagation::default());
        assert_eq!(tracing.propagation.to_string(), "b3");
        assert!(tracing.join_spans);
        assert_eq!(tracing.zipkin_transport, ZipkinTransport::Http);
        assert_eq!(
            tracing.rabbit_uri.to_string(),
            "amqp://guest@127.0.0.1:5672/"
        );
        assert_eq!(tracing.rabbit_queue.to_string(), "zipkin");
        assert_eq!(
            tracing.kafka_bootstrap_servers.to_string(),
            "127.0.0.1:9092"
        );
        assert_eq!(tracing.kafka_topic.to_string(), "zipkin");
    }

    #[test]
    fn new_gives_the_flags_defaults() {
        let parsed = parse(&[
            "--time-scale=0.5",
            "--zipkin-endpoint=http://z:1/api/v2/spans",
        ]);
        let endpoint = "http://z:1/api/v2/spans".parse().unwrap();
        let built = ServiceArgs::new(TracingArgs::new(endpoint), 0.5);
        assert_eq!(parsed.unwrap(), built);
    }

    #[test]
    fn every_flag_sets_its_field() {
        let args = parse(&[
            "--bind=0.0.0.0",
            "--time-scale=0.01",
            "--zipkin-endpoint=http://zipkin:9411/api/v2/spans",
            "--sample-rate=0.5",
            "--sampler-rules=GET /health=0,POST /orders=10/s",
            "--b3-format=single",
            "--propagation=w3c,b3",
            "--join-spans=false",
            "--zipkin-transport=kafka",
            "--rabbit-uri=amqp://zipkin:secret@rabbit:5673/traces",
            "--rabbit-queue=spans",
            "--kafka-bootstrap-servers=k1:9092,k2:9092",
            "--kafka-topic=spans",
        ])
        .unwrap();
        assert_eq!(args.tracing.zipkin_transport, ZipkinTransport::Kafka);
        assert_eq!(
            args.tracing.rabbit_uri.to_string(),
            "amqp://zipkin@rabbit:5673/traces"
        );
        assert_eq!(args.tracing.rabbit_queue.to_string(), "spans");
        assert_eq!(
            args.tracing.kafka_bootstrap_servers.to_string(),
            "k1:9092,k2:9092"
        );
        assert_eq!(args.tracing.kafka_topic.to_string(), "spans");
        assert_eq!(args.address(6000).to_string(), "0.0.0.0:6000");
        assert_eq!(args.time_scale, 0.01);
        assert_eq!(
            args.tracing.zipkin_endpoint.to_string(),
            "http://zipkin:9411/api/v2/spans"
        );
        assert_eq!(args.tracing.sample_rate.rate(), 0.5);
        let rules = "GET /health=0, POST /orders=10/s".parse().ok();
        assert_eq!(args.tracing.sampler_rules, rules);
        assert_eq!(args.tracing.b3_format, B3Format::Single);
        assert_eq!(args.tracing.propagation.to_string(), "w3c,b3");
        assert!(!args.tracing.join_spans);
    }

    #[test]
    fn a_bad_value_is_rejected_with_the_flag_and_what_is_expected() {
        for (flag, value, expected) in [
            ("--bind", "localhost", "invalid"),
            ("--time-scale", "-1", "0 or more"),
            // `https://` depends on zipkin-reporter's `https` feature: tested there.
            ("--zipkin-endpoint", "zipkin:9411", "http"),
            ("--zipkin-endpoint", "http://zipkin:9411", "/api/v2/spans"),
            ("--sample-rate", "5", "1"),
            ("--sample-rate", "all", "0.0 to 1.0"),
            (
                "--sampler-rules",
                "GET /health=0,POST /orders",
                r#"rule 2 "POST /orders""#,
            ),
            ("--sampler-rules", "/x=2", "not a probability from 0 to 1"),
            ("--b3-format", "both", "expected multi or single"),
            ("--propagation", "tracecontext", "expected b3, w3c"),
            ("--propagation", "b3,b3", "listed twice"),
            ("--join-spans", "maybe", "true"),
            ("--zipkin-transport", "amqp", "http, rabbitmq, kafka"),
            ("--zipkin-transport", "HTTP", "http, rabbitmq, kafka"),
            ("--rabbit-uri", "rabbit:5672", "must be amqp"),
            ("--rabbit-uri", "amqp://rabbit:port", "not a URI"),
            ("--rabbit-uri", "http://rabbit:5672", "must be amqp"),
            ("--rabbit-uri", "amqps://rabbit", "TLS"),
            ("--rabbit-queue", "", "empty"),
            ("--kafka-bootstrap-servers", "", "no broker"),
            ("--kafka-bootstrap-servers", "kafka", "host:port"),
            ("--kafka-bootstrap-servers", "k1:9092,k2", "host:port"),
            ("--kafka-topic", "zip kin", "not allowed"),
            ("--zipkin-headers", "Authorization", "no `=`"),
            (
                "--zipkin-headers",
                "Host=zipkin",
                "set by the reporter itself",
            ),
        ] {
            let error = parse(&[&format!("{flag}={value}")])
                .unwrap_err()
                .to_string();
            assert!(error.contains(flag), "{flag}={value}: {error}");
            assert!(error.contains(expected), "{flag}={value}: {error}");
        }
    }

    #[test]
    fn the_help_never_shows_a_secret_variables_value() {
        let command = <Command as clap::CommandFactory>::command();
        for flag in ["rabbit-uri", "zipkin-headers"] {
            let arg = command
                .get_arguments()
                .find(|arg| arg.get_long() == Some(flag))
                .unwrap_or_else(|| panic!("no --{flag}"));
            assert!(arg.is_hide_env_values_set(), "--{flag}");
        }
        let args = parse(&["--rabbit-uri=amqp://zipkin:s3cret@rabbit:5672"]).unwrap();
        assert!(!format!("{args:?}").contains("s3cret"));
    }

    #[test]
    fn zipkin_headers_reach_the_reporter_and_a_bad_value_is_never_shown() {
        let args = parse(&["--zipkin-headers=Authorization=Bearer%20s3cret"]).unwrap();
        assert!(!args.tracing.zipkin_headers.is_empty());
        assert!(!format!("{args:?}").contains("s3cret"));
        assert!(args.tracing.start_reporter().is_ok());
        let error = parse(&["--zipkin-headers=X-Token=s3cret%0A"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("ZIPKIN_HEADERS"), "{error}");
        assert!(error.contains("x-token"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
        let none = parse(&[]).unwrap();
        assert!(none.tracing.zipkin_headers.is_empty());
    }

    #[test]
    fn gzip_reaches_the_reporter_and_is_refused_with_a_broker() {
        let args = parse(&["--zipkin-compression=gzip"]).unwrap();
        assert_eq!(args.tracing.zipkin_compression, HttpCompression::Gzip);
        assert!(args.tracing.start_reporter().is_ok());
        assert_eq!(
            parse(&[]).unwrap().tracing.zipkin_compression,
            HttpCompression::None
        );
        #[cfg(feature = "kafka")]
        {
            let kafka = parse(&["--zipkin-compression=gzip", "--zipkin-transport=kafka"]);
            let error = kafka.unwrap().tracing.start_reporter().unwrap_err();
            assert!(error.to_string().contains("only HTTP bodies"), "{error}");
        }
    }

    #[test]
    fn the_transport_chooses_the_destination_or_names_the_missing_feature() {
        let http = parse(&["--zipkin-endpoint=http://z:1/api/v2/spans"]).unwrap();
        assert_eq!(
            http.tracing.destination().unwrap(),
            Destination::Http("http://z:1/api/v2/spans".parse().unwrap())
        );
        let rabbit = parse(&["--zipkin-transport=rabbitmq", "--rabbit-queue=q"]).unwrap();
        match rabbit.tracing.destination() {
            #[cfg(feature = "rabbitmq")]
            Ok(destination) => assert_eq!(
                destination,
                Destination::RabbitMq {
                    uri: "amqp://guest:guest@127.0.0.1:5672".parse().unwrap(),
                    queue: "q".parse().unwrap()
                }
            ),
            #[cfg(not(feature = "rabbitmq"))]
            Ok(destination) => panic!("{destination:?} without the rabbitmq feature"),
            #[cfg(feature = "rabbitmq")]
            Err(error) => panic!("built with the rabbitmq feature: {error}"),
            #[cfg(not(feature = "rabbitmq"))]
            Err(error) => assert!(
                error.to_string().contains("ZIPKIN_TRANSPORT=rabbitmq"),
                "{error}"
            ),
        }
        let kafka = parse(&["--zipkin-transport=kafka", "--kafka-topic=t"]).unwrap();
        match kafka.tracing.destination() {
            #[cfg(feature = "kafka")]
            Ok(destination) => assert_eq!(
                destination,
                Destination::Kafka {
                    bootstrap_servers: "127.0.0.1:9092".parse().unwrap(),
                    topic: "t".parse().unwrap()
                }
            ),
            #[cfg(not(feature = "kafka"))]
            Ok(destination) => panic!("{destination:?} without the kafka feature"),
            #[cfg(feature = "kafka")]
            Err(error) => panic!("built with the kafka feature: {error}"),
            #[cfg(not(feature = "kafka"))]
            Err(error) => assert!(
                error.to_string().contains("ZIPKIN_TRANSPORT=kafka"),
                "{error}"
            ),
        }
    }

    #[test]
    fn the_transport_settings_are_read_from_the_zipkin_servers_variable_names() {
        // Setting variables would change the whole test process's environment; clap's
        // own record of each argument's variable is what it reads them by.
        let variables = [
            ("ZIPKIN_TRANSPORT", "--zipkin-transport"),
            ("RABBIT_URI", "--rabbit-uri"),
            ("RABBIT_QUEUE", "--rabbit-queue"),
            ("KAFKA_BOOTSTRAP_SERVERS", "--kafka-bootstrap-servers"),
            ("KAFKA_TOPIC", "--kafka-topic"),
            ("ZIPKIN_HEADERS", "--zipkin-headers"),
            ("ZIPKIN_COMPRESSION", "--zipkin-compression"),
        ];
        let command = <Command as clap::CommandFactory>::command();
        for (variable, flag) in variables {
            let arg = command
                .get_arguments()
                .find(|arg| arg.get_long() == flag.strip_prefix("--"))
                .unwrap_or_else(|| panic!("no {flag}"));
            assert_eq!(
                arg.get_env(),
                Some(std::ffi::OsStr::new(variable)),
                "{flag}"
            );
        }
    }
}
