//! The HTTP transport: batches go to a Zipkin server as `POST /api/v2/spans`.
//!
//! The transport only POSTs an encoded batch and says how it went: a 2xx is sent, a 4xx
//! is a refusal that no retry can fix (except 408 and 429, which say "not now"), anything
//! else is a failure to retry. Queueing, batching and retrying are the pipeline's.

use std::time::Duration;

use bytes::Bytes;

use zipkin_tracing::describe_error;

use crate::config::{HttpCompression, HttpHeaders};
use crate::delivery::{Attempt, Transport};
use crate::destination::HttpEndpoint;

/// POSTs batches to one Zipkin endpoint. Clones share the client and its connections.
#[derive(Clone)]
pub(crate) struct HttpTransport {
    endpoint: HttpEndpoint,
    client: reqwest::Client,
    compression: HttpCompression,
}

impl HttpTransport {
    /// A transport to `endpoint`, whose calls carry `headers`, compress their bodies as
    /// `compression` says and give up after `timeout`.
    pub(crate) fn new(
        endpoint: HttpEndpoint,
        headers: &HttpHeaders,
        compression: HttpCompression,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .default_headers(headers.0.clone())
            .timeout(timeout)
            .build()?;
        Ok(HttpTransport {
            endpoint,
            client,
            compression,
        })
    }
}

impl Transport for HttpTransport {
    fn destination(&self) -> String {
        self.endpoint.to_string()
    }

    /// POSTs each batch in turn; a send carries one, as HTTP joins none
    /// ([`Transport::JOIN_BYTES`] is 0).
    async fn send(&mut self, batches: &[Bytes]) -> Attempt {
        for batch in batches {
            let attempt = self.post(batch.clone()).await;
            if !matches!(attempt, Attempt::Sent) {
                return attempt;
            }
        }
        Attempt::Sent
    }
}

impl HttpTransport {
    /// POSTs one batch.
    async fn post(&self, batch: Bytes) -> Attempt {
        let request = self
            .client
            .post(self.endpoint.url().clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            // `b3: 0` tells a traced proxy or collector not to trace this request, so the
            // reporter never reports its own reporting.
            .header("b3", "0");
        let request = match self.compression {
            HttpCompression::None => request.body(batch),
            HttpCompression::Gzip => request
                .header(http::header::CONTENT_ENCODING, "gzip")
                .body(gzip(&batch)),
        };
        let response = request.send().await;
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
                let hint =
                    if status == http::StatusCode::NOT_FOUND && !self.endpoint.is_zipkins_path() {
                        " (Zipkin takes spans at /api/v2/spans: is the endpoint's path right?)"
                    } else {
                        ""
                    };
                Attempt::Rejected(format!("{status}: {text:?}{hint}"))
            }
            Ok(response) => Attempt::Failed(format!("status {}", response.status())),
            Err(error) => Attempt::Failed(describe_error(&error)),
        }
    }
}

/// `body` gzip-compressed at the fastest level (1). Against the default level (6, which
/// Java's `GZIPOutputStream` in Brave's sender uses), it made bodies 36 bytes a span
/// instead of 32 for half the reporter's CPU time (`cargo run --release -p bench --bin
/// reporter -- --collector sink --compression gzip`, BENCHMARKS.md).
fn gzip(body: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    encoder
        .write_all(body)
        .and_then(|()| encoder.finish())
        .expect("compressing into a Vec never fails")
}
