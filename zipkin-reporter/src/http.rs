//! The HTTP transport: batches go to a Zipkin server as `POST /api/v2/spans`.
//!
//! The transport only POSTs one encoded batch and says how it went: a 2xx is sent, a 4xx
//! is a refusal that no retry can fix (except 408 and 429, which say "not now"), anything
//! else is a failure to retry. Queueing, batching and retrying are the pipeline's.

use std::time::Duration;

use bytes::Bytes;

use zipkin_tracing::describe_error;

use crate::delivery::{Attempt, Transport};

/// Where Zipkin takes spans, after its address: a URL without it is a server's address.
pub(crate) const SPANS_PATH: &str = "/api/v2/spans";

/// Parses the spans endpoint, an absolute `http://` URL with a path, such as
/// `http://127.0.0.1:9411/api/v2/spans`. reqwest is built without TLS to keep the build
/// small and free of C code, so `https://` is refused here, at start-up, rather than
/// failing on every call; so is a server's bare address, which would answer every batch
/// with a 404. The error says what is wrong.
pub(crate) fn parse_endpoint(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "http" if url.host_str().is_some_and(|h| !h.is_empty()) && url.path() == "/" => {
            Err(format!(
                "the URL has no path: Zipkin takes spans at {SPANS_PATH}, \
                 e.g. {}",
                url.join(SPANS_PATH)
                    .map_or_else(|_| SPANS_PATH.to_owned(), String::from)
            ))
        }
        "http" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(url),
        "http" => Err("the URL has no host".to_owned()),
        "https" => Err("https is not supported (built without TLS): use http://, \
             or a TLS-terminating proxy next to the service"
            .to_owned()),
        other => Err(format!("the scheme must be http, not {other}")),
    }
}

/// POSTs batches to one Zipkin endpoint. Clones share the client and its connections.
#[derive(Clone)]
pub(crate) struct HttpTransport {
    url: reqwest::Url,
    client: reqwest::Client,
}

impl HttpTransport {
    /// A transport to `url`, whose calls give up after `timeout`.
    pub(crate) fn new(url: reqwest::Url, timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(HttpTransport { url, client })
    }
}

impl Transport for HttpTransport {
    fn destination(&self) -> String {
        self.url.to_string()
    }

    async fn send(&mut self, batch: Bytes) -> Attempt {
        let response = self
            .client
            .post(self.url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            // `b3: 0` tells a traced proxy or collector not to trace this request, so the
            // reporter never reports its own reporting.
            .header("b3", "0")
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
                let hint = if status == http::StatusCode::NOT_FOUND
                    && !self.url.path().ends_with(SPANS_PATH)
                {
                    format!(" (Zipkin takes spans at {SPANS_PATH}; is the endpoint right?)")
                } else {
                    String::new()
                };
                Attempt::Rejected(format!("{status}: {text:?}{hint}"))
            }
            Ok(response) => Attempt::Failed(format!("status {}", response.status())),
            Err(error) => Attempt::Failed(describe_error(&error)),
        }
    }
}
