//! Local spans: timing in-process work as a child of the current span. A local span has no
//! kind and no remote side; it shows where time went inside one service, such as the
//! article's `service_1_do_stuff`. [`root_span`] starts a trace for work no request started.

use std::fmt::Display;
use std::future::Future;

use crate::current::{self, Current};
use crate::record::Text;
use crate::span::OpenSpan;
use crate::tracer::Tracer;

/// Runs `future` inside a new local span named `name`, a child of the current span and the
/// current span inside `future`, where [`with_current_span`](crate::with_current_span)
/// reaches it (as py_zipkin's `with zipkin_span(...) as span`). With no current span
/// (untraced code) the future just runs. [`root_span`]'s example nests one.
pub async fn local_span<F: Future>(name: impl Into<Text>, future: F) -> F::Output {
    match current::current() {
        Some(parent) => {
            let child = parent.with_context(parent.tracer.child(&parent.context));
            let span = child.tracer.start(child.context, name, None);
            in_span(child, span, future).await
        }
        None => future.await,
    }
}

/// [`local_span`] for work that can fail: an `Err` marks the span as an error, its
/// `Display` the `error` tag, as a failed call marks a CLIENT span. (Rust cannot tell a
/// `Result` apart inside the generic `local_span`, as `#[instrument]` needs its `err`.)
///
/// ```
/// use zipkin_tracing::{InMemoryReporter, Tracer, root_span, try_local_span};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let reporter = InMemoryReporter::new();
/// let tracer = Tracer::builder("svc").reporter(reporter.clone()).build();
/// let charge = try_local_span("charge_card", async { Err::<(), _>("card declined") });
/// assert!(root_span(&tracer, "checkout", charge).await.is_err());
/// assert_eq!(reporter.spans()[0].tag("error"), Some("card declined"));
/// # }
/// ```
pub async fn try_local_span<F, T, E>(name: impl Into<Text>, future: F) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
    E: Display,
{
    let marked = async {
        let result = future.await;
        if let Err(error) = &result {
            current::with_current_span(|span| span.error(error.to_string()));
        }
        result
    };
    local_span(name, marked).await
}

/// Runs `future` inside a new local span named `name`, the root of a new trace sampled
/// by `tracer`'s sampler; inside, [`local_span`] and traced calls are its children.
///
/// ```
/// use zipkin_tracing::{InMemoryReporter, Tracer, local_span, root_span};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let reporter = InMemoryReporter::new();
/// let tracer = Tracer::builder("batch-job").reporter(reporter.clone()).build();
/// root_span(&tracer, "nightly_export", local_span("read_rows", async {})).await;
/// let spans = reporter.take(); // in the order they finished: the child first
/// assert_eq!((spans[0].parent_id, spans[1].parent_id), (Some(spans[1].id), None));
/// # }
/// ```
pub async fn root_span<F: Future>(tracer: &Tracer, name: impl Into<Text>, future: F) -> F::Output {
    let root = Current {
        tracer: tracer.clone(),
        context: tracer.new_trace(),
        tracestate: None,
    };
    let span = tracer.start(root.context, name, None);
    in_span(root, span, future).await
}

/// Runs `future` with `current` as its current span, `span` recording it; the span
/// finishes when the future does (or is dropped).
pub(crate) async fn in_span<F: Future>(current: Current, span: OpenSpan, future: F) -> F::Output {
    current::scope(current, Some(span), future).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::InMemoryReporter;

    #[tokio::test]
    async fn local_spans_nest_under_the_current_span() {
        let reporter = InMemoryReporter::new();
        let tracer = Tracer::builder("svc").reporter(reporter.clone()).build();
        let root = tracer.new_trace();
        let at_root = Current {
            tracer: tracer.clone(),
            context: root,
            tracestate: None,
        };
        let inner_context = current::scope(at_root, None, async {
            local_span("outer", async {
                local_span("inner", async { current::current_context() }).await
            })
            .await
        })
        .await
        .expect("a current span inside local_span");

        let spans = reporter.spans();
        assert_eq!(spans.len(), 2);
        let (inner, outer) = (&spans[0], &spans[1]);
        assert_eq!(inner.name.as_deref(), Some("inner"));
        assert_eq!(outer.name.as_deref(), Some("outer"));
        assert_eq!(outer.parent_id, Some(root.span_id));
        assert_eq!(inner.parent_id, Some(outer.id));
        assert_eq!(inner.id, inner_context.span_id);
        assert!(inner.trace_id == root.trace_id && outer.trace_id == root.trace_id);
        assert_eq!((inner.kind, outer.kind), (None, None));
        // The child's interval lies inside its parent's.
        let (i_start, o_start) = (inner.timestamp.unwrap(), outer.timestamp.unwrap());
        assert!(i_start >= o_start);
        assert!(i_start + inner.duration.unwrap() <= o_start + outer.duration.unwrap());
    }

    #[tokio::test]
    async fn without_a_current_span_the_work_runs_untraced() {
        let reporter = InMemoryReporter::new();
        let _tracer = Tracer::builder("svc").reporter(reporter.clone()).build();
        assert_eq!(local_span("work", async { 7 }).await, 7);
        assert!(reporter.spans().is_empty());
    }

    #[tokio::test]
    async fn a_root_span_starts_a_trace() {
        let reporter = InMemoryReporter::new();
        let tracer = Tracer::builder("svc").reporter(reporter.clone()).build();
        root_span(&tracer, "job", async {}).await;
        let spans = reporter.spans();
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].parent_id, None);
        assert_eq!(spans[0].service_name(), Some("svc"));
    }
}
