//! The current span: which span new work belongs to, without passing it by hand.
//! py_zipkin keeps a thread-local stack of spans, which breaks under async Rust: a task
//! moves between threads at each `.await`, and one thread interleaves many requests. Here
//! the current span is a tokio task-local set for the duration of a future ([`scope`]): it
//! follows the future across threads and is never seen by a concurrent request. Work
//! handed to another task or thread takes it along with a [`ParentSpan`].

use std::cell::RefCell;
use std::future::Future;

use crate::context::TraceContext;
use crate::span::OpenSpan;
use crate::tracer::Tracer;
use crate::w3c::TraceState;

tokio::task_local! {
    static CURRENT: Scope;
}

/// What a task's scope holds: the current span, and the span being recorded while the
/// scope runs, for [`with_current_span`] to edit (none in a scope a [`ParentSpan`] made:
/// the span stays with the task that records it).
pub(crate) struct Scope {
    current: Current,
    span: RefCell<Option<OpenSpan>>,
}

impl Scope {
    /// A scope for `current` that records no span of its own.
    fn carried(current: Current) -> Scope {
        Scope {
            current,
            span: RefCell::new(None),
        }
    }

    /// The span recorded in this scope, to finish once its future is done.
    pub(crate) fn into_span(self) -> Option<OpenSpan> {
        self.span.into_inner()
    }
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
    CURRENT.try_with(|scope| scope.current.clone()).ok()
}

/// Runs `edit` on the span the calling code runs in: the SERVER span of a request, or the
/// innermost [`local_span`](crate::local_span) or bridged `tracing` span, to tag, annotate,
/// rename it or mark an error (Brave's `currentSpanCustomizer()`, py_zipkin's
/// `update_binary_annotations` and `override_span_name`). `None` outside any span, and in a
/// task a [`ParentSpan`] carries a span into, whose span the task that opened it records.
///
/// ```
/// use zipkin_tracing::{InMemoryReporter, Tracer, root_span, with_current_span};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let reporter = InMemoryReporter::new();
/// let tracer = Tracer::builder("svc").reporter(reporter.clone()).build();
/// root_span(&tracer, "job", async {
///     with_current_span(|span| {
///         span.rename("export orders");
///         span.tag("orders.count", "12");
///     });
/// })
/// .await;
/// assert_eq!(reporter.spans()[0].name.as_deref(), Some("export orders"));
/// assert_eq!(with_current_span(|span| span.annotate("lost")), None); // outside any span
/// # }
/// ```
pub fn with_current_span<R>(edit: impl FnOnce(&mut OpenSpan) -> R) -> Option<R> {
    #[cfg(feature = "tracing-bridge")]
    if let Some(place) = bridged::innermost()
        && bridged::is_innermost(&place, scoped().map(|scoped| scoped.context))
    {
        return bridged::with_recording(edit);
    }
    // A span being edited cannot be edited again from inside `edit`: that call gets `None`.
    let edit_scoped = |scope: &Scope| Some(edit(scope.span.try_borrow_mut().ok()?.as_mut()?));
    CURRENT.try_with(edit_scoped).ok().flatten()
}

/// The span the calling code runs in, captured to be the parent of work that runs in
/// another task or thread: a task-local does not follow `tokio::spawn`, so without one
/// the spawned work starts untraced.
///
/// ```
/// use zipkin_tracing::{InMemoryReporter, ParentSpan, Tracer, local_span, root_span};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let reporter = InMemoryReporter::new();
/// let tracer = Tracer::builder("svc").reporter(reporter.clone()).build();
/// root_span(&tracer, "request", async {
///     let task = ParentSpan::current().wrap(local_span("send_email", async {}));
///     tokio::spawn(task).await.unwrap();
///     let parent = ParentSpan::current(); // a thread: its code runs inside `run`
///     std::thread::spawn(move || parent.run(zipkin_tracing::current_context)).join().unwrap()
/// })
/// .await
/// .expect("the request's context, seen from the thread");
/// let spans = reporter.spans(); // send_email, then request
/// assert_eq!(spans[0].parent_id, Some(spans[1].id));
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ParentSpan(Option<Current>);

impl ParentSpan {
    /// The span the calling code runs in (none outside a span: the work then runs untraced).
    pub fn current() -> Self {
        ParentSpan(current())
    }

    /// `future`, run with the captured span as its current span: its spans and traced
    /// calls are the captured span's children.
    pub fn wrap<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        let ParentSpan(current) = self;
        async move {
            match current {
                Some(current) => scope(current, None, future).await,
                None => future.await,
            }
        }
    }

    /// Runs `work` now, on this thread, with the captured span as its current span: for
    /// work on a thread of its own, which no task-local reaches.
    pub fn run<R>(self, work: impl FnOnce() -> R) -> R {
        match self.0 {
            Some(current) => CURRENT.sync_scope(Scope::carried(current), work),
            None => work(),
        }
    }
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
            Some(bridged) if is_innermost(&bridged, scoped.as_ref().map(|s| s.context)) => {
                Some(bridged.span)
            }
            _ => scoped,
        }
    }

    /// Whether a bridged span is inside the task's scope (`scoped`): it opened under that
    /// scope, or the task has none (a task the `tracing` span was carried into with
    /// `.instrument(span)`).
    pub(crate) fn is_innermost(bridged: &Place, scoped: Option<TraceContext>) -> bool {
        scoped.is_none() || bridged.opened_under == scoped
    }

    /// Runs `edit` on the recording of the innermost bridged span around the calling code.
    pub(crate) fn with_recording<R>(edit: impl FnOnce(&mut OpenSpan) -> R) -> Option<R> {
        let mut edit = Some(edit);
        tracing::dispatcher::get_default(|dispatch| {
            let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
            let current = registry.span(dispatch.current_span().id()?)?;
            current.scope().find_map(|span| {
                let mut extensions = span.extensions_mut();
                let recording = extensions.get_mut::<Bridged>()?.recording.as_mut()?;
                Some(edit.take()?(recording))
            })
        })
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

/// Runs `future` with `current` as its current span, holding `span` (its recording) for
/// [`with_current_span`]. Scopes nest: inside, a new scope replaces the span until its
/// future ends.
pub(crate) fn scope<F: Future>(
    current: Current,
    span: Option<OpenSpan>,
    future: F,
) -> tokio::task::futures::TaskLocalFuture<Scope, F> {
    CURRENT.scope(
        Scope {
            span: RefCell::new(span),
            ..Scope::carried(current)
        },
        future,
    )
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
        scope(at(&tracer, outer), None, async {
            assert_eq!(current_context(), Some(outer));
            scope(at(&tracer, inner), None, async {
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
            tasks.push(tokio::spawn(scope(
                at(&tracer, context),
                None,
                async move {
                    for _ in 0..20 {
                        tokio::task::yield_now().await;
                        assert_eq!(current_context(), Some(context));
                    }
                },
            )));
        }
        for task in tasks {
            task.await.unwrap();
        }
    }
}
