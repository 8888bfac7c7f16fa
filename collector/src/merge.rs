//! Merging the reports of one span, by the rules of Zipkin's `Trace.merge`.
//!
//! A tracer may report one span more than once: a late report may add tags, or a retrying
//! reporter may send a batch twice. Zipkin keeps every distinct report and merges them
//! when it reads a trace (its UI and dependency linker do); this collector merges them as
//! they arrive, by the same rules. Two reports are the same span when they share trace id,
//! span id and `shared` flag, and their local endpoints do not disagree (each field absent
//! on one side or equal; service names in any case). So a client and the server that
//! joined its span (`shared`) stay two spans.
//!
//! Merging fills what the kept span lacks (parent, kind, name, timestamp, duration,
//! endpoint fields) from the later report, joins annotations, and takes the later report's
//! value of a tag both have. Where two reports disagree, Zipkin keeps the value of the
//! report it lists first; this collector keeps the first to arrive.
//!
//! Reading a trace then applies Zipkin's two repairs of a client/server pair that shares
//! an id ([`repair_shared`]).

use std::cmp::Ordering;

use zipkin_tracing::{Endpoint, Kind, Span};

/// Whether `late` is a report of the span `kept` (see the module documentation).
pub(crate) fn same_span(kept: &Span, late: &Span) -> bool {
    kept.trace_id == late.trace_id
        && kept.id == late.id
        && kept.shared == late.shared
        && endpoints_agree(kept.local_endpoint.as_ref(), late.local_endpoint.as_ref())
}

/// Whether no field is present on both endpoints with different values.
fn endpoints_agree(a: Option<&Endpoint>, b: Option<&Endpoint>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return true;
    };
    fn agree<T: PartialEq>(a: Option<T>, b: Option<T>) -> bool {
        a.zip(b).is_none_or(|(a, b)| a == b)
    }
    let service = |e: &Endpoint| e.service_name.as_deref().map(str::to_lowercase);
    agree(service(a), service(b))
        && agree(a.ipv4, b.ipv4)
        && agree(a.ipv6, b.ipv6)
        && agree(a.port, b.port)
}

/// Folds the report `late` into `kept`, a report of the same span (see [`same_span`]).
///
/// Values `kept` lacks are filled in from `late`; annotations are a union without
/// duplicates, in time order; tags are a union where `late` wins a conflict, as Zipkin's
/// `Span.Builder.merge` does; `debug` stays set once set.
pub(crate) fn merge_into(kept: &mut Span, late: Span) {
    kept.parent_id = kept.parent_id.or(late.parent_id);
    kept.kind = kept.kind.or(late.kind);
    if kept.name.is_none() {
        kept.name = late.name;
    }
    kept.timestamp = kept.timestamp.or(late.timestamp);
    kept.duration = kept.duration.or(late.duration);
    kept.debug |= late.debug;
    merge_endpoint(&mut kept.local_endpoint, late.local_endpoint);
    merge_endpoint(&mut kept.remote_endpoint, late.remote_endpoint);
    for annotation in late.annotations {
        if !kept.annotations.contains(&annotation) {
            kept.annotations.push(annotation);
        }
    }
    kept.annotations
        .sort_by(|a, b| (a.timestamp, &a.value).cmp(&(b.timestamp, &b.value)));
    kept.tags.extend(late.tags);
}

/// Fills the fields `kept` lacks from `late`.
fn merge_endpoint(kept: &mut Option<Endpoint>, late: Option<Endpoint>) {
    let Some(late) = late else { return };
    match kept {
        None => *kept = Some(late),
        Some(kept) => {
            kept.service_name = kept.service_name.take().or(late.service_name);
            kept.ipv4 = kept.ipv4.or(late.ipv4);
            kept.ipv6 = kept.ipv6.or(late.ipv6);
            kept.port = kept.port.or(late.port);
        }
    }
}

/// Zipkin's repairs of spans that share an id, applied to a whole trace as it is read.
/// In Zipkin's order (by id, then unshared before shared and clients first), a `SERVER`
/// span right after a `CLIENT` span of the same id is marked `shared` (some tracers leave
/// the flag out), and a shared span without a parent takes the parent of the span before
/// it (some tracers do not propagate it).
pub(crate) fn repair_shared(spans: &mut [Span]) {
    spans.sort_by(zipkin_order);
    for index in 1..spans.len() {
        let (before, rest) = spans.split_at_mut(index);
        let (last, span) = (&before[index - 1], &mut rest[0]);
        if last.id != span.id {
            continue;
        }
        if last.kind == Some(Kind::Client) && span.kind == Some(Kind::Server) {
            span.shared = true;
        }
        if span.shared && span.parent_id.is_none() {
            span.parent_id = last.parent_id;
        }
    }
}

/// Zipkin's `Trace.merge` order: by span id; unshared spans first and, among them,
/// clients first; then by local endpoint (none first, then service, IPv4, IPv6, absent
/// values last).
fn zipkin_order(a: &Span, b: &Span) -> Ordering {
    let client = |s: &Span| !s.shared && s.kind == Some(Kind::Client);
    let role = |s: &Span| (s.shared, !client(s));
    fn absent_last<T: Ord>(a: Option<T>, b: Option<T>) -> Ordering {
        match (a, b) {
            (Some(a), Some(b)) => a.cmp(&b),
            (a, b) => b.is_some().cmp(&a.is_some()),
        }
    }
    let endpoint = |a: Option<&Endpoint>, b: Option<&Endpoint>| match (a, b) {
        (Some(a), Some(b)) => {
            let service = |e: &Endpoint| e.service_name.as_deref().map(str::to_lowercase);
            absent_last(service(a), service(b))
                .then_with(|| {
                    absent_last(
                        a.ipv4.map(|ip| ip.to_string()),
                        b.ipv4.map(|ip| ip.to_string()),
                    )
                })
                .then_with(|| {
                    absent_last(
                        a.ipv6.map(|ip| ip.to_string()),
                        b.ipv6.map(|ip| ip.to_string()),
                    )
                })
        }
        (a, b) => a.is_some().cmp(&b.is_some()),
    };
    a.id.cmp(&b.id)
        .then_with(|| role(a).cmp(&role(b)))
        .then_with(|| endpoint(a.local_endpoint.as_ref(), b.local_endpoint.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use zipkin_tracing::Annotation;

    fn span(kind: Option<Kind>, service: &str) -> Span {
        let mut span = Span::new(
            "463ac35c9f6413ad".parse().unwrap(),
            "a2fb4a1d1a96d312".parse().unwrap(),
        );
        span.kind = kind;
        span.local_endpoint = Some(Endpoint::service(service));
        span
    }

    #[test]
    fn reports_are_one_span_unless_shared_or_endpoints_disagree() {
        let client = span(Some(Kind::Client), "a");
        let mut server = span(Some(Kind::Server), "b");
        assert!(!same_span(&client, &server), "different services");
        server.local_endpoint = Some(Endpoint::service("A"));
        assert!(same_span(&client, &server), "Zipkin does not compare kinds");
        server.shared = true;
        assert!(
            !same_span(&client, &server),
            "a shared span is another span"
        );
        let mut bare = span(None, "a");
        bare.local_endpoint = None;
        assert!(same_span(&client, &bare), "no endpoint disagrees with none");
        let mut ported = span(None, "a");
        ported.local_endpoint.as_mut().unwrap().port = Some(80);
        let mut other_port = ported.clone();
        other_port.local_endpoint.as_mut().unwrap().port = Some(81);
        assert!(same_span(&client, &ported));
        assert!(!same_span(&ported, &other_port));
    }

    #[test]
    fn merging_fills_gaps_keeps_the_first_values_and_unions_collections() {
        let mut kept = span(Some(Kind::Server), "a");
        kept.timestamp = Some(1_000);
        kept.tags.insert("http.method".into(), "GET".into());
        kept.tags.insert("http.path".into(), "/old".into());
        kept.annotations.push(Annotation {
            timestamp: 1_010,
            value: "wr".into(),
        });

        let mut late = span(Some(Kind::Client), "a");
        late.name = Some("get /".into());
        late.timestamp = Some(990);
        late.duration = Some(20);
        late.parent_id = Some("0000000000000001".parse().unwrap());
        late.tags.insert("http.path".into(), "/".into());
        late.annotations.push(Annotation {
            timestamp: 1_010,
            value: "wr".into(),
        });
        late.annotations.push(Annotation {
            timestamp: 995,
            value: "ws".into(),
        });
        late.local_endpoint.as_mut().unwrap().port = Some(80);

        merge_into(&mut kept, late);
        assert_eq!(kept.name.as_deref(), Some("get /"));
        assert_eq!(kept.kind, Some(Kind::Server));
        assert_eq!((kept.timestamp, kept.duration), (Some(1_000), Some(20)));
        assert_eq!(kept.parent_id, "0000000000000001".parse().ok());
        assert_eq!(kept.tag("http.path"), Some("/"));
        assert_eq!(kept.tag("http.method"), Some("GET"));
        let values: Vec<_> = kept.annotations.iter().map(|a| a.value.as_str()).collect();
        assert_eq!(values, ["ws", "wr"]);
        assert_eq!(kept.local_endpoint.unwrap().port, Some(80));
    }

    #[test]
    fn a_server_after_its_client_is_shared_and_takes_its_parent() {
        let parent = "0000000000000001".parse().ok();
        let mut client = span(Some(Kind::Client), "a");
        client.parent_id = parent;
        let server = span(Some(Kind::Server), "b");
        let mut trace = [server, client];
        repair_shared(&mut trace);
        assert_eq!(trace[0].kind, Some(Kind::Client));
        assert!(trace[1].shared);
        assert_eq!(trace[1].parent_id, parent);
        assert!(!trace[0].shared);

        // A local span with the client's id is neither.
        let mut trace = [span(None, "b"), span(Some(Kind::Client), "a")];
        trace[1].parent_id = parent;
        repair_shared(&mut trace);
        assert!(
            !trace
                .iter()
                .any(|s| s.shared || s.parent_id.is_some() && s.kind.is_none())
        );
    }
}
