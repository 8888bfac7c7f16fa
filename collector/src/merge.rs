//! Merging two reports of the same span.
//!
//! A tracer may report one span more than once: a late report may add tags, or a retrying
//! reporter may send a batch twice. Zipkin merges such reports when it returns a trace; so
//! does this collector, when it stores them. Two reports are the same span when they share
//! trace id, span id, kind and local service: a client and the server that joined its span
//! (`shared`) have one id but different kinds, and stay two spans.

use std::sync::Arc;

use zipkin_tracing::{Endpoint, Kind, Span, SpanId, TraceId};

/// What makes two reports the same span.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SpanKey {
    trace_id: TraceId,
    id: SpanId,
    kind: Option<Kind>,
    service: Option<Arc<str>>,
}

impl SpanKey {
    /// The identity of `span`.
    pub(crate) fn of(span: &Span) -> Self {
        SpanKey {
            trace_id: span.trace_id,
            id: span.id,
            kind: span.kind,
            service: span
                .local_endpoint
                .as_ref()
                .and_then(|e| e.service_name.clone()),
        }
    }
}

/// Folds the report `late` into `kept`, which has the same [`SpanKey`].
///
/// Values `kept` lacks are filled in from `late`; when both know the interval, the merged
/// span covers both (the earliest start, the latest end). Tags are a union where the later
/// report wins a conflict, as Zipkin's `Span.Builder.merge` does; annotations are a union
/// without duplicates, in time order. `debug` and `shared` stay set once set.
pub(crate) fn merge_into(kept: &mut Span, late: Span) {
    kept.parent_id = kept.parent_id.or(late.parent_id);
    if kept.name.is_none() {
        kept.name = late.name;
    }
    merge_interval(kept, late.timestamp, late.duration);
    kept.debug |= late.debug;
    kept.shared |= late.shared;
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

/// Widens `kept`'s interval to cover `[timestamp, timestamp + duration]`.
fn merge_interval(kept: &mut Span, timestamp: Option<u64>, duration: Option<u64>) {
    match (kept.timestamp, timestamp) {
        // Only one report knows when the span started: its duration goes with it.
        (None, Some(_)) => {
            kept.timestamp = timestamp;
            kept.duration = duration.or(kept.duration);
        }
        (_, None) => kept.duration = kept.duration.or(duration),
        (Some(a), Some(b)) => {
            let start = a.min(b);
            let end = match (kept.duration, duration) {
                (Some(da), Some(db)) => Some(a.saturating_add(da).max(b.saturating_add(db))),
                (Some(da), None) => Some(a.saturating_add(da)),
                (None, Some(db)) => Some(b.saturating_add(db)),
                (None, None) => None,
            };
            kept.timestamp = Some(start);
            // `end > start` unless durations were absent; a merged duration stays >= 1.
            kept.duration = end.map(|end| end.saturating_sub(start).max(1));
        }
    }
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
    fn the_key_separates_kinds_and_services() {
        let client = span(Some(Kind::Client), "a");
        let server = span(Some(Kind::Server), "b");
        assert_ne!(SpanKey::of(&client), SpanKey::of(&server));
        assert_ne!(
            SpanKey::of(&client),
            SpanKey::of(&span(Some(Kind::Client), "b"))
        );
        assert_eq!(
            SpanKey::of(&client),
            SpanKey::of(&span(Some(Kind::Client), "a"))
        );
    }

    #[test]
    fn merging_fills_gaps_and_unions_collections() {
        let mut kept = span(Some(Kind::Server), "a");
        kept.timestamp = Some(1_000);
        kept.duration = Some(50);
        kept.tags.insert("http.method".into(), "GET".into());
        kept.tags.insert("http.path".into(), "/old".into());
        kept.annotations.push(Annotation {
            timestamp: 1_010,
            value: "wr".into(),
        });

        let mut late = span(Some(Kind::Server), "a");
        late.name = Some("get /".into());
        late.timestamp = Some(990);
        late.duration = Some(20);
        late.shared = true;
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
        assert_eq!((kept.timestamp, kept.duration), (Some(990), Some(60)));
        assert!(kept.shared);
        assert_eq!(kept.parent_id, "0000000000000001".parse().ok());
        assert_eq!(kept.tag("http.path"), Some("/"));
        assert_eq!(kept.tag("http.method"), Some("GET"));
        let values: Vec<_> = kept.annotations.iter().map(|a| a.value.as_str()).collect();
        assert_eq!(values, ["ws", "wr"]);
        assert_eq!(kept.local_endpoint.unwrap().port, Some(80));
    }

    #[test]
    fn a_late_report_without_timing_keeps_the_known_interval() {
        let mut kept = span(None, "a");
        let mut late = span(None, "a");
        late.duration = Some(7);
        merge_into(&mut kept, late);
        assert_eq!((kept.timestamp, kept.duration), (None, Some(7)));

        let mut timed = span(None, "a");
        timed.timestamp = Some(5);
        timed.duration = Some(3);
        merge_into(&mut timed, span(None, "a"));
        assert_eq!((timed.timestamp, timed.duration), (Some(5), Some(3)));
    }
}
