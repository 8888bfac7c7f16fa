//! One trace as the rules look at it: its spans indexed by id, who called whom, and which
//! reports are one span. The links follow the Zipkin UI: a server that joined its client's
//! span shares the client's id and sits under that CLIENT span; any other span sits under
//! the span its `parentId` names, preferring one on its own service.

use std::collections::HashMap;

use zipkin_tracing::{Kind, Span, SpanId};

/// Epoch microseconds are between these two (1973 and 5138): anything else is another unit.
pub(crate) const MICROS: std::ops::Range<u64> = 100_000_000_000_000..100_000_000_000_000_000;

/// The spans of one trace and the links between them.
#[derive(Debug)]
pub(crate) struct TraceView<'a> {
    /// The spans, as given.
    pub(crate) spans: &'a [Span],
    by_id: HashMap<SpanId, Vec<usize>>,
}

impl<'a> TraceView<'a> {
    /// Indexes `spans`.
    pub(crate) fn new(spans: &'a [Span]) -> Self {
        let mut by_id: HashMap<SpanId, Vec<usize>> = HashMap::new();
        for (index, span) in spans.iter().enumerate() {
            by_id.entry(span.id).or_default().push(index);
        }
        TraceView { spans, by_id }
    }

    /// The indexes of the spans with id `id`.
    pub(crate) fn with_id(&self, id: SpanId) -> &[usize] {
        self.by_id.get(&id).map(Vec::as_slice).unwrap_or_default()
    }

    /// The span `spans[index]` is drawn under, if any.
    pub(crate) fn parent(&self, index: usize) -> Option<usize> {
        let span = &self.spans[index];
        let others = |id: SpanId| {
            self.with_id(id)
                .iter()
                .copied()
                .filter(move |&i| i != index)
        };
        if span.kind == Some(Kind::Server)
            && let Some(client) =
                others(span.id).find(|&i| self.spans[i].kind == Some(Kind::Client))
        {
            return Some(client);
        }
        let candidates: Vec<usize> = others(span.parent_id?).collect();
        let own = candidates
            .iter()
            .copied()
            .find(|&i| same_service(&self.spans[i], span));
        own.or_else(|| candidates.first().copied())
    }

    /// The spans of another service that a CLIENT or PRODUCER `spans[index]` called: a
    /// SERVER or CONSUMER sharing its id, or a span of another service naming it as parent.
    pub(crate) fn callees(&self, index: usize) -> Vec<usize> {
        let caller = &self.spans[index];
        (0..self.spans.len())
            .filter(|&i| i != index)
            .filter(|&i| {
                let span = &self.spans[i];
                let remote = matches!(span.kind, Some(Kind::Server | Kind::Consumer));
                (span.id == caller.id && remote)
                    || (span.parent_id == Some(caller.id)
                        && (remote || !same_service(span, caller)))
            })
            .collect()
    }

    /// The reports of one span grouped together: same id, same `shared` flag and same
    /// service (in any case), as Zipkin merges them. Groups are in order of first report.
    pub(crate) fn reports(&self) -> Vec<Vec<usize>> {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (index, span) in self.spans.iter().enumerate() {
            let group = groups.iter_mut().find(|group| {
                let first = &self.spans[group[0]];
                first.id == span.id && first.shared == span.shared && same_service(first, span)
            });
            match group {
                Some(group) => group.push(index),
                None => groups.push(vec![index]),
            }
        }
        groups
    }
}

/// Whether two spans were recorded by the same service (names compared in any case,
/// since Zipkin lower-cases them; two unnamed services count as the same).
pub(crate) fn same_service(a: &Span, b: &Span) -> bool {
    let name = |s: &Span| s.service_name().map(str::to_lowercase);
    name(a) == name(b)
}

/// How a span is shown in a message: `service: name (KIND id)`.
pub(crate) fn describe(span: &Span) -> String {
    let kind = span.kind.map_or(String::new(), |kind| {
        format!("{} ", format!("{kind:?}").to_uppercase())
    });
    format!(
        "{}: {} ({kind}{})",
        span.service_name().unwrap_or("unknown"),
        span.name.as_deref().unwrap_or("-"),
        span.id
    )
}

/// Whether every timestamp of `span` is epoch microseconds, so it can be compared.
pub(crate) fn micros(span: &Span) -> Option<u64> {
    span.timestamp.filter(|ts| MICROS.contains(ts))
}

/// The remote service a span names, if any (an empty name is none).
pub(crate) fn remote_service(span: &Span) -> Option<&str> {
    let endpoint = span.remote_endpoint.as_ref()?;
    endpoint
        .service_name
        .as_deref()
        .filter(|name| !name.is_empty())
}
