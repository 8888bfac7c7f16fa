//! Server side: a tower layer that traces every request an axum router handles.
//! For each request, [`ZipkinLayer`] reads the caller's headers (B3, or as the tracer's
//! `Propagation` says), joins the caller's span (or starts a trace), records a SERVER span
//! named `"{METHOD} {route}"`, current while the handler runs, and finishes it with the
//! response head, not after the body as tower-http's trace layer does: the CLIENT span ends
//! when the head arrives (reqwest hands the response over before its body), and the
//! server's half of a shared span must lie inside the client's. Time a long streamed body
//! with a [`local_span`](crate::local_span) while producing it.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{ConnectInfo, MatchedPath};
use http::{Request, Response};
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::current::{self, Current, Scope};
use crate::http_tags;
use crate::model::{Endpoint, Kind};
use crate::record::Text;
use crate::tracer::{ServerContext, Tracer};

/// Wraps services in [`ZipkinService`], which traces each request.
///
/// ```
/// use axum::{Router, routing::get};
/// use zipkin_tracing::{InMemoryReporter, Tracer, ZipkinLayer};
/// # use tower::ServiceExt;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let reporter = InMemoryReporter::new();
/// let app = Router::new()
///     .route("/items/{id}", get(|| async { "item" }))
///     .layer(ZipkinLayer::new(Tracer::builder("web").reporter(reporter.clone()).build()))
///     .route("/health", get(|| async { "ok" })); // added after the layer: not traced
/// # let request = http::Request::get("/items/42").body(axum::body::Body::empty()).unwrap();
/// app.oneshot(request).await.unwrap();
/// assert_eq!(reporter.spans()[0].name.as_deref(), Some("GET /items/{id}"));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ZipkinLayer {
    tracer: Tracer,
}

impl ZipkinLayer {
    /// A layer recording SERVER spans with `tracer`.
    pub fn new(tracer: Tracer) -> Self {
        ZipkinLayer { tracer }
    }
}

impl<S> Layer<S> for ZipkinLayer {
    type Service = ZipkinService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ZipkinService {
            inner,
            tracer: self.tracer.clone(),
        }
    }
}

/// A service that records a SERVER span around each request to `S`, any tower service.
///
/// ```
/// use tower::{Layer, Service, ServiceExt, service_fn};
/// use zipkin_tracing::{ResponseFuture, Tracer, ZipkinLayer};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let handler = service_fn(|_: http::Request<()>| async {
/// #     Ok::<_, std::convert::Infallible>(http::Response::new(())) });
/// let mut service = ZipkinLayer::new(Tracer::builder("svc").build()).layer(handler);
/// let future: ResponseFuture<_> = service.ready().await.unwrap().call(http::Request::new(()));
/// assert_eq!(future.await.unwrap().status(), 200); // the span finished with this head
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ZipkinService<S> {
    inner: S,
    tracer: Tracer,
}

/// The span name for a request: the method and the route template, never the raw path,
/// which would give one name per item id.
fn span_name<B>(request: &Request<B>) -> String {
    match request.extensions().get::<MatchedPath>() {
        Some(route) => format!("{} {}", request.method(), route.as_str()),
        None => request.method().to_string(),
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ZipkinService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: std::fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let incoming = self.tracer.extract(request.headers());
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        let ServerContext { context, shared } = (self.tracer).server_context(
            incoming.extracted,
            incoming.joinable,
            (request.method(), route),
        );
        // Unrecorded requests skip the name's allocation along with the rest of the span.
        let name = if self.tracer.records(&context) {
            Text::Owned(span_name(&request))
        } else {
            Text::Borrowed("")
        };
        let mut span = self.tracer.start(context, name, Some(Kind::Server));
        if span.is_recording() {
            span.set_shared(shared);
            http_tags::request(&mut span, request.method(), request.uri().path());
            if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
                span.set_remote_endpoint(Endpoint::from_socket(*peer));
            }
        }
        // Every log line of the request carries the trace and span ids.
        let log_span = tracing::info_span!(
            "request",
            trace_id = %context.trace_id,
            span_id = %context.span_id,
        );
        let inner = log_span.in_scope(|| self.inner.call(request));
        let current = Current {
            tracer: self.tracer.clone(),
            context,
            tracestate: incoming.tracestate,
        };
        // The span waits in the handler's scope, where `with_current_span` edits it.
        let scoped = current::scope(current, Some(span), inner);
        ResponseFuture {
            inner: scoped.instrument(log_span),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`ZipkinService`]: finishes the span when the response (or
    /// an error) is ready, or marks it cancelled if dropped before (the client went away,
    /// or the server shut down mid-request). [`ZipkinService`]'s example awaits one.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: tracing::instrument::Instrumented<TaskLocalFuture<Scope, F>>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(mut span) = this.project().inner.inner_pin_mut().take_value().and_then(Scope::into_span)
                && !std::thread::panicking()
            {
                span.tag("error", "cancelled");
            }
        }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    E: std::fmt::Display,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut inner = self.project().inner;
        let result = std::task::ready!(inner.as_mut().poll(cx));
        if let Some(mut span) = inner
            .inner_pin_mut()
            .take_value()
            .and_then(Scope::into_span)
        {
            match &result {
                Ok(response) => http_tags::response(&mut span, response.status()),
                Err(error) => span.tag(http_tags::ERROR, error.to_string()),
            }
            span.finish();
        }
        Poll::Ready(result)
    }
}
