//! A message hop: a trace that crosses a broker (RabbitMQ, Kafka). The producer records a
//! PRODUCER span and writes its context into the message's headers, in B3's single form as
//! Brave's messaging does; the consumer reads it and records a CONSUMER span as a child,
//! never a join: a message may be read once, many times or never, so no span is shared.

use std::future::Future;

use crate::b3::{B3Format, Extracted};
use crate::carrier::{Carrier, extract_from, inject_into};
use crate::current::{self, Current};
use crate::local::in_span;
use crate::model::Kind;
use crate::record::Text;
use crate::span::OpenSpan;
use crate::tracer::Tracer;

/// Starts a PRODUCER span for a message sent through `broker` (its remote service): a child
/// of the current span, or a new trace outside any. Its context goes into `headers`, the
/// message's, as a `b3` header; finish the span once the broker has taken the message.
///
/// ```
/// use std::collections::BTreeMap;
/// use zipkin_tracing::{InMemoryReporter, Kind, Tracer, consumer_span, producer_span};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let reporter = InMemoryReporter::new();
/// let tracer = Tracer::builder("orders").reporter(reporter.clone()).build();
/// let mut headers = BTreeMap::new(); // the message's headers
/// let publish = producer_span(&tracer, "publish", "rabbitmq", &mut headers);
/// publish.finish(); // once the broker confirmed the message
///
/// let billing = Tracer::builder("billing").reporter(reporter.clone()).build();
/// consumer_span(&billing, "bill order", "rabbitmq", &headers, async { /* work */ }).await;
/// let spans = reporter.spans();
/// assert_eq!((spans[0].kind, spans[1].kind), (Some(Kind::Producer), Some(Kind::Consumer)));
/// assert_eq!(spans[1].parent_id, Some(spans[0].id)); // a child, never the same id
/// # }
/// ```
pub fn producer_span(
    tracer: &Tracer,
    name: impl Into<Text>,
    broker: &str,
    headers: &mut impl Carrier,
) -> OpenSpan {
    let context = match current::current() {
        Some(parent) => tracer.child(&parent.context),
        None => tracer.new_trace(),
    };
    inject_into(&context, B3Format::Single, headers);
    let mut span = tracer.start(context, name, Some(Kind::Producer));
    span.set_remote_service(broker);
    span
}

/// Runs `future`, the handling of a message received through `broker`, inside a CONSUMER
/// span: a child of the producer's span that `headers` carry (any B3 form), or a new
/// trace if they carry none. Inside, local spans and traced calls are its children.
/// [`producer_span`]'s example consumes one.
pub async fn consumer_span<F: Future>(
    tracer: &Tracer,
    name: impl Into<Text>,
    broker: &str,
    headers: &impl Carrier,
    future: F,
) -> F::Output {
    let context = match extract_from(headers) {
        Extracted::Context(producer) => tracer.child(&producer),
        Extracted::Flags(flags) => tracer.new_trace_with(flags),
        Extracted::Empty => tracer.new_trace(),
    };
    let mut span = tracer.start(context, name, Some(Kind::Consumer));
    span.set_remote_service(broker);
    let current = Current {
        tracer: tracer.clone(),
        context,
        tracestate: None,
    };
    in_span(current, span, future).await
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::context::{SamplingFlags, TraceContext};
    use crate::local::root_span;
    use crate::report::InMemoryReporter;
    use crate::sample::ProbabilitySampler;

    #[tokio::test]
    async fn a_message_continues_the_trace_as_a_child_under_the_producers_request() {
        let reporter = InMemoryReporter::new();
        let tracer = Tracer::builder("svc").reporter(reporter.clone()).build();
        let mut headers = HashMap::new();
        root_span(&tracer, "request", async {
            producer_span(&tracer, "publish", "kafka", &mut headers).finish();
        })
        .await;
        assert_eq!(headers.keys().collect::<Vec<_>>(), ["b3"]);
        let consumer = Tracer::builder("worker")
            .reporter(reporter.clone())
            .sampler(ProbabilitySampler::never()) // the producer's decision wins
            .build();
        let seen = consumer_span(&consumer, "consume", "kafka", &headers, async {
            crate::current::current_context()
        })
        .await
        .expect("the CONSUMER span is current while the message is handled");

        let spans = reporter.spans(); // publish, request, consume
        let (publish, request, consume) = (&spans[0], &spans[1], &spans[2]);
        assert_eq!(publish.parent_id, Some(request.id));
        assert_eq!(consume.parent_id, Some(publish.id));
        assert_eq!(seen.span_id, consume.id);
        assert!(spans.iter().all(|span| span.trace_id == request.trace_id));
        assert!(!consume.shared && consume.service_name() == Some("worker"));
        for span in [publish, consume] {
            let remote = span
                .remote_endpoint
                .as_ref()
                .and_then(|e| e.service_name.as_deref());
            assert_eq!(remote, Some("kafka"));
        }
    }

    #[tokio::test]
    async fn a_message_without_a_context_starts_a_trace_and_one_unsampled_stays_so() {
        let reporter = InMemoryReporter::new();
        let tracer = Tracer::builder("worker").reporter(reporter.clone()).build();
        consumer_span(&tracer, "consume", "rabbitmq", &HashMap::new(), async {}).await;
        assert_eq!(reporter.take()[0].parent_id, None);
        let mut headers = HashMap::new();
        let unsampled = TraceContext::new_root(SamplingFlags::NOT_SAMPLED, true);
        inject_into(&unsampled, B3Format::Single, &mut headers);
        consumer_span(&tracer, "consume", "rabbitmq", &headers, async {}).await;
        assert!(reporter.spans().is_empty());
    }
}
