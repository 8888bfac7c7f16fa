//! The current span: which span new work belongs to, without passing it by hand.
//!
//! py_zipkin keeps a thread-local stack of spans. That breaks under async Rust: a task
//! moves between threads at each `.await`, and one thread interleaves many requests, so a
//! thread-local would hand one request's span to another. Here the current span lives in
//! a tokio task-local, set for the duration of a future ([`scope`]): it follows the future
//! across `.await` and threads and is never seen by a concurrent request.

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

/// The current span, if the calling code runs inside [`scope`].
pub(crate) fn current() -> Option<Current> {
    CURRENT.try_with(Current::clone).ok()
}

/// The context of the span the calling code runs in, if it runs inside a traced request
/// or a [`local_span`](crate::local_span): for example, to show the trace id to a user.
pub fn current_context() -> Option<TraceContext> {
    CURRENT.try_with(|current| current.context).ok()
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
