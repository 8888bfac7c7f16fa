//! The current span: which span new work belongs to, without passing it by hand.
//! py_zipkin keeps a thread-local stack of spans, which breaks under async Rust: a task
//! moves between threads at each `.await`, and one thread interleaves many requests. Here
//! the current span is a tokio task-local set for the duration of a future ([`scope`]): it
//! follows the future across threads and is never seen by a concurrent request.

use std::future::Future;

use crate::context::TraceContext;
use crate::tracer::Tracer;
use crate::w3c::TraceState;

tokio::task_local! {
    static CURRENT: Current;
}

/// The current span's context and the tracer that recorded it, so that children can be
/// created and reported the same way, with the W3C `tracestate` of the request it serves.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    pub(crate) tracer: Tracer,
    pub(crate) context: TraceContext,
    /// Passed on unchanged on every call made under this span.
    pub(crate) tracestate: Option<TraceState>,
}

impl Current {
    /// The same tracer and `tracestate`, under another span.
    pub(crate) fn with_context(&self, context: TraceContext) -> Current {
        Current {
            tracer: self.tracer.clone(),
            context,
            tracestate: self.tracestate.clone(),
        }
    }
}

/// The current span: the innermost of the task's [`scope`] and, with the `tracing-bridge`
/// feature, the `tracing` span the code runs in, if the bridge recorded it.
pub(crate) fn current() -> Option<Current> {
    #[cfg(feature = "tracing-bridge")]
    return bridged::innermost_of(scoped(), bridged::innermost());
    #[cfg(not(feature = "tracing-bridge"))]
    scoped()
}

/// The task's [`scope`] alone.
pub(crate) fn scoped() -> Option<Current> {
    CURRENT.try_with(Current::clone).ok()
}

/// The context of the span the calling code runs in, if it runs inside a traced request,
/// a [`local_span`](crate::local_span) or a bridged `tracing` span: for example, to show
/// the trace id to a user.
///
/// ```
/// use zipkin_tracing::{Tracer, current_context, root_span};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// assert_eq!(current_context(), None); // outside any span
/// let tracer = Tracer::builder("svc").build();
/// let inside = root_span(&tracer, "job", async { current_context().map(|c| c.trace_id) });
/// assert!(inside.await.is_some_and(|trace_id| trace_id.is_128())); // to show a user, say
/// # }
/// ```
pub fn current_context() -> Option<TraceContext> {
    current().map(|current| current.context)
}

/// Bridged `tracing` spans as current spans: the bridge keeps a [`Bridged`] in the
/// registry's extensions of each span it records, and this finds the innermost one.
#[cfg(feature = "tracing-bridge")]
pub(crate) mod bridged {
    use std::sync::atomic::{AtomicBool, Ordering};

    use tracing_subscriber::registry::LookupSpan;

    use super::Current;
    use crate::context::TraceContext;
    use crate::span::OpenSpan;

    /// Set once a bridge is installed, so that programs without one skip the lookup.
    pub(crate) static INSTALLED: AtomicBool = AtomicBool::new(false);

    /// A bridged span's place among the current spans.
    #[derive(Debug, Clone)]
    pub(crate) struct Place {
        /// The Zipkin span recorded for the `tracing` span.
        pub(crate) span: Current,
        /// The task's scoped span when the `tracing` span opened.
        pub(crate) opened_under: Option<TraceContext>,
    }

    /// What the bridge keeps in a `tracing` span's extensions, one value per span (each
    /// extension is an allocation of its own).
    pub(crate) struct Bridged {
        /// Where the span is among the current spans.
        pub(crate) place: Place,
        /// The Zipkin span being recorded, until the `tracing` span closes.
        pub(crate) recording: Option<OpenSpan>,
        /// How many of its fields have become tags.
        pub(crate) tags: usize,
    }

    /// The innermost of the task's scoped span and a bridged span around it: the bridged one
    /// while the scope is still the one it opened under (no scope began inside it); else the
    /// scope, a `local_span` or a request started inside it.
    pub(crate) fn innermost_of(scoped: Option<Current>, bridged: Option<Place>) -> Option<Current> {
        match bridged {
            Some(bridged) if bridged.opened_under == scoped.as_ref().map(|s| s.context) => {
                Some(bridged.span)
            }
            _ => scoped,
        }
    }

    /// The place of the nearest span with a [`Bridged`] among `spans` (a span and its
    /// ancestors, innermost first).
    pub(crate) fn nearest<'a, R>(
        mut spans: impl Iterator<Item = tracing_subscriber::registry::SpanRef<'a, R>>,
    ) -> Option<Place>
    where
        R: LookupSpan<'a> + 'a,
    {
        spans.find_map(|span| {
            let extensions = span.extensions();
            extensions
                .get::<Bridged>()
                .map(|bridged| bridged.place.clone())
        })
    }

    /// The innermost bridged span around the calling code, if any. Not for use inside a
    /// subscriber's own callbacks, where `tracing` hands out no dispatcher (the bridge
    /// walks the registry's parents there instead).
    pub(crate) fn innermost() -> Option<Place> {
        if !INSTALLED.load(Ordering::Relaxed) {
            return None;
        }
        tracing::dispatcher::get_default(|dispatch| {
            // The bridge works with tracing-subscriber's `Registry`, under any layers.
            let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
            let current = dispatch.current_span();
            nearest(registry.span(current.id()?)?.scope())
        })
    }
}

/// Runs `future` with `current` as its current span. Scopes nest: inside, a new scope
/// replaces the span until its future ends.
pub(crate) fn scope<F: Future>(
    current: Current,
    future: F,
) -> tokio::task::futures::TaskLocalFuture<Current, F> {
    CURRENT.scope(current, future)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::SamplingFlags;

    fn at(tracer: &Tracer, context: TraceContext) -> Current {
        Current {
            tracer: tracer.clone(),
            context,
            tracestate: None,
        }
    }

    #[tokio::test]
    async fn the_current_span_is_set_only_inside_its_scope() {
        let tracer = Tracer::builder("svc").build();
        let outer = tracer.new_trace();
        let inner = tracer.child(&outer);
        assert!(current().is_none());
        scope(at(&tracer, outer), async {
            assert_eq!(current_context(), Some(outer));
            scope(at(&tracer, inner), async {
                assert_eq!(current_context(), Some(inner));
            })
            .await;
            assert_eq!(current_context(), Some(outer));
        })
        .await;
        assert!(current_context().is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_tasks_never_see_each_others_span() {
        let tracer = Tracer::builder("svc").build();
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let tracer = tracer.clone();
            let context = tracer.new_trace_with(SamplingFlags::SAMPLED);
            tasks.push(tokio::spawn(scope(at(&tracer, context), async move {
                for _ in 0..20 {
                    tokio::task::yield_now().await;
                    assert_eq!(current_context(), Some(context));
                }
            })));
        }
        for task in tasks {
            task.await.unwrap();
        }
    }
}
