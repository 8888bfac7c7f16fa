//! Recording one span: from `start` to `finish`, collecting tags, annotations and peers.
//!
//! Zipkin wants epoch microseconds, but durations must come from a monotonic clock, or a
//! clock adjustment mid-span gives a negative or inflated duration. Like Brave, we read the
//! wall clock once, as an anchor, and derive every timestamp from the monotonic clock
//! after it: one clock read per event, and a child's interval always lies inside its
//! parent's. An [`OpenSpan`] is reported when finished or dropped, whichever comes first,
//! as a [`FinishedSpan`]; the conversion to epoch microseconds and JSON happens later, on
//! the reporter's task. This is the body of py_zipkin's `zipkin_span` (`start`, `stop`,
//! `update_binary_annotations`, `add_remote_endpoint`).

use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::context::TraceContext;
use crate::finished::{FinishedSpan, Recorded, Tags, Text};
use crate::report::Report;
use crate::span::{Endpoint, Kind};

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

/// Reads the clock anchor now, so that it exists before the first span starts.
pub(crate) fn init_clock() {
    anchor();
}

/// Epoch microseconds of `instant`: the anchor's wall time plus monotonic time since (or
/// minus the time before, for an instant read before the anchor).
///
/// Brave anchors once per local root span; a process-wide anchor is simpler and, on
/// Linux, as accurate: `CLOCK_MONOTONIC` follows NTP's rate corrections, and only a step
/// of the wall clock after start-up (which would also break durations) is not followed.
pub(crate) fn epoch_micros(instant: Instant) -> u64 {
    let (wall, mono) = *anchor();
    match instant.checked_duration_since(mono) {
        Some(after) => wall + after.as_micros() as u64,
        // Rounded towards the past on this side too, so that the mapping stays the same
        // `floor` on both sides of the anchor and durations stay exact.
        None => wall.saturating_sub((mono - instant).as_nanos().div_ceil(1_000) as u64),
    }
}

/// A span being recorded. Unsampled spans record nothing: every method is then a no-op.
#[must_use = "a span is reported when finished or dropped; dropping it at once records nothing useful"]
pub struct OpenSpan {
    context: TraceContext,
    recording: Option<Recording>,
}

struct Recording {
    span: Box<Recorded>,
    reporter: Arc<dyn Report>,
}

impl OpenSpan {
    pub(crate) fn start(
        context: TraceContext,
        name: Text,
        kind: Option<Kind>,
        local_endpoint: &Arc<Endpoint>,
        reporter: &Arc<dyn Report>,
    ) -> Self {
        if !context.is_sampled() {
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

    fn span_mut(&mut self) -> Option<&mut Recorded> {
        self.recording.as_mut().map(|r| &mut *r.span)
    }

    /// Renames the span, e.g. once the route is known.
    pub fn set_name(&mut self, name: impl Into<Text>) {
        if let Some(span) = self.span_mut() {
            span.name = name.into();
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
    ///
    /// A `&'static str` or a `String` is taken as it is, never copied. A value that costs
    /// something to compute is best computed only when [`OpenSpan::is_recording`].
    pub fn tag(&mut self, key: impl Into<Text>, value: impl Into<Text>) {
        if let Some(span) = self.span_mut() {
            // Kept in order; the reporter lets the last value of a key win.
            span.tags.push((key.into(), value.into()));
        }
    }

    /// Records that `value` happened now.
    pub fn annotate(&mut self, value: impl Into<Text>) {
        if let Some(span) = self.span_mut() {
            span.annotations.push((Instant::now(), value.into()));
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
        span.end = Instant::now();
        if std::thread::panicking() && !span.tags.iter().any(|(key, _)| key == "error") {
            span.tags
                .push((Text::Borrowed("error"), Text::Borrowed("panic")));
        }
        reporter.report(FinishedSpan::recorded(span));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn whole_microseconds_apart_stay_exactly_apart_on_both_sides_of_the_anchor() {
        let (_, mono) = *anchor();
        for offset_nanos in [0, 1, 400, 999, 1_000, 1_001, 2_500_700] {
            let offset = Duration::from_nanos(offset_nanos);
            for start in [mono - offset, mono + offset] {
                let end = start + Duration::from_micros(1_500);
                assert_eq!(
                    epoch_micros(end) - epoch_micros(start),
                    1_500,
                    "{offset_nanos} ns from the anchor"
                );
            }
        }
    }
}
