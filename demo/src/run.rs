//! The demo from start to finish: start the chain, send the article's request, print its
//! trace, then print each further trace until told to stop.
//!
//! [`run`] is what `cargo run` does; [`run_on`] does the same on a chain the caller
//! started, so a test can learn its addresses first. Either stops the chain cleanly when
//! the `shutdown` future resolves (Ctrl-C in the binary), whatever it was doing.

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use crate::chain::Chain;
use crate::config::Config;
use crate::error::DemoError;
use crate::output::Printer;
use crate::request::{article_request, request_timeout};
use crate::watch::{CollectedTrace, TraceWatcher};

/// Starts the chain of `config` and runs the demo on it; see [`run_on`].
pub async fn run<W: Write>(
    config: &Config,
    printer: &mut Printer<W>,
    shutdown: impl Future<Output = ()>,
) -> Result<Vec<CollectedTrace>, DemoError> {
    let chain = config.chain().start().await?;
    run_on(chain, config, printer, shutdown).await
}

/// Prints what runs where, sends the article's request, prints its trace; unless
/// `config.once`, then prints every further trace as it completes. Stops the chain when
/// done (`--once`), when `shutdown` resolves, or on an error, and returns the traces
/// printed (the services' settings other than `once` and `time_scale` come from
/// `chain`, which must have a stand-in collector).
pub async fn run_on<W: Write>(
    chain: Chain,
    config: &Config,
    printer: &mut Printer<W>,
    shutdown: impl Future<Output = ()>,
) -> Result<Vec<CollectedTrace>, DemoError> {
    let mut shown = Vec::new();
    let outcome = tokio::select! {
        outcome = follow(&chain, config, printer, &mut shown) => outcome,
        () = shutdown => printer.stopping().map_err(DemoError::from),
    };
    let stopped = chain.shutdown().await;
    outcome?;
    stopped?;
    Ok(shown)
}

/// Everything but the stopping: returns after the first trace with `--once`, otherwise
/// only on an error.
async fn follow<W: Write>(
    chain: &Chain,
    config: &Config,
    printer: &mut Printer<W>,
    shown: &mut Vec<CollectedTrace>,
) -> Result<(), DemoError> {
    let Some(collector) = chain.collector() else {
        return Err(DemoError::NoCollector {
            endpoint: chain.zipkin_endpoint().to_string(),
        });
    };
    let headers = chain.headers().cloned().unwrap_or_default();
    // Subscribe before the request, so that its spans wake the watcher.
    let mut watcher = TraceWatcher::new(collector.clone(), chain.reporters(), headers);
    printer.intro(chain, config.time_scale)?;

    let url = chain.entry_url();
    let expected = Duration::from_secs_f64(config.expected_seconds());
    printer.request(&url, expected, config.time_scale)?;
    let answer = article_request(&url, request_timeout(expected)).await?;
    printer.response(&answer.status, answer.took, &answer.trace_id.to_string())?;
    let trace = watcher.collect(answer.trace_id).await;
    // With --once the collector stops as soon as the trace is printed.
    let collector_address = chain.collector_address().filter(|_| !config.once);
    printer.trace(&trace, collector_address)?;
    shown.push(trace);
    if config.once {
        return Ok(());
    }

    printer.serving(chain.entry().address())?;
    loop {
        let trace_id = watcher.next_new_trace().await;
        let trace = watcher.collect(trace_id).await;
        printer.trace(&trace, collector_address)?;
        shown.push(trace);
    }
}
