//! Why the demo failed: each error says what to change, in a message a user reads once.
//!
//! The binary prints the message with its causes and exits with code 1; tests match on
//! the variants.

use crate::served::ChainError;

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The servers could not start, or did not stop cleanly.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The chain has no stand-in collector to read traces from: its spans go to a Zipkin
    /// that was already running, which the demo reads through `--zipkin`.
    #[error("the chain reports to {endpoint}, not to a stand-in collector: use --zipkin")]
    NoCollector {
        /// Where the chain's spans go.
        endpoint: String,
    },
    /// The article's request got no response.
    #[error("GET {url} failed: {reason}")]
    Request {
        /// The URL requested.
        url: String,
        /// Why, with its causes.
        reason: String,
    },
    /// service1 answered without a usable `x-trace-id` header.
    #[error("GET {url} answered {status} without a valid x-trace-id header")]
    NoTraceId {
        /// The URL requested.
        url: String,
        /// The response status.
        status: String,
    },
    /// A lesson (`--scenario`) cannot run with these settings.
    #[error("the {scenario} lesson cannot run: {reason}")]
    Lesson {
        /// The scenario's name.
        scenario: &'static str,
        /// Why, and what to change.
        reason: String,
    },
    /// The output could not be written (e.g. a closed pipe).
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
}
