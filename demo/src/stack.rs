//! The demo's three servers, started and stopped together on loopback.
//!
//! [`Stack::start`] binds all three ports first, so a port in use fails before anything
//! runs, with a message naming the port and the flag that changes it; then it starts the
//! stand-in collector, service2 (its router wrapped in the B3 header capture) and
//! service1, each reporting spans to the collector. [`Stack::shutdown`] stops them from
//! the caller inwards, so every request in flight can still reach the servers it calls and
//! every span still reaches the collector.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use collector::{Collector, CollectorConfig};
use plumbing::{ServiceArgs, TracingArgs};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use zipkin_reporter::{AsyncReporter, HttpEndpoint, ReporterConfig, ReporterError};

use crate::config::Config;
use crate::headers::HeaderLog;

/// One of the demo's servers.
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

/// Why the stack could not start, or did not stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// Something else is listening on the port.
    #[error(
        "port {} is already in use, so {server} cannot listen on {address}: \
         choose another port with {} (0 picks a free one)",
        address.port(), server.port_flag()
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
    /// A server stopped with an error, or panicked.
    #[error("{server} failed: {reason}")]
    Failed {
        /// The server.
        server: Server,
        /// What happened.
        reason: String,
    },
}

/// Where the servers listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addresses {
    /// The stand-in collector.
    pub collector: SocketAddr,
    /// service2.
    pub service2: SocketAddr,
    /// service1.
    pub service1: SocketAddr,
}

impl Addresses {
    /// The article's request: `GET /` on service1.
    pub fn service1_url(&self) -> String {
        format!("http://{}/", self.service1)
    }

    /// Where the services POST their spans.
    pub fn zipkin_endpoint(&self) -> HttpEndpoint {
        let endpoint = format!("http://{}/api/v2/spans", self.collector);
        endpoint
            .parse()
            .expect("a socket address and a path make an endpoint")
    }
}

/// A server task and the switch that stops it.
#[derive(Debug)]
struct Running {
    server: Server,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl Running {
    /// Stops accepting, waits for requests in flight (and, for a service, its final
    /// flush of spans).
    async fn stop(self) -> Result<(), StackError> {
        // The receiver is gone only if the server already ended; its result tells how.
        let _ = self.stop.send(());
        let failed = |reason: String| StackError::Failed {
            server: self.server,
            reason,
        };
        match self.task.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(failed(error.to_string())),
            Err(error) => Err(failed(error.to_string())),
        }
    }
}

/// The running collector, service2 and service1. Dropping it stops them too, without
/// waiting; [`Stack::shutdown`] waits.
#[derive(Debug)]
pub struct Stack {
    addresses: Addresses,
    collector: Collector,
    headers: HeaderLog,
    reporters: [AsyncReporter; 2],
    // In stopping order: callers first.
    servers: [Running; 3],
}

impl Stack {
    /// Binds the ports of `config` on 127.0.0.1 and starts the three servers. Port 0 picks
    /// a free port; [`Stack::addresses`] tells which. Call inside a tokio runtime.
    pub async fn start(config: &Config) -> Result<Stack, StackError> {
        let collector_listener = bind(Server::Collector, config.collector_port).await?;
        let service2_listener = bind(Server::Service2, config.service2_port).await?;
        let service1_listener = bind(Server::Service1, config.service1_port).await?;
        let addresses = Addresses {
            collector: local_addr(Server::Collector, &collector_listener)?,
            service2: local_addr(Server::Service2, &service2_listener)?,
            service1: local_addr(Server::Service1, &service1_listener)?,
        };

        let collector = Collector::new(CollectorConfig::default());
        let store = collector.clone();
        let collector_server = spawn(Server::Collector, move |stop| {
            collector::serve(collector_listener, store, stop)
        });

        let headers = HeaderLog::new();
        let reporter2 = start_reporter(Server::Service2, &addresses)?;
        let config2 = service2::Config {
            port: addresses.service2.port(),
            service: service_args(config, &addresses),
            instrument: false,
        };
        let capture = headers.layer();
        let server2 =
            service2::server(&config2, reporter2.clone()).map_app(|app| app.layer(capture));
        let service2 = spawn(Server::Service2, move |stop| {
            server2.run(service2_listener, stop)
        });

        let reporter1 = start_reporter(Server::Service1, &addresses)?;
        let service2_url = reqwest::Url::parse(&format!("http://{}", addresses.service2))
            .map_err(|e| setup_error(Server::Service1, &e))?;
        let config1 = service1::Config {
            port: addresses.service1.port(),
            service2_url,
            // service2 takes 4 s of article time; leave room for any time scale.
            client_timeout_secs: 10.0 + 8.0 * config.time_scale,
            service: service_args(config, &addresses),
        };
        let server1 = service1::server(&config1, reporter1.clone())
            .map_err(|e| setup_error(Server::Service1, &format!("{e:#}")))?;
        let service1 = spawn(Server::Service1, move |stop| {
            server1.run(service1_listener, stop)
        });

        Ok(Stack {
            addresses,
            collector,
            headers,
            reporters: [reporter1, reporter2],
            servers: [service1, service2, collector_server],
        })
    }

    /// Where the servers listen.
    pub fn addresses(&self) -> Addresses {
        self.addresses
    }

    /// The collector's store, where every span ends up.
    pub fn collector(&self) -> &Collector {
        &self.collector
    }

    /// The B3 headers service2 received.
    pub fn headers(&self) -> &HeaderLog {
        &self.headers
    }

    /// The span reporters of service1 and service2, to flush them.
    pub fn reporters(&self) -> &[AsyncReporter] {
        &self.reporters
    }

    /// Stops service1, then service2, then the collector: each stops accepting, finishes
    /// its requests in flight and (for a service) flushes its spans before the next one
    /// stops. Returns the first failure, after stopping everything.
    pub async fn shutdown(self) -> Result<(), StackError> {
        let mut outcome = Ok(());
        for server in self.servers {
            let result = server.stop().await;
            if outcome.is_ok() {
                outcome = result;
            }
        }
        outcome
    }
}

/// Binds `server`'s port on loopback; the error names the port and the flag to change.
pub(crate) async fn bind(server: Server, port: u16) -> Result<TcpListener, StackError> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpListener::bind(address).await.map_err(|source| {
        if source.kind() == io::ErrorKind::AddrInUse {
            StackError::PortInUse {
                server,
                address,
                source,
            }
        } else {
            StackError::Bind {
                server,
                address,
                error: source,
            }
        }
    })
}

/// The address `listener` is bound to.
pub(crate) fn local_addr(server: Server, listener: &TcpListener) -> Result<SocketAddr, StackError> {
    listener
        .local_addr()
        .map_err(|e| setup_error(server, &format!("the listener has no address: {e}")))
}

fn setup_error(server: Server, reason: &dyn fmt::Display) -> StackError {
    StackError::Setup {
        server,
        reason: reason.to_string(),
    }
}

fn start_reporter(server: Server, addresses: &Addresses) -> Result<AsyncReporter, StackError> {
    AsyncReporter::start(ReporterConfig::http(addresses.zipkin_endpoint()))
        .map_err(|error| StackError::Reporter { server, error })
}

/// The services' shared settings in the demo: loopback, the demo's time scale, every new
/// trace sampled and reported to the stand-in collector.
fn service_args(config: &Config, addresses: &Addresses) -> ServiceArgs {
    ServiceArgs::new(
        TracingArgs::new(addresses.zipkin_endpoint()),
        config.time_scale,
    )
}

/// Resolves when the server should stop: on the [`Running::stop`] switch, or when the
/// [`Stack`] is dropped.
struct StopSignal(oneshot::Receiver<()>);

impl Future for StopSignal {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_sent_or_dropped| ())
    }
}

/// Spawns `serve`, handing it the signal to stop.
fn spawn<F>(server: Server, serve: impl FnOnce(StopSignal) -> F) -> Running
where
    F: Future<Output = io::Result<()>> + Send + 'static,
{
    let (stop, stopped) = oneshot::channel();
    Running {
        server,
        stop,
        task: tokio::spawn(serve(StopSignal(stopped))),
    }
}
