//! Stopping on SIGINT (Ctrl-C) or SIGTERM (`docker stop`, `kill`).
//!
//! [`shutdown_signal`] installs its handlers when it is called, not when its future is
//! first polled: a signal that arrives in between (as soon as the server answers, say)
//! would otherwise meet the default action, which ends the process at once, without
//! finishing requests in flight or flushing spans. Call it before serving starts.

use std::future::Future;

/// A signal handler could not be installed.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for {signal}: {source}")]
pub struct SignalError {
    /// The signal, e.g. `SIGTERM`.
    pub signal: &'static str,
    /// Why.
    pub source: std::io::Error,
}

/// Installs SIGINT and SIGTERM handlers now and returns a future that completes on the
/// first of them that arrives, from now on.
#[cfg(unix)]
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, SignalError> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind: SignalKind, name: &'static str| {
        signal(kind).map_err(|source| SignalError {
            signal: name,
            source,
        })
    };
    let mut interrupt = listen(SignalKind::interrupt(), "SIGINT")?;
    let mut terminate = listen(SignalKind::terminate(), "SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("shutting down: finishing requests in flight");
    })
}

/// Installs a Ctrl-C handler now and returns a future that completes on the first Ctrl-C
/// from now on.
#[cfg(windows)]
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, SignalError> {
    let mut interrupt = tokio::signal::windows::ctrl_c().map_err(|source| SignalError {
        signal: "Ctrl-C",
        source,
    })?;
    Ok(async move {
        interrupt.recv().await;
        tracing::info!("shutting down: finishing requests in flight");
    })
}

#[cfg(all(test, unix))]
mod tests {
    use std::process::Command;
    use std::time::Duration;

    use super::*;

    /// Sends `signal` to this process with `kill`, which returns once it has been sent.
    fn send_to_self(signal: &str) {
        let pid = std::process::id().to_string();
        let status = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("the kill command runs");
        assert!(status.success(), "kill {signal} {pid}: {status}");
    }

    // With handlers installed only on the first poll, each signal here would meet the
    // default action and end this test process at once. One test for both signals: a
    // second test's future, in a parallel thread, would see this test's signals too.
    #[tokio::test]
    async fn sigterm_and_sigint_sent_before_the_first_poll_are_not_lost() {
        for signal in ["-TERM", "-INT"] {
            let stopped = shutdown_signal().unwrap();
            send_to_self(signal);
            tokio::time::timeout(Duration::from_secs(10), stopped)
                .await
                .unwrap_or_else(|_| panic!("the {signal} sent before the first poll was lost"));
        }
    }
}
