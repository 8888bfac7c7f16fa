//! A finished span as the request path hands it to a reporter, before it becomes JSON.
//!
//! Recording must cost next to nothing, so a span is kept in the cheapest form that loses
//! nothing: monotonic instants instead of epoch microseconds, static or moved strings
//! instead of copies, tags in the order they were set instead of a sorted map. The
//! reporter turns it into the Zipkin v2 [`Span`] off the request path, on its own task;
//! Brave splits the work the same way between its `MutableSpan` and its span handlers.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use smallvec::SmallVec;

use crate::context::TraceContext;
use crate::record::epoch_micros;
use crate::span::{Annotation, Endpoint, Kind, Span};

/// Text recorded on a span: a `&'static str` (span names, tag keys) is kept as it is, and
/// an owned `String` is moved in, so recording never copies a string.
pub type Text = Cow<'static, str>;

/// A finished, sampled span on its way to a reporter. [`FinishedSpan::into_span`] turns it
/// into the Zipkin v2 model, which is what reporters store or send.
#[derive(Debug, Clone)]
pub struct FinishedSpan(Repr);

#[derive(Debug, Clone)]
enum Repr {
    // Boxed: the one allocation of a recorded span, made when it starts. Moving a span
    // from start to finish to the reporter's queue then copies a pointer, not the span.
    Recorded(Box<Recorded>),
    Built(Box<Span>),
}

/// Tags of one span. Four fit without an allocation of their own: the HTTP tags of a
/// span (method, path, and for a failure status code and error) need no more.
pub(crate) type Tags = SmallVec<[(Text, Text); 4]>;

/// What an [`crate::OpenSpan`] records, in the form that is cheapest to record.
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
    /// In the order set; a later value for the same key replaces an earlier one.
    pub(crate) tags: Tags,
}

/// A finished span borrowed in whichever form it was reported, so that an encoder can
/// read it in place instead of converting it to a [`Span`] first.
pub(crate) enum View<'a> {
    /// Recorded by an [`crate::OpenSpan`].
    Recorded(&'a Recorded),
    /// Built by hand and reported as it is.
    Built(&'a Span),
}

impl Recorded {
    /// Epoch microseconds at the start, and microseconds to the end, at least 1.
    ///
    /// Both ends go through the same conversion, so that a child's interval stays inside
    /// its parent's after rounding to microseconds. Zipkin asks that "durations of less
    /// than one are rounded up". The span model and the JSON encoder both use this.
    pub(crate) fn timestamp_and_duration(&self) -> (u64, u64) {
        let start = epoch_micros(self.start);
        (start, epoch_micros(self.end).saturating_sub(start).max(1))
    }
}

impl FinishedSpan {
    pub(crate) fn recorded(recorded: Box<Recorded>) -> Self {
        FinishedSpan(Repr::Recorded(recorded))
    }

    /// The span as it is held, borrowed.
    pub(crate) fn view(&self) -> View<'_> {
        match &self.0 {
            Repr::Recorded(recorded) => View::Recorded(recorded),
            Repr::Built(span) => View::Built(span),
        }
    }

    /// The trace id, span id and parent of this span.
    pub fn context(&self) -> TraceContext {
        match &self.0 {
            Repr::Recorded(recorded) => recorded.context,
            Repr::Built(span) => TraceContext {
                trace_id: span.trace_id,
                span_id: span.id,
                parent_id: span.parent_id,
                flags: crate::context::SamplingFlags {
                    sampled: Some(true),
                    debug: span.debug,
                },
            },
        }
    }

    /// The span in Zipkin v2 form: epoch-microsecond timestamps, sorted tags.
    pub fn into_span(self) -> Span {
        let recorded = match self.0 {
            Repr::Recorded(recorded) => *recorded,
            Repr::Built(span) => return *span,
        };
        let context = recorded.context;
        let (start, duration) = recorded.timestamp_and_duration();
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

/// A span built by hand (a test, a proxy forwarding spans) reported as it is.
impl From<Span> for FinishedSpan {
    fn from(span: Span) -> Self {
        FinishedSpan(Repr::Built(Box::new(span)))
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
        let span = FinishedSpan::recorded(recorded).into_span();
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
        assert_eq!(
            FinishedSpan::recorded(recorded).into_span().duration,
            Some(1)
        );
    }

    #[test]
    fn a_built_span_is_reported_unchanged() {
        let context = TraceContext::new_root(SamplingFlags::SAMPLED, true);
        let mut span = Span::new(context.trace_id, context.span_id);
        span.name = Some("built".to_owned());
        let finished = FinishedSpan::from(span.clone());
        assert_eq!(finished.context().span_id, context.span_id);
        assert_eq!(finished.into_span(), span);
    }
}
