//! The propagated trace context: what one span tells its children and the next service, and
//! what B3 headers carry. A span's ids (trace, span, parent) plus the sampling decision every
//! span of the trace shares; small and `Copy`, so passing it around costs nothing.

use crate::id::{SpanId, TraceId};

/// The sampling part of a context: whether to report, and whether debug forced it.
/// [`TraceContext`]'s example uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SamplingFlags {
    /// `Some(true)`: report; `Some(false)`: do not; `None`: the next tracer's sampler decides.
    pub sampled: Option<bool>,
    /// Debug (`X-B3-Flags: 1`, `b3: d`): report whatever the sampler says.
    pub debug: bool,
}

impl SamplingFlags {
    /// No decision yet: the receiving tracer decides.
    pub const DEFERRED: SamplingFlags = SamplingFlags {
        sampled: None,
        debug: false,
    };
    /// Sampled: the trace is reported.
    pub const SAMPLED: SamplingFlags = SamplingFlags {
        sampled: Some(true),
        debug: false,
    };
    /// Not sampled: ids still propagate, nothing is reported.
    pub const NOT_SAMPLED: SamplingFlags = SamplingFlags {
        sampled: Some(false),
        debug: false,
    };
    /// Debug: sampled, and marked so that collectors keep it.
    pub const DEBUG: SamplingFlags = SamplingFlags {
        sampled: Some(true),
        debug: true,
    };

    /// Whether spans under these flags are reported: debug implies sampled; deferred is not.
    pub fn is_sampled(self) -> bool {
        self.debug || self.sampled == Some(true)
    }
}

/// The identity of one span and the trace's sampling decision.
///
/// ```
/// use zipkin_tracing::{SamplingFlags, TraceContext};
/// let root = TraceContext::new_root(SamplingFlags::DEBUG, true);
/// let child = root.new_child();
/// assert_eq!((child.trace_id, child.parent_id), (root.trace_id, Some(root.span_id)));
/// assert!(child.is_sampled() && !SamplingFlags::DEFERRED.is_sampled()); // not decided yet
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace, shared by every span in it.
    pub trace_id: TraceId,
    /// This span.
    pub span_id: SpanId,
    /// The parent span; `None` at the root.
    pub parent_id: Option<SpanId>,
    /// The sampling decision, shared by every span in the trace.
    pub flags: SamplingFlags,
}

impl TraceContext {
    /// The root of a new trace with fresh random ids (a 128-bit trace id when `wide`).
    pub fn new_root(flags: SamplingFlags, wide: bool) -> Self {
        let trace_id = if wide {
            TraceId::random_128()
        } else {
            TraceId::random_64()
        };
        TraceContext {
            trace_id,
            span_id: SpanId::random(),
            parent_id: None,
            flags,
        }
    }

    /// A child of this span: same trace and flags, a fresh span id, this span as parent.
    pub fn new_child(&self) -> Self {
        TraceContext {
            trace_id: self.trace_id,
            span_id: SpanId::random(),
            parent_id: Some(self.span_id),
            flags: self.flags,
        }
    }

    /// Whether spans of this context are reported.
    pub fn is_sampled(&self) -> bool {
        self.flags.is_sampled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_keeps_the_trace_and_points_at_its_parent() {
        let root = TraceContext::new_root(SamplingFlags::SAMPLED, true);
        assert_eq!(root.parent_id, None);
        let child = root.new_child();
        assert_eq!(child.trace_id, root.trace_id);
        assert_eq!(child.parent_id, Some(root.span_id));
        assert_ne!(child.span_id, root.span_id);
        assert_eq!(child.flags, root.flags);
    }

    #[test]
    fn debug_implies_sampled_and_deferred_is_not_yet_sampled() {
        assert!(SamplingFlags::DEBUG.is_sampled());
        let debug_only = SamplingFlags {
            sampled: None,
            debug: true,
        };
        assert!(debug_only.is_sampled());
        assert!(SamplingFlags::SAMPLED.is_sampled());
        assert!(!SamplingFlags::NOT_SAMPLED.is_sampled());
        assert!(!SamplingFlags::DEFERRED.is_sampled());
    }
}
