//! One way to read a trace back, whatever collected it, and waiting for it to arrive.
//!
//! [`TraceSource`] is implemented by the [`CollectorDouble`](crate::CollectorDouble) and by [`ZipkinApi`],
//! a client of Zipkin's query API that works against a real Zipkin and against the
//! project's stand-in collector alike. Spans arrive about a second after a request (the
//! reporter batches), so [`wait_for_trace`] polls with a deadline instead of sleeping.

use std::fmt::Write as _;
use std::future::Future;
use std::time::Duration;

use anyhow::Context as _;
use zipkin_tracing::{Span, TraceId};

/// How long [`wait_for_trace`] waits by default: the reporter's 1 s batch interval, plus
/// plenty of room for a busy machine.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

/// The pause between two polls.
pub const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Anything that can return the spans of one trace received so far.
pub trait TraceSource {
    /// The spans of trace `id` received so far; an empty list if none (yet).
    fn trace(&self, id: TraceId) -> impl Future<Output = anyhow::Result<Vec<Span>>> + Send;
}

/// A client of Zipkin's query API, `GET {base}/api/v2/trace/{traceId}`: a real Zipkin or
/// the stand-in collector.
#[derive(Debug, Clone)]
pub struct ZipkinApi {
    base: String,
    client: reqwest::Client,
}

impl ZipkinApi {
    /// A client for the server at `base`, e.g. `http://127.0.0.1:9411`.
    pub fn new(base: impl Into<String>) -> Self {
        let base = base.into().trim_end_matches('/').to_owned();
        ZipkinApi {
            base,
            client: reqwest::Client::new(),
        }
    }

    /// The server's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The span endpoint of the same server, to give services as `ZIPKIN_ENDPOINT`.
    pub fn spans_endpoint(&self) -> String {
        format!("{}/api/v2/spans", self.base)
    }
}

impl TraceSource for ZipkinApi {
    async fn trace(&self, id: TraceId) -> anyhow::Result<Vec<Span>> {
        let url = format!("{}/api/v2/trace/{id}", self.base);
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        // Zipkin answers 404 until some span of the trace has been stored.
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let body = response
            .bytes()
            .await
            .with_context(|| format!("GET {url}: reading the body"))?;
        anyhow::ensure!(
            status.is_success(),
            "GET {url} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).with_context(|| {
            format!(
                "GET {url} did not answer a list of Zipkin v2 spans: {}",
                String::from_utf8_lossy(&body)
            )
        })
    }
}

/// Polls `source` until trace `id` has at least `count` spans, then returns them; fails
/// after `deadline` with a list of what did arrive.
pub async fn wait_for_trace_within(
    source: &impl TraceSource,
    id: TraceId,
    count: usize,
    deadline: Duration,
) -> anyhow::Result<Vec<Span>> {
    let give_up_at = tokio::time::Instant::now() + deadline;
    loop {
        let spans = source.trace(id).await?;
        if spans.len() >= count {
            return Ok(spans);
        }
        if tokio::time::Instant::now() >= give_up_at {
            anyhow::bail!(
                "trace {id}: expected {count} spans within {deadline:?}, got {}:\n{}",
                spans.len(),
                describe_spans(&spans)
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// [`wait_for_trace_within`] with [`DEFAULT_DEADLINE`].
pub async fn wait_for_trace(
    source: &impl TraceSource,
    id: TraceId,
    count: usize,
) -> anyhow::Result<Vec<Span>> {
    wait_for_trace_within(source, id, count, DEFAULT_DEADLINE).await
}

/// Polls `probe` until it returns `Some`, or fails after `deadline`, naming `what` was
/// awaited and the last thing `probe` saw (its `Err` text).
pub async fn wait_until<T, F, Fut>(
    what: &str,
    deadline: Duration,
    mut probe: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let give_up_at = tokio::time::Instant::now() + deadline;
    loop {
        let last = match probe().await {
            Ok(value) => return Ok(value),
            Err(last) => last,
        };
        if tokio::time::Instant::now() >= give_up_at {
            anyhow::bail!("gave up waiting for {what} after {deadline:?}; last: {last}");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// One line per span: ids, kind, service and name, for failure messages.
pub fn describe_spans(spans: &[Span]) -> String {
    let mut text = String::new();
    for span in spans {
        let _ = writeln!(
            text,
            "  trace {} id {} parent {} {:<6} {:>10} {:?} ts {:?} dur {:?}{}{}",
            span.trace_id,
            span.id,
            span.parent_id
                .map_or_else(|| "-".repeat(16), |parent| parent.to_string()),
            span.kind
                .map_or("local".to_owned(), |kind| format!("{kind:?}")),
            span.service_name().unwrap_or("?"),
            span.name.as_deref().unwrap_or("?"),
            span.timestamp,
            span.duration,
            if span.shared { " shared" } else { "" },
            if span.debug { " debug" } else { "" },
        );
    }
    if text.is_empty() {
        text.push_str("  (no spans)\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    #[tokio::test]
    async fn zipkin_api_reads_a_trace_and_treats_404_as_not_yet() {
        let server = MockServer::start().await;
        let known: TraceId = "463ac35c9f6413ad48485a3953bb6124".parse().unwrap();
        let missing: TraceId = "0000000000000001".parse().unwrap();
        let mut span = Span::new(known, "a2fb4a1d1a96d312".parse().unwrap());
        span.name = Some("get /".into());
        Mock::given(method("GET"))
            .and(path(format!("/api/v2/trace/{known}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(vec![span.clone()]))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/api/v2/trace/{missing}")))
            .respond_with(ResponseTemplate::new(404))
            .mount(&server)
            .await;
        let api = ZipkinApi::new(format!("{}/", server.uri()));
        assert_eq!(api.trace(known).await.unwrap(), vec![span]);
        assert_eq!(api.trace(missing).await.unwrap(), Vec::new());
        let error = wait_for_trace_within(&api, missing, 1, Duration::from_millis(100))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("expected 1 spans"), "{error}");
    }
}
