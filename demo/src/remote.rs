//! `--zipkin URL`: the demo against a Zipkin that is already running, such as the real
//! server from its jar (`scripts/zipkin-server run`) or its container.
//!
//! No stand-in collector starts: both services report to `URL/api/v2/spans`, and the
//! article's trace is read back through that Zipkin's own query API,
//! `URL/api/v2/trace/{id}` (polled, since Zipkin stores spans after answering 202), to draw
//! the waterfall and the trace doctor's findings (none for a healthy trace), next to the
//! link to the same trace in Zipkin's UI.

use std::future::Future;
use std::io::Write;
use std::time::{Duration, Instant};

use collector::doctor::{diagnose, render_findings};
use collector::waterfall::{WaterfallOptions, render};
use zipkin_tracing::{Span, TraceId};

use crate::chain::Chain;
use crate::config::{Config, spans_endpoint};
use crate::error::DemoError;
use crate::output::Printer;
use crate::request::{article_request, request_timeout};
use crate::settings::ChainSettings;
use crate::watch::ARTICLE_SPANS;

/// How long to wait for the trace to show up in Zipkin: the reporters' one-second
/// batches, then Zipkin's own asynchronous write.
pub const ZIPKIN_DEADLINE: Duration = Duration::from_secs(15);

/// Why the demo against a running Zipkin failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The Zipkin at `--zipkin` cannot be reached, or does not answer like a Zipkin.
    #[error("--zipkin {url}: {reason}")]
    Zipkin {
        /// The URL given.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// Anything the in-process demo can fail with too.
    #[error(transparent)]
    Demo(#[from] DemoError),
    /// The output could not be written (e.g. a closed pipe).
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
}

/// Checks that `zipkin` answers its query API, starts service2 and service1 reporting to
/// it, sends the article's request and prints its trace as Zipkin stored it, with the UI
/// link. With `config.once` it then stops; otherwise it serves until `shutdown`, which
/// also cuts the first request short. Returns the spans drawn (none if cut short, or if
/// the trace was not sampled).
pub async fn run_with_zipkin<W: Write>(
    config: &Config,
    zipkin: &str,
    out: &mut W,
    waterfall: WaterfallOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<Vec<Span>, RemoteError> {
    // The flag's parser already trims it; a library caller may not have.
    let zipkin = zipkin.trim_end_matches('/');
    check_zipkin(zipkin).await?;
    let settings = ChainSettings::reporting_to(spans_endpoint(zipkin));
    let chain = config
        .services(settings)
        .start()
        .await
        .map_err(DemoError::from)?;
    let entry = chain.entry_url();
    writeln!(
        out,
        "Zipkin tracing demo: the article's two services, reporting to the Zipkin at {zipkin}:"
    )?;
    let service2 = chain
        .service2()
        .map(|served| served.url())
        .unwrap_or_default();
    writeln!(
        out,
        "  service2  {service2}  service1  {}\n",
        chain.entry().url()
    )?;
    tokio::pin!(shutdown);
    let spans = tokio::select! {
        shown = show_article(config, zipkin, &chain, out, waterfall) => shown?,
        () = &mut shutdown => None,
    };
    if !config.once && spans.is_some() {
        writeln!(
            out,
            "\nServing until Ctrl-C: each curl {entry} is one more trace, at {zipkin}/zipkin/"
        )?;
        out.flush()?;
        shutdown.await;
    }
    chain.shutdown().await.map_err(DemoError::from)?;
    Ok(spans.unwrap_or_default())
}

/// Fails, naming `--zipkin`, unless `GET {zipkin}/api/v2/services` answers 2xx.
async fn check_zipkin(zipkin: &str) -> Result<(), RemoteError> {
    let zipkin_error = |reason: String| RemoteError::Zipkin {
        url: zipkin.to_owned(),
        reason,
    };
    let url = format!("{zipkin}/api/v2/services");
    let answer = reqwest::Client::new()
        .get(&url)
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    match answer {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) if response.status() == reqwest::StatusCode::NOT_FOUND => {
            Err(zipkin_error(format!(
                "GET {url} answered 404 Not Found: is {zipkin} the server's base URL? \
                 --zipkin takes the base URL, e.g. http://127.0.0.1:9411, not a path \
                 under it such as /api/v2/spans"
            )))
        }
        Ok(response) => Err(zipkin_error(format!(
            "GET {url} answered {}",
            response.status()
        ))),
        Err(error) => Err(zipkin_error(format!(
            "no Zipkin answers there ({})",
            zipkin_tracing::describe_error(&error)
        ))),
    }
}

/// Sends the article's request to the chain, reads its trace back from `zipkin` and
/// prints it: the waterfall, the lower-case note and the UI and JSON links. Returns the
/// spans drawn, or an empty list for a trace that was not sampled (nothing is read back:
/// no span of it exists).
async fn show_article<W: Write>(
    config: &Config,
    zipkin: &str,
    chain: &Chain,
    out: &mut W,
    waterfall: WaterfallOptions,
) -> Result<Option<Vec<Span>>, RemoteError> {
    let entry = chain.entry_url();
    let expected = Duration::from_secs_f64(config.expected_seconds());
    let mut printer = Printer::new(&mut *out, waterfall);
    printer.request(&entry, expected, config.time_scale)?;
    let answer = article_request(&entry, request_timeout(expected)).await?;
    if !answer.success {
        return Err(DemoError::NoTraceId {
            url: entry,
            status: answer.status,
        }
        .into());
    }
    let trace_id = answer.trace_id;
    printer.response(&answer.status, answer.took, &trace_id.to_string())?;
    let sampled = chain.headers().and_then(|log| log.sampled(&trace_id));
    if sampled == Some(false) || config.tracing.sample_rate.rate() == 0.0 {
        printer.not_sampled(&trace_id.to_string())?;
        return Ok(Some(Vec::new()));
    }

    let spans = read_back(zipkin, trace_id)
        .await
        .map_err(|reason| RemoteError::Zipkin {
            url: zipkin.to_owned(),
            reason,
        })?;
    if spans.len() < ARTICLE_SPANS {
        writeln!(
            out,
            "Incomplete: {} of the article's {ARTICLE_SPANS} spans reached Zipkin within {} s; \
             showing those.",
            spans.len(),
            ZIPKIN_DEADLINE.as_secs()
        )?;
    }
    out.write_all(render(&spans, &waterfall).as_bytes())?;
    out.write_all(render_findings(&diagnose(&spans, &[])).as_bytes())?;
    writeln!(out, "\nZipkin stores span and service names in lower case.")?;
    writeln!(out, "In Zipkin's UI: {zipkin}/zipkin/traces/{trace_id}")?;
    writeln!(out, "As JSON:        curl {zipkin}/api/v2/trace/{trace_id}")?;
    Ok(Some(spans))
}

/// Polls `GET {zipkin}/api/v2/trace/{id}` until the article's spans are there or
/// [`ZIPKIN_DEADLINE`] passes; returns what arrived, sorted by start time.
async fn read_back(zipkin: &str, id: TraceId) -> Result<Vec<Span>, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|error| error.to_string())?;
    let url = format!("{zipkin}/api/v2/trace/{id}");
    let give_up_at = Instant::now() + ZIPKIN_DEADLINE;
    loop {
        let response = client
            .get(&url)
            .send()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?;
        // 404 until Zipkin has stored some span of the trace.
        let mut spans: Vec<Span> = if status == reqwest::StatusCode::NOT_FOUND {
            Vec::new()
        } else if status.is_success() {
            serde_json::from_slice(&body)
                .map_err(|error| format!("GET {url}: not a list of spans ({error})"))?
        } else {
            return Err(format!(
                "GET {url} answered {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        };
        if spans.len() >= ARTICLE_SPANS || Instant::now() >= give_up_at {
            spans.sort_by_key(|span| span.timestamp);
            return Ok(spans);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
