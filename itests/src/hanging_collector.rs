//! A Zipkin collector that hangs: it accepts TCP connections, reads what comes, and never
//! answers.
//!
//! This is the worst a collector can do to a reporter (a stuck proxy, a process stopped
//! in a debugger): nothing fails fast, only the reporter's own timeout ends an attempt.
//! [`HangingCollector`] notes when each connection opened and when the reporter hung up,
//! so a test can tell how long every attempt was held.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::mock_collector::SPANS_PATH;

/// One connection a reporter opened to the collector.
#[derive(Debug, Clone, Copy)]
pub struct HeldConnection {
    /// When the collector accepted it.
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

/// A local TCP server that takes span reports and never answers them.
#[derive(Debug)]
pub struct HangingCollector {
    endpoint: String,
    connections: Arc<Mutex<Vec<HeldConnection>>>,
    /// Owns the per-connection tasks: aborting it closes every held socket.
    task: JoinHandle<()>,
}

impl HangingCollector {
    /// Starts listening on a free local port.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind 127.0.0.1:0")?;
        let endpoint = format!("http://{}{SPANS_PATH}", listener.local_addr()?);
        let connections = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(hold_every_connection(listener, connections.clone()));
        Ok(HangingCollector {
            endpoint,
            connections,
            task,
        })
    }

    /// The URL to give services as `ZIPKIN_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Every connection so far, in the order they were accepted.
    pub fn connections(&self) -> Vec<HeldConnection> {
        self.connections
            .lock()
            .map(|connections| connections.clone())
            .unwrap_or_default()
    }
}

impl Drop for HangingCollector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn hold_every_connection(listener: TcpListener, log: Arc<Mutex<Vec<HeldConnection>>>) {
    let mut held = JoinSet::new();
    while let Ok((mut socket, _)) = listener.accept().await {
        let index = match log.lock() {
            Ok(mut connections) => {
                connections.push(HeldConnection {
                    accepted: Instant::now(),
                    closed: None,
                });
                connections.len() - 1
            }
            Err(_) => return,
        };
        let log = log.clone();
        held.spawn(async move {
            // Read (so the reporter's writes never block) until the reporter hangs up;
            // never write a byte back.
            let mut buffer = [0u8; 4096];
            while let Ok(read) = socket.read(&mut buffer).await {
                if read == 0 {
                    break;
                }
            }
            if let Ok(mut connections) = log.lock() {
                connections[index].closed = Some(Instant::now());
            }
        });
    }
}
