//! The Zipkin v2 span model: the `Span` schema of Zipkin's `/api/v2/spans`, as Rust types.
//! A span is one host's view of one operation: when it started, how long it took, where it
//! sits in the tree and what kind of work it was. These types encode that schema and decode
//! it strictly, for the stand-in collector and for tests; the reporter writes the same JSON
//! straight from recorded spans, and property tests keep the two byte for byte equal.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::id::{SpanId, TraceId};

/// A span's role in a remote call, absent for in-process spans; [`Span`]'s example reads one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Kind {
    /// The caller's side of a request: from sending it until the response (or error).
    Client,
    /// The callee's side of a request: from receiving it until the response is sent.
    Server,
    /// Sending a message to a broker.
    Producer,
    /// Receiving a message from a broker.
    Consumer,
}

/// A node of the service graph: who recorded a span, or who was on the other side.
///
/// ```
/// use zipkin_tracing::Endpoint;
/// let peer = Endpoint::from_socket("[::ffff:10.0.0.7]:6000".parse().unwrap());
/// assert_eq!(serde_json::to_string(&peer).unwrap(), r#"{"ipv4":"10.0.0.7","port":6000}"#);
/// assert_eq!(Endpoint::service("service1").service_name.as_deref(), Some("service1"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// The service's name, the main label for finding traces. Shared between spans.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub service_name: Option<Arc<str>>,
    /// The IPv4 address, if known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ipv4: Option<Ipv4Addr>,
    /// The IPv6 address, if known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ipv6: Option<Ipv6Addr>,
    /// The port: the listen port locally, the peer's port remotely. Never zero.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub port: Option<u16>,
}

impl Endpoint {
    /// An endpoint known only by its service name.
    pub fn service(name: &str) -> Self {
        Endpoint {
            service_name: Some(Arc::from(name)),
            ..Endpoint::default()
        }
    }

    /// An endpoint known by its socket address (an IPv4-mapped IPv6 address counts as
    /// IPv4, as the Zipkin specification asks). A zero port is left out.
    pub fn from_socket(addr: std::net::SocketAddr) -> Self {
        let mut endpoint = Endpoint {
            port: (addr.port() != 0).then_some(addr.port()),
            ..Endpoint::default()
        };
        match addr.ip().to_canonical() {
            std::net::IpAddr::V4(ip) => endpoint.ipv4 = Some(ip),
            std::net::IpAddr::V6(ip) => endpoint.ipv6 = Some(ip),
        }
        endpoint
    }
}

/// An event inside a span, with the epoch microsecond at which it happened.
///
/// ```
/// use zipkin_tracing::Annotation;
/// let json = r#"{"timestamp":1700000000000000,"value":"retry"}"#;
/// let retry: Annotation = serde_json::from_str(json).unwrap();
/// assert_eq!((retry.timestamp, retry.value.as_str()), (1_700_000_000_000_000, "retry"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// Epoch microseconds of the event.
    pub timestamp: u64,
    /// A short, low-cardinality code for the event, such as `"retry"`.
    pub value: String,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// One finished span in Zipkin v2 form. Optional fields are left out of the JSON when
/// unset, and `debug`/`shared` appear only when true, as Zipkin's own encoder does.
///
/// ```
/// use zipkin_tracing::{Kind, Span};
/// let json = r#"{"traceId":"463ac35c9f6413ad","id":"a2fb4a1d1a96d312","kind":"SERVER"}"#;
/// let span: Span = serde_json::from_str(json).unwrap();
/// assert_eq!((span.kind, span.parent_id, span.shared), (Some(Kind::Server), None, false));
/// assert_eq!(serde_json::to_string(&span).unwrap(), json);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    /// The trace this span belongs to, shared by every span of the trace.
    pub trace_id: TraceId,
    /// The parent span, or absent for the trace's root.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub parent_id: Option<SpanId>,
    /// This span's id; a server joining its client's span reuses the client's id.
    pub id: SpanId,
    /// The role in a remote call; absent for local spans.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kind: Option<Kind>,
    /// The operation, low cardinality: `"GET /items/{id}"`, never `"GET /items/42"`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    /// Epoch microseconds at the start, from the wall clock.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub timestamp: Option<u64>,
    /// Microseconds from start to finish, from a monotonic clock; at least 1.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub duration: Option<u64>,
    /// Set when the trace was forced through sampling (`X-B3-Flags: 1`).
    #[serde(skip_serializing_if = "is_false", default)]
    pub debug: bool,
    /// Set when this host shares a span another host started (a server joining its client's).
    #[serde(skip_serializing_if = "is_false", default)]
    pub shared: bool,
    /// The host that recorded the span; always set by this library.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub local_endpoint: Option<Endpoint>,
    /// The other side of a remote call: a server span's client, a client span's server.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub remote_endpoint: Option<Endpoint>,
    /// Timestamped events.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub annotations: Vec<Annotation>,
    /// String key-value context, such as `http.method`. Sorted, so JSON output is stable.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub tags: BTreeMap<String, String>,
}

impl Span {
    /// A span with only its ids set, for building by hand (tests, the collector).
    pub fn new(trace_id: TraceId, id: SpanId) -> Self {
        Span {
            trace_id,
            parent_id: None,
            id,
            kind: None,
            name: None,
            timestamp: None,
            duration: None,
            debug: false,
            shared: false,
            local_endpoint: None,
            remote_endpoint: None,
            annotations: Vec::new(),
            tags: BTreeMap::new(),
        }
    }

    /// The local service name, if recorded.
    pub fn service_name(&self) -> Option<&str> {
        self.local_endpoint.as_ref()?.service_name.as_deref()
    }

    /// The tag `key`, if set.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }
}
