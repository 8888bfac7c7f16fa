//! The services as the load tool serves them: one route in three variants, untraced,
//! traced at `SAMPLE_RATE=1.0` and traced at `0.0`, each chain on its own loopback ports.
//!
//! Each variant is the article's chain as the demo and the tests start it
//! ([`demo::ChainSettings`]): service1 calling service2, reporting to the load tool's
//! backend, with no sleeps. Untraced is the services' `routes()` (the same handlers,
//! without the `ZipkinLayer`); traced is each service as its binary serves it, from the
//! same settings with another sample rate.

use std::net::SocketAddr;

use demo::{Chain, ChainSettings};
use plumbing::TracingArgs;
use zipkin_reporter::{AsyncReporter, ReporterStats};
use zipkin_tracing::{B3Format, ProbabilitySampler};

/// The route under load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Route {
    /// service2 `GET /service/`: one server span and two local spans per request.
    Service2,
    /// service1 `GET /` calling service2 `GET /service/`: six spans per request.
    Chain,
}

impl Route {
    /// The path the load generator requests.
    pub fn path(self) -> &'static str {
        match self {
            Route::Service2 => "/service/",
            Route::Chain => "/",
        }
    }
}

/// One way of serving the route.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Variant {
    /// `routes()` alone: no layer, no spans, no B3 headers.
    Untraced,
    /// `app()`: the `ZipkinLayer`, sampling new traces at this rate, reporting over HTTP.
    Traced(f64),
}

impl Variant {
    /// The three variants, in the order the load tool runs them.
    pub const ALL: [Variant; 3] = [
        Variant::Untraced,
        Variant::Traced(1.0),
        Variant::Traced(0.0),
    ];

    /// The variant's name in tables.
    pub fn label(self) -> String {
        match self {
            Variant::Untraced => "untraced".to_owned(),
            Variant::Traced(rate) => format!("traced, SAMPLE_RATE={rate:.1}"),
        }
    }

    /// The chain of this variant, reporting to `endpoint`, with no sleeps; a traced one
    /// propagates in `b3_format`.
    fn settings(self, endpoint: &str, b3_format: B3Format) -> ChainSettings {
        let endpoint = endpoint
            .parse()
            .expect("the backend's endpoint is an http URL");
        let settings = ChainSettings::reporting_to(endpoint).time_scale(0.0);
        match self {
            Variant::Untraced => settings.untraced(),
            Variant::Traced(rate) => {
                let tracing = TracingArgs {
                    sample_rate: ProbabilitySampler::new(rate)
                        .expect("a variant's rate is from 0.0 to 1.0"),
                    b3_format,
                    ..settings.tracing_settings().clone()
                };
                settings.tracing(tracing)
            }
        }
    }
}

/// A variant deployed on the services' runtime.
pub struct Deployment {
    /// Which variant this is.
    pub variant: Variant,
    /// Where the load goes.
    pub address: SocketAddr,
    /// The traced variants' reporters (none when untraced).
    pub reporters: Vec<AsyncReporter>,
    /// Dropping the chain stops its servers.
    _chain: Chain,
}

/// Starts `variant` of `route` on the current runtime: service2 alone, or the whole chain;
/// a traced variant's B3 headers in `b3_format` (the services' default is
/// [`B3Format::Multi`]).
pub async fn deploy(
    variant: Variant,
    route: Route,
    endpoint: &str,
    b3_format: B3Format,
) -> anyhow::Result<Deployment> {
    let settings = match route {
        Route::Service2 => variant.settings(endpoint, b3_format).without_service1(),
        Route::Chain => variant.settings(endpoint, b3_format),
    };
    let chain = settings.start().await?;
    Ok(Deployment {
        variant,
        address: chain.entry().address(),
        reporters: chain.reporters(),
        _chain: chain,
    })
}

/// The counters of `reporters`, added up.
pub fn total_stats(reporters: &[AsyncReporter]) -> ReporterStats {
    reporters
        .iter()
        .map(AsyncReporter::stats)
        .fold(ReporterStats::default(), |sum, s| ReporterStats {
            queued: sum.queued + s.queued,
            sent: sum.sent + s.sent,
            dropped: sum.dropped + s.dropped,
            failed: sum.failed + s.failed,
        })
}

/// `after` minus `before`, counter by counter.
pub fn difference(after: ReporterStats, before: ReporterStats) -> ReporterStats {
    ReporterStats {
        queued: after.queued - before.queued,
        sent: after.sent - before.sent,
        dropped: after.dropped - before.dropped,
        failed: after.failed - before.failed,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::backend::{Backend, BackendKind};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_variant_answers_and_only_the_sampled_one_reports() {
        let backend = Backend::start(BackendKind::StandIn, 1000).unwrap();
        for route in [Route::Service2, Route::Chain] {
            for variant in Variant::ALL {
                let deployment = deploy(variant, route, backend.endpoint(), B3Format::Multi)
                    .await
                    .unwrap();
                let url = format!("http://{}{}", deployment.address, route.path());
                let response = reqwest::get(url).await.unwrap();
                assert_eq!(response.status(), 200, "{route:?} {variant:?}");
                for reporter in &deployment.reporters {
                    assert!(reporter.flush(Duration::from_secs(5)).await);
                }
                let expected = match (variant, route) {
                    (Variant::Traced(1.0), Route::Service2) => 3,
                    (Variant::Traced(1.0), Route::Chain) => 6,
                    _ => 0,
                };
                let stats = total_stats(&deployment.reporters);
                assert_eq!(stats.sent, expected, "{route:?} {variant:?}");
                let reporters = match variant {
                    Variant::Untraced => 0,
                    Variant::Traced(_) if route == Route::Chain => 2,
                    Variant::Traced(_) => 1,
                };
                assert_eq!(deployment.reporters.len(), reporters);
            }
        }
        let collector = backend.collector().unwrap().clone();
        assert_eq!(collector.span_count(), 9);
        tokio::task::spawn_blocking(move || backend.stop())
            .await
            .unwrap()
            .unwrap();
    }
}
