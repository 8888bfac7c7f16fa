//! Ingest: `POST /api/v2/spans` (JSON or proto3) and `POST /api/v1/spans` (JSON v1), plain
//! or gzip.
//!
//! A body is read as Zipkin 3.6.1 reads it into the shared span model: JSON v2 by
//! `json_v2` (short ids padded, numbers and text taken for each other, zero timings
//! absent), proto3 by `proto3` under the same rules, and JSON v1 by `json_v1`, converted to
//! the v2 spans Zipkin stores (`v1_span`). Any problem is a 400 whose text names the span
//! index and field; a body over the limit is a 413, checked again after decompression so
//! a small gzip "bomb" cannot expand in memory past the limit. A valid list, even an empty
//! one, is stored and answered 202.

mod json_v1;
mod json_v2;
mod proto3;
mod v1_span;

use std::io::Read;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flate2::read::MultiGzDecoder;
use serde_path_to_error::Segment;
use zipkin_tracing::{Kind, Span};

use crate::Collector;
use json_v1::read_v1_span_list;
pub(crate) use json_v2::normalise_trace_id;
use json_v2::{BodyRefusal, read_span_list};
use proto3::{ProtoRefusal, read_proto3_span_list};

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
    /// A body type this path does not take, such as thrift.
    #[error(
        "unsupported Content-Type {0:?}: this collector accepts JSON or protobuf at \
         /api/v2/spans and JSON at /api/v1/spans"
    )]
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
    read_span_list(json)
        .map_err(|refusal| invalid(refusal, "expected a JSON list of spans, starting with ["))
}

/// Decodes a JSON v1 span list (py_zipkin's `V1_JSON`) into the v2 spans Zipkin stores for
/// it: kind, timing and `shared` from the `cs`/`sr`/`ss`/`cr` annotations, tags from the
/// binary annotations, the remote endpoint from `sa`/`ca`/`ma` (see `v1_span`).
pub fn decode_v1_spans(json: &[u8]) -> Result<Vec<Span>, IngestError> {
    read_v1_span_list(json)
        .map_err(|refusal| invalid(refusal, "expected a JSON list of v1 spans, starting with ["))
}

/// Decodes a proto3 `ListOfSpans` (Brave's `PROTO3`, py_zipkin's `V2_PROTO3`), holding each
/// span to the rules of [`decode_spans`].
pub fn decode_proto3_spans(body: &[u8]) -> Result<Vec<Span>, IngestError> {
    read_proto3_span_list(body).map_err(|refusal| match refusal {
        ProtoRefusal::NotAList => IngestError::Invalid {
            at: "top level".to_owned(),
            problem: "expected a proto3 list of spans, starting with field 1".to_owned(),
        },
        ProtoRefusal::Malformed(error) => IngestError::Invalid {
            at: "the body".to_owned(),
            problem: format!("malformed proto3: {error}"),
        },
        ProtoRefusal::Span(refusal) => invalid(refusal, ""),
    })
}

/// The 400 for a refused body; `not_a_list` says what the body should have been.
fn invalid(refusal: BodyRefusal, not_a_list: &str) -> IngestError {
    match refusal {
        BodyRefusal::NotAList => IngestError::Invalid {
            at: "top level".to_owned(),
            problem: not_a_list.to_owned(),
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
    }
}

/// What Zipkin's span model does to every span it builds, whatever the format read: a
/// parent equal to the span's own id is none, `shared` on a client is dropped, and
/// annotations are sorted by time, then value, without repeats.
fn settle(mut span: Span) -> Span {
    if span.parent_id == Some(span.id) {
        span.parent_id = None;
    }
    if span.kind == Some(Kind::Client) {
        span.shared = false;
    }
    span.annotations
        .sort_by(|a, b| (a.timestamp, &a.value).cmp(&(b.timestamp, &b.value)));
    span.annotations.dedup();
    span
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

/// The formats a span list comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    JsonV2,
    Proto3,
    JsonV1,
}

/// The body's format at `/api/v2/spans`: proto3 when the type says protobuf, else JSON
/// (Zipkin reads a missing or other type as JSON). Thrift is refused.
fn v2_format(headers: &HeaderMap) -> Result<Format, IngestError> {
    match content_type(headers) {
        Some(kind) if kind.contains("protobuf") => Ok(Format::Proto3),
        Some(kind) if kind.contains("thrift") => Err(IngestError::UnsupportedType(kind)),
        _ => Ok(Format::JsonV2),
    }
}

/// The body's format at `/api/v1/spans`: JSON, whatever the type says but thrift (which
/// Zipkin decodes and this collector does not); Zipkin reads a protobuf type as JSON here.
fn v1_format(headers: &HeaderMap) -> Result<Format, IngestError> {
    match content_type(headers) {
        Some(kind) if kind.contains("thrift") => Err(IngestError::UnsupportedType(kind)),
        _ => Ok(Format::JsonV1),
    }
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    let kind = headers.get(header::CONTENT_TYPE)?;
    Some(String::from_utf8_lossy(kind.as_bytes()).to_ascii_lowercase())
}

/// The body's bytes, decompressed first if it says it is gzip.
fn body_bytes(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Vec<u8>, IngestError> {
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

/// Checks, decompresses, decodes and stores one POSTed body.
fn ingest(
    collector: &Collector,
    format: Result<Format, IngestError>,
    headers: &HeaderMap,
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
    let format = format?;
    let bytes = body_bytes(headers, body, limit)?;
    let spans = match format {
        Format::JsonV2 => decode_spans(&bytes)?,
        Format::Proto3 => decode_proto3_spans(&bytes)?,
        Format::JsonV1 => decode_v1_spans(&bytes)?,
    };
    collector.ingest(spans);
    Ok(StatusCode::ACCEPTED)
}

/// The `POST /api/v2/spans` handler: JSON v2, or proto3 by `Content-Type`. The router caps
/// the raw body at the configured limit (`DefaultBodyLimit`), which shows up here as a
/// rejection with status 413.
pub(crate) async fn post_spans(
    State(collector): State<Collector>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, IngestError> {
    ingest(&collector, v2_format(&headers), &headers, body)
}

/// The `POST /api/v1/spans` handler: JSON v1, stored as the v2 spans Zipkin makes of it.
pub(crate) async fn post_v1_spans(
    State(collector): State<Collector>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, IngestError> {
    ingest(&collector, v1_format(&headers), &headers, body)
}
