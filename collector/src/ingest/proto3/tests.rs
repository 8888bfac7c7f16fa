//! The proto3 decoder against messages written as zipkin.proto lays them out.

use super::*;

/// The message a proto3 encoder such as Brave's writes for `span`.
fn to_proto(span: &Span) -> ProtoSpan {
    let hex_bytes = |hex: &str| {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
    };
    let endpoint = |e: &Option<Endpoint>| {
        e.as_ref().map(|e| ProtoEndpoint {
            service_name: e.service_name.as_deref().unwrap_or("").to_owned(),
            ipv4: e.ipv4.map(|ip| ip.octets().to_vec()).unwrap_or_default(),
            ipv6: e.ipv6.map(|ip| ip.octets().to_vec()).unwrap_or_default(),
            port: e.port.map_or(0, i32::from),
        })
    };
    ProtoSpan {
        trace_id: hex_bytes(&span.trace_id.to_string()),
        parent_id: span
            .parent_id
            .map(|id| hex_bytes(&id.to_string()))
            .unwrap_or_default(),
        id: hex_bytes(&span.id.to_string()),
        kind: match span.kind {
            None => 0,
            Some(Kind::Client) => 1,
            Some(Kind::Server) => 2,
            Some(Kind::Producer) => 3,
            Some(Kind::Consumer) => 4,
        },
        name: span.name.clone().unwrap_or_default(),
        timestamp: span.timestamp.unwrap_or(0),
        duration: span.duration.unwrap_or(0),
        local_endpoint: endpoint(&span.local_endpoint),
        remote_endpoint: endpoint(&span.remote_endpoint),
        annotations: (span.annotations.iter())
            .map(|a| ProtoAnnotation {
                timestamp: a.timestamp,
                value: a.value.clone(),
            })
            .collect(),
        tags: span.tags.clone(),
        debug: span.debug,
        shared: span.shared,
    }
}

fn full_span() -> Span {
    let mut span = Span::new(
        "463ac35c9f6413ad48485a3953bb6124".parse().unwrap(),
        "a2fb4a1d1a96d312".parse().unwrap(),
    );
    span.parent_id = Some("0f00000000000001".parse().unwrap());
    span.kind = Some(Kind::Server);
    span.name = Some("GET /service/".to_owned());
    span.timestamp = Some(1_556_604_172_355_737);
    span.duration = Some(1_431);
    span.debug = true;
    span.shared = true;
    span.local_endpoint = Some(Endpoint {
        service_name: Some(Arc::from("service2")),
        ipv4: Some(Ipv4Addr::new(10, 0, 0, 2)),
        ipv6: Some("2001:db8::c001".parse().unwrap()),
        port: Some(6000),
    });
    span.remote_endpoint = Some(Endpoint {
        service_name: Some(Arc::from("service1")),
        port: Some(54321),
        ..Endpoint::default()
    });
    span.annotations = vec![
        Annotation {
            timestamp: 1_556_604_172_355_800,
            value: "wr".to_owned(),
        },
        Annotation {
            timestamp: 1_556_604_172_355_900,
            value: "ws".to_owned(),
        },
    ];
    span.tags
        .insert("http.path".to_owned(), "/service/".to_owned());
    span.tags.insert("error".to_owned(), String::new());
    span
}

fn encode(spans: Vec<ProtoSpan>) -> Vec<u8> {
    ListOfSpans { spans }.encode_to_vec()
}

#[test]
fn every_field_survives_a_round_trip() {
    let span = full_span();
    let mut short = Span::new("000000000000000a".parse().unwrap(), span.id);
    short.local_endpoint = span.remote_endpoint.clone();
    let body = encode(vec![to_proto(&span), to_proto(&short)]);
    assert_eq!(read_proto3_span_list(&body).unwrap(), vec![span, short]);
}

#[test]
fn zipkins_proto_rules_hold() {
    let mut proto = to_proto(&full_span());
    proto.kind = 9; // unknown: ignored
    proto.parent_id = proto.id.clone(); // its own id: no parent
    proto.annotations.push(ProtoAnnotation {
        timestamp: 0,
        value: "x".to_owned(),
    });
    proto.annotations.push(ProtoAnnotation {
        timestamp: 5,
        value: String::new(),
    });
    proto.tags.insert(String::new(), "no key".to_owned());
    let endpoint = proto.local_endpoint.as_mut().unwrap();
    endpoint.ipv4 = vec![1, 2, 3]; // not an address: dropped
    endpoint.ipv6 = Ipv4Addr::new(10, 0, 0, 3)
        .to_ipv6_mapped()
        .octets()
        .to_vec();
    endpoint.port = 0;
    let span = read_proto3_span_list(&encode(vec![proto]))
        .unwrap()
        .remove(0);
    assert_eq!((span.kind, span.parent_id), (None, None));
    assert_eq!(span.annotations.len(), 2);
    assert!(!span.tags.contains_key(""));
    let local = span.local_endpoint.unwrap();
    assert_eq!(
        (local.ipv4, local.ipv6, local.port),
        (Some(Ipv4Addr::new(10, 0, 0, 3)), None, None)
    );
}

#[test]
fn bad_bodies_are_refused_with_a_reason() {
    let mut no_id = to_proto(&full_span());
    no_id.id.clear();
    let mut zeros = to_proto(&full_span());
    zeros.trace_id = vec![0; 16];
    let mut long = to_proto(&full_span());
    long.id = vec![1; 9];
    let mut port = to_proto(&full_span());
    port.remote_endpoint.as_mut().unwrap().port = 70_000;
    let mut negative = to_proto(&full_span());
    negative.local_endpoint.as_mut().unwrap().port = -1;
    for (body, says) in [
        (b"hello".to_vec(), "starting with field 1"),
        (b"\x0a\x05\xff\xff".to_vec(), "malformed proto3"),
        (encode(vec![no_id]), "span 0, field id: is required"),
        (encode(vec![zeros]), "span 0, field traceId"),
        (
            encode(vec![to_proto(&full_span()), long]),
            "span 1, field id: 9 bytes",
        ),
        (
            encode(vec![port]),
            "span 0, field remoteEndpoint.port: invalid port 70000",
        ),
        (
            encode(vec![negative]),
            "span 0, field localEndpoint.port: invalid port -1",
        ),
    ] {
        let refusal = crate::ingest::decode_proto3_spans(&body).unwrap_err();
        assert_eq!(refusal.status(), axum::http::StatusCode::BAD_REQUEST);
        assert!(
            refusal.to_string().contains(says),
            "{refusal} lacks {says:?}"
        );
    }
}
