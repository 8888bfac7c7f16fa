//! `demo doctor TRACE_ID|FILE.json`: the trace doctor on a trace of your own services,
//! printing each trace's waterfall and findings (the binary exits 0 when there is none, 1
//! when there are some and 2 when the trace cannot be read).
//!
//! A trace id is read from a running Zipkin (`--zipkin`, by default
//! `http://127.0.0.1:9411`) with the traces that started during it, so that a callee that
//! lost the trace headers shows up; a file holds a JSON list of v2 spans, or a list of
//! such lists, and each trace in it is diagnosed with the others as its neighbours.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use clap::Args;
use collector::doctor::{diagnose_all, render_findings, traces_from_json};
use collector::waterfall::{WaterfallOptions, render};
use zipkin_tracing::{Span, TraceId};

use crate::config::parse_zipkin_url;

/// How long one read from Zipkin may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The doctor's command line.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct DoctorArgs {
    /// A trace id to read from Zipkin, or a JSON file: a list of v2 spans, or a list of
    /// traces (lists of spans).
    #[arg(value_name = "TRACE_ID|FILE.json")]
    pub target: String,

    /// Base URL of the Zipkin (or stand-in collector) to read a trace id from.
    #[arg(long, env = "ZIPKIN_URL", default_value = "http://127.0.0.1:9411",
          value_parser = parse_zipkin_url)]
    pub zipkin: String,
}

/// Why the doctor could not examine a trace.
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    /// The argument is neither a readable file nor a trace id.
    #[error("{0:?} is neither a file nor a trace id (1 to 32 lower-case hex digits)")]
    Target(String),
    /// The file could not be read, or is not a list of v2 spans.
    #[error("{path}: {reason}")]
    File {
        /// The file named.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The trace could not be read from Zipkin.
    #[error("--zipkin {url}: {reason}")]
    Fetch {
        /// The Zipkin base URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The output could not be written (e.g. a closed pipe).
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
}

/// Reads the traces `args` names, prints each one's waterfall and findings to `out`, and
/// returns how many findings there were in all.
pub async fn doctor<W: Write>(
    args: &DoctorArgs,
    out: &mut W,
    waterfall: WaterfallOptions,
) -> Result<usize, DoctorError> {
    let (traces, wanted) = load(args).await?;
    let findings = diagnose_all(&traces);
    let mut count = 0;
    for (trace, findings) in traces.iter().zip(&findings) {
        if wanted.is_some_and(|id| trace.first().is_some_and(|s| s.trace_id != id)) {
            continue;
        }
        out.write_all(render(trace, &waterfall).as_bytes())?;
        writeln!(out)?;
        if findings.is_empty() {
            writeln!(out, "Doctor: no findings.")?;
        }
        out.write_all(render_findings(findings).as_bytes())?;
        writeln!(out)?;
        count += findings.len();
    }
    out.flush()?;
    Ok(count)
}

/// The traces to diagnose and, for a trace id, which of them to show (the others are its
/// neighbours).
async fn load(args: &DoctorArgs) -> Result<(Vec<Vec<Span>>, Option<TraceId>), DoctorError> {
    let path = Path::new(&args.target);
    if path.is_file() {
        let file_error = |reason: String| DoctorError::File {
            path: args.target.clone(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        let traces = traces_from_json(&text)
            .map_err(|e| file_error(format!("not a JSON list of Zipkin v2 spans ({e})")))?;
        if traces.is_empty() {
            return Err(file_error("holds no span".to_owned()));
        }
        return Ok((traces, None));
    }
    let id: TraceId = args
        .target
        .parse()
        .map_err(|_| DoctorError::Target(args.target.clone()))?;
    let zipkin = Zipkin::new(&args.zipkin)?;
    let trace = zipkin.trace(id).await?;
    let mut traces = zipkin.around(&trace).await;
    traces.retain(|other| other.first().is_none_or(|s| s.trace_id != id));
    traces.push(trace);
    Ok((traces, Some(id)))
}

/// A client of a Zipkin query API.
struct Zipkin<'a> {
    base: &'a str,
    client: reqwest::Client,
}

impl<'a> Zipkin<'a> {
    fn new(base: &'a str) -> Result<Self, DoctorError> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|error| DoctorError::Fetch {
                url: base.to_owned(),
                reason: error.to_string(),
            })?;
        Ok(Zipkin { base, client })
    }

    /// `GET /api/v2/trace/{id}`: the trace's spans; a 404 is an error naming the id.
    async fn trace(&self, id: TraceId) -> Result<Vec<Span>, DoctorError> {
        let path = format!("/api/v2/trace/{id}");
        match self.get(&path).await? {
            (404, _) => Err(self.error(format!("GET {path}: no trace {id} there"))),
            (200, body) => serde_json::from_slice(&body)
                .map_err(|e| self.error(format!("GET {path}: not a list of v2 spans ({e})"))),
            (status, body) => Err(self.error(format!(
                "GET {path} answered {status}: {}",
                String::from_utf8_lossy(&body)
            ))),
        }
    }

    /// The traces with a span starting while `trace` ran (`/api/v2/traces`, whose window
    /// is in milliseconds); none if the query fails, since they only sharpen the findings.
    async fn around(&self, trace: &[Span]) -> Vec<Vec<Span>> {
        let start = trace.iter().filter_map(|s| s.timestamp).min();
        let end = trace
            .iter()
            .filter_map(|s| Some(s.timestamp? + s.duration.unwrap_or(0)))
            .max();
        let (Some(start), Some(end)) = (start, end) else {
            return Vec::new();
        };
        let (start, end) = (start / 1000, end / 1000 + 1);
        // Timestamps in the wrong unit make a window of years: skip the search.
        if end - start > 3_600_000 {
            return Vec::new();
        }
        let path = format!(
            "/api/v2/traces?endTs={end}&lookback={}&limit=1000",
            end - start + 1
        );
        match self.get(&path).await {
            Ok((200, body)) => serde_json::from_slice(&body).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    async fn get(&self, path: &str) -> Result<(u16, Vec<u8>), DoctorError> {
        let url = format!("{}{path}", self.base);
        let failed = |error: reqwest::Error| {
            self.error(format!(
                "GET {path}: no answer ({})",
                zipkin_tracing::describe_error(&error)
            ))
        };
        let response = self.client.get(&url).send().await.map_err(failed)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(failed)?;
        Ok((status, body.to_vec()))
    }

    fn error(&self, reason: String) -> DoctorError {
        DoctorError::Fetch {
            url: self.base.to_owned(),
            reason,
        }
    }
}
