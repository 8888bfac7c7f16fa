//! An open span: the handle that records one span from start to finish.
//! [`Tracer::start`](crate::Tracer::start) opens one; tags, annotations and the remote
//! endpoint are added while the work runs; finishing or dropping it hands the
//! [`FinishedSpan`] to the tracer's reporter.

use std::sync::Arc;
use std::time::Instant;

use crate::context::TraceContext;
use crate::model::{Endpoint, Kind};
use crate::record::{FinishedSpan, Recorded, Tags, Text};
use crate::report::Report;

/// A span being recorded. Unsampled spans record nothing: every method is then a no-op.
///
/// ```
/// use zipkin_tracing::{InMemoryReporter, Kind, Tracer};
/// # let reporter = InMemoryReporter::new();
/// # let tracer = Tracer::builder("svc").reporter(reporter.clone()).build();
/// let mut span = tracer.start(tracer.new_trace(), "publish", Some(Kind::Producer));
/// span.tag("queue", "orders");
/// span.annotate("retry");
/// span.finish();
/// assert_eq!(reporter.spans()[0].tag("queue"), Some("orders"));
/// ```
#[must_use = "a span is reported when finished or dropped; dropping it at once records nothing useful"]
pub struct OpenSpan {
    context: TraceContext,
    recording: Option<Recording>,
}

struct Recording {
    span: Box<Recorded>,
    to: Reporters,
}

/// Where a span goes when it finishes: the tracer's reporter if its trace is sampled, and
/// the tracer's firehose if it has one.
pub(crate) struct Reporters {
    pub(crate) reporter: Option<Arc<dyn Report>>,
    pub(crate) firehose: Option<Arc<dyn Report>>,
}

impl OpenSpan {
    pub(crate) fn start(
        context: TraceContext,
        name: Text,
        kind: Option<Kind>,
        local_endpoint: &Arc<Endpoint>,
        to: Reporters,
    ) -> Self {
        if to.reporter.is_none() && to.firehose.is_none() {
            return OpenSpan {
                context,
                recording: None,
            };
        }
        let start = Instant::now();
        OpenSpan {
            context,
            recording: Some(Recording {
                span: Box::new(Recorded {
                    context,
                    kind,
                    name,
                    shared: false,
                    start,
                    // Set again when the span finishes.
                    end: start,
                    local_endpoint: local_endpoint.clone(),
                    remote_endpoint: None,
                    annotations: Vec::new(),
                    tags: Tags::new(),
                }),
                to,
            }),
        }
    }

    /// This span's context, to propagate or to start children from.
    pub fn context(&self) -> TraceContext {
        self.context
    }

    /// Whether this span will be reported (its trace is sampled, or a firehose takes all).
    pub fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    fn span_mut(&mut self) -> Option<&mut Recorded> {
        self.recording.as_mut().map(|r| &mut *r.span)
    }

    /// Marks the span as shared, one another host started (a server joining its client's span).
    pub fn set_shared(&mut self, shared: bool) {
        if let Some(span) = self.span_mut() {
            span.shared = shared;
        }
    }

    /// Sets the tag `key` to `value`, replacing an earlier value. A `&'static str` or a
    /// `String` is taken as it is, never copied; a value that costs something to compute is
    /// best computed only when [`OpenSpan::is_recording`].
    pub fn tag(&mut self, key: impl Into<Text>, value: impl Into<Text>) {
        if let Some(span) = self.span_mut() {
            span.tags.push((key.into(), value.into()));
        }
    }

    /// Records that `value` happened now: an event inside the span, such as `"retry"`
    /// (py_zipkin's `add_annotation`). Keep values low-cardinality.
    pub fn annotate(&mut self, value: impl Into<Text>) {
        if let Some(span) = self.span_mut() {
            span.annotations.push((Instant::now(), value.into()));
        }
    }

    /// Whether the tag `key` is set.
    pub(crate) fn has_tag(&self, key: &str) -> bool {
        let recording = self.recording.as_ref();
        recording.is_some_and(|r| r.span.tags.iter().any(|(k, _)| k == key))
    }

    /// Renames the span, for a name known only once the work has begun (py_zipkin's
    /// `override_span_name`). Keep names low-cardinality: no ids in them.
    pub fn rename(&mut self, name: impl Into<Text>) {
        if let Some(span) = self.span_mut() {
            span.name = name.into();
        }
    }

    /// Marks the span as failed: the `error` tag, which Zipkin's UI shows in red, says how.
    /// A response status that would set `error` too leaves this one in place, as in Brave.
    pub fn error(&mut self, message: impl Into<Text>) {
        self.tag("error", message);
    }

    /// Records the other side of a remote call (py_zipkin's `add_remote_endpoint`).
    pub fn set_remote_endpoint(&mut self, endpoint: Endpoint) {
        if let Some(span) = self.span_mut() {
            span.remote_endpoint = Some(endpoint);
        }
    }

    /// Names the service on the other side of a CLIENT or PRODUCER span (Brave's
    /// `remoteServiceName`, py_zipkin's `add_sa_binary_annotation`), keeping its address:
    /// a database or broker that records no spans of its own then shows in the dependency
    /// graph as the callee.
    pub fn set_remote_service(&mut self, name: &str) {
        if let Some(span) = self.span_mut() {
            let endpoint = span.remote_endpoint.get_or_insert_with(Endpoint::default);
            endpoint.service_name = Some(name.into());
        }
    }

    /// Finishes the span now and reports it.
    pub fn finish(self) {
        // Reporting happens in `Drop`, so that a span ended by an early return, a
        // cancelled future or a panic is reported too.
        drop(self);
    }
}

impl Drop for OpenSpan {
    fn drop(&mut self) {
        let Some(Recording { mut span, to }) = self.recording.take() else {
            return;
        };
        span.end = Instant::now();
        if std::thread::panicking() && !span.tags.iter().any(|(key, _)| key == "error") {
            span.tags
                .push((Text::Borrowed("error"), Text::Borrowed("panic")));
        }
        match (to.reporter, to.firehose) {
            (Some(reporter), Some(firehose)) => {
                firehose.report(FinishedSpan(span.clone()));
                reporter.report(FinishedSpan(span));
            }
            (Some(only), None) | (None, Some(only)) => only.report(FinishedSpan(span)),
            (None, None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::SamplingFlags;
    use crate::report::InMemoryReporter;

    fn open(flags: SamplingFlags, reporter: &InMemoryReporter) -> OpenSpan {
        let reporter: Arc<dyn Report> = Arc::new(reporter.clone());
        let context = TraceContext::new_root(flags, true);
        let endpoint = Arc::new(Endpoint::service("svc"));
        let reporter = context.is_sampled().then_some(reporter);
        let to = Reporters {
            reporter,
            firehose: None,
        };
        OpenSpan::start(context, Text::Borrowed("work"), None, &endpoint, to)
    }

    #[test]
    fn annotations_are_timestamped_inside_the_span() {
        let reporter = InMemoryReporter::new();
        let mut span = open(SamplingFlags::SAMPLED, &reporter);
        span.annotate("retry");
        span.finish();
        let spans = reporter.spans();
        let (start, duration) = (spans[0].timestamp.unwrap(), spans[0].duration.unwrap());
        let annotation = &spans[0].annotations[0];
        assert_eq!(annotation.value, "retry");
        assert!((start..=start + duration).contains(&annotation.timestamp));
    }

    #[test]
    fn an_unsampled_span_records_nothing() {
        let reporter = InMemoryReporter::new();
        let mut span = open(SamplingFlags::NOT_SAMPLED, &reporter);
        assert!(!span.is_recording());
        span.tag("k", "v");
        span.annotate("retry");
        span.finish();
        assert!(reporter.spans().is_empty());
    }

    #[test]
    fn a_span_dropped_by_a_panic_is_reported_with_an_error_tag() {
        let reporter = InMemoryReporter::new();
        let span = open(SamplingFlags::SAMPLED, &reporter);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _span = span;
            panic!("handler failed");
        }));
        assert!(panicked.is_err());
        assert_eq!(reporter.spans()[0].tag("error"), Some("panic"));
    }
}
