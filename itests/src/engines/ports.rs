//! Ports for engines: a free one to give a child, and what to do when a child finds it
//! taken after all.
//!
//! A port is chosen by binding `127.0.0.1:0` and releasing it for the child to take, which
//! leaves a moment in which another program may take it first. An engine that then exits
//! saying so fails with [`PortTaken`], and [`retry_port_taken`] starts it again on newly
//! chosen ports.

use anyhow::Context as _;

/// How many times [`retry_port_taken`] starts an engine whose port was taken.
const PORT_ATTEMPTS: usize = 3;

/// What its log says when an engine could not bind its port, in each engine's words.
const PORT_TAKEN_WORDS: [&str; 4] = [
    "address already in use",
    "eaddrinuse",
    "port not available",
    // RabbitMQ's node finding its distribution (inter-node) port taken.
    "dist_port_already_used",
];

/// A free local TCP port: bound on `127.0.0.1:0`, then released for a child to take.
/// Another program may take it in between; [`retry_port_taken`] covers that case.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The engine exited because another program held its port: its message says which port
/// and shows the engine's last log lines.
#[derive(Debug)]
pub struct PortTaken(pub String);

impl std::fmt::Display for PortTaken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PortTaken {}

/// Runs `start` (which chooses its ports with [`free_port`]) again, up to three times in
/// all, while it fails with [`PortTaken`]; any other outcome is returned as it is.
pub async fn retry_port_taken<T, F, Fut>(mut start: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut attempt = 1;
    loop {
        match start().await {
            Err(error) if error.is::<PortTaken>() && attempt < PORT_ATTEMPTS => attempt += 1,
            outcome => return outcome,
        }
    }
}

/// Whether `log`, an engine's last words, says its port was taken.
pub fn says_port_taken(log: &str) -> bool {
    let log = log.to_lowercase();
    PORT_TAKEN_WORDS.iter().any(|words| log.contains(words))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_taken_port_is_tried_again_three_times_in_all_and_other_errors_at_once() {
        let mut tries = 0;
        let taken: anyhow::Result<()> = retry_port_taken(|| {
            tries += 1;
            async { Err(PortTaken("port 1 taken".to_owned()).into()) }
        })
        .await;
        assert!(taken.is_err_and(|error| error.is::<PortTaken>()));
        assert_eq!(tries, PORT_ATTEMPTS);

        let mut tries = 0;
        let other: anyhow::Result<()> = retry_port_taken(|| {
            tries += 1;
            async { Err(anyhow::anyhow!("no such program")) }
        })
        .await;
        assert!(other.is_err_and(|error| !error.is::<PortTaken>()));
        assert_eq!(tries, 1);
    }

    #[test]
    fn each_engines_words_for_a_taken_port_are_recognised() {
        let said = [
            "[ERROR] Can't start server: Bind on TCP/IP port. Got error: 98: Address already in use",
            "java.net.BindException: Address already in use",
            "{failed_to_listen,{eaddrinuse,5672}}",
            "{failed_to_start_child,prelaunch,{dist_port_already_used,36743,not_erlang,\"localhost\"}}",
            "IPv4 port not available. Exiting...",
        ];
        for words in said {
            assert!(says_port_taken(words), "{words}");
        }
        assert!(!says_port_taken("Invalid or corrupt jarfile"));
    }
}
