//! What the reporter's integration tests share.

use std::sync::{Arc, Mutex};

use zipkin_tracing::{FinishedSpan, Report, Tracer};

/// One span recorded by a tracer, as the request path hands it to a reporter.
pub fn span() -> FinishedSpan {
    #[derive(Clone, Default)]
    struct Keep(Arc<Mutex<Option<FinishedSpan>>>);
    impl Report for Keep {
        fn report(&self, span: FinishedSpan) {
            *self.0.lock().expect("not poisoned") = Some(span);
        }
    }
    let keep = Keep::default();
    let tracer = Tracer::builder("svc").reporter(keep.clone()).build();
    tracer.start(tracer.new_trace(), "work", None).finish();
    let span = keep.0.lock().expect("not poisoned").take();
    span.expect("a sampled span is reported")
}
