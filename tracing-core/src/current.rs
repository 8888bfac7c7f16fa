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

tokio::task_local! {
    static CURRENT: Current;
}

/// The current span's context and the tracer that recorded it, so that children can be
/// created and reported the same way.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    pub(crate) tracer: Tracer,
    pub(crate) context: TraceContext,
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

/// Runs `future` with `context` as its current span. Scopes nest: inside, a new scope
/// replaces the span until its future ends.
pub(crate) fn scope<F: Future>(
    tracer: Tracer,
    context: TraceContext,
    future: F,
) -> tokio::task::futures::TaskLocalFuture<Current, F> {
    CURRENT.scope(Current { tracer, context }, future)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::SamplingFlags;

    #[tokio::test]
    async fn the_current_span_is_set_only_inside_its_scope() {
        let tracer = Tracer::builder("svc").build();
        let outer = tracer.new_trace();
        let inner = tracer.child(&outer);
        assert!(current().is_none());
        scope(tracer.clone(), outer, async {
            assert_eq!(current_context(), Some(outer));
            scope(tracer.clone(), inner, async {
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
            tasks.push(tokio::spawn(scope(tracer, context, async move {
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
