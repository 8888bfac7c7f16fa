//! Client side: an outgoing reqwest call as a CLIENT span, a child of the current span. Its
//! context goes into the request's headers (B3, and W3C if the tracer's `Propagation` lists
//! it), the server joins it, and it finishes when the response head arrives or the call
//! fails, with the status, the server's address and any error. The caller names the span
//! and the service called ([`Call`]); by default the span is named by the method alone.

use std::future::Future;
use std::net::SocketAddr;

use reqwest::{RequestBuilder, Response};

use crate::context::TraceContext;
use crate::current;
use crate::http_tags;
use crate::model::{Endpoint, Kind};
use crate::record::Text;
use crate::tracer::Tracer;
use crate::w3c::TraceState;

/// Describes a failed call by its root cause (`"Connection refused (os error 111)"`,
/// `"operation timed out"`) rather than reqwest's generic outer message: what a CLIENT
/// span's `error` tag says, and what a caller can show for a failed call.
///
/// ```
/// use zipkin_tracing::describe_error;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
/// let error = reqwest::get(format!("http://{closed}/")).await.unwrap_err();
/// assert!(describe_error(&error).starts_with("Connection refused"), "{error}");
/// # }
/// ```
pub fn describe_error(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let root = cause.to_string();
    if error.is_timeout() && !root.contains("timed out") {
        format!("timeout: {root}")
    } else {
        root
    }
}

/// How a traced call is recorded: its CLIENT span's name and the service it calls.
/// [`TracedRequest`]'s example sets both.
#[derive(Debug, Clone, Default)]
pub struct Call {
    name: Option<Text>,
    remote_service: Option<String>,
}

impl Call {
    /// A call whose span is named `name`, such as `"GET /items/{id}"` (a route template)
    /// or `"charge card"`. Without one, the span is named by the method alone (`"GET"`), as
    /// in Brave: the raw path, `/items/42`, would make one name per item.
    pub fn named(name: impl Into<Text>) -> Self {
        Call {
            name: Some(name.into()),
            remote_service: None,
        }
    }

    /// The service called, as the dependency graph shows it: for a callee that records no
    /// spans of its own (a database, a third-party API), the only way it appears there.
    pub fn remote_service(mut self, name: &str) -> Self {
        self.remote_service = Some(name.to_owned());
        self
    }
}

/// Sends `request` inside a CLIENT span that is a child of `parent` (or the root of a new
/// trace when `parent` is `None`), recorded as `call` says, with that span's headers.
/// [`TracedRequest`]'s example calls it.
pub async fn send_with(
    tracer: &Tracer,
    parent: Option<&TraceContext>,
    call: Call,
    request: RequestBuilder,
) -> reqwest::Result<Response> {
    send_in(tracer, parent, None, call, request).await
}

/// [`send_with`], passing a W3C caller's `tracestate` on.
async fn send_in(
    tracer: &Tracer,
    parent: Option<&TraceContext>,
    tracestate: Option<&TraceState>,
    call: Call,
    request: RequestBuilder,
) -> reqwest::Result<Response> {
    let (client, request) = request.build_split();
    let mut request = request?;
    let context = match parent {
        Some(parent) => tracer.child(parent),
        None => tracer.new_trace(),
    };
    tracer.inject(&context, tracestate, request.headers_mut());

    let url = request.url();
    let name = call
        .name
        .unwrap_or_else(|| http_tags::method_text(request.method()));
    let mut span = tracer.start(context, name, Some(Kind::Client));
    if span.is_recording() {
        http_tags::request(&mut span, request.method(), url.path());
        // The address we are about to call, refined below by the one we reached.
        if let Some(host) = url.host_str()
            && let Ok(ip) = host.trim_matches(['[', ']']).parse()
        {
            let port = url.port_or_known_default().unwrap_or(0);
            span.set_remote_endpoint(Endpoint::from_socket(SocketAddr::new(ip, port)));
        }
    }

    let result = client.execute(request).await;
    match &result {
        Ok(response) => {
            if let Some(peer) = response.remote_addr() {
                span.set_remote_endpoint(Endpoint::from_socket(peer));
            }
            http_tags::response(&mut span, response.status());
        }
        Err(error) => span.tag(http_tags::ERROR, describe_error(error)),
    }
    if let Some(service) = &call.remote_service {
        span.set_remote_service(service);
    }
    span.finish();
    result
}

/// [`TracedRequest::send_traced_as`].
async fn send(call: Call, request: RequestBuilder) -> reqwest::Result<Response> {
    match current::current() {
        Some(current) => {
            let (tracer, tracestate) = (&current.tracer, current.tracestate.as_ref());
            send_in(tracer, Some(&current.context), tracestate, call, request).await
        }
        None => request.send().await,
    }
}

/// `.send_traced()` on a reqwest `RequestBuilder`.
///
/// ```no_run
/// use zipkin_tracing::{Call, TracedRequest, Tracer, send_with};
/// # async fn handler(client: reqwest::Client, tracer: Tracer) -> reqwest::Result<()> {
/// // In a handler behind `ZipkinLayer`: a CLIENT span named "GET", a child of the SERVER span.
/// client.get("http://127.0.0.1:6000/service/").send_traced().await?;
/// // Named by its route, and an uninstrumented callee named for the dependency graph.
/// let call = Call::named("GET /rates/{currency}").remote_service("rates-api");
/// client.get("http://127.0.0.1:8080/rates/eur").send_traced_as(call).await?;
/// // Outside any request: with no parent, the CLIENT span starts a new trace.
/// send_with(&tracer, None, Call::default(), client.get("http://127.0.0.1:6000/")).await?;
/// # Ok(()) }
/// ```
pub trait TracedRequest {
    /// Sends the request inside a CLIENT span named by its method, a child of the current
    /// span; with no current span, sends it as is.
    fn send_traced(self) -> impl Future<Output = reqwest::Result<Response>> + Send;

    /// [`TracedRequest::send_traced`], the span recorded as `call` says.
    fn send_traced_as(self, call: Call) -> impl Future<Output = reqwest::Result<Response>> + Send;
}

impl TracedRequest for RequestBuilder {
    fn send_traced(self) -> impl Future<Output = reqwest::Result<Response>> + Send {
        send(Call::default(), self)
    }

    fn send_traced_as(self, call: Call) -> impl Future<Output = reqwest::Result<Response>> + Send {
        send(call, self)
    }
}
