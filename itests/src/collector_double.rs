//! A Zipkin collector double: it takes span reports on `POST /api/v2/spans` and answers
//! them as the test says, the one thing in which a working, a failing and a hanging
//! collector differ.
//!
//! [`CollectorDouble::start`] answers `202 Accepted` like Zipkin; [`Answer::Status`] makes
//! it answer 500, 400 or 503 instead, and [`Answer::Hang`] never answers at all (a stuck
//! proxy, a process stopped in a debugger), so only the reporter's timeout ends the
//! attempt. [`CollectorDouble::down`] refuses connections until it comes up on the same
//! port. It keeps every report with its answer, decoded strictly into [`Span`]s when read
//! so a malformed report fails the test, and notes when each connection opened and closed.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::{JoinHandle, JoinSet};
use zipkin_tracing::{Span, TraceId};

use crate::trace_source::TraceSource;

/// The path Zipkin ingests v2 spans on.
pub const SPANS_PATH: &str = "/api/v2/spans";

/// The status Zipkin answers a report it stored with.
pub const ACCEPTED: u16 = 202;

/// How the double answers a span report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// With this status (and, for a 4xx, a short reason in the body).
    Status(u16),
    /// Never: it reads the report and holds the connection until the reporter hangs up.
    Hang,
}

impl From<u16> for Answer {
    fn from(status: u16) -> Self {
        Answer::Status(status)
    }
}

/// One span report the double answered, with the status it answered.
#[derive(Debug, Clone)]
pub struct ReceivedReport {
    /// The status the double answered.
    pub status: u16,
    /// The spans in the report's body.
    pub spans: Vec<Span>,
}

impl ReceivedReport {
    /// Whether the double stored these spans (it answered 2xx).
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// One connection a reporter opened to the double.
#[derive(Debug, Clone, Copy)]
pub struct HeldConnection {
    /// When the double accepted it.
    pub accepted: Instant,
    /// When the reporter closed it, if it has.
    pub closed: Option<Instant>,
}

impl HeldConnection {
    /// How long the reporter kept it open: until it closed it, or until now.
    pub fn held_for(&self) -> Duration {
        self.closed.unwrap_or_else(Instant::now) - self.accepted
    }
}

/// A request as it arrived, with the status it was answered (`None`: held, unanswered).
#[derive(Debug)]
struct Received {
    method: http::Method,
    path: String,
    body: Bytes,
    status: Option<u16>,
}

#[derive(Debug)]
struct State {
    answer: Answer,
    requests: Vec<Received>,
    connections: Vec<HeldConnection>,
}

/// A local HTTP server standing in for Zipkin's span ingestion. Stops when dropped.
#[derive(Debug)]
pub struct CollectorDouble {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    /// Bound but not listening while the double is down.
    down: Option<TcpSocket>,
    /// Owns the per-connection tasks: aborting it closes every connection.
    server: Option<JoinHandle<()>>,
}

impl CollectorDouble {
    /// Starts a double that accepts every report (`202`), on a free local port.
    pub async fn start() -> Self {
        Self::answering(ACCEPTED).await
    }

    /// Starts a double answering every report as `answer` says, on a free local port.
    pub async fn answering(answer: impl Into<Answer>) -> Self {
        let double = Self::down().expect("a free local port on 127.0.0.1");
        double
            .come_up(answer)
            .await
            .expect("listening on a bound port")
    }

    /// A double that is down: its port is bound but not listening, so every connection to
    /// it is refused, and no other program can take the port until it comes up.
    pub fn down() -> anyhow::Result<Self> {
        let socket = TcpSocket::new_v4().context("cannot open a socket")?;
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .context("cannot bind 127.0.0.1:0")?;
        let state = State {
            answer: Answer::Status(ACCEPTED),
            requests: Vec::new(),
            connections: Vec::new(),
        };
        Ok(CollectorDouble {
            address: socket.local_addr()?,
            state: Arc::new(Mutex::new(state)),
            down: Some(socket),
            server: None,
        })
    }

    /// Starts listening on its port, answering every report as `answer` says.
    pub async fn come_up(mut self, answer: impl Into<Answer>) -> anyhow::Result<Self> {
        self.answer(answer);
        let socket = self.down.take().context("the double is already up")?;
        let listener = socket
            .listen(1024)
            .with_context(|| format!("cannot listen on {}", self.address))?;
        self.server = Some(tokio::spawn(serve(listener, self.state.clone())));
        Ok(self)
    }

    /// Whether it listens (it has come up).
    pub fn is_up(&self) -> bool {
        self.down.is_none()
    }

    /// The URL to give services as `ZIPKIN_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}{SPANS_PATH}", self.address)
    }

    /// From now on, answers every report as `answer` says (a status such as `503`, or
    /// [`Answer::Hang`]).
    pub fn answer(&self, answer: impl Into<Answer>) {
        self.lock().answer = answer.into();
    }

    /// Every report answered so far, in arrival order. Fails if anything other than
    /// `POST /api/v2/spans` arrived, or if a body is not a JSON list of valid v2 spans.
    pub fn reports(&self) -> anyhow::Result<Vec<ReceivedReport>> {
        let state = self.lock();
        let answered = state.requests.iter().enumerate();
        let answered = answered.filter_map(|(index, r)| Some((index, r, r.status?)));
        answered
            .map(|(index, request, status)| {
                anyhow::ensure!(
                    request.method == http::Method::POST && request.path == SPANS_PATH,
                    "request {index} to the collector was {} {}, not POST {SPANS_PATH}",
                    request.method,
                    request.path
                );
                let spans = serde_json::from_slice(&request.body).with_context(|| {
                    format!(
                        "report {index} is not a list of Zipkin v2 spans: {}",
                        String::from_utf8_lossy(&request.body)
                    )
                })?;
                Ok(ReceivedReport { status, spans })
            })
            .collect()
    }

    /// The spans of every accepted report, in arrival order, duplicates included: what a
    /// real Zipkin would have stored.
    pub fn spans(&self) -> anyhow::Result<Vec<Span>> {
        let reports = self.reports()?.into_iter().filter(ReceivedReport::accepted);
        Ok(reports.flat_map(|report| report.spans).collect())
    }

    /// The accepted spans that belong to `trace_id`.
    pub fn spans_of(&self, trace_id: TraceId) -> anyhow::Result<Vec<Span>> {
        let mut spans = self.spans()?;
        spans.retain(|span| span.trace_id == trace_id);
        Ok(spans)
    }

    /// Every connection so far, in the order they were accepted.
    pub fn connections(&self) -> Vec<HeldConnection> {
        self.lock().connections.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

impl Drop for CollectorDouble {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

impl TraceSource for CollectorDouble {
    /// The accepted spans of trace `id`.
    async fn trace(&self, id: TraceId) -> anyhow::Result<Vec<Span>> {
        self.spans_of(id)
    }
}

/// A panic while holding the lock cannot leave the state half-written: each critical
/// section is one assignment or one push.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Serves every connection on a task of its own, noting when it opened and closed.
async fn serve(listener: TcpListener, state: Arc<Mutex<State>>) {
    let mut connections = JoinSet::new();
    while let Ok((socket, _)) = listener.accept().await {
        let index = {
            let mut state = lock(&state);
            let accepted = Instant::now();
            state.connections.push(HeldConnection {
                accepted,
                closed: None,
            });
            state.connections.len() - 1
        };
        let state = state.clone();
        connections.spawn(async move {
            let answer = hyper::service::service_fn(|request| respond(request, state.clone()));
            // HTTP/1.1 as Zipkin speaks it; a reporter that hangs up mid-request ends the
            // connection (hyper reads on while an answer is pending, and sees the close).
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(socket), answer)
                .await;
            drop(served);
            lock(&state).connections[index].closed = Some(Instant::now());
        });
    }
}

/// Records the request and answers it as the double's current [`Answer`] says; any path
/// but the span endpoint is answered 404 (and makes [`CollectorDouble::reports`] fail).
async fn respond(
    request: Request<Incoming>,
    state: Arc<Mutex<State>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let is_report = parts.method == http::Method::POST && parts.uri.path() == SPANS_PATH;
    let answer = if is_report {
        lock(&state).answer
    } else {
        Answer::Status(404)
    };
    let status = match answer {
        Answer::Status(status) => Some(status),
        Answer::Hang => None,
    };
    lock(&state).requests.push(Received {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        body,
        status,
    });
    let Some(status) = status else {
        return std::future::pending().await;
    };
    let text = if (400..500).contains(&status) {
        "rejected by the collector double"
    } else {
        ""
    };
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Ok(response)
}

#[cfg(test)]
mod tests;
