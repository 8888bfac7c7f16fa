//! The order of a waterfall: spans as a tree, depth first, parents before children.
//!
//! Links come from `parentId`, with one exception the Zipkin UI also makes: a server span
//! that joined its client's span shares the client's id, so it is placed under the CLIENT
//! span with that id, and children naming that id go under whichever side (client or
//! server) is on their own service. Spans whose parent is missing are shown as roots, and
//! a malformed trace with a cycle of parent links still shows every span exactly once.

use std::cmp::Ordering;

use std::collections::HashMap;

use zipkin_tracing::{Kind, Span, SpanId};

/// One waterfall row: a span and how deep it sits in the tree.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row<'a> {
    /// The span shown on this row.
    pub(crate) span: &'a Span,
    /// 0 for a root, 1 for its children, and so on.
    pub(crate) depth: usize,
}

/// The spans of one trace in waterfall order.
pub(crate) fn rows(spans: &[Span]) -> Vec<Row<'_>> {
    let mut by_id: HashMap<SpanId, Vec<usize>> = HashMap::new();
    for (index, span) in spans.iter().enumerate() {
        by_id.entry(span.id).or_default().push(index);
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for index in 0..spans.len() {
        match parent_of(spans, &by_id, index) {
            Some(parent) => children[parent].push(index),
            None => roots.push(index),
        }
    }
    let by_start = |a: &usize, b: &usize| start_order(&spans[*a], &spans[*b]);
    roots.sort_by(by_start);
    for list in &mut children {
        list.sort_by(by_start);
    }
    // Spans caught in a parent cycle are reachable from no root: they start trees of
    // their own, after the real roots, so that none is lost.
    let mut by_time: Vec<usize> = (0..spans.len()).collect();
    by_time.sort_by(by_start);
    let mut visited = vec![false; spans.len()];
    let mut rows = Vec::with_capacity(spans.len());
    for start in roots.into_iter().chain(by_time) {
        if visited[start] {
            continue;
        }
        // Depth-first with an explicit stack: a deep trace cannot overflow the call stack.
        let mut stack = vec![(start, 0)];
        while let Some((index, depth)) = stack.pop() {
            if std::mem::replace(&mut visited[index], true) {
                continue;
            }
            rows.push(Row {
                span: &spans[index],
                depth,
            });
            let next = children[index]
                .iter()
                .rev()
                .filter(|&&child| !visited[child]);
            stack.extend(next.map(|&child| (child, depth + 1)));
        }
    }
    rows
}

/// The index of the span under which `spans[index]` is drawn, if any.
fn parent_of(spans: &[Span], by_id: &HashMap<SpanId, Vec<usize>>, index: usize) -> Option<usize> {
    let span = &spans[index];
    let with_id = |id: SpanId| {
        let found = by_id.get(&id).map(Vec::as_slice).unwrap_or_default();
        found.iter().copied().filter(move |&i| i != index)
    };
    if span.kind == Some(Kind::Server)
        && let Some(client) = with_id(span.id).find(|&i| spans[i].kind == Some(Kind::Client))
    {
        return Some(client);
    }
    let mut candidates = with_id(span.parent_id?);
    let first = candidates.next()?;
    let mut server = None;
    for candidate in std::iter::once(first).chain(candidates) {
        let other = &spans[candidate];
        if other.service_name().is_some() && other.service_name() == span.service_name() {
            return Some(candidate);
        }
        if other.kind == Some(Kind::Server) {
            server = server.or(Some(candidate));
        }
    }
    Some(server.unwrap_or(first))
}

/// Siblings by start time (unknown last), then name and id, so the order is stable.
fn start_order(a: &Span, b: &Span) -> Ordering {
    let key = |s: &Span| (s.timestamp.is_none(), s.timestamp, s.name.clone(), s.id);
    key(a).cmp(&key(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use zipkin_tracing::{Endpoint, TraceId};

    fn span(id: u64, parent: Option<u64>, kind: Option<Kind>, service: &str, ts: u64) -> Span {
        let mut span = Span::new(TraceId::random_64(), SpanId::new(id).unwrap());
        span.parent_id = parent.and_then(SpanId::new);
        span.kind = kind;
        span.local_endpoint = Some(Endpoint::service(service));
        span.timestamp = Some(ts);
        span
    }

    fn order(spans: &[Span]) -> Vec<(u64, usize)> {
        rows(spans)
            .iter()
            .map(|r| (r.span.id.get(), r.depth))
            .collect()
    }

    #[test]
    fn shared_server_sits_under_its_client_and_owns_its_children() {
        let spans = [
            span(4, Some(3), None, "b", 30), // b's local child of the shared id
            span(3, Some(2), Some(Kind::Server), "b", 20), // shared server
            span(3, Some(2), Some(Kind::Client), "a", 15), // client
            span(2, Some(1), None, "a", 10),
            span(1, None, Some(Kind::Server), "a", 0),
        ];
        let rows = rows(&spans);
        let kinds: Vec<_> = rows
            .iter()
            .map(|r| (r.span.id.get(), r.span.kind, r.depth))
            .collect();
        assert_eq!(
            kinds,
            [
                (1, Some(Kind::Server), 0),
                (2, None, 1),
                (3, Some(Kind::Client), 2),
                (3, Some(Kind::Server), 3),
                (4, None, 4),
            ]
        );
    }

    #[test]
    fn orphans_are_roots_and_siblings_go_by_start_time() {
        let spans = [
            span(3, Some(1), None, "a", 30),
            span(9, Some(8), None, "a", 5), // parent 8 never reported
            span(2, Some(1), None, "a", 20),
            span(1, None, None, "a", 10),
        ];
        assert_eq!(order(&spans), [(9, 0), (1, 0), (2, 1), (3, 1)]);
    }

    #[test]
    fn parent_cycles_still_show_every_span_once() {
        let spans = [
            span(1, Some(2), None, "a", 1),
            span(2, Some(1), None, "a", 2),
        ];
        assert_eq!(order(&spans), [(1, 0), (2, 1)]);
        let own_parent = [span(5, Some(5), None, "a", 1)];
        assert_eq!(order(&own_parent), [(5, 0)]);
    }
}
