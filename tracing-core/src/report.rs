//! Reporting: handing finished spans to whatever stores them. A tracer calls
//! [`Report::report`] once per finished, sampled span, on the request path, so a reporter
//! must return at once; `zipkin-reporter`'s `AsyncReporter` sends batches in the background.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use crate::model::Span;
use crate::record::FinishedSpan;

/// Receives finished spans. Implementations must not block: this runs on the request path.
///
/// ```
/// use zipkin_tracing::{FinishedSpan, Report, Tracer};
/// struct ToChannel(std::sync::mpsc::Sender<FinishedSpan>); // a worker reads the channel
/// impl Report for ToChannel {
///     fn report(&self, span: FinishedSpan) { let _ = self.0.send(span); } // returns at once
/// }
/// let (sender, finished) = std::sync::mpsc::channel();
/// let tracer = Tracer::builder("svc").reporter(ToChannel(sender)).build();
/// tracer.start(tracer.new_trace(), "work", None).finish();
/// assert_eq!(finished.recv().unwrap().name(), "work");
/// ```
pub trait Report: Send + Sync + 'static {
    /// Takes one finished span. [`FinishedSpan::into_span`] gives its Zipkin v2 form;
    /// calling it here, rather than on a background thread, puts its cost on the request.
    fn report(&self, span: FinishedSpan);
}

/// Discards every span: tracing ids still propagate, nothing is stored. The default of a
/// [`Tracer`](crate::Tracer), whose example sets it.
#[derive(Debug, Clone, Copy, Default)]
pub struct NopReporter;

impl Report for NopReporter {
    fn report(&self, _span: FinishedSpan) {}
}

impl<R: Report + ?Sized> Report for Arc<R> {
    fn report(&self, span: FinishedSpan) {
        (**self).report(span);
    }
}

/// Collects reported spans in memory so that tests can assert on them. Clones share the
/// same store. [`root_span`](crate::root_span)'s example reads one.
#[derive(Debug, Clone, Default)]
pub struct InMemoryReporter {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    spans: Mutex<Vec<Span>>,
    arrived: Notify,
}

impl InMemoryReporter {
    /// An empty reporter.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Span>> {
        // A panic while holding this lock can only come from a failing test; the spans are
        // still worth reading, so a poisoned lock is not an error here.
        self.inner
            .spans
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy of every span reported so far, in the order they finished.
    pub fn spans(&self) -> Vec<Span> {
        self.lock().clone()
    }

    /// Removes and returns every span reported so far.
    pub fn take(&self) -> Vec<Span> {
        std::mem::take(&mut *self.lock())
    }

    /// Waits until at least `count` spans have been reported, then returns them all; or
    /// `None` if that does not happen within `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Option<Vec<Span>> {
        let wait = async {
            loop {
                let arrived = self.inner.arrived.notified();
                tokio::pin!(arrived);
                arrived.as_mut().enable();
                {
                    let spans = self.lock();
                    if spans.len() >= count {
                        return spans.clone();
                    }
                }
                arrived.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.ok()
    }
}

impl Report for InMemoryReporter {
    fn report(&self, span: FinishedSpan) {
        // A test reporter: converting here keeps `spans()` simple; the cost is the test's.
        let span = span.into_span();
        self.lock().push(span);
        self.inner.arrived.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer::Tracer;

    #[tokio::test]
    async fn wait_for_returns_once_enough_spans_arrived() {
        let reporter = InMemoryReporter::new();
        let tracer = Tracer::builder("svc").reporter(reporter.clone()).build();
        let task = tokio::spawn(async move {
            for _ in 0..3 {
                tokio::task::yield_now().await;
                tracer.start(tracer.new_trace(), "work", None).finish();
            }
        });
        let spans = reporter.wait_for(3, Duration::from_secs(5)).await;
        assert_eq!(spans.map(|s| s.len()), Some(3));
        task.await.unwrap();
        assert_eq!(reporter.take().len(), 3);
        assert!(reporter.spans().is_empty());
        assert!(
            reporter
                .wait_for(1, Duration::from_millis(10))
                .await
                .is_none()
        );
    }
}
