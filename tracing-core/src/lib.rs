//! Zipkin tracing for axum and reqwest.
pub mod id;
pub mod span;
pub use id::{IdParseError, SpanId, TraceId};
pub use span::{Annotation, Endpoint, Kind, Span};
