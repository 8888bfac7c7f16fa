//! A mock Zipkin collector on wiremock: it accepts `POST /api/v2/spans` and remembers bodies.
//!
//! The services cannot tell it from Zipkin's ingestion endpoint (it answers 202 like
//! Zipkin). Tests read back what arrived, decoded strictly into [`Span`]s, so a malformed
//! report fails the test instead of being skipped.

use anyhow::Context as _;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use zipkin_tracing::{Span, TraceId};

/// The path Zipkin ingests v2 spans on.
pub const SPANS_PATH: &str = "/api/v2/spans";

/// A wiremock server standing in for Zipkin's span ingestion.
#[derive(Debug)]
pub struct MockCollector {
    server: MockServer,
}

impl MockCollector {
    /// Starts the mock on a free local port.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(SPANS_PATH))
            .respond_with(ResponseTemplate::new(202))
            .mount(&server)
            .await;
        MockCollector { server }
    }

    /// The URL to give services as `ZIPKIN_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("{}{SPANS_PATH}", self.server.uri())
    }

    /// Every span received so far, in arrival order. Fails if a body is not a JSON list of
    /// valid Zipkin v2 spans, or if anything other than span reports arrived.
    pub async fn spans(&self) -> anyhow::Result<Vec<Span>> {
        let requests = self
            .server
            .received_requests()
            .await
            .context("wiremock was started without request recording")?;
        let mut spans = Vec::new();
        for (index, request) in requests.iter().enumerate() {
            anyhow::ensure!(
                request.method.as_str() == "POST" && request.url.path() == SPANS_PATH,
                "request {index} to the collector was {} {}, not POST {SPANS_PATH}",
                request.method,
                request.url
            );
            let batch: Vec<Span> = serde_json::from_slice(&request.body).with_context(|| {
                format!(
                    "request {index} to the collector is not a list of Zipkin v2 spans: {}",
                    String::from_utf8_lossy(&request.body)
                )
            })?;
            spans.extend(batch);
        }
        Ok(spans)
    }

    /// The spans received so far that belong to `trace_id`.
    pub async fn spans_of(&self, trace_id: TraceId) -> anyhow::Result<Vec<Span>> {
        let mut spans = self.spans().await?;
        spans.retain(|span| span.trace_id == trace_id);
        Ok(spans)
    }

    /// The request headers of every report, for checks on how spans are sent.
    pub async fn report_headers(&self) -> anyhow::Result<Vec<wiremock::http::HeaderMap>> {
        let requests = self
            .server
            .received_requests()
            .await
            .context("wiremock was started without request recording")?;
        Ok(requests
            .into_iter()
            .map(|request| request.headers)
            .collect())
    }
}
