//! The services as the load tool serves them: one route in three variants, untraced,
//! traced at `SAMPLE_RATE=1.0` and traced at `0.0`, each on its own loopback port.
//!
//! Untraced is the services' `routes()` (the same handlers, without the `ZipkinLayer`);
//! traced is the service as its binary serves it (`service1::server`, `service2::server`),
//! from the same settings with another sample rate. The chain is service1 calling service2,
//! both in the same variant.

use std::net::SocketAddr;
use std::time::Duration;

use plumbing::{ServiceArgs, TracingArgs};
use tokio::sync::oneshot;
use zipkin_reporter::{AsyncReporter, ReporterStats};
use zipkin_tracing::Tracer;

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
    pub reporters: Vec<AsyncReporter>,
    /// Dropping these stops the servers.
    _stop: Vec<oneshot::Sender<()>>,
}

/// Serves `server` on an ephemeral loopback port until the returned sender is dropped.
async fn serve(server: plumbing::Server) -> anyhow::Result<(SocketAddr, oneshot::Sender<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stopped.await;
        };
        if let Err(error) = server.run(listener, stopped).await {
            eprintln!("a service stopped with an error: {error}");
        }
    });
    Ok((address, stop))
}

/// The services' shared settings for `variant`: no sleeps, reporting to `endpoint`.
fn settings(variant: Variant, endpoint: &str) -> ServiceArgs {
    let mut tracing = TracingArgs::new(endpoint.parse().expect("the backend's endpoint parses"));
    if let Variant::Traced(rate) = variant {
        tracing.sample_rate =
            zipkin_tracing::ProbabilitySampler::new(rate).expect("a variant's rate is from 0 to 1");
    }
    ServiceArgs::new(tracing, 0.0)
}

/// service2 in `variant`, and its reporter when traced.
fn service2(
    variant: Variant,
    service: ServiceArgs,
) -> anyhow::Result<(plumbing::Server, Option<AsyncReporter>)> {
    if variant == Variant::Untraced {
        let state = service2::AppState {
            tracer: Tracer::builder(service2::SERVICE_NAME).build(),
            time_scale: service.time_scale,
            instrument: false,
        };
        let routes = service2::routes().with_state(state);
        return Ok((
            plumbing::Server::untraced(service2::SERVICE_NAME, routes),
            None,
        ));
    }
    let reporter = service.tracing.start_reporter()?;
    let config = service2::Config {
        port: 0,
        service,
        instrument: false,
    };
    Ok((service2::server(&config, reporter.clone()), Some(reporter)))
}

/// service1 in `variant` calling service2 at `service2`, and its reporter when traced.
fn service1(
    variant: Variant,
    service: ServiceArgs,
    service2: SocketAddr,
) -> anyhow::Result<(plumbing::Server, Option<AsyncReporter>)> {
    let config = service1::Config {
        port: 0,
        service2_url: format!("http://{service2}").parse()?,
        client_timeout_secs: 10.0,
        service,
    };
    if variant == Variant::Untraced {
        let state = service1::AppState::new(
            Tracer::builder(service1::SERVICE_NAME).build(),
            &config.service2_url,
            Duration::from_secs_f64(config.client_timeout_secs),
            config.service.time_scale,
        )?;
        let routes = service1::routes().with_state(state);
        return Ok((
            plumbing::Server::untraced(service1::SERVICE_NAME, routes),
            None,
        ));
    }
    let reporter = config.service.tracing.start_reporter()?;
    Ok((service1::server(&config, reporter.clone())?, Some(reporter)))
}

/// Starts `variant` of `route` on the current runtime.
pub async fn deploy(variant: Variant, route: Route, endpoint: &str) -> anyhow::Result<Deployment> {
    let mut reporters = Vec::new();
    let mut stop = Vec::new();

    let (server2, reporter2) = service2(variant, settings(variant, endpoint))?;
    reporters.extend(reporter2);
    let (address2, stop2) = serve(server2).await?;
    stop.push(stop2);
    let address = match route {
        Route::Service2 => address2,
        Route::Chain => {
            let (server1, reporter1) = service1(variant, settings(variant, endpoint), address2)?;
            reporters.extend(reporter1);
            let (address1, stop1) = serve(server1).await?;
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
