//! The `tracing` bridge: spans from `#[tracing::instrument]` recorded as local Zipkin spans,
//! children of the current span, named after the `tracing` span, with its fields as tags.
//! [`local_span`](crate::local_span) and traced calls inside one are its children, so the
//! tree is the same however the code was instrumented.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Level, Metadata, Subscriber, span};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::current::{self, Current, bridged};
use crate::record::Text;

/// At most this many field values become tags on one span, so that a span with many
/// fields, or one recorded in a loop, cannot grow without bound.
const MAX_TAGS: usize = 16;
/// Longer field values are cut to this many bytes (at a character boundary) and marked.
const MAX_TAG_LEN: usize = 256;

/// Records `tracing` spans opened inside traced requests as Zipkin spans (feature
/// `tracing-bridge`); not those outside a traced request, of unsampled traces or below the
/// minimum level (default `INFO`, `#[instrument]`'s). Of the events, an `ERROR` one marks
/// the span it happens in as an error, so `#[instrument(err)]` marks a function that
/// returned `Err`; other events are left to the other layers.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// use zipkin_tracing::{InMemoryReporter, Tracer, TracingBridge, local_span, root_span};
/// #[tracing::instrument]
/// async fn db_search(table: &str) {
///     local_span("query", async {}).await;
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let subscriber = tracing_subscriber::registry().with(TracingBridge::new().layer());
/// let _installed = tracing::subscriber::set_default(subscriber);
/// # let reporter = InMemoryReporter::new();
/// let tracer = Tracer::builder("service2").reporter(reporter.clone()).build();
/// root_span(&tracer, "request", db_search("items")).await;
/// let names: Vec<_> = reporter.spans().into_iter().filter_map(|s| s.name).collect();
/// assert_eq!(names, ["query", "db_search", "request"]);
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TracingBridge {
    min_level: Level,
}

impl Default for TracingBridge {
    fn default() -> Self {
        TracingBridge::new()
    }
}

impl TracingBridge {
    /// A bridge for spans at `INFO` and above.
    pub fn new() -> Self {
        TracingBridge {
            min_level: Level::INFO,
        }
    }

    /// Records spans at `level` and above only: `Level::DEBUG` adds debug spans,
    /// `Level::WARN` leaves out `#[instrument]`'s default `INFO` ones.
    pub fn min_level(mut self, level: Level) -> Self {
        self.min_level = level;
        self
    }

    /// The layer to add to a `tracing_subscriber::registry()`. It filters for itself, so
    /// that other layers' filters (such as `RUST_LOG` for log lines) do not decide what
    /// reaches Zipkin, and spans it does not want are never built for it.
    pub fn layer<S>(self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let min_level = self.min_level;
        BridgeLayer.with_filter(tracing_subscriber::filter::filter_fn(
            move |metadata: &Metadata<'_>| {
                // The server's per-request log span carries ids for log lines; it is not
                // work to time (the SERVER span already covers the request).
                let span = metadata.is_span()
                    && *metadata.level() <= min_level
                    && metadata.target() != concat!(env!("CARGO_CRATE_NAME"), "::server");
                span || (metadata.is_event() && *metadata.level() == Level::ERROR)
            },
        ))
    }
}

/// The layer behind [`TracingBridge::layer`].
struct BridgeLayer;

impl<S> Layer<S> for BridgeLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    /// Called when the bridge is added to a subscriber (also through `Option` and
    /// filtered layers, which do not all pass `on_register_dispatch` on).
    fn on_layer(&mut self, _subscriber: &mut S) {
        bridged::INSTALLED.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn on_new_span(&self, attributes: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        // The nearest bridged ancestor, found through the registry: inside this callback
        // `tracing` gives no dispatcher to look the current span up with.
        let ancestor = bridged::nearest(span.scope().skip(1));
        let scoped = current::scoped();
        let opened_under = scoped.as_ref().map(|scoped| scoped.context);
        let Some(parent) = bridged::innermost_of(scoped, ancestor) else {
            return; // not inside a traced request
        };
        if !parent.tracer.records(&parent.context) {
            return;
        }
        let context = parent.tracer.child(&parent.context);
        let name = attributes.metadata().name();
        let recording = parent.tracer.start(context, name, None);
        let mut bridged = bridged::Bridged {
            place: bridged::Place {
                span: Current { context, ..parent },
                opened_under,
            },
            recording: Some(recording),
            tags: 0,
        };
        attributes.record(&mut Fields(&mut bridged));
        span.extensions_mut().insert(bridged);
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(bridged) = span.extensions_mut().get_mut::<bridged::Bridged>()
        {
            values.record(&mut Fields(bridged));
        }
    }

    /// An `ERROR` event marks the bridged span it happens in: with its `error` field (what
    /// `#[instrument(err)]` records), else its message.
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.event_span(event)
            && let Some(bridged) = span.extensions_mut().get_mut::<bridged::Bridged>()
            && let Some(recording) = &mut bridged.recording
        {
            let mut error = ErrorField::default();
            event.record(&mut error);
            recording.error(error.0.unwrap_or_else(|| "error".to_owned()));
        }
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(recording) = span
                .extensions_mut()
                .get_mut::<bridged::Bridged>()
                .and_then(|bridged| bridged.recording.take())
        {
            recording.finish();
        }
    }
}

/// Records a `tracing` span's fields on its Zipkin span.
struct Fields<'a>(&'a mut bridged::Bridged);

impl Fields<'_> {
    fn tag(&mut self, field: &Field, value: String) {
        let bridged = &mut *self.0;
        if bridged.tags < MAX_TAGS
            && let Some(recording) = &mut bridged.recording
        {
            bridged.tags += 1;
            recording.tag(Text::Borrowed(field.name()), value);
        }
    }
}

/// Fields become tags: strings as they are, everything else in its `Debug` form.
impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.tag(field, bounded(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.tag(field, bounded(&text));
    }
}

/// An event's `error` field, else its `message`, bounded as tags are.
#[derive(Default)]
struct ErrorField(Option<String>);

impl Visit for ErrorField {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "error" || (field.name() == "message" && self.0.is_none()) {
            self.0 = Some(bounded(&format!("{value:?}")));
        }
    }
}

/// `value`, cut to [`MAX_TAG_LEN`] bytes at a character boundary and marked with `...`.
fn bounded(value: &str) -> String {
    if value.len() <= MAX_TAG_LEN {
        return value.to_owned();
    }
    let mut end = MAX_TAG_LEN - 3;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &value[..end])
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::local::{local_span, root_span};
    use crate::model::Span;
    use crate::report::InMemoryReporter;
    use crate::sample::ProbabilitySampler;
    use crate::tracer::Tracer;

    fn bridged(bridge: TracingBridge) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(tracing_subscriber::registry().with(bridge.layer()))
    }

    fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
        spans
            .iter()
            .find(|span| span.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no span {name} in {spans:?}"))
    }

    #[tracing::instrument(skip_all)]
    async fn instrumented_around_local() {
        local_span("inner_local", async {
            instrumented_leaf(7, "text").await;
        })
        .await;
    }

    #[tracing::instrument(fields(later))]
    async fn instrumented_leaf(count: u32, label: &str) {
        let _recorded_as_fields = (count, label);
        tracing::Span::current().record("later", "set after opening");
    }

    #[tokio::test]
    async fn instrumented_spans_and_local_spans_nest_whichever_way() {
        let _bridge = bridged(TracingBridge::new());
        let reporter = InMemoryReporter::new();
        let tracer = Tracer::builder("svc").reporter(reporter.clone()).build();
        root_span(&tracer, "root", instrumented_around_local()).await;

        let spans = reporter.spans();
        assert_eq!(spans.len(), 4, "{spans:?}");
        let root = named(&spans, "root");
        let outer = named(&spans, "instrumented_around_local");
        let local = named(&spans, "inner_local");
        let leaf = named(&spans, "instrumented_leaf");
        assert_eq!(outer.parent_id, Some(root.id));
        assert_eq!(local.parent_id, Some(outer.id));
        assert_eq!(leaf.parent_id, Some(local.id));
        assert!(spans.iter().all(|span| span.trace_id == root.trace_id));
        assert_eq!((outer.kind, leaf.kind), (None, None));
        assert_eq!(leaf.tags.get("count").map(String::as_str), Some("7"));
        assert_eq!(leaf.tags.get("label").map(String::as_str), Some("text"));
        assert_eq!(
            leaf.tags.get("later").map(String::as_str),
            Some("set after opening")
        );
        // A child's interval lies inside its parent's.
        let end = |span: &Span| span.timestamp.unwrap() + span.duration.unwrap();
        assert!(leaf.timestamp >= local.timestamp && end(leaf) <= end(local));
        assert!(outer.timestamp >= root.timestamp && end(outer) <= end(root));
    }

    #[tokio::test]
    async fn a_span_opened_inside_a_bridged_one_is_its_child() {
        let _bridge = bridged(TracingBridge::new());
        let reporter = InMemoryReporter::new();
        let tracer = Tracer::builder("svc").reporter(reporter.clone()).build();
        root_span(&tracer, "root", async {
            let outer = tracing::info_span!("outer");
            let _entered = outer.enter();
            let inner = tracing::info_span!("inner");
            let seen = inner.in_scope(crate::current::current_context);
            drop(inner);
            seen
        })
        .await
        .expect("a current span inside a bridged one");
        let spans = reporter.spans();
        let (outer, inner) = (named(&spans, "outer"), named(&spans, "inner"));
        assert_eq!(inner.parent_id, Some(outer.id));
    }

    #[tokio::test]
    async fn nothing_is_recorded_outside_a_request_unsampled_or_below_the_level() {
        let _bridge = bridged(TracingBridge::new());
        let reporter = InMemoryReporter::new();
        let tracer = Tracer::builder("svc").reporter(reporter.clone()).build();
        instrumented_leaf(1, "outside").await;
        root_span(&tracer, "root", async {
            tracing::debug_span!("too_fine").in_scope(|| {});
        })
        .await;
        assert_eq!(reporter.spans().len(), 1, "only the root");

        let unsampled = Tracer::builder("svc")
            .reporter(reporter.clone())
            .sampler(ProbabilitySampler::never())
            .build();
        root_span(&unsampled, "root", instrumented_leaf(1, "unsampled")).await;
        assert_eq!(reporter.spans().len(), 1, "nothing more");
    }

    #[tokio::test]
    async fn the_minimum_level_is_configurable() {
        let _bridge = bridged(TracingBridge::new().min_level(Level::DEBUG));
        let reporter = InMemoryReporter::new();
        let tracer = Tracer::builder("svc").reporter(reporter.clone()).build();
        root_span(&tracer, "root", async {
            tracing::debug_span!("fine").in_scope(|| {});
            tracing::trace_span!("too_fine").in_scope(|| {});
        })
        .await;
        let spans = reporter.spans();
        let names: Vec<_> = spans.iter().filter_map(|s| s.name.as_deref()).collect();
        assert_eq!(names, ["fine", "root"]);
    }

    #[tokio::test]
    async fn tags_are_bounded_in_number_and_length() {
        let _bridge = bridged(TracingBridge::new());
        let reporter = InMemoryReporter::new();
        let tracer = Tracer::builder("svc").reporter(reporter.clone()).build();
        let long = "é".repeat(300);
        root_span(&tracer, "root", async {
            tracing::info_span!(
                "wide",
                f0 = 0,
                f1 = 1,
                f2 = 2,
                f3 = 3,
                f4 = 4,
                f5 = 5,
                f6 = 6,
                f7 = 7,
                f8 = 8,
                f9 = 9,
                f10 = 10,
                f11 = 11,
                f12 = 12,
                f13 = 13,
                f14 = 14,
                f15 = 15,
                f16 = 16,
                f17 = 17,
                long = long.as_str()
            )
            .in_scope(|| {});
        })
        .await;
        let spans = reporter.spans();
        let wide = named(&spans, "wide");
        assert_eq!(wide.tags.len(), MAX_TAGS);
        assert!(!wide.tags.contains_key("long"), "past the bound");
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_TAG_LEN && cut.ends_with("..."));
        assert!(cut.starts_with('é'));
    }

    #[tracing::instrument(err)]
    async fn failing(fail: bool) -> Result<(), String> {
        if fail {
            Err("disk full".to_owned())
        } else {
            Ok(())
        }
    }

    #[tokio::test]
    async fn an_err_from_an_instrumented_function_marks_its_span_and_only_its_span() {
        let _bridge = bridged(TracingBridge::new());
        let reporter = InMemoryReporter::new();
        let tracer = Tracer::builder("svc").reporter(reporter.clone()).build();
        root_span(&tracer, "root", async {
            let _ = failing(true).await;
            let _ = failing(false).await;
            tracing::error!("logged outside any bridged span");
        })
        .await;
        let spans = reporter.spans();
        let errors: Vec<_> = spans.iter().map(|span| span.tag("error")).collect();
        assert_eq!(errors, [Some("disk full"), None, None], "{spans:?}");
    }

    #[tokio::test]
    async fn with_current_span_edits_the_innermost_bridged_span() {
        let _bridge = bridged(TracingBridge::new());
        let reporter = InMemoryReporter::new();
        let tracer = Tracer::builder("svc").reporter(reporter.clone()).build();
        root_span(&tracer, "root", async {
            let span = tracing::info_span!("bridged");
            let edited = span.in_scope(|| crate::current::with_current_span(|s| s.tag("k", "v")));
            assert!(edited.is_some());
        })
        .await;
        let spans = reporter.spans();
        assert_eq!(named(&spans, "bridged").tag("k"), Some("v"));
        assert_eq!(named(&spans, "root").tag("k"), None);
    }
}
