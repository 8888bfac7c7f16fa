//! Running one lesson: start a collector and the chain with the scenario's change, send
//! one request (with the caller's headers, if the scenario has a caller), gather the
//! trace, and print it with what to notice.
//!
//! A lesson starts its own stand-in collector rather than the chain's, so that it can put
//! something in front of it (the clock-skew lesson) or leave it out (collector-down), and
//! always runs once: one request, one trace, then everything stops.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use collector::doctor::{Finding, diagnose};
use collector::{Collector, CollectorConfig};
use zipkin_reporter::{HttpEndpoint, ReporterConfig, ReporterStats};
use zipkin_tracing::{B3Format, ProbabilitySampler, Span, TraceId};

use super::caller::caller_headers;
use super::print::{intro, show};
use super::{Change, Scenario, skew, stand_in};
use crate::config::Config;
use crate::error::DemoError;
use crate::headers::CapturedRequest;
use crate::output::Printer;
use crate::request::{request_timeout, request_with};
use crate::served::{Served, Server, bind};
use crate::settings::ChainSettings;
use crate::watch::SPAN_DEADLINE;

/// What a lesson produced, for its tests.
#[derive(Debug, Clone)]
pub struct LessonRun {
    /// The HTTP status service1 answered.
    pub status: u16,
    /// How long service1 took to answer.
    pub took: Duration,
    /// The trace headers the caller in front of service1 sent (none for most lessons).
    pub caller: Vec<(&'static str, String)>,
    /// The trace, from service1's `x-trace-id`.
    pub trace_id: TraceId,
    /// The spans the collector holds for it (none when nothing was recorded).
    pub spans: Vec<Span>,
    /// The trace headers service2 received in it.
    pub headers: Vec<CapturedRequest>,
    /// What the trace doctor finds in `spans`.
    pub findings: Vec<Finding>,
    /// The two services' reporters' counts, added up.
    pub reported: ReporterStats,
}

/// Runs `scenario` once with the ports and time scale of `config`, printing to `printer`.
pub async fn run_scenario<W: Write>(
    scenario: &Scenario,
    config: &Config,
    printer: &mut Printer<W>,
) -> Result<LessonRun, DemoError> {
    let refuse = |reason: String| DemoError::Lesson {
        scenario: scenario.name,
        reason,
    };
    if config.zipkin.is_some() {
        return Err(refuse(
            "lessons use the stand-in collector: drop --zipkin".into(),
        ));
    }
    let change = scenario.change;
    let scale = config.time_scale;
    if matches!(change, Change::Timeout | Change::SlowDb) && scale <= 0.0 {
        return Err(refuse("it needs a --time-scale above 0".into()));
    }

    // The collector, unless this lesson has none: then spans go to a closed port.
    let store = Collector::new(CollectorConfig::default());
    let collector = match change {
        Change::CollectorDown => None,
        _ => {
            let listener = bind(Server::Collector, config.collector_port).await?;
            let address = listener.local_addr().map_err(DemoError::Output)?;
            let store = store.clone();
            Some(Served::spawn(
                "collector",
                address,
                None,
                move |stop| async move {
                    if change == Change::ClockSkew {
                        skew::serve(listener, store, stop).await
                    } else {
                        collector::serve(listener, store, stop).await
                    }
                },
            ))
        }
    };
    let endpoint_address = match &collector {
        Some(served) => served.address(),
        None => closed_port().await?,
    };
    let endpoint: HttpEndpoint = format!("http://{endpoint_address}/api/v2/spans")
        .parse()
        .expect("an address and a path make an endpoint");

    let mut settings = config.services(ChainSettings::reporting_to(endpoint.clone()));
    let stand_in = match change {
        Change::SlowDb | Change::LostContext => {
            Some(bind(Server::Service2, config.service2_port).await?)
        }
        _ => None,
    };
    if let Some(listener) = &stand_in {
        let address = listener.local_addr().map_err(DemoError::Output)?;
        settings = settings.service2_url(format!("http://{address}"));
    }
    settings = change_settings(change, settings, scale, &endpoint).await?;
    let chain = settings.clone().start().await?;
    let mut served = Vec::new();
    if let Some(listener) = stand_in {
        let headers = chain.headers().cloned().unwrap_or_default();
        let behaviour = if change == Change::SlowDb {
            stand_in::Behaviour::SlowDb
        } else {
            stand_in::Behaviour::SpawnWithoutContext
        };
        served.push(stand_in::start(
            listener, &settings, &endpoint, behaviour, headers,
        )?);
    }
    let mut reporters = chain.reporters();
    reporters.extend(served.iter().filter_map(|s| s.reporter().cloned()));

    intro(
        printer,
        scenario,
        &chain,
        &settings,
        collector.as_ref(),
        &served,
        scale,
    )?;
    let url = chain.entry_url();
    let caller = caller_headers(change);
    let expected = Duration::from_secs_f64(expected_seconds(change) * scale);
    if !caller.is_empty() {
        let sent: Vec<String> = caller.iter().map(|(n, v)| format!("{n}: {v}")).collect();
        writeln!(printer.out(), "The caller sends: {}", sent.join(", "))?;
    }
    printer.request(&url, expected, scale)?;
    let answer = request_with(&url, &caller, request_timeout(expected)).await?;
    let out = printer.out();
    writeln!(
        out,
        "{} after {:.3} s; x-trace-id: {}",
        answer.status,
        answer.took.as_secs_f64(),
        answer.trace_id
    )?;
    writeln!(out)?;

    let spans = gather(&store, &reporters, answer.trace_id, change).await;
    let headers = chain
        .headers()
        .map(|log| log.take(&answer.trace_id))
        .unwrap_or_default();
    let reported = reporters.iter().fold(ReporterStats::default(), |sum, r| {
        let stats = r.stats();
        ReporterStats {
            queued: sum.queued + stats.queued,
            sent: sum.sent + stats.sent,
            dropped: sum.dropped + stats.dropped,
            failed: sum.failed + stats.failed,
        }
    });
    let findings = diagnose(&spans, &[]);
    show(printer, scenario, &spans, &headers, &reported)?;

    let stopped = chain.shutdown().await;
    for mut server in served.into_iter().chain(collector) {
        server.stop(crate::STOP_DEADLINE).await?;
    }
    stopped?;
    Ok(LessonRun {
        caller,
        status: answer.code,
        took: answer.took,
        trace_id: answer.trace_id,
        spans,
        headers,
        findings,
        reported,
    })
}

/// `settings` with the one thing `change` changes through the services' own settings.
async fn change_settings(
    change: Change,
    settings: ChainSettings,
    scale: f64,
    endpoint: &HttpEndpoint,
) -> Result<ChainSettings, DemoError> {
    let mut tracing = settings.tracing_settings().clone();
    Ok(match change {
        Change::Unsampled | Change::Debug => settings.sampler(ProbabilitySampler::never()),
        Change::SingleHeader => {
            tracing.b3_format = B3Format::Single;
            settings.tracing(tracing)
        }
        Change::NoJoin => {
            tracing.join_spans = false;
            settings.tracing(tracing)
        }
        Change::W3cCaller => {
            tracing.propagation = "w3c,b3".parse().expect("a valid propagation list");
            settings.tracing(tracing)
        }
        Change::Service2Down => {
            let address = closed_port().await?;
            settings.service2_url(format!("http://{address}"))
        }
        // service2 works 4 s (at time scale 1), starting with a 2 s sleep; service1 waits
        // 1 s, so that it gives up before db_search starts.
        Change::Timeout => settings.client_timeout(Duration::from_secs_f64(scale)),
        // Give up quickly, so that the lesson can show the count.
        Change::CollectorDown => settings.reporter(ReporterConfig {
            request_timeout: Duration::from_secs(1),
            retry_window: Duration::from_millis(300),
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(100),
            ..ReporterConfig::http(endpoint.clone())
        }),
        Change::Nothing
        | Change::Deferred
        | Change::SlowDb
        | Change::LostContext
        | Change::ClockSkew => settings,
    })
}

/// How long the request takes at time scale 1.
fn expected_seconds(change: Change) -> f64 {
    match change {
        Change::SlowDb => 25.0,
        _ => crate::config::ARTICLE_SECONDS,
    }
}

/// How many spans the trace of `change` has once everything is reported.
fn expected_spans(change: Change) -> usize {
    match change {
        Change::Unsampled | Change::CollectorDown => 0,
        Change::Service2Down => 3,
        // The timed-out call: service2's handler is cancelled before db_search starts.
        Change::Timeout | Change::LostContext => 5,
        _ => crate::ARTICLE_SPANS,
    }
}

/// How many spans the services' reporters take in for `change`'s trace: all six, unless
/// nothing is sampled.
fn expected_reported(change: Change) -> u64 {
    match change {
        Change::Unsampled => 0,
        _ => expected_spans(change).max(crate::ARTICLE_SPANS) as u64,
    }
}

/// The spans the reporters have dealt with: sent, failed or dropped.
fn handled(reporters: &[zipkin_reporter::AsyncReporter]) -> u64 {
    reporters
        .iter()
        .map(|r| r.stats())
        .map(|stats| stats.sent + stats.failed + stats.dropped)
        .sum()
}

/// Flushes the reporters, then waits for the trace's spans, flushing again until they are
/// all in or [`SPAN_DEADLINE`] passes, and returns what the collector holds.
async fn gather(
    store: &Collector,
    reporters: &[zipkin_reporter::AsyncReporter],
    trace_id: TraceId,
    change: Change,
) -> Vec<Span> {
    let expected = expected_spans(change);
    let deadline = Instant::now() + SPAN_DEADLINE;
    loop {
        for reporter in reporters {
            // A reporter that cannot deliver is counted; the spans are then missing.
            let _ = reporter.flush(SPAN_DEADLINE).await;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        if expected == 0 {
            // Nothing to store, but every span the services record must have been dealt
            // with (sent, failed or dropped), the last one finishing as the answer ends.
            let done = reporters
                .iter()
                .map(|r| r.stats())
                .all(|stats| stats.sent + stats.failed + stats.dropped >= stats.queued);
            if done && handled(reporters) >= expected_reported(change) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        // service2's spans of a call cut short come when it notices: flush again then.
        let wait = store.wait_for_trace(&trace_id, expected, left.min(Duration::from_millis(200)));
        if wait.await.is_ok() {
            break;
        }
    }
    store.trace(&trace_id).unwrap_or_default()
}

/// A port on loopback that nothing listens on: bound, then closed at once.
async fn closed_port() -> Result<SocketAddr, DemoError> {
    let listener = bind(Server::Service2, 0).await?;
    listener.local_addr().map_err(DemoError::Output)
}
