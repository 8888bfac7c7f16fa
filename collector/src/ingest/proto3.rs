//! Reading a proto3 span list (`Content-Type: application/x-protobuf`) as Zipkin 3.6.1 does.
//!
//! The messages below mirror `zipkin.proto` from openzipkin/zipkin-api field for field;
//! `prost` decodes the wire format, and each span is then held to the same rules as a
//! JSON v2 span. Brave's `PROTO3` encoding and py_zipkin's `Encoding.V2_PROTO3` send this.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use prost::Message;
use zipkin_tracing::{Annotation, Endpoint, Kind, Span};

use super::json_v2::{BodyRefusal, Refusal, parent_id, refuse, span_id, trace_id};
use super::settle;

/// `zipkin.proto3.ListOfSpans`: the body of a POST, spans under field 1.
#[derive(Clone, PartialEq, Message)]
pub(super) struct ListOfSpans {
    #[prost(message, repeated, tag = "1")]
    pub(super) spans: Vec<ProtoSpan>,
}

/// `zipkin.proto3.Span`. Ids are raw bytes (8 or 16), `kind` is the enum's number
/// (0 unspecified, then CLIENT, SERVER, PRODUCER, CONSUMER), zero means absent.
#[derive(Clone, PartialEq, Message)]
pub(super) struct ProtoSpan {
    #[prost(bytes = "vec", tag = "1")]
    pub(super) trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub(super) parent_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub(super) id: Vec<u8>,
    #[prost(int32, tag = "4")]
    pub(super) kind: i32,
    #[prost(string, tag = "5")]
    pub(super) name: String,
    #[prost(fixed64, tag = "6")]
    pub(super) timestamp: u64,
    #[prost(uint64, tag = "7")]
    pub(super) duration: u64,
    #[prost(message, optional, tag = "8")]
    pub(super) local_endpoint: Option<ProtoEndpoint>,
    #[prost(message, optional, tag = "9")]
    pub(super) remote_endpoint: Option<ProtoEndpoint>,
    #[prost(message, repeated, tag = "10")]
    pub(super) annotations: Vec<ProtoAnnotation>,
    #[prost(btree_map = "string, string", tag = "11")]
    pub(super) tags: BTreeMap<String, String>,
    #[prost(bool, tag = "12")]
    pub(super) debug: bool,
    #[prost(bool, tag = "13")]
    pub(super) shared: bool,
}

/// `zipkin.proto3.Endpoint`: addresses as 4 or 16 raw bytes.
#[derive(Clone, PartialEq, Message)]
pub(super) struct ProtoEndpoint {
    #[prost(string, tag = "1")]
    pub(super) service_name: String,
    #[prost(bytes = "vec", tag = "2")]
    pub(super) ipv4: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub(super) ipv6: Vec<u8>,
    #[prost(int32, tag = "4")]
    pub(super) port: i32,
}

/// `zipkin.proto3.Annotation`.
#[derive(Clone, PartialEq, Message)]
pub(super) struct ProtoAnnotation {
    #[prost(fixed64, tag = "1")]
    pub(super) timestamp: u64,
    #[prost(string, tag = "2")]
    pub(super) value: String,
}

/// The first byte of a non-empty list: field 1 (a span), length-delimited.
const SPAN_KEY: u8 = (1 << 3) | 2;

/// Why a proto3 body is not a span list: malformed bytes, or span `index` breaks a rule.
#[derive(Debug)]
pub(super) enum ProtoRefusal {
    /// The body does not start with a span, as Zipkin checks first.
    NotAList,
    /// The bytes are not a `ListOfSpans`.
    Malformed(prost::DecodeError),
    /// Span `index` breaks a rule of the JSON v2 reader.
    Span(BodyRefusal),
}

/// Reads `body`, a `ListOfSpans`, into spans. An empty body is an empty list, as in Zipkin.
pub(super) fn read_proto3_span_list(body: &[u8]) -> Result<Vec<Span>, ProtoRefusal> {
    match body.first() {
        None => return Ok(Vec::new()),
        Some(&SPAN_KEY) => {}
        Some(_) => return Err(ProtoRefusal::NotAList),
    }
    let list = ListOfSpans::decode(body).map_err(ProtoRefusal::Malformed)?;
    list.spans
        .into_iter()
        .enumerate()
        .map(|(index, span)| {
            read_span(span)
                .map_err(|refusal| ProtoRefusal::Span(BodyRefusal::Span { index, refusal }))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// An id field as hex, with the JSON v2 rules then deciding whether it is valid.
fn id_hex(field: &str, bytes: &[u8], max_bytes: usize) -> Result<String, Refusal> {
    if bytes.len() > max_bytes {
        return Err(refuse(
            field,
            format!("{} bytes, more than {max_bytes}", bytes.len()),
        ));
    }
    Ok(hex(bytes))
}

fn read_span(proto: ProtoSpan) -> Result<Span, Refusal> {
    if proto.trace_id.is_empty() {
        return Err(refuse("traceId", "is required"));
    }
    if proto.id.is_empty() {
        return Err(refuse("id", "is required"));
    }
    let mut span = Span::new(
        trace_id(&id_hex("traceId", &proto.trace_id, 16)?)?,
        span_id(&id_hex("id", &proto.id, 8)?)?,
    );
    if !proto.parent_id.is_empty() {
        span.parent_id = parent_id(&id_hex("parentId", &proto.parent_id, 8)?)?;
    }
    // An unknown kind number is ignored, as Zipkin ignores it.
    span.kind = match proto.kind {
        1 => Some(Kind::Client),
        2 => Some(Kind::Server),
        3 => Some(Kind::Producer),
        4 => Some(Kind::Consumer),
        _ => None,
    };
    span.name = Some(proto.name).filter(|name| !name.is_empty());
    span.timestamp = Some(proto.timestamp).filter(|&t| t > 0);
    span.duration = Some(proto.duration).filter(|&d| d > 0);
    span.local_endpoint = endpoint("localEndpoint", proto.local_endpoint)?;
    span.remote_endpoint = endpoint("remoteEndpoint", proto.remote_endpoint)?;
    // Zipkin drops an annotation without a timestamp or value, and a tag without a key.
    span.annotations = proto
        .annotations
        .into_iter()
        .filter(|a| a.timestamp > 0 && !a.value.is_empty())
        .map(|a| Annotation {
            timestamp: a.timestamp,
            value: a.value,
        })
        .collect();
    span.tags = proto.tags;
    span.tags.remove("");
    span.debug = proto.debug;
    span.shared = proto.shared;
    Ok(settle(span))
}

/// An endpoint as Zipkin keeps it: an address of the wrong length is dropped, an IPv4
/// address written as IPv6 is IPv4, a port of zero is absent, one out of range refused.
fn endpoint(field: &str, proto: Option<ProtoEndpoint>) -> Result<Option<Endpoint>, Refusal> {
    let Some(proto) = proto else {
        return Ok(None);
    };
    let mut endpoint = Endpoint::default();
    if !proto.service_name.is_empty() {
        endpoint.service_name = Some(Arc::from(proto.service_name.as_str()));
    }
    for bytes in [&proto.ipv4, &proto.ipv6] {
        match address(bytes) {
            Some(IpAddr::V4(ip)) => endpoint.ipv4 = Some(ip),
            Some(IpAddr::V6(ip)) => endpoint.ipv6 = Some(ip),
            None => {}
        }
    }
    // Zipkin reads the port as a 32-bit varint: a negative int32 takes ten bytes on the
    // wire, which it refuses as malformed.
    if !(0..=i32::from(u16::MAX)).contains(&proto.port) {
        let problem = format!("invalid port {}", proto.port);
        return Err(refuse(&format!("{field}.port"), problem));
    }
    endpoint.port = u16::try_from(proto.port).ok().filter(|&port| port != 0);
    Ok((endpoint != Endpoint::default()).then_some(endpoint))
}

/// 4 bytes are IPv4; 16 are IPv6, or IPv4 when they embed one (`::ffff:a.b.c.d`, `::a.b.c.d`).
fn address(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(octets) = <[u8; 4]>::try_from(bytes) {
        return Some(IpAddr::V4(Ipv4Addr::from(octets)));
    }
    let ip = Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?);
    match ip.to_ipv4() {
        Some(v4) if !ip.is_loopback() && !ip.is_unspecified() => Some(IpAddr::V4(v4)),
        _ => Some(IpAddr::V6(ip)),
    }
}

#[cfg(test)]
mod tests;
