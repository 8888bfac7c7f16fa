//! Recording one span: from `start` to `finish`, collecting tags, annotations and peers.
//!
//! Zipkin wants epoch microseconds, but durations must come from a monotonic clock, or a
//! clock adjustment mid-span gives a negative or inflated duration. Like Brave, we read the
//! wall clock once, as an anchor, and derive every timestamp from the monotonic clock
//! after it: one clock read per event, and a child's interval always lies inside its
//! parent's. An [`OpenSpan`] is reported when finished or dropped, whichever comes first. This is the body of py_zipkin's `zipkin_span`
//! (`start`, `stop`, `update_binary_annotations`, `add_remote_endpoint`).

use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::context::TraceContext;
use crate::report::Report;
use crate::span::{Annotation, Endpoint, Kind, Span};

/// The wall clock (epoch microseconds) and the monotonic clock, read together once.
fn anchor() -> &'static (u64, Instant) {
    static ANCHOR: OnceLock<(u64, Instant)> = OnceLock::new();
    ANCHOR.get_or_init(|| {
        // A clock before 1970 is a broken machine: timestamps then start at 0 rather than
        // failing the requests being traced.
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        (wall, Instant::now())
    })
}

/// Epoch microseconds of `instant`: the anchor's wall time plus monotonic time since.
///
/// Brave anchors once per local root span; a process-wide anchor is simpler and, on
/// Linux, as accurate: `CLOCK_MONOTONIC` follows NTP's rate corrections, and only a step
/// of the wall clock after start-up (which would also break durations) is not followed.
pub(crate) fn epoch_micros(instant: Instant) -> u64 {
    let (wall, mono) = *anchor();
    wall + instant.saturating_duration_since(mono).as_micros() as u64
}

/// Epoch microseconds now.
pub(crate) fn now_micros() -> u64 {
    epoch_micros(Instant::now())
}

/// A span being recorded. Unsampled spans record nothing: every method is then a no-op.
#[must_use = "a span is reported when finished or dropped; dropping it at once records nothing useful"]
pub struct OpenSpan {
    context: TraceContext,
    recording: Option<Recording>,
}

struct Recording {
    span: Span,
    reporter: Arc<dyn Report>,
}

impl OpenSpan {
    pub(crate) fn start(
        context: TraceContext,
        name: &str,
        kind: Option<Kind>,
        local_endpoint: &Endpoint,
        reporter: &Arc<dyn Report>,
    ) -> Self {
        if !context.is_sampled() {
            return OpenSpan {
                context,
                recording: None,
            };
        }
        let mut span = Span::new(context.trace_id, context.span_id);
        span.parent_id = context.parent_id;
        span.kind = kind;
        span.name = Some(name.to_owned());
        span.timestamp = Some(now_micros());
        span.debug = context.flags.debug;
        span.local_endpoint = Some(local_endpoint.clone());
        OpenSpan {
            context,
            recording: Some(Recording {
                span,
                reporter: reporter.clone(),
            }),
        }
    }

    /// This span's context, to propagate or to start children from.
    pub fn context(&self) -> TraceContext {
        self.context
    }

    /// Whether this span will be reported (its trace is sampled).
    pub fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    fn span_mut(&mut self) -> Option<&mut Span> {
        self.recording.as_mut().map(|r| &mut r.span)
    }

    /// Renames the span, e.g. once the route is known.
    pub fn set_name(&mut self, name: &str) {
        if let Some(span) = self.span_mut() {
            span.name = Some(name.to_owned());
        }
    }

    /// Marks the span as contributing to a span started by another host (a server that
    /// joined its client's span).
    pub fn set_shared(&mut self, shared: bool) {
        if let Some(span) = self.span_mut() {
            span.shared = shared;
        }
    }

    /// Sets the tag `key` to `value`, replacing an earlier value.
    pub fn tag(&mut self, key: &str, value: &str) {
        if let Some(span) = self.span_mut() {
            span.tags.insert(key.to_owned(), value.to_owned());
        }
    }

    /// Records that `value` happened now.
    pub fn annotate(&mut self, value: &str) {
        if let Some(span) = self.span_mut() {
            span.annotations.push(Annotation {
                timestamp: now_micros(),
                value: value.to_owned(),
            });
        }
    }

    /// Records the other side of a remote call.
    pub fn set_remote_endpoint(&mut self, endpoint: Endpoint) {
        if let Some(span) = self.span_mut() {
            span.remote_endpoint = Some(endpoint);
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
        let Some(Recording { mut span, reporter }) = self.recording.take() else {
            return;
        };
        if std::thread::panicking() {
            span.tags
                .entry("error".to_owned())
                .or_insert_with(|| "panic".to_owned());
        }
        // Both ends come from the same clock, so this never underflows; Zipkin asks that
        // "durations of less than one are rounded up".
        let start = span.timestamp.unwrap_or_default();
        span.duration = Some(now_micros().saturating_sub(start).max(1));
        reporter.report(span);
    }
}
