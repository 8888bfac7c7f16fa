//! Ingest: `POST /api/v2/spans`, a JSON list of Zipkin v2 spans, plain or gzip.
//!
//! The body is read as Zipkin 3.6.1 reads it (`json_v2`: short ids padded, numbers and
//! text taken for each other, zero timings absent) into the shared span model. Any problem
//! is a 400 whose text names the span index and field; a body over the limit
//! is a 413, checked again after decompression so a small gzip "bomb" cannot expand in
//! memory past the limit. A valid list, even an empty one, is stored and answered 202.

mod json_v2;

use std::io::Read;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flate2::read::MultiGzDecoder;
use serde_path_to_error::Segment;
use zipkin_tracing::Span;

use crate::Collector;
pub(crate) use json_v2::normalise_trace_id;
use json_v2::{BodyRefusal, read_span_list};

/// Why a `POST /api/v2/spans` body was refused.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The body as sent is larger than the configured limit (in bytes).
    #[error("request body exceeds the limit of {0} bytes")]
    TooLarge(usize),
    /// The gzip body inflates past the configured limit (in bytes).
    #[error("request body exceeds the limit of {0} bytes once decompressed")]
    InflatesTooLarge(usize),
    /// The body was declared gzip but is not valid gzip.
    #[error("invalid gzip body: {0}")]
    Gzip(#[source] std::io::Error),
    /// A `Content-Encoding` other than gzip or identity.
    #[error("unsupported Content-Encoding {0:?}: send gzip or no encoding")]
    UnsupportedEncoding(String),
    /// A body type other than JSON, such as protobuf.
    #[error("unsupported Content-Type {0:?}: this collector accepts only JSON")]
    UnsupportedType(String),
    /// The body is not a JSON list of valid spans; `at` names the span and field.
    #[error("invalid span list: {at}: {problem}")]
    Invalid {
        /// Where the problem is, such as `span 2, field traceId`.
        at: String,
        /// What is wrong, as the decoder explains it.
        problem: String,
    },
}

impl IngestError {
    /// The HTTP status that answers this error.
    pub fn status(&self) -> StatusCode {
        match self {
            IngestError::TooLarge(_) | IngestError::InflatesTooLarge(_) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            IngestError::UnsupportedEncoding(_) | IngestError::UnsupportedType(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            IngestError::Gzip(_) | IngestError::Invalid { .. } => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        tracing::debug!(error = %self, "refused spans");
        (self.status(), self.to_string()).into_response()
    }
}

/// Decodes a JSON v2 span list as Zipkin reads it (see `json_v2`): ids are padded, text
/// and number fields take either form, values Zipkin treats as absent (a zero timestamp,
/// duration or port, an empty name) are left out.
pub fn decode_spans(json: &[u8]) -> Result<Vec<Span>, IngestError> {
    read_span_list(json).map_err(|refusal| match refusal {
        BodyRefusal::NotAList => IngestError::Invalid {
            at: "top level".to_owned(),
            problem: "expected a JSON list of spans, starting with [".to_owned(),
        },
        BodyRefusal::Json { path, problem } => IngestError::Invalid {
            at: describe_path(&path),
            problem,
        },
        BodyRefusal::Span { index, refusal } if refusal.field.is_empty() => IngestError::Invalid {
            at: format!("span {index}"),
            problem: refusal.problem,
        },
        BodyRefusal::Span { index, refusal } => IngestError::Invalid {
            at: format!("span {index}, field {}", refusal.field),
            problem: refusal.problem,
        },
    })
}

/// Decompresses a gzip body, refusing it as soon as the output passes `limit` bytes.
pub fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, IngestError> {
    let mut json = Vec::new();
    // Read one byte past the limit: enough to know it was exceeded, never more.
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    MultiGzDecoder::new(body)
        .take(cap)
        .read_to_end(&mut json)
        .map_err(IngestError::Gzip)?;
    if json.len() > limit {
        return Err(IngestError::InflatesTooLarge(limit));
    }
    Ok(json)
}

/// Renders a decoder path such as `[2].tags.http.path` as `span 2, field tags."http.path"`.
fn describe_path(path: &serde_path_to_error::Path) -> String {
    let mut segments = path.iter();
    let span = match segments.next() {
        Some(Segment::Seq { index }) => format!("span {index}"),
        _ => return "top level".to_owned(),
    };
    let field: Vec<String> = segments
        .map(|segment| match segment {
            Segment::Map { key } | Segment::Enum { variant: key }
                if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                key.clone()
            }
            Segment::Map { key } | Segment::Enum { variant: key } => format!("{key:?}"),
            Segment::Seq { index } => index.to_string(),
            Segment::Unknown => "?".to_owned(),
        })
        .collect();
    if field.is_empty() {
        span
    } else {
        format!("{span}, field {}", field.join("."))
    }
}

/// Reads the body as JSON, decompressing it first if it says it is gzip.
fn body_json(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Vec<u8>, IngestError> {
    if let Some(kind) = headers.get(header::CONTENT_TYPE) {
        let kind = String::from_utf8_lossy(kind.as_bytes()).to_ascii_lowercase();
        if kind.contains("protobuf") || kind.contains("thrift") {
            return Err(IngestError::UnsupportedType(kind));
        }
    }
    let encoding = headers.get(header::CONTENT_ENCODING).map(|value| {
        String::from_utf8_lossy(value.as_bytes())
            .trim()
            .to_ascii_lowercase()
    });
    match encoding.as_deref() {
        None | Some("" | "identity") => Ok(body.into()),
        Some("gzip" | "x-gzip") => gunzip(&body, limit),
        Some(other) => Err(IngestError::UnsupportedEncoding(other.to_owned())),
    }
}

/// The `POST /api/v2/spans` handler. The router caps the raw body at the configured limit
/// (`DefaultBodyLimit`), which shows up here as a rejection with status 413.
pub(crate) async fn post_spans(
    State(collector): State<Collector>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, IngestError> {
    let limit = collector.config().body_limit;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => IngestError::TooLarge(limit),
        _ => IngestError::Invalid {
            at: "the body".to_owned(),
            problem: rejection.body_text(),
        },
    })?;
    let json = body_json(&headers, body, limit)?;
    let spans = decode_spans(&json)?;
    collector.ingest(spans);
    Ok(StatusCode::ACCEPTED)
}
