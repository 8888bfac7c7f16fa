//! The services as the load tool serves them: one route in three variants, untraced,
//! traced at `SAMPLE_RATE=1.0` and traced at `0.0`, each on its own loopback port.
//!
//! Untraced is the services' `routes()` (the same handlers, without the `ZipkinLayer`);
//! traced is their `app()`, with a tracer and reporter built by the services' own
//! `TracingArgs`, as their `run` builds them. The chain is service1 calling service2, both
//! in the same variant.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::sync::oneshot;
use zipkin_tracing::ReporterStats;
use zipkin_tracing::cli::TracingArgs;
use zipkin_tracing::{B3Format, HttpReporter, Tracer};

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
}

/// A variant deployed on the services' runtime.
pub struct Deployment {
    /// Which variant this is.
    pub variant: Variant,
    /// Where the load goes.
    pub address: SocketAddr,
    /// The traced variants' reporters (none when untraced).
    pub reporters: Vec<HttpReporter>,
    /// Dropping these stops the servers.
    _stop: Vec<oneshot::Sender<()>>,
}

/// Serves `router` on an ephemeral loopback port, with the client's address available as
/// the services' own `serve` makes it, until the returned sender is dropped.
async fn serve(router: Router) -> anyhow::Result<(SocketAddr, oneshot::Sender<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
        if let Err(error) = served {
            eprintln!("a service stopped with an error: {error}");
        }
    });
    Ok((address, stop))
}

/// A tracer set up as the services' `run` sets one up from its flags, reporting to
/// `endpoint`; `None` for the untraced variant (which gets a tracer that is never used).
fn tracer(
    variant: Variant,
    service: &str,
    endpoint: &str,
) -> anyhow::Result<(Tracer, Option<HttpReporter>)> {
    match variant {
        Variant::Untraced => Ok((Tracer::builder(service).build(), None)),
        Variant::Traced(rate) => {
            let args = TracingArgs {
                zipkin_endpoint: endpoint.to_owned(),
                sample_rate: rate,
                b3_format: B3Format::Multi,
                join_spans: true,
            };
            let (tracer, reporter) = args.start(service)?;
            Ok((tracer, Some(reporter)))
        }
    }
}

/// Starts `variant` of `route` on the current runtime.
pub async fn deploy(variant: Variant, route: Route, endpoint: &str) -> anyhow::Result<Deployment> {
    let mut reporters = Vec::new();
    let mut stop = Vec::new();

    let (tracer2, reporter2) = tracer(variant, service2::SERVICE_NAME, endpoint)?;
    reporters.extend(reporter2);
    let state2 = service2::AppState {
        tracer: tracer2,
        time_scale: 0.0,
    };
    let router2 = match variant {
        Variant::Untraced => service2::routes().with_state(state2),
        Variant::Traced(_) => service2::app(state2),
    };
    let (address2, stop2) = serve(router2).await?;
    stop.push(stop2);
    let address = match route {
        Route::Service2 => address2,
        Route::Chain => {
            let (tracer1, reporter1) = tracer(variant, service1::SERVICE_NAME, endpoint)?;
            reporters.extend(reporter1);
            let url: reqwest::Url = format!("http://{address2}").parse()?;
            let state1 = service1::AppState::new(tracer1, &url, Duration::from_secs(10), 0.0)?;
            let router1 = match variant {
                Variant::Untraced => service1::routes().with_state(state1),
                Variant::Traced(_) => service1::app(state1),
            };
            let (address1, stop1) = serve(router1).await?;
            stop.push(stop1);
            address1
        }
    };
    Ok(Deployment {
        variant,
        address,
        reporters,
        _stop: stop,
    })
}

/// The counters of `reporters`, added up.
pub fn total_stats(reporters: &[HttpReporter]) -> ReporterStats {
    reporters
        .iter()
        .map(HttpReporter::stats)
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
    use super::*;
    use crate::backend::{Backend, BackendKind};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_variant_answers_and_only_the_sampled_one_reports() {
        let backend = Backend::start(BackendKind::StandIn, 1000).unwrap();
        for route in [Route::Service2, Route::Chain] {
            for variant in Variant::ALL {
                let deployment = deploy(variant, route, backend.endpoint()).await.unwrap();
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
