//! One server of the chain, running on a task of the caller's runtime until it is stopped.
//!
//! [`bind`] opens a server's port on loopback, with an error that names the port and the
//! flag that changes it; [`Served`] then runs the server with a stop switch. Stopping is
//! ordered: the server stops accepting, finishes its requests in flight and (for a
//! service) flushes its spans before [`Served::wait_stopped`] returns.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use zipkin_reporter::{AsyncReporter, ReporterError};

/// One of the chain's servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// The stand-in Zipkin collector.
    Collector,
    /// service2, the callee.
    Service2,
    /// service1, the caller.
    Service1,
}

impl Server {
    /// The flag that sets this server's port.
    pub fn port_flag(self) -> &'static str {
        match self {
            Server::Collector => "--collector-port",
            Server::Service2 => "--service2-port",
            Server::Service1 => "--service1-port",
        }
    }

    /// What else a user can do when this server's port is taken: for the collector's
    /// port, most likely a Zipkin already runs there and can receive the spans itself.
    fn busy_port_hint(self, address: SocketAddr) -> String {
        match self {
            Server::Collector => format!(
                "; or, if a Zipkin is running there, send the spans to it with \
                 --zipkin http://{address}"
            ),
            Server::Service2 | Server::Service1 => String::new(),
        }
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Server::Collector => "the collector",
            Server::Service2 => service2::SERVICE_NAME,
            Server::Service1 => service1::SERVICE_NAME,
        })
    }
}

/// Why the chain could not start, or did not stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// Something else is listening on the port.
    #[error(
        "port {} is already in use, so {server} cannot listen on {address}: \
         choose another port with {} (0 picks a free one){}",
        address.port(), server.port_flag(), server.busy_port_hint(*address)
    )]
    PortInUse {
        /// The server that needed the port.
        server: Server,
        /// The address it tried.
        address: SocketAddr,
        /// The system's error.
        source: io::Error,
    },
    /// The port could not be bound for another reason (e.g. a privileged port).
    #[error("{server} cannot listen on {address} (set {}): {error}", server.port_flag())]
    Bind {
        /// The server that needed the port.
        server: Server,
        /// The address it tried.
        address: SocketAddr,
        /// The system's error (in the message, so not also a `source`).
        error: io::Error,
    },
    /// A service's span reporter did not start.
    #[error("cannot start {server}'s span reporter: {error}")]
    Reporter {
        /// The service.
        server: Server,
        /// Why.
        error: ReporterError,
    },
    /// A service could not be set up.
    #[error("cannot set up {server}: {reason}")]
    Setup {
        /// The service.
        server: Server,
        /// Why, with its causes.
        reason: String,
    },
    /// A server stopped with an error, panicked, or did not stop in time.
    #[error("{name} failed: {reason}")]
    Failed {
        /// The server's name.
        name: &'static str,
        /// What happened.
        reason: String,
    },
}

/// Binds `server`'s port on loopback; the error names the port and the flag to change.
pub async fn bind(server: Server, port: u16) -> Result<TcpListener, ChainError> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpListener::bind(address).await.map_err(|source| {
        if source.kind() == io::ErrorKind::AddrInUse {
            ChainError::PortInUse {
                server,
                address,
                source,
            }
        } else {
            ChainError::Bind {
                server,
                address,
                error: source,
            }
        }
    })
}

/// Resolves when the server should stop: on [`Served::terminate`], or when the [`Served`]
/// is dropped.
#[derive(Debug)]
pub struct StopSignal(oneshot::Receiver<()>);

impl Future for StopSignal {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_sent_or_dropped| ())
    }
}

/// A server running on a task, and the switch that stops it. Dropping it stops the
/// server too, without waiting.
#[derive(Debug)]
pub struct Served {
    name: &'static str,
    address: SocketAddr,
    reporter: Option<AsyncReporter>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Served {
    /// Runs `serve` on a new task, handing it the signal to stop. `address` is where it
    /// listens; `reporter`, where its spans go (none for the collector or an untraced
    /// service).
    pub fn spawn<F>(
        name: &'static str,
        address: SocketAddr,
        reporter: Option<AsyncReporter>,
        serve: impl FnOnce(StopSignal) -> F,
    ) -> Self
    where
        F: Future<Output = io::Result<()>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        Served {
            name,
            address,
            reporter,
            stop: Some(stop),
            task: Some(tokio::spawn(serve(StopSignal(stopped)))),
        }
    }

    /// Serves `server` on `listener` as its binary does ([`plumbing::Server::run`]); its
    /// spans go to `reporter`.
    pub fn service(
        name: &'static str,
        listener: TcpListener,
        server: plumbing::Server,
        reporter: Option<AsyncReporter>,
    ) -> io::Result<Self> {
        let address = listener.local_addr()?;
        Ok(Served::spawn(name, address, reporter, move |stop| {
            server.run(listener, stop)
        }))
    }

    /// The server's name: `service1`, `service2`, `collector`, or the name given.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Its base URL, `http://127.0.0.1:{port}` (no trailing path).
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The reporter its spans go to; `None` for the collector or an untraced service.
    pub fn reporter(&self) -> Option<&AsyncReporter> {
        self.reporter.as_ref()
    }

    /// Asks the server to stop, without waiting.
    pub fn terminate(&mut self) {
        // An error means the task already ended; waiting for it tells why.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits at most `deadline` for the server to end after [`Served::terminate`]: its
    /// requests in flight done and its spans flushed. Fails unless it ended cleanly.
    pub async fn wait_stopped(&mut self, deadline: Duration) -> Result<(), ChainError> {
        let name = self.name;
        let failed = |reason: String| ChainError::Failed { name, reason };
        let task = self
            .task
            .take()
            .ok_or_else(|| failed("it was already stopped".to_owned()))?;
        match tokio::time::timeout(deadline, task).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(error))) => Err(failed(error.to_string())),
            Ok(Err(error)) => Err(failed(format!("it panicked: {error}"))),
            Err(_elapsed) => Err(failed(format!("it did not stop within {deadline:?}"))),
        }
    }

    /// [`Served::terminate`], then [`Served::wait_stopped`].
    pub async fn stop(&mut self, deadline: Duration) -> Result<(), ChainError> {
        self.terminate();
        self.wait_stopped(deadline).await
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // A caller that fails or ends before `stop` still stops its servers: the final
        // flush runs on in the background and ends with the caller's runtime.
        self.terminate();
    }
}
