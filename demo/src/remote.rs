//! `--zipkin URL`: the demo against a Zipkin that is already running, such as the real
//! server from its jar (`scripts/zipkin-server run`) or its container.
//!
//! No stand-in collector starts: both services report to `URL/api/v2/spans`, and the
//! article's trace is read back through that Zipkin's own query API,
//! `URL/api/v2/trace/{id}` (polled, since Zipkin stores spans after answering 202), to draw
//! the waterfall, next to the link to the same trace in Zipkin's UI.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser as _;
use collector::waterfall::{WaterfallOptions, render};
use tokio::sync::oneshot;
use zipkin_tracing::{Span, TraceId};

use crate::config::Config;
use crate::output::Printer;
use crate::run::{DemoError, trace_id_header};
use crate::stack::{Server, StackError, bind, local_addr};
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

/// Checks a `--zipkin` value: an `http` or `https` URL with a host and no query. Returns
/// it without a trailing slash, so paths can be appended.
pub fn parse_zipkin_url(text: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(text)
        .map_err(|error| format!("{text:?} is not a URL ({error}); e.g. http://127.0.0.1:9411"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "{text:?} must be an http:// or https:// URL with a host"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{text:?} must be Zipkin's base URL, without ? or #"
        ));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// Checks that `zipkin` answers its query API, starts service2 and service1 reporting to
/// it, sends the article's request and prints its trace as Zipkin stored it, with the UI
/// link. With `config.once` it then stops; otherwise it serves until `shutdown`, which
/// also cuts the first request short. Returns the spans drawn (none if cut short).
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
    let services = Services::start(config, zipkin).await?;
    let entry = format!("http://{}/", services.service1);
    writeln!(
        out,
        "Zipkin tracing demo: the article's two services, reporting to the Zipkin at {zipkin}:"
    )?;
    writeln!(
        out,
        "  service2  http://{}  service1  http://{}\n",
        services.service2, services.service1
    )?;
    tokio::pin!(shutdown);
    let spans = tokio::select! {
        shown = show_article(config, zipkin, &entry, out, waterfall) => shown?,
        () = &mut shutdown => Vec::new(),
    };
    if !config.once && !spans.is_empty() {
        writeln!(
            out,
            "\nServing until Ctrl-C: each curl {entry} is one more trace, at {zipkin}/zipkin/"
        )?;
        out.flush()?;
        shutdown.await;
    }
    services.stop().await?;
    Ok(spans)
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

/// Sends the article's request to `entry`, reads its trace back from `zipkin` and prints
/// it: the waterfall, the lower-case note and the UI and JSON links.
async fn show_article<W: Write>(
    config: &Config,
    zipkin: &str,
    entry: &str,
    out: &mut W,
    waterfall: WaterfallOptions,
) -> Result<Vec<Span>, RemoteError> {
    let expected = Duration::from_secs_f64(config.expected_seconds());
    let mut printer = Printer::new(&mut *out, waterfall);
    printer.request(entry, expected, config.time_scale)?;
    let started = Instant::now();
    // As long as the article may take at this time scale, and then some.
    let (status, trace_id) =
        request(entry, expected.saturating_mul(2) + Duration::from_secs(30)).await?;
    printer.response(&status, started.elapsed(), &trace_id.to_string())?;

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
    writeln!(out, "\nZipkin stores span and service names in lower case.")?;
    writeln!(out, "In Zipkin's UI: {zipkin}/zipkin/traces/{trace_id}")?;
    writeln!(out, "As JSON:        curl {zipkin}/api/v2/trace/{trace_id}")?;
    Ok(spans)
}

/// `GET url` as a user sends it, for at most `timeout`; the status and the trace id
/// service1 answered with.
async fn request(url: &str, timeout: Duration) -> Result<(String, TraceId), DemoError> {
    let failed = |reason: String| DemoError::Request {
        url: url.to_owned(),
        reason,
    };
    let response = reqwest::Client::new()
        .get(url)
        .timeout(timeout)
        .send()
        .await
        .map_err(|error| failed(zipkin_tracing::describe_error(&error)))?;
    let status = response.status();
    let trace_id = trace_id_header(&response);
    match trace_id {
        Some(trace_id) if status.is_success() => Ok((status.to_string(), trace_id)),
        _ => Err(DemoError::NoTraceId {
            url: url.to_owned(),
            status: status.to_string(),
        }),
    }
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

/// service2 and service1 running in this process, reporting to a Zipkin.
struct Services {
    service1: SocketAddr,
    service2: SocketAddr,
    // In stopping order: the caller first, so its call to service2 can finish.
    running: [(
        Server,
        oneshot::Sender<()>,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    ); 2],
}

impl Services {
    /// Binds the ports of `config` and starts both services, configured by their own
    /// flags (as their binaries are) to report to `zipkin`.
    async fn start(config: &Config, zipkin: &str) -> Result<Services, DemoError> {
        let listener2 = bind(Server::Service2, config.service2_port).await?;
        let listener1 = bind(Server::Service1, config.service1_port).await?;
        let (service2, service1) = (
            local_addr(Server::Service2, &listener2)?,
            local_addr(Server::Service1, &listener1)?,
        );
        let flags = |name: &str| {
            let endpoint = format!("{zipkin}/api/v2/spans");
            let scale = config.time_scale.to_string();
            vec![
                name.to_owned(),
                "--zipkin-endpoint".into(),
                endpoint,
                "--time-scale".into(),
                scale,
                "--sample-rate".into(),
                "1".into(),
            ]
        };
        let setup = |server: Server, reason: String| StackError::Setup { server, reason };
        let config2 = service2::Config::try_parse_from(flags("service2"))
            .map_err(|e| setup(Server::Service2, e.to_string()))?;
        let mut flags1 = flags("service1");
        flags1.extend(["--service2-url".to_owned(), format!("http://{service2}")]);
        let config1 = service1::Config::try_parse_from(flags1)
            .map_err(|e| setup(Server::Service1, e.to_string()))?;
        let reporter2 = config2
            .service
            .tracing
            .start_reporter()
            .map_err(|e| setup(Server::Service2, e.to_string()))?;
        let server2 = service2::server(&config2, reporter2);
        let reporter1 = config1
            .service
            .tracing
            .start_reporter()
            .map_err(|e| setup(Server::Service1, e.to_string()))?;
        let server1 = service1::server(&config1, reporter1)
            .map_err(|e| setup(Server::Service1, format!("{e:#}")))?;
        let (stop2, stopped2) = oneshot::channel::<()>();
        let task2 = tokio::spawn(async move {
            let stop = async {
                let _ = stopped2.await;
            };
            Ok(server2.run(listener2, stop).await?)
        });
        let (stop1, stopped1) = oneshot::channel::<()>();
        let task1 = tokio::spawn(async move {
            let stop = async {
                let _ = stopped1.await;
            };
            Ok(server1.run(listener1, stop).await?)
        });
        Ok(Services {
            service1,
            service2,
            running: [
                (Server::Service1, stop1, task1),
                (Server::Service2, stop2, task2),
            ],
        })
    }

    /// Stops service1, then service2; each sends its last spans before it returns.
    async fn stop(self) -> Result<(), DemoError> {
        for (server, stop, task) in self.running {
            let _ = stop.send(());
            let failed = |reason: String| DemoError::Stack(StackError::Failed { server, reason });
            task.await
                .map_err(|error| failed(error.to_string()))?
                .map_err(|error| failed(format!("{error:#}")))?;
        }
        Ok(())
    }
}
