//! The demo from start to finish: start the stack, send the article's request, print its
//! trace, then print each further trace until told to stop.
//!
//! [`run`] is what `cargo run` does; [`run_on`] does the same on a stack the caller
//! started, so a test can learn its addresses first. Either stops the stack cleanly when
//! the `shutdown` future resolves (Ctrl-C in the binary), whatever it was doing.

use std::future::Future;
use std::io::Write;
use std::time::{Duration, Instant};

use zipkin_tracing::TraceId;

use crate::config::Config;
use crate::output::Printer;
use crate::stack::{Stack, StackError};
use crate::watch::{CollectedTrace, TraceWatcher};

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The servers could not start, or did not stop cleanly.
    #[error(transparent)]
    Stack(#[from] StackError),
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
    /// The output could not be written (e.g. a closed pipe).
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
}

/// Starts the stack of `config` and runs the demo on it; see [`run_on`].
pub async fn run<W: Write>(
    config: &Config,
    printer: &mut Printer<W>,
    shutdown: impl Future<Output = ()>,
) -> Result<Vec<CollectedTrace>, DemoError> {
    let stack = Stack::start(config).await?;
    run_on(stack, config, printer, shutdown).await
}

/// Prints what runs where, sends the article's request, prints its trace; unless
/// `config.once`, then prints every further trace as it completes. Stops the stack when
/// done (`--once`), when `shutdown` resolves, or on an error, and returns the traces
/// printed (the services' settings other than `once` and `time_scale` come from `stack`).
pub async fn run_on<W: Write>(
    stack: Stack,
    config: &Config,
    printer: &mut Printer<W>,
    shutdown: impl Future<Output = ()>,
) -> Result<Vec<CollectedTrace>, DemoError> {
    let mut shown = Vec::new();
    let outcome = tokio::select! {
        outcome = follow(&stack, config, printer, &mut shown) => outcome,
        () = shutdown => printer.stopping().map_err(DemoError::from),
    };
    let stopped = stack.shutdown().await;
    outcome?;
    stopped?;
    Ok(shown)
}

/// Everything but the stopping: returns after the first trace with `--once`, otherwise
/// only on an error.
async fn follow<W: Write>(
    stack: &Stack,
    config: &Config,
    printer: &mut Printer<W>,
    shown: &mut Vec<CollectedTrace>,
) -> Result<(), DemoError> {
    let addresses = stack.addresses();
    // Subscribe before the request, so that its spans wake the watcher.
    let mut watcher = TraceWatcher::new(stack);
    printer.intro(&addresses, config.time_scale)?;

    let url = addresses.service1_url();
    let expected = Duration::from_secs_f64(config.expected_seconds());
    printer.request(&url, expected, config.time_scale)?;
    let trace_id = article_request(&url, expected, printer).await?;
    let trace = watcher.collect(trace_id).await;
    printer.trace(&trace, &addresses)?;
    shown.push(trace);
    if config.once {
        return Ok(());
    }

    printer.serving(&addresses)?;
    loop {
        let trace_id = watcher.next_new_trace().await;
        let trace = watcher.collect(trace_id).await;
        printer.trace(&trace, &addresses)?;
        shown.push(trace);
    }
}

/// Sends `GET url` as a user would (no B3 headers: service1 starts the trace), prints the
/// response line, and returns the trace id from `x-trace-id`. Any status is accepted as
/// long as the trace id is there: a failed trace is worth seeing too.
async fn article_request<W: Write>(
    url: &str,
    expected: Duration,
    printer: &mut Printer<W>,
) -> Result<TraceId, DemoError> {
    let failed = |error: reqwest::Error| DemoError::Request {
        url: url.to_owned(),
        reason: zipkin_tracing::describe_error(&error),
    };
    let client = reqwest::Client::builder()
        // The request goes to loopback: never through a proxy from the environment.
        .no_proxy()
        .timeout(expected.saturating_mul(2) + Duration::from_secs(30))
        .build()
        .map_err(failed)?;
    let started = Instant::now();
    let response = client.get(url).send().await.map_err(failed)?;
    let status = response.status();
    let trace_id = trace_id_header(&response);
    // Read the body so that the response is complete before the trace is collected.
    response.bytes().await.map_err(failed)?;
    let Some(trace_id) = trace_id else {
        return Err(DemoError::NoTraceId {
            url: url.to_owned(),
            status: status.to_string(),
        });
    };
    printer.response(
        &status.to_string(),
        started.elapsed(),
        &trace_id.to_string(),
    )?;
    Ok(trace_id)
}
/// The trace id service1 put in its response's `x-trace-id` header, if any.
pub(crate) fn trace_id_header(response: &reqwest::Response) -> Option<TraceId> {
    response
        .headers()
        .get(service1::TRACE_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse().ok())
}
