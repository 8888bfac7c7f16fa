//! The tracer: the one object a service configures to create, sample and report spans. It
//! holds the service's name, sampler, reporter and propagation settings in one value.

use std::fmt;
use std::sync::Arc;

use http::HeaderMap;

use crate::b3::{B3Format, Extracted};
use crate::context::{SamplingFlags, TraceContext};
use crate::model::{Endpoint, Kind};
use crate::propagation::{Incoming, Propagation};
use crate::record::Text;
use crate::report::{NopReporter, Report};
use crate::sample::{ProbabilitySampler, Sample};
use crate::span::{OpenSpan, Reporters};
use crate::w3c::TraceState;

/// Creates spans for one service. Cloning is cheap (one reference count).
///
/// ```
/// use zipkin_tracing::{NopReporter, ProbabilitySampler, Propagation, Tracer};
/// let tracer = Tracer::builder("service1") // a TracerBuilder
///     .sampler(ProbabilitySampler::new(0.25).unwrap())
///     .reporter(NopReporter) // the default: ids still propagate, nothing is stored
///     .propagation("b3,w3c".parse::<Propagation>().unwrap()) // read B3, then W3C
///     .build();
/// let trace = tracer.new_trace();
/// assert_eq!(tracer.child(&trace).parent_id, Some(trace.span_id));
/// ```
#[derive(Clone)]
pub struct Tracer {
    inner: Arc<Inner>,
}

struct Inner {
    /// Shared with every span recorded, which costs one reference count per span.
    local_endpoint: Arc<Endpoint>,
    sampler: Box<dyn Sample>,
    reporter: Arc<dyn Report>,
    firehose: Option<Arc<dyn Report>>,
    join_spans: bool,
    trace_id_128: bool,
    b3_format: B3Format,
    propagation: Propagation,
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("local_endpoint", &self.inner.local_endpoint)
            .field("join_spans", &self.inner.join_spans)
            .field("trace_id_128", &self.inner.trace_id_128)
            .field("b3_format", &self.inner.b3_format)
            .field("propagation", &self.inner.propagation)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Tracer`]; see [`Tracer::builder`], and [`Tracer`]'s example.
pub struct TracerBuilder {
    inner: Inner,
}

impl TracerBuilder {
    /// The sampler for new traces (default: sample everything).
    pub fn sampler(mut self, sampler: impl Sample) -> Self {
        self.inner.sampler = Box::new(sampler);
        self
    }

    /// Where finished spans go (default: nowhere, [`NopReporter`]).
    pub fn reporter(mut self, reporter: impl Report) -> Self {
        self.inner.reporter = Arc::new(reporter);
        self
    }

    /// A second reporter that receives every span, sampled or not, while the reporter
    /// gets only the sampled ones (py_zipkin's `firehose_handler`, Brave's
    /// `alwaysSampleLocal`): for local metrics or a full-fidelity store beside Zipkin.
    /// Every span is then recorded, which costs what sampling saves.
    pub fn firehose(mut self, reporter: impl Report) -> Self {
        self.inner.firehose = Some(Arc::new(reporter));
        self
    }

    /// Whether a server joins its caller's span (same id, `shared: true`; the default, as in
    /// Zipkin's B3 model) or records a child of it, as OpenTelemetry's single-host spans do.
    pub fn join_spans(mut self, join: bool) -> Self {
        self.inner.join_spans = join;
        self
    }

    /// Whether new traces get 128-bit ids (the default) or 64-bit ones.
    pub fn trace_id_128(mut self, wide: bool) -> Self {
        self.inner.trace_id_128 = wide;
        self
    }

    /// The B3 header form written on outgoing calls (default: multi).
    pub fn b3_format(mut self, format: B3Format) -> Self {
        self.inner.b3_format = format;
        self
    }

    /// The header formats read on requests and written on calls (default: B3 only).
    pub fn propagation(mut self, propagation: Propagation) -> Self {
        self.inner.propagation = propagation;
        self
    }

    /// The configured tracer.
    pub fn build(self) -> Tracer {
        Tracer {
            inner: Arc::new(self.inner),
        }
    }
}

impl Tracer {
    /// A builder for the service `service_name`; each setting's method names its default.
    pub fn builder(service_name: &str) -> TracerBuilder {
        crate::clock::init();
        TracerBuilder {
            inner: Inner {
                local_endpoint: Arc::new(Endpoint::service(service_name)),
                sampler: Box::new(ProbabilitySampler::always()),
                reporter: Arc::new(NopReporter),
                firehose: None,
                join_spans: true,
                trace_id_128: true,
                b3_format: B3Format::Multi,
                propagation: Propagation::default(),
            },
        }
    }

    /// The service name recorded on every span.
    pub fn service_name(&self) -> &str {
        self.inner
            .local_endpoint
            .service_name
            .as_deref()
            .unwrap_or_default()
    }

    /// Reads a request's trace context in the configured formats.
    pub(crate) fn extract(&self, headers: &HeaderMap) -> Incoming {
        self.inner.propagation.extract(headers)
    }

    /// Writes `context` (and a W3C caller's `tracestate`) in every configured format.
    pub(crate) fn inject(
        &self,
        context: &TraceContext,
        tracestate: Option<&TraceState>,
        headers: &mut HeaderMap,
    ) {
        let inner = &self.inner;
        inner
            .propagation
            .inject(context, inner.b3_format, tracestate, headers);
    }

    /// Settles a deferred sampling decision with this tracer's sampler, which sees the
    /// method and route of the `request` that starts the trace, if one does.
    fn decide(&self, mut context: TraceContext, request: Option<Request<'_>>) -> TraceContext {
        if is_deferred(&context) {
            let (sampler, trace_id) = (&self.inner.sampler, context.trace_id);
            context.flags.sampled = Some(match request {
                Some((method, route)) => sampler.sample_request(trace_id, method, route),
                None => sampler.sample(trace_id),
            });
        }
        context
    }

    /// Whether spans of `context` are recorded: sampled ones, and all with a firehose.
    pub(crate) fn records(&self, context: &TraceContext) -> bool {
        context.is_sampled() || self.inner.firehose.is_some()
    }

    /// The root of a new trace, sampled by this tracer's sampler.
    pub fn new_trace(&self) -> TraceContext {
        self.new_trace_with(SamplingFlags::DEFERRED)
    }

    /// The root of a new trace keeping `flags` (a deferred decision is settled by the sampler).
    pub fn new_trace_with(&self, flags: SamplingFlags) -> TraceContext {
        self.decide(TraceContext::new_root(flags, self.inner.trace_id_128), None)
    }

    /// A child of `parent`, in the same trace.
    pub fn child(&self, parent: &TraceContext) -> TraceContext {
        self.decide(parent.new_child(), None)
    }

    /// The context of a server span for what the request's headers said: the caller's
    /// span joined (same span id), a child of it, or a new trace. Only a `joinable` caller
    /// (one that sent B3) is joined. A decision left to us is taken for `request`.
    pub(crate) fn server_context(
        &self,
        incoming: Extracted,
        joinable: bool,
        request: Request<'_>,
    ) -> ServerContext {
        let wide = self.inner.trace_id_128;
        let context = match incoming {
            Extracted::Context(caller) if joinable && self.inner.join_spans => {
                return ServerContext {
                    // A caller that left the decision to us may not have recorded its half
                    // of the span: ours is then not marked shared, as in Brave and rust-zipkin.
                    shared: !is_deferred(&caller),
                    context: self.decide(caller, Some(request)),
                };
            }
            Extracted::Context(caller) => caller.new_child(),
            Extracted::Flags(flags) => TraceContext::new_root(flags, wide),
            Extracted::Empty => TraceContext::new_root(SamplingFlags::DEFERRED, wide),
        };
        ServerContext::unshared(self.decide(context, Some(request)))
    }

    /// Starts recording a span for `context`. Nothing is recorded (and nothing allocated)
    /// when the trace is not sampled; the span is reported when it is finished or dropped.
    /// A `&'static str` name costs nothing; a `String` is moved in.
    pub fn start(
        &self,
        context: TraceContext,
        name: impl Into<Text>,
        kind: Option<Kind>,
    ) -> OpenSpan {
        let inner = &self.inner;
        let to = Reporters {
            reporter: context.is_sampled().then(|| inner.reporter.clone()),
            firehose: inner.firehose.clone(),
        };
        OpenSpan::start(context, name.into(), kind, &inner.local_endpoint, to)
    }
}

/// A request's method and route template (if the router matched one), for the sampler.
pub(crate) type Request<'a> = (&'a http::Method, Option<&'a str>);

/// Whether nobody has decided yet if this trace is sampled.
fn is_deferred(context: &TraceContext) -> bool {
    context.flags.sampled.is_none() && !context.flags.debug
}

/// The context a server span records under, and whether it shares its span id with the
/// caller's CLIENT span (Zipkin's `shared` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerContext {
    pub(crate) context: TraceContext,
    pub(crate) shared: bool,
}

impl ServerContext {
    fn unshared(context: TraceContext) -> Self {
        ServerContext {
            context,
            shared: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::InMemoryReporter;

    const GET: Request<'static> = (&http::Method::GET, Some("/"));

    fn caller(flags: SamplingFlags) -> TraceContext {
        TraceContext::new_root(flags, true).new_child()
    }

    #[test]
    fn a_server_joins_by_default_and_records_a_child_when_configured() {
        let incoming = caller(SamplingFlags::SAMPLED);
        let joining = Tracer::builder("svc").build();
        assert_eq!(
            joining.server_context(Extracted::Context(incoming), true, GET),
            ServerContext {
                context: incoming,
                shared: true
            }
        );
        let child_making = Tracer::builder("svc").join_spans(false).build();
        let ServerContext { context, shared } =
            child_making.server_context(Extracted::Context(incoming), true, GET);
        assert!(!shared);
        assert_eq!(context.trace_id, incoming.trace_id);
        assert_eq!(context.parent_id, Some(incoming.span_id));
        assert_ne!(context.span_id, incoming.span_id);
    }

    #[test]
    fn the_callers_decision_wins_and_a_deferred_one_is_settled_here() {
        let never = Tracer::builder("svc")
            .sampler(ProbabilitySampler::never())
            .build();
        let always = Tracer::builder("svc").build();
        let sampled = Extracted::Context(caller(SamplingFlags::SAMPLED));
        assert!(
            never
                .server_context(sampled, true, GET)
                .context
                .is_sampled()
        );
        let debug = Extracted::Context(caller(SamplingFlags::DEBUG));
        assert!(never.server_context(debug, true, GET).context.flags.debug);
        let unsampled = Extracted::Context(caller(SamplingFlags::NOT_SAMPLED));
        assert!(
            !always
                .server_context(unsampled, true, GET)
                .context
                .is_sampled()
        );

        let deferred = Extracted::Context(caller(SamplingFlags::DEFERRED));
        assert_eq!(
            always
                .server_context(deferred, true, GET)
                .context
                .flags
                .sampled,
            Some(true)
        );
        assert_eq!(
            never
                .server_context(deferred, true, GET)
                .context
                .flags
                .sampled,
            Some(false)
        );
    }

    #[test]
    fn a_joined_span_is_shared_only_when_the_caller_had_decided() {
        let tracer = Tracer::builder("svc").build();
        for flags in [
            SamplingFlags::SAMPLED,
            SamplingFlags::NOT_SAMPLED,
            SamplingFlags::DEBUG,
        ] {
            let incoming = caller(flags);
            let joined = tracer.server_context(Extracted::Context(incoming), true, GET);
            assert!(joined.shared, "{flags:?}");
        }
        // Deferred: the caller may not have recorded its half, so ours is not shared,
        // though it keeps the caller's ids.
        let incoming = caller(SamplingFlags::DEFERRED);
        let joined = tracer.server_context(Extracted::Context(incoming), true, GET);
        assert!(!joined.shared);
        assert_eq!(joined.context.span_id, incoming.span_id);
        assert_eq!(joined.context.parent_id, incoming.parent_id);
    }

    #[test]
    fn a_w3c_caller_is_never_joined() {
        // W3C has no shared spans: its callers (OpenTelemetry's among them) expect a child.
        let incoming = caller(SamplingFlags::SAMPLED);
        let tracer = Tracer::builder("svc").build();
        let ServerContext { context, shared } =
            tracer.server_context(Extracted::Context(incoming), false, GET);
        assert!(!shared);
        assert_eq!(context.trace_id, incoming.trace_id);
        assert_eq!(context.parent_id, Some(incoming.span_id));
        assert_ne!(context.span_id, incoming.span_id);
    }

    #[test]
    fn a_sampling_decision_alone_starts_new_ids_that_keep_it() {
        let always = Tracer::builder("svc").build();
        let ServerContext { context, shared } =
            always.server_context(Extracted::Flags(SamplingFlags::NOT_SAMPLED), true, GET);
        assert_eq!((context.parent_id, shared), (None, false));
        assert_eq!(context.flags, SamplingFlags::NOT_SAMPLED);
        let context = always.server_context(Extracted::Empty, true, GET).context;
        assert!(context.trace_id.is_128() && context.is_sampled());
        let narrow = Tracer::builder("svc").trace_id_128(false).build();
        assert!(!narrow.new_trace().trace_id.is_128());
    }

    #[tokio::test]
    async fn a_firehose_receives_every_span_and_the_reporter_only_sampled_ones() {
        let (reporter, firehose) = (InMemoryReporter::new(), InMemoryReporter::new());
        let tracer = |sampler| {
            Tracer::builder("svc")
                .sampler(sampler)
                .reporter(reporter.clone())
                .firehose(firehose.clone())
                .build()
        };
        let unsampled = tracer(ProbabilitySampler::never());
        crate::local::root_span(
            &unsampled,
            "job",
            crate::local::local_span("step", async {}),
        )
        .await;
        assert_eq!((reporter.spans().len(), firehose.take().len()), (0, 2));
        let sampled = tracer(ProbabilitySampler::always());
        sampled.start(sampled.new_trace(), "job", None).finish();
        assert_eq!((reporter.spans().len(), firehose.spans().len()), (1, 1));
        assert_eq!(reporter.spans(), firehose.spans());
    }
}
