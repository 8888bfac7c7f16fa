//! A finished span, as the request path records it and hands it to a reporter.
//! Recording must cost next to nothing, so a span is kept in the cheapest form that loses
//! nothing: monotonic instants, static or moved strings, tags in the order set. Off the
//! request path, a reporter reads it through [`FinishedSpan`]'s accessors or builds the
//! [`Span`] model ([`FinishedSpan::into_span`]), as Brave's span handlers read its `MutableSpan`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use smallvec::SmallVec;

use crate::clock::epoch_micros;
use crate::context::TraceContext;
use crate::model::{Annotation, Endpoint, Kind, Span};

/// Text recorded on a span: a `&'static str` (span names, tag keys) is kept as it is, and
/// an owned `String` is moved in, so recording never copies a string.
pub(crate) type Text = Cow<'static, str>;

/// A finished, sampled span: what a [`Report`](crate::Report) receives; its example reads one.
#[derive(Debug, Clone)]
// Boxed: a recorded span is about 450 bytes (the inline tags are most of it), and the box,
// allocated once when the span starts, makes each move from start to finish to the
// reporter's queue a pointer copy.
pub struct FinishedSpan(pub(crate) Box<Recorded>);

/// Tags of one span. Four fit without an allocation of their own: the HTTP tags of a
/// span (method, path, and for a failure status code and error) need no more.
pub(crate) type Tags = SmallVec<[(Text, Text); 4]>;

/// What an [`OpenSpan`](crate::OpenSpan) records, in the form that is cheapest to record.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) context: TraceContext,
    pub(crate) kind: Option<Kind>,
    pub(crate) name: Text,
    pub(crate) shared: bool,
    pub(crate) start: Instant,
    pub(crate) end: Instant,
    pub(crate) local_endpoint: Arc<Endpoint>,
    pub(crate) remote_endpoint: Option<Endpoint>,
    pub(crate) annotations: Vec<(Instant, Text)>,
    pub(crate) tags: Tags,
}

impl FinishedSpan {
    /// The span's ids and sampling flags (its `debug` flag is the span's `debug` field).
    pub fn context(&self) -> TraceContext {
        self.0.context
    }

    /// `CLIENT`, `SERVER`, `PRODUCER` or `CONSUMER`; `None` for a local span.
    pub fn kind(&self) -> Option<Kind> {
        self.0.kind
    }

    /// The span's name, as recorded.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Whether the span shares its id with the caller's CLIENT span (a joined SERVER span).
    pub fn shared(&self) -> bool {
        self.0.shared
    }

    /// Zipkin's `timestamp` (epoch microseconds at the start) and `duration` (microseconds,
    /// at least 1, as Zipkin asks). Both ends go through one conversion, so that a child's
    /// interval stays inside its parent's after rounding to microseconds.
    pub fn timestamp_and_duration(&self) -> (u64, u64) {
        let start = epoch_micros(self.0.start);
        (start, epoch_micros(self.0.end).saturating_sub(start).max(1))
    }

    /// The service that recorded the span.
    pub fn local_endpoint(&self) -> &Endpoint {
        &self.0.local_endpoint
    }

    /// The other side of a CLIENT or SERVER span, when it is known.
    pub fn remote_endpoint(&self) -> Option<&Endpoint> {
        self.0.remote_endpoint.as_ref()
    }

    /// The annotations in the order added, each an epoch-microsecond time and a value.
    pub fn annotations(&self) -> impl ExactSizeIterator<Item = (u64, &str)> {
        (self.0.annotations.iter()).map(|(at, value)| (epoch_micros(*at), &**value))
    }

    /// The tags, in the order they were set, a key set twice appearing twice: the value
    /// set last is the tag's value (as [`FinishedSpan::into_span`] and Brave keep it).
    pub fn tags(&self) -> &[(Cow<'static, str>, Cow<'static, str>)] {
        &self.0.tags
    }

    /// The span in Zipkin v2 form: epoch-microsecond timestamps, sorted tags, the value
    /// set last winning for a tag set twice.
    pub fn into_span(self) -> Span {
        let (start, duration) = self.timestamp_and_duration();
        let recorded = *self.0;
        let context = recorded.context;
        let mut span = Span::new(context.trace_id, context.span_id);
        span.parent_id = context.parent_id;
        span.kind = recorded.kind;
        span.name = Some(recorded.name.into_owned());
        span.timestamp = Some(start);
        span.duration = Some(duration);
        span.debug = context.flags.debug;
        span.shared = recorded.shared;
        span.local_endpoint = Some(Endpoint::clone(&recorded.local_endpoint));
        span.remote_endpoint = recorded.remote_endpoint;
        span.annotations = recorded
            .annotations
            .into_iter()
            .map(|(at, value)| Annotation {
                timestamp: epoch_micros(at),
                value: value.into_owned(),
            })
            .collect();
        let mut tags = BTreeMap::new();
        for (key, value) in recorded.tags {
            tags.insert(key.into_owned(), value.into_owned());
        }
        span.tags = tags;
        span
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::context::SamplingFlags;

    fn recorded() -> Box<Recorded> {
        let start = Instant::now();
        Box::new(Recorded {
            context: TraceContext::new_root(SamplingFlags::DEBUG, false).new_child(),
            kind: Some(Kind::Client),
            name: Text::Borrowed("get /"),
            shared: false,
            start,
            end: start + Duration::from_micros(1_500),
            local_endpoint: Arc::new(Endpoint::service("svc")),
            remote_endpoint: None,
            annotations: vec![(start + Duration::from_micros(10), Text::Borrowed("retry"))],
            tags: Tags::from_iter([
                (Text::Borrowed("b"), Text::Borrowed("first")),
                (Text::Borrowed("a"), Text::Owned("x".to_owned())),
                (Text::Borrowed("b"), Text::Borrowed("second")),
            ]),
        })
    }

    #[test]
    fn a_recorded_span_becomes_its_zipkin_form() {
        let recorded = recorded();
        let context = recorded.context;
        let span = FinishedSpan(recorded).into_span();
        assert_eq!(span.trace_id, context.trace_id);
        assert_eq!(
            (span.id, span.parent_id),
            (context.span_id, context.parent_id)
        );
        assert_eq!(span.name.as_deref(), Some("get /"));
        assert_eq!(span.duration, Some(1_500));
        assert!(span.debug && !span.shared);
        assert_eq!(span.service_name(), Some("svc"));
        let start = span.timestamp.unwrap();
        assert_eq!(span.annotations[0].timestamp, start + 10);
        // The later value of a key wins; keys come out sorted.
        let tags: Vec<_> = span.tags.iter().collect();
        assert_eq!(
            tags,
            [(&"a".into(), &"x".into()), (&"b".into(), &"second".into())]
        );
    }

    #[test]
    fn a_span_shorter_than_a_microsecond_lasts_one() {
        let mut recorded = recorded();
        recorded.end = recorded.start;
        assert_eq!(FinishedSpan(recorded).into_span().duration, Some(1));
    }
}
