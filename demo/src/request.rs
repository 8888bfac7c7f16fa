//! The article's request, sent as a user sends it: `GET /` on service1 without trace
//! headers, so service1 starts the trace and names it in its `x-trace-id` response header.

use std::time::{Duration, Instant};

use zipkin_tracing::TraceId;

use crate::error::DemoError;

/// service1's answer to the article's request.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The status line's code and reason, e.g. `200 OK`.
    pub status: String,
    /// The status code alone, e.g. `200`.
    pub code: u16,
    /// Whether the status is 2xx.
    pub success: bool,
    /// How long the whole response took, body included.
    pub took: Duration,
    /// The trace the request made, from `x-trace-id`.
    pub trace_id: TraceId,
}

/// Sends `GET url` with no trace headers, reads the whole response (so that its spans are
/// finished before the trace is looked up), and returns the status and trace id. Any
/// status is an answer as long as the trace id is there: a failed trace is worth seeing
/// too. Gives up after `timeout`.
pub async fn article_request(url: &str, timeout: Duration) -> Result<Answer, DemoError> {
    request_with(url, &[], timeout).await
}

/// [`article_request`] from a caller that sends `headers` (a lesson's trace headers).
pub(crate) async fn request_with(
    url: &str,
    headers: &[(&'static str, String)],
    timeout: Duration,
) -> Result<Answer, DemoError> {
    let failed = |error: reqwest::Error| DemoError::Request {
        url: url.to_owned(),
        reason: zipkin_tracing::describe_error(&error),
    };
    let client = reqwest::Client::builder()
        // The request goes to loopback: never through a proxy from the environment.
        .no_proxy()
        .timeout(timeout)
        .build()
        .map_err(failed)?;
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let started = Instant::now();
    let response = request.send().await.map_err(failed)?;
    let status = response.status();
    let trace_id = trace_id_header(&response);
    response.bytes().await.map_err(failed)?;
    let Some(trace_id) = trace_id else {
        return Err(DemoError::NoTraceId {
            url: url.to_owned(),
            status: status.to_string(),
        });
    };
    Ok(Answer {
        status: status.to_string(),
        code: status.as_u16(),
        success: status.is_success(),
        took: started.elapsed(),
        trace_id,
    })
}

/// How long the article's request may take when it should take `expected`: twice that,
/// and half a minute more for a busy machine.
pub fn request_timeout(expected: Duration) -> Duration {
    expected.saturating_mul(2) + Duration::from_secs(30)
}

/// The trace id service1 put in its response's `x-trace-id` header, if any.
fn trace_id_header(response: &reqwest::Response) -> Option<TraceId> {
    response
        .headers()
        .get(service1::TRACE_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse().ok())
}
