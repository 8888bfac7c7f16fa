//! A Zipkin v1 span and its conversion to the v2 spans Zipkin 3.6.1 stores.
//!
//! A v1 span has no kind, no shared flag and no local endpoint: each annotation carries the
//! endpoint of the host that logged it, and the core annotations `cs`, `sr`, `ss`, `cr`
//! (and `ms`, `mr` for messages) say where a remote call started and ended. The conversion
//! follows Zipkin's `V1SpanConverter` rule for rule, so the stand-in stores what Zipkin does.

use zipkin_tracing::{Annotation, Endpoint, Kind, Span, SpanId, TraceId};

use super::settle;

/// An annotation of a v1 span: an event and the host that logged it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct V1Annotation {
    pub(super) timestamp: u64,
    pub(super) value: String,
    pub(super) endpoint: Option<Endpoint>,
}

/// A binary annotation of a v1 span: a tag (`value` is text), or an address (`ca`, `sa`
/// or `ma` with a `true` value, `value` is `None`) naming the other side of a call.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct V1BinaryAnnotation {
    pub(super) key: String,
    pub(super) value: Option<String>,
    pub(super) endpoint: Option<Endpoint>,
}

/// One v1 span as read: the ids and timings, and both kinds of annotation in order.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct V1Span {
    pub(super) trace_id: TraceId,
    pub(super) id: SpanId,
    pub(super) parent_id: Option<SpanId>,
    pub(super) name: Option<String>,
    pub(super) timestamp: Option<u64>,
    pub(super) duration: Option<u64>,
    pub(super) debug: bool,
    pub(super) annotations: Vec<V1Annotation>,
    pub(super) binary_annotations: Vec<V1BinaryAnnotation>,
}

/// The core annotations found, each the last one of its value that had an endpoint.
#[derive(Default)]
struct Core {
    cs: Option<V1Annotation>,
    sr: Option<V1Annotation>,
    ss: Option<V1Annotation>,
    cr: Option<V1Annotation>,
    ms: Option<V1Annotation>,
    mr: Option<V1Annotation>,
    ws: Option<V1Annotation>,
    wr: Option<V1Annotation>,
}

/// The v2 spans being built from one v1 span: one per host (service name) that logged
/// something, the first one taking whatever has no endpoint.
struct Converter<'a> {
    source: &'a V1Span,
    spans: Vec<Span>,
}

/// The v2 spans Zipkin stores for `source`: one per service that logged part of it, so a
/// span reported with both the client's and the server's annotations becomes two.
pub(super) fn to_v2(source: &V1Span) -> Vec<Span> {
    let mut converter = Converter {
        source,
        spans: vec![converter_span(source, None)],
    };
    let core = converter.annotations();
    converter.binary_annotations(&core);
    converter.spans.into_iter().map(settle).collect()
}

fn converter_span(source: &V1Span, endpoint: Option<Endpoint>) -> Span {
    let mut span = Span::new(source.trace_id, source.id);
    span.parent_id = source.parent_id;
    span.name.clone_from(&source.name);
    span.debug = source.debug;
    span.local_endpoint = endpoint;
    span
}

fn same_service(left: Option<&Endpoint>, right: Option<&Endpoint>) -> bool {
    let name = |e: Option<&Endpoint>| e.and_then(|e| e.service_name.clone());
    name(left) == name(right)
}

fn nonzero(timestamp: u64) -> Option<u64> {
    Some(timestamp).filter(|&t| t > 0)
}

/// The event an annotation records, without its endpoint.
fn event(annotation: &V1Annotation) -> Annotation {
    let (timestamp, value) = (annotation.timestamp, annotation.value.clone());
    Annotation { timestamp, value }
}

/// `end - begin` as a duration: absent unless positive.
fn between(begin: u64, end: u64) -> Option<u64> {
    end.checked_sub(begin).filter(|&d| d > 0)
}

impl Converter<'_> {
    /// The span for the host `endpoint` names: the first span takes an endpoint while it has
    /// none, and the one with the same service name takes it after that.
    fn for_endpoint(&mut self, endpoint: Option<&Endpoint>) -> usize {
        let Some(endpoint) = endpoint else {
            return 0;
        };
        for (index, span) in self.spans.iter_mut().enumerate() {
            if span.local_endpoint.is_none() {
                span.local_endpoint = Some(endpoint.clone());
                return index;
            }
            if same_service(span.local_endpoint.as_ref(), Some(endpoint)) {
                return index;
            }
        }
        self.new_span(Some(endpoint))
    }

    fn new_span(&mut self, endpoint: Option<&Endpoint>) -> usize {
        let span = converter_span(self.source, endpoint.cloned());
        self.spans.push(span);
        self.spans.len() - 1
    }

    fn at(&mut self, annotation: &V1Annotation) -> &mut Span {
        let index = self.for_endpoint(annotation.endpoint.as_ref());
        &mut self.spans[index]
    }

    /// The span's own timing when it has both, else from `begin` to `end`.
    fn time(&mut self, begin: &V1Annotation, end: Option<&V1Annotation>) {
        let (timestamp, duration) = (self.source.timestamp, self.source.duration);
        let span = self.at(begin);
        if timestamp.is_some() && duration.is_some() {
            (span.timestamp, span.duration) = (timestamp, duration);
        } else {
            span.timestamp = nonzero(begin.timestamp);
            if let Some(end) = end {
                span.duration = between(begin.timestamp, end.timestamp);
            }
        }
    }

    /// The spans of the two sides of one call or message, `start` and `end` logged by each
    /// side: a service talking to itself (loopback) still gives two spans.
    fn two_sides(
        &mut self,
        start: &V1Annotation,
        end: &V1Annotation,
        kinds: (Kind, Kind),
    ) -> (usize, usize) {
        let first = self.for_endpoint(start.endpoint.as_ref());
        if !same_service(start.endpoint.as_ref(), end.endpoint.as_ref()) {
            return (first, self.for_endpoint(end.endpoint.as_ref()));
        }
        let second = self.new_span(end.endpoint.as_ref());
        self.spans[first].kind = Some(kinds.0);
        self.spans[second].kind = Some(kinds.1);
        (first, second)
    }

    /// Kind, timing and shared from the core annotations; other annotations are kept.
    fn annotations(&mut self) -> Core {
        let mut core = Core::default();
        for annotation in &self.source.annotations {
            let span = self.at(annotation);
            let slot = match annotation.value.as_str() {
                _ if annotation.endpoint.is_none() => None,
                "cs" => Some((&mut core.cs, Some(Kind::Client))),
                "sr" => Some((&mut core.sr, Some(Kind::Server))),
                "ss" => Some((&mut core.ss, Some(Kind::Server))),
                "cr" => Some((&mut core.cr, Some(Kind::Client))),
                "ms" => Some((&mut core.ms, Some(Kind::Producer))),
                "mr" => Some((&mut core.mr, Some(Kind::Consumer))),
                "ws" => Some((&mut core.ws, None)),
                "wr" => Some((&mut core.wr, None)),
                _ => None,
            };
            match slot {
                Some((slot, kind)) => {
                    span.kind = kind.or(span.kind);
                    *slot = Some(annotation.clone());
                }
                None => span.annotations.push(event(annotation)),
            }
        }
        // A tracer bridging events to spans may leave out the start: the span's own
        // timestamp stands in for it when its duration ends exactly at the end annotation.
        let own = self.source.timestamp.zip(self.source.duration);
        let ends_at = |end: &Option<V1Annotation>| {
            let (end, (timestamp, duration)) = (end.as_ref()?, own?);
            let mut start = end.clone();
            start.timestamp = timestamp;
            (timestamp.checked_add(duration) == Some(end.timestamp)).then_some(start)
        };
        core.cs = core.cs.take().or_else(|| ends_at(&core.cr));
        core.sr = core.sr.take().or_else(|| ends_at(&core.ss));
        self.rpc(&core);
        self.messaging(&core);
        core
    }

    fn rpc(&mut self, core: &Core) {
        match (&core.cs, &core.sr, &core.ss, &core.cr) {
            (Some(cs), Some(sr), ss, cr) => {
                // One span holding both halves: the client owns the span's timing.
                self.time(cs, cr.as_ref());
                let (client, server) = self.two_sides(cs, sr, (Kind::Client, Kind::Server));
                let server = &mut self.spans[server];
                server.shared = true;
                server.timestamp = nonzero(sr.timestamp);
                if let Some(ss) = ss {
                    server.duration = between(sr.timestamp, ss.timestamp);
                }
                if cr.is_none() && self.source.duration.is_none() {
                    self.spans[client].duration = None;
                }
            }
            (Some(cs), None, _, Some(cr)) => self.time(cs, Some(cr)),
            (None, Some(sr), Some(ss), _) => self.time(sr, Some(ss)),
            _ => self.incomplete_rpc(core),
        }
        // v1 had no shared flag: a server half without the span's own timestamp (or
        // duration, though it has `ss`) was the callee's side of a span the caller owns.
        if let (None, Some(sr)) = (&core.cs, &core.sr) {
            let untimed = self.source.timestamp.is_none()
                || (core.ss.is_some() && self.source.duration.is_none());
            if untimed {
                self.at(sr).shared = true;
            }
        }
    }

    /// Half a call: the start is the timestamp, the end stays an annotation.
    fn incomplete_rpc(&mut self, core: &Core) {
        for span in &mut self.spans {
            let (start, end) = match span.kind {
                Some(Kind::Client) => (&core.cs, &core.cr),
                Some(Kind::Server) => (&core.sr, &core.ss),
                _ => continue,
            };
            if let Some(start) = start {
                span.timestamp = nonzero(start.timestamp);
            }
            if let Some(end) = end {
                span.annotations.push(event(end));
            }
        }
        if self.source.timestamp.is_some() {
            self.spans[0].timestamp = self.source.timestamp;
            self.spans[0].duration = self.source.duration;
        }
    }

    fn messaging(&mut self, core: &Core) {
        match (&core.ms, &core.mr) {
            (Some(ms), Some(mr)) => {
                let (producer, consumer) = self.two_sides(ms, mr, (Kind::Producer, Kind::Consumer));
                let (wr, ws) = (core.wr.as_ref(), core.ws.as_ref());
                let span = &mut self.spans[consumer];
                span.shared = true;
                span.timestamp = nonzero(wr.unwrap_or(mr).timestamp);
                span.duration = wr.and_then(|wr| between(wr.timestamp, mr.timestamp));
                let span = &mut self.spans[producer];
                span.timestamp = nonzero(ms.timestamp);
                span.duration = ws.and_then(|ws| between(ms.timestamp, ws.timestamp));
            }
            (Some(ms), None) => self.time(ms, core.ws.as_ref()),
            (None, Some(mr)) => match &core.wr {
                Some(wr) => self.time(wr, Some(mr)),
                None => self.time(mr, None),
            },
            (None, None) => {
                for annotation in [&core.ws, &core.wr].into_iter().flatten() {
                    self.at(annotation).annotations.push(event(annotation));
                }
            }
        }
    }

    /// Tags from text values; the remote endpoint from the `ca`, `sa` and `ma` addresses.
    fn binary_annotations(&mut self, core: &Core) {
        let (mut ca, mut sa, mut ma) = (None, None, None);
        for binary in &self.source.binary_annotations {
            let Some(value) = &binary.value else {
                match binary.key.as_str() {
                    "ca" => ca.clone_from(&binary.endpoint),
                    "sa" => sa.clone_from(&binary.endpoint),
                    "ma" => ma.clone_from(&binary.endpoint),
                    _ => {}
                }
                continue;
            };
            let index = self.for_endpoint(binary.endpoint.as_ref());
            // An empty "lc" only marks the local endpoint: it has claimed its span above.
            if binary.key == "lc" && value.is_empty() {
                continue;
            }
            self.spans[index]
                .tags
                .insert(binary.key.clone(), value.clone());
        }

        let no_core =
            core.cs.is_none() && core.cr.is_none() && core.ss.is_none() && core.sr.is_none();
        if no_core && (ca.is_some() || sa.is_some()) {
            match (ca, sa) {
                (Some(ca), Some(sa)) => {
                    let index = self.for_endpoint(Some(&ca));
                    self.spans[index].remote_endpoint = Some(sa);
                }
                // "sa" alone is a remote address by default: it does not make a client.
                (None, Some(sa)) => self.spans[0].remote_endpoint = Some(sa),
                (Some(ca), None) => {
                    self.spans[0].kind = Some(Kind::Server);
                    self.spans[0].remote_endpoint = Some(ca);
                }
                (None, None) => {}
            }
            return;
        }

        let server = core.sr.as_ref().or(core.ss.as_ref());
        if let (Some(mut ca), Some(server)) = (ca, server)
            && Some(&ca) != server.endpoint.as_ref()
        {
            // Finagle's "ca" on a server repeats the server's own name: dropping it
            // keeps a service from looking as if it called itself.
            if same_service(Some(&ca), server.endpoint.as_ref()) {
                ca.service_name = None;
            }
            self.at(server).remote_endpoint = Some(ca);
        }
        if let (Some(sa), Some(client)) = (sa, core.cs.as_ref().or(core.cr.as_ref())) {
            self.at(client).remote_endpoint = Some(sa);
        }
        if let Some(ma) = ma {
            for end in [&core.ms, &core.mr].into_iter().flatten() {
                self.at(end).remote_endpoint = Some(ma.clone());
            }
        }
    }
}
