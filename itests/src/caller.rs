//! An upstream caller of service1: a span of its own whose B3 headers it sends.
//!
//! Propagation tests play the part of a traced client in front of service1. [`Caller`]
//! holds the ids such a client would have and writes them in either B3 form; [`call`]
//! sends `GET /` with any headers and returns the trace id service1 reports using.

use anyhow::Context as _;
use zipkin_tracing::{SpanId, TraceId};

/// Request headers as name and value, in the order they are sent.
pub type Headers = Vec<(&'static str, String)>;

/// The ids of the caller's span, which service1's SERVER span joins.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// The caller's trace id: 128-bit or 64-bit.
    pub trace_id: TraceId,
    /// The caller's span id, which service1 joins.
    pub span_id: SpanId,
    /// The caller's parent, which service1's joined span keeps as its parent.
    pub parent_id: SpanId,
}

impl Caller {
    /// A caller with random ids and a 128-bit (`wide`) or 64-bit trace id.
    pub fn new(wide: bool) -> Self {
        Caller {
            trace_id: if wide {
                TraceId::random_128()
            } else {
                TraceId::random_64()
            },
            span_id: SpanId::random(),
            parent_id: SpanId::random(),
        }
    }

    /// The multi-header form, with `sampled` as `X-B3-Sampled` (absent when `None`).
    pub fn multi(&self, sampled: Option<&str>) -> Headers {
        let mut headers = vec![
            ("X-B3-TraceId", self.trace_id.to_string()),
            ("X-B3-SpanId", self.span_id.to_string()),
            ("X-B3-ParentSpanId", self.parent_id.to_string()),
        ];
        if let Some(sampled) = sampled {
            headers.push(("X-B3-Sampled", sampled.to_owned()));
        }
        headers
    }

    /// The single-header form `b3: {trace}-{span}-{sampling}-{parent}`.
    pub fn single(&self, sampling: &str) -> Headers {
        let value = format!(
            "{}-{}-{sampling}-{}",
            self.trace_id, self.span_id, self.parent_id
        );
        vec![("b3", value)]
    }
}

/// Sends `GET url` with `headers`; fails unless the answer is 200 with an `x-trace-id`,
/// and returns that trace id.
pub async fn call(url: &str, headers: &[(&str, String)]) -> anyhow::Result<TraceId> {
    let mut request = reqwest::Client::new().get(url);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("GET {url} with {headers:?}"))?;
    anyhow::ensure!(
        response.status() == reqwest::StatusCode::OK,
        "GET {url} with {headers:?} answered {}",
        response.status()
    );
    crate::trace_id_of(&response)
}
