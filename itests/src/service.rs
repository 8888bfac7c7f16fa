//! One service of a [`Chain`](crate::Chain): served in-process on a tokio task (the demo's
//! [`Served`]), or run as its real binary in a child process.
//!
//! Either way a test reaches it at [`Service::url`] and stops it the same way: stop
//! accepting, finish requests in flight, flush spans, end. In-process, the test can also
//! read the service's reporter; as a binary, what it printed.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use demo::Served;
use tokio::net::TcpListener;
use zipkin_reporter::{AsyncReporter, ReporterStats};

use crate::process::ServiceProcess;

/// How a [`Service`] runs.
#[derive(Debug)]
enum Runner {
    /// `plumbing::Server::run` on a task of the test's runtime.
    InProcess(Served),
    /// The service's binary, stopped with SIGTERM.
    Binary(ServiceProcess),
}

/// A running service1 or service2.
#[derive(Debug)]
pub struct Service {
    name: &'static str,
    address: SocketAddr,
    runner: Runner,
}

impl Service {
    /// Serves `server` on a fresh `127.0.0.1:0` socket; its spans go to `reporter`.
    pub async fn spawn(
        name: &'static str,
        server: plumbing::Server,
        reporter: AsyncReporter,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind 127.0.0.1:0")?;
        let served = Served::service(name, listener, server, Some(reporter))?;
        Ok(Service::in_process(served))
    }

    /// A service the demo's chain started in-process.
    pub(crate) fn in_process(served: Served) -> Self {
        Service {
            name: served.name(),
            address: served.address(),
            runner: Runner::InProcess(served),
        }
    }

    /// A binary already answering on `address`.
    pub(crate) fn binary(name: &'static str, address: SocketAddr, process: ServiceProcess) -> Self {
        Service {
            name,
            address,
            runner: Runner::Binary(process),
        }
    }

    /// The service's name, as on its spans: `service1` or `service2`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The address the service listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The service's base URL, `http://127.0.0.1:{port}` (no trailing path).
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The reporter of a service running in-process.
    ///
    /// # Panics
    ///
    /// If the service is a binary: its reporter lives in another process.
    pub fn reporter(&self) -> &AsyncReporter {
        match &self.runner {
            Runner::InProcess(served) => served
                .reporter()
                .unwrap_or_else(|| panic!("{} is untraced: it has no reporter", self.name)),
            Runner::Binary(_) => panic!("{} is a binary: its reporter is not here", self.name),
        }
    }

    /// The counters of the reporter of a service running in-process (see
    /// [`Service::reporter`]).
    pub fn stats(&self) -> ReporterStats {
        self.reporter().stats()
    }

    /// What a binary printed so far (its logs); empty in-process, where the service logs
    /// to the test's own output.
    pub fn output(&self) -> String {
        match &self.runner {
            Runner::InProcess(_) => String::new(),
            Runner::Binary(process) => process.output(),
        }
    }

    /// Asks the service to stop (SIGTERM for a binary) without waiting.
    pub fn terminate(&mut self) -> anyhow::Result<()> {
        match &mut self.runner {
            Runner::InProcess(served) => {
                served.terminate();
                Ok(())
            }
            Runner::Binary(process) => process.terminate(),
        }
    }

    /// Waits at most `deadline` for the service to end after [`Service::terminate`]: in
    /// flight requests done and spans flushed. Fails unless it ended cleanly (a binary
    /// with exit code 0), with the binary's output.
    pub async fn wait_stopped(&mut self, deadline: Duration) -> anyhow::Result<()> {
        let name = self.name;
        match &mut self.runner {
            Runner::InProcess(served) => Ok(served.wait_stopped(deadline).await?),
            Runner::Binary(process) => {
                let status = process.wait_exit(deadline).await?;
                anyhow::ensure!(
                    status.code() == Some(0),
                    "{name} exited with {status}; its output:\n{}",
                    process.output()
                );
                Ok(())
            }
        }
    }

    /// [`Service::terminate`], then [`Service::wait_stopped`].
    pub async fn stop(&mut self, deadline: Duration) -> anyhow::Result<()> {
        self.terminate()?;
        self.wait_stopped(deadline).await
    }
}
