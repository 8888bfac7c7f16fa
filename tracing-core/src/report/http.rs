//! The HTTP transport: batches go to a Zipkin server as `POST /api/v2/spans`.
//!
//! [`HttpReporter`] is the reporter a service uses: the shared batching pipeline
//! (queue, batches, retries, counters, flush) with this transport at its end. The
//! transport only POSTs one encoded batch and says how it went: a 2xx is sent, a 4xx is a
//! refusal that no retry can fix (except 408 and 429, which say "not now"), anything else
//! is a failure to retry.

use std::time::Duration;

use bytes::Bytes;

use super::Report;
use super::batching::{Attempt, Batching, Pipeline, ReporterStats, Transport};
use crate::record::FinishedSpan;

/// Parses an absolute `http://` URL, the only kind this library calls: reqwest is built
/// without TLS to keep the build small and free of C code, so `https://` is refused here,
/// at start-up, rather than failing on every call. The error says what is wrong.
pub fn parse_http_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "http" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(url),
        "http" => Err("the URL has no host".to_owned()),
        "https" => Err("https is not supported (built without TLS): use http://, \
             or a TLS-terminating proxy next to the service"
            .to_owned()),
        other => Err(format!("the scheme must be http, not {other}")),
    }
}

/// Describes a failed call by its root cause (`"Connection refused (os error 111)"`,
/// `"operation timed out"`) rather than reqwest's generic outer message: what the
/// reporter logs for an outage, and what a CLIENT span's `error` tag says.
pub fn describe_error(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let root = cause.to_string();
    if error.is_timeout() && !root.contains("timed out") {
        format!("timeout: {root}")
    } else {
        root
    }
}

/// Settings of an [`HttpReporter`]. The defaults follow the project's reporter rules.
#[derive(Debug, Clone)]
pub struct HttpReporterConfig {
    /// Where to POST spans, e.g. `http://127.0.0.1:9411/api/v2/spans`.
    pub endpoint: String,
    /// Spans waiting to be sent, at most; more are dropped and counted. Default 10,000.
    pub queue_capacity: usize,
    /// Spans per POST, at most. Default 100.
    pub batch_size: usize,
    /// How long a span waits, at most, for a batch to fill before what is queued is sent.
    /// Default 1 s.
    pub batch_interval: Duration,
    /// Time limit of one POST, connection included. Default 5 s.
    pub request_timeout: Duration,
    /// How long a batch is retried after failures before it is given up. Default 30 s.
    pub retry_window: Duration,
    /// The first pause between retries; it doubles up to `max_backoff`. Default 100 ms.
    pub initial_backoff: Duration,
    /// The longest pause between retries. Default 5 s.
    pub max_backoff: Duration,
}

impl HttpReporterConfig {
    /// The default settings for `endpoint`.
    pub fn new(endpoint: impl Into<String>) -> Self {
        HttpReporterConfig {
            endpoint: endpoint.into(),
            queue_capacity: 10_000,
            batch_size: 100,
            batch_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            retry_window: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// The reporter cannot start with this configuration.
#[derive(Debug, thiserror::Error)]
pub enum ReporterError {
    /// The endpoint is not an absolute `http://` URL.
    #[error("invalid Zipkin endpoint {endpoint:?}: {reason}")]
    BadEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A size setting is zero.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// The sending thread or its runtime could not be started.
    #[error("cannot start the reporter's thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Sends spans to a Zipkin-compatible collector (`POST /api/v2/spans`) in the background.
///
/// The sending runs on a thread of its own (`zipkin-reporter`), with its own
/// single-threaded tokio runtime: encoding and sending spans then never take a turn from
/// the service's request handlers, as with Brave's `AsyncReporter` and OpenTelemetry's
/// batch processor. Clones share the queue; the thread ends when the last clone is gone
/// and the queue is empty.
#[derive(Debug, Clone)]
pub struct HttpReporter {
    pipeline: Pipeline,
}

impl HttpReporter {
    /// Starts the reporter and its sending thread.
    pub fn start(config: HttpReporterConfig) -> Result<Self, ReporterError> {
        let url =
            parse_http_url(&config.endpoint).map_err(|reason| ReporterError::BadEndpoint {
                endpoint: config.endpoint.clone(),
                reason,
            })?;
        if config.queue_capacity == 0 {
            return Err(ReporterError::Zero("queue capacity"));
        }
        if config.batch_size == 0 {
            return Err(ReporterError::Zero("batch size"));
        }
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .build()?;
        let batching = Batching {
            batch_size: config.batch_size,
            batch_interval: config.batch_interval,
            retry_window: config.retry_window,
            initial_backoff: config.initial_backoff,
            max_backoff: config.max_backoff,
        };
        let transport = HttpTransport { url, client };
        let pipeline = Pipeline::start(
            config.queue_capacity,
            batching,
            transport,
            "zipkin-reporter",
        )
        .map_err(ReporterError::Thread)?;
        Ok(HttpReporter { pipeline })
    }

    /// The counters so far.
    pub fn stats(&self) -> ReporterStats {
        self.pipeline.stats()
    }

    /// Sends what is queued now and waits until every span queued before this call has
    /// been sent or given up, for at most `timeout`. Returns `false` on timeout.
    pub async fn flush(&self, timeout: Duration) -> bool {
        self.pipeline.flush(timeout).await
    }
}

impl Report for HttpReporter {
    fn report(&self, span: FinishedSpan) {
        self.pipeline.hand_off(span);
    }
}

/// POSTs batches to one Zipkin endpoint.
struct HttpTransport {
    url: reqwest::Url,
    client: reqwest::Client,
}

impl Transport for HttpTransport {
    fn destination(&self) -> String {
        self.url.to_string()
    }

    async fn send(&self, batch: Bytes) -> Attempt {
        let response = self
            .client
            .post(self.url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            // `b3: 0` tells a traced proxy or collector not to trace this request, so the
            // reporter never reports its own reporting.
            .header(crate::b3::SINGLE, "0")
            .body(batch)
            .send()
            .await;
        match response {
            Ok(response) if response.status().is_success() => Attempt::Sent,
            // 408 and 429 say "not now" (a busy collector), not "never": retried like a 5xx.
            Ok(response)
                if response.status().is_client_error()
                    && response.status() != http::StatusCode::REQUEST_TIMEOUT
                    && response.status() != http::StatusCode::TOO_MANY_REQUESTS =>
            {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let text: String = text.chars().take(200).collect();
                Attempt::Rejected(format!("{status}: {text:?}"))
            }
            Ok(response) => Attempt::Failed(format!("status {}", response.status())),
            Err(error) => Attempt::Failed(describe_error(&error)),
        }
    }
}
