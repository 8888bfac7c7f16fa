//! A Zipkin collector that fails on demand, and one that is down until it comes up.
//!
//! [`FaultyCollector`] answers span reports with the status the test sets (500, 400, then
//! 202), keeps each report with its answer, and counts only accepted spans as arrived, so
//! a retried batch counts once and a duplicate shows. [`DownCollector`] refuses
//! connections until it comes up as a [`FaultyCollector`] on the same port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use tokio::net::TcpSocket;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};
use zipkin_tracing::{Span, TraceId};

use crate::mock_collector::SPANS_PATH;
use crate::trace_source::TraceSource;

/// The status Zipkin answers a report it stored with.
pub const ACCEPTED: u16 = 202;

/// A collector that is down: its port is bound but not listening, so every connection to
/// it is refused, and no other program can take the port until it comes up.
#[derive(Debug)]
pub struct DownCollector {
    socket: TcpSocket,
    address: SocketAddr,
}

impl DownCollector {
    /// Takes a free local port without listening on it.
    pub fn new() -> anyhow::Result<Self> {
        let socket = TcpSocket::new_v4().context("cannot open a socket")?;
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .context("cannot bind 127.0.0.1:0")?;
        let address = socket.local_addr()?;
        Ok(DownCollector { socket, address })
    }

    /// The URL to give services as `ZIPKIN_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}{SPANS_PATH}", self.address)
    }

    /// Starts listening on the same port: from now on a [`FaultyCollector`] answers there,
    /// with `status`.
    pub async fn come_up(self, status: u16) -> anyhow::Result<FaultyCollector> {
        let listener = self
            .socket
            .listen(1024)
            .with_context(|| format!("cannot listen on {}", self.address))?
            .into_std()?;
        Ok(FaultyCollector::start_on(listener, status).await)
    }
}

/// One span report the collector received, with the status it answered.
#[derive(Debug, Clone)]
pub struct ReceivedReport {
    /// The status the collector answered.
    pub status: u16,
    /// The spans in the report's body.
    pub spans: Vec<Span>,
}

impl ReceivedReport {
    /// Whether the collector stored these spans (it answered 2xx).
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[derive(Debug)]
struct State {
    status: u16,
    /// Each report as answered and received: status and raw body, decoded when read so
    /// that a malformed body fails the test that reads it.
    reports: Vec<(u16, Vec<u8>)>,
}

/// Answers with the current status and records the report under the same lock, so the
/// recorded status is the one the reporter saw.
struct Responder(Arc<Mutex<State>>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let status = state.status;
        state.reports.push((status, request.body.clone()));
        let template = ResponseTemplate::new(status);
        if (400..500).contains(&status) {
            template.set_body_string("rejected by the faulty collector")
        } else {
            template
        }
    }
}

/// A wiremock Zipkin whose answer to `POST /api/v2/spans` the test controls.
#[derive(Debug)]
pub struct FaultyCollector {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl FaultyCollector {
    /// Starts the collector on a free local port, answering every report with `status`.
    pub async fn start(status: u16) -> Self {
        Self::with_server(MockServer::start().await, status).await
    }

    /// Starts the collector on `listener`, answering every report with `status`.
    pub async fn start_on(listener: std::net::TcpListener, status: u16) -> Self {
        let server = MockServer::builder().listener(listener).start().await;
        Self::with_server(server, status).await
    }

    async fn with_server(server: MockServer, status: u16) -> Self {
        let state = Arc::new(Mutex::new(State {
            status,
            reports: Vec::new(),
        }));
        Mock::given(method("POST"))
            .and(path(SPANS_PATH))
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        FaultyCollector { server, state }
    }

    /// The URL to give services as `ZIPKIN_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("{}{SPANS_PATH}", self.server.uri())
    }

    /// From now on, answers every report with `status`.
    pub fn answer(&self, status: u16) {
        self.lock().status = status;
    }

    /// Every report received so far, in arrival order. Fails if a body is not a JSON list
    /// of valid Zipkin v2 spans.
    pub fn reports(&self) -> anyhow::Result<Vec<ReceivedReport>> {
        let raw = self.lock().reports.clone();
        raw.into_iter()
            .enumerate()
            .map(|(index, (status, body))| {
                let spans = serde_json::from_slice(&body).with_context(|| {
                    format!(
                        "report {index} is not a list of Zipkin v2 spans: {}",
                        String::from_utf8_lossy(&body)
                    )
                })?;
                Ok(ReceivedReport { status, spans })
            })
            .collect()
    }

    /// The spans of every accepted report, in arrival order, duplicates included.
    pub fn accepted_spans(&self) -> anyhow::Result<Vec<Span>> {
        Ok(self
            .reports()?
            .into_iter()
            .filter(ReceivedReport::accepted)
            .flat_map(|report| report.spans)
            .collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-written: each
        // critical section is one assignment or one push.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl TraceSource for FaultyCollector {
    /// The accepted spans of trace `id`: what a real Zipkin would have stored.
    async fn trace(&self, id: TraceId) -> anyhow::Result<Vec<Span>> {
        let mut spans = self.accepted_spans()?;
        spans.retain(|span| span.trace_id == id);
        Ok(spans)
    }
}
