//! The two real binaries as a chain, and what they logged.
//!
//! [`BinaryChain`] builds and starts service2 and service1 as a user would, configured only
//! through environment variables (`TIME_SCALE=0`, `RUST_LOG=info`), on free ports. Their
//! output is plain text (no terminal), so [`warning_lines`] can count what they logged at
//! `WARN` level or above.

use crate::process::{ServiceProcess, build_binary, launch};

/// The lines of `output` logged at `WARN` level or above, in the services' log format
/// (`{time}  WARN {target}: {message}`): a problem logged as an error counts too.
pub fn warning_lines(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|line| matches!(line.split_whitespace().nth(1), Some("WARN" | "ERROR")))
        .collect()
}

/// service1 and service2 running as child processes, service1 calling service2.
#[derive(Debug)]
pub struct BinaryChain {
    /// The caller, `GET /`.
    pub service1: ServiceProcess,
    /// The callee, `GET /service/`.
    pub service2: ServiceProcess,
    service1_url: String,
}

impl BinaryChain {
    /// Builds both binaries if needed, starts them reporting to `zipkin_endpoint` with no
    /// sleeps (`TIME_SCALE=0`) and waits until both answer `/health`.
    pub async fn start(zipkin_endpoint: &str) -> anyhow::Result<Self> {
        let (service1_bin, service2_bin) =
            tokio::task::spawn_blocking(|| (build_binary("service1"), build_binary("service2")))
                .await?;
        let (service1_bin, service2_bin) = (service1_bin?, service2_bin?);
        let environment = vec![
            ("ZIPKIN_ENDPOINT", zipkin_endpoint.to_owned()),
            ("TIME_SCALE", "0".to_owned()),
            ("SAMPLE_RATE", "1.0".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ];
        let (service2, service2_url) = launch(&service2_bin, &environment).await?;
        let mut env1 = environment;
        env1.push(("SERVICE2_URL", service2_url));
        let (service1, service1_url) = launch(&service1_bin, &env1).await?;
        Ok(BinaryChain {
            service1,
            service2,
            service1_url,
        })
    }

    /// service1's `GET /` URL, where a user's request starts.
    pub fn entry_url(&self) -> String {
        format!("{}/", self.service1_url)
    }

    /// Both processes with their names, caller first.
    pub fn services(&self) -> [(&'static str, &ServiceProcess); 2] {
        [("service1", &self.service1), ("service2", &self.service2)]
    }

    /// Both processes' output so far, labelled, for failure messages.
    pub fn describe_output(&self) -> String {
        self.services()
            .iter()
            .map(|(name, process)| format!("--- {name}:\n{}", process.output()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_lines_are_those_at_warn_level_or_above() {
        let output = "\
2025-01-01T00:00:00.000001Z  INFO service1: service1 listening address=127.0.0.1:1
2025-01-01T00:00:00.000002Z  WARN zipkin_tracing::report::http: Zipkin collector unavailable
2025-01-01T00:00:00.000003Z  INFO request{trace_id=1}: service1: WARN in a message
2025-01-01T00:00:00.000004Z ERROR zipkin_tracing::report::http: cannot encode spans
";
        let lines = warning_lines(output);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].ends_with("Zipkin collector unavailable"));
        assert!(lines[1].ends_with("cannot encode spans"));
    }
}
