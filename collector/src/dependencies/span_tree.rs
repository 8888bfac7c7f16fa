//! One trace as the tree Zipkin's dependency linker walks.
//!
//! The rules follow Zipkin's `SpanNode` builder, which differ from the waterfall's: a span
//! is addressed by its id, except a `shared` server span, which is addressed by its id and
//! its local endpoint and hangs under the span with that id (its client). A span naming a
//! parent id that a shared span on its own endpoint carries goes under that server half.
//! The first parentless span (in id order) is the root; every span whose parent is absent
//! hangs under it, or under a placeholder root when there is none.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use zipkin_tracing::{Endpoint, Span, SpanId};

use crate::merge::repair_shared;

/// A local endpoint as a hashable key: every field, as Zipkin compares endpoints whole.
type EndpointKey = (
    Option<Arc<str>>,
    Option<Ipv4Addr>,
    Option<Ipv6Addr>,
    Option<u16>,
);

/// How a span is addressed in the tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum NodeKey {
    /// A span that does not share its id: the id alone.
    Id(SpanId),
    /// A shared server span: its id and its local endpoint (`None` when not qualified).
    Shared(SpanId, Option<EndpointKey>),
}

fn endpoint_key(endpoint: Option<&Endpoint>) -> Option<EndpointKey> {
    endpoint.map(|e| (e.service_name.clone(), e.ipv4, e.ipv6, e.port))
}

/// The spans of one trace with their parent links, reachable from the root.
#[derive(Debug)]
pub(crate) struct SpanTree {
    spans: Vec<Span>,
    parents: Vec<Option<usize>>,
    children: Vec<Vec<usize>>,
    /// The span at the top, or `None` for a placeholder root over headless spans.
    root: Option<usize>,
    /// The nodes directly under the root (or under the placeholder).
    tops: Vec<usize>,
}

impl SpanTree {
    /// Builds the tree of one trace's spans (already merged: one span per report key).
    pub(crate) fn new(mut spans: Vec<Span>) -> Self {
        // Zipkin's repairs first: a server half right after its client half is marked
        // shared, and borrows the client's parent when it has none.
        repair_shared(&mut spans);

        // First pass: every span's own key and the key of its parent.
        let mut parent_key: HashMap<NodeKey, Option<NodeKey>> = HashMap::new();
        for span in &spans {
            let (key, parent) = if span.shared {
                let key = NodeKey::Shared(span.id, endpoint_key(span.local_endpoint.as_ref()));
                (key, Some(NodeKey::Id(span.id)))
            } else {
                (NodeKey::Id(span.id), span.parent_id.map(NodeKey::Id))
            };
            parent_key.insert(key, parent);
        }

        // Second pass: place each span; a child of a shared server on its own endpoint goes
        // under that server half rather than under the client half with the same id.
        let mut nodes: HashMap<NodeKey, usize> = HashMap::new();
        let mut root = None;
        for (index, span) in spans.iter().enumerate() {
            let endpoint = endpoint_key(span.local_endpoint.as_ref());
            let unqualified = if span.shared {
                NodeKey::Shared(span.id, None)
            } else {
                NodeKey::Id(span.id)
            };
            let has_parent = span.shared || span.parent_id.is_some();
            if let (false, Some(parent)) = (span.shared, span.parent_id) {
                let server_half = NodeKey::Shared(parent, endpoint.clone());
                if parent_key.contains_key(&server_half) {
                    parent_key.insert(unqualified.clone(), Some(server_half));
                }
            }
            if !has_parent && root.is_none() {
                root = Some(index);
                parent_key.remove(&unqualified);
            } else if span.shared {
                nodes.insert(NodeKey::Shared(span.id, endpoint), index);
                nodes.insert(unqualified, index);
            } else {
                nodes.insert(unqualified, index);
            }
        }

        let mut parents = vec![None; spans.len()];
        let mut children = vec![Vec::new(); spans.len()];
        let mut tops = Vec::new();
        for (key, parent) in &parent_key {
            let Some(&child) = nodes.get(key) else {
                continue;
            };
            match parent.as_ref().and_then(|p| nodes.get(p)).copied() {
                Some(parent) if parent != child => {
                    parents[child] = Some(parent);
                    children[parent].push(child);
                }
                // A parent never reported: the span hangs under the root.
                _ => tops.push(child),
            }
        }
        if let Some(root) = root {
            for &top in &tops {
                parents[top] = Some(root);
            }
            children[root].extend(tops.iter().copied());
        }
        SpanTree {
            spans,
            parents,
            children,
            root,
            tops,
        }
    }

    /// Every span reachable from the root, breadth first. Spans caught in a cycle of
    /// parent links hang from nothing and are left out, as Zipkin leaves them out.
    pub(crate) fn reachable(&self) -> Vec<usize> {
        let mut order: Vec<usize> = match self.root {
            Some(root) => vec![root],
            None => self.tops.clone(),
        };
        let mut next = 0;
        while let Some(&index) = order.get(next) {
            order.extend(self.children[index].iter().copied());
            next += 1;
        }
        order
    }

    /// The span at `index`.
    pub(crate) fn span(&self, index: usize) -> &Span {
        &self.spans[index]
    }

    /// Whether `index` is the root span (not merely under a placeholder root).
    pub(crate) fn is_root(&self, index: usize) -> bool {
        self.root == Some(index)
    }

    /// Whether any span hangs under `index`.
    pub(crate) fn has_children(&self, index: usize) -> bool {
        !self.children[index].is_empty()
    }

    /// The nearest ancestor of `index` that has a kind (a remote span), if any.
    pub(crate) fn remote_ancestor(&self, index: usize) -> Option<&Span> {
        let mut current = self.parents[index];
        // Reachable nodes form a tree, so this walk ends at the root; the step limit only
        // guards against a malformed tree.
        for _ in 0..self.spans.len() {
            let span = &self.spans[current?];
            if span.kind.is_some() {
                return Some(span);
            }
            current = self.parents[current?];
        }
        None
    }
}
