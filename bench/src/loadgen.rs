//! A closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending its next
//! `GET` as soon as the previous response is read, for a fixed time.
//!
//! It speaks hyper's connection API directly, one connection per task, so that what is
//! measured is the server and not a client pool's bookkeeping. Every request's latency
//! (send to last body byte) goes into an HDR histogram; only requests that complete inside
//! the measured window, after a warm-up, count. Being closed-loop, it measures latency at
//! the load the server can take, not at a fixed arrival rate (no coordinated-omission
//! correction): good for comparing variants of one server, which is what it is for.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What to load and for how long.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// The server.
    pub address: SocketAddr,
    /// The request path, e.g. `/service/`.
    pub path: String,
    /// Concurrent keep-alive connections, each with one request in flight at a time.
    pub connections: usize,
    /// Load before measuring starts: connections open, caches and pools warm up.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
}

/// What one load run measured.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// `200 OK` responses completed inside the measured window.
    pub requests: u64,
    /// Other statuses and connection errors, during warm-up and window alike.
    pub errors: u64,
    /// The measured window.
    pub window: Duration,
    /// Latency of each counted request, in nanoseconds.
    pub latency: Histogram<u64>,
}

impl LoadResult {
    /// Counted requests per second of the window.
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.window.as_secs_f64()
    }

    /// The latency at `quantile` (0.5 for the median, 0.99 for p99).
    pub fn latency_at(&self, quantile: f64) -> Duration {
        Duration::from_nanos(self.latency.value_at_quantile(quantile))
    }
}

/// A latency histogram: 1 ns to 60 s at 3 significant digits.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3)
        .expect("invariant: constant bounds that hdrhistogram accepts")
}

/// Loads `spec.address` with `spec.connections` connections, spawned on the current tokio
/// runtime, and returns the merged measurements.
pub async fn run(spec: &LoadSpec) -> anyhow::Result<LoadResult> {
    anyhow::ensure!(spec.connections > 0, "at least one connection is needed");
    let measure_from = Instant::now() + spec.warmup;
    let end = measure_from + spec.duration;
    let mut tasks = Vec::with_capacity(spec.connections);
    for _ in 0..spec.connections {
        tasks.push(tokio::spawn(connection(
            spec.address,
            spec.path.clone(),
            measure_from,
            end,
        )));
    }
    let mut total = LoadResult {
        requests: 0,
        errors: 0,
        window: spec.duration,
        latency: new_histogram(),
    };
    for task in tasks {
        let one = task.await.context("a load connection task panicked")??;
        total.requests += one.requests;
        total.errors += one.errors;
        total
            .latency
            .add(&one.latency)
            .context("cannot merge latency histograms")?;
    }
    Ok(total)
}

/// One connection's loop: connect, send requests one after the other until `end`,
/// reconnecting after an error. Fails only if no connection can be made at all.
async fn connection(
    address: SocketAddr,
    path: String,
    measure_from: Instant,
    end: Instant,
) -> anyhow::Result<LoadResult> {
    let mut result = LoadResult {
        requests: 0,
        errors: 0,
        window: end - measure_from,
        latency: new_histogram(),
    };
    let host = address.to_string();
    let mut connected_once = false;
    while Instant::now() < end {
        let stream = match TcpStream::connect(address).await {
            Ok(stream) => stream,
            Err(error) if !connected_once => {
                return Err(error).with_context(|| format!("cannot connect to {address}"));
            }
            Err(_) => {
                result.errors += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        connected_once = true;
        stream.set_nodelay(true)?;
        let (mut sender, driver) =
            match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
                Ok(pair) => pair,
                Err(_) => {
                    result.errors += 1;
                    continue;
                }
            };
        let driver = tokio::spawn(driver);
        while Instant::now() < end {
            if sender.ready().await.is_err() {
                result.errors += 1;
                break;
            }
            let request = Request::get(path.as_str())
                .header(hyper::header::HOST, host.as_str())
                .body(Empty::<Bytes>::new())
                .context("invalid request path")?;
            let sent = Instant::now();
            let ok = match sender.send_request(request).await {
                Ok(response) => {
                    let status = response.status();
                    // The whole body, so the connection can carry the next request.
                    let body = response.into_body().collect().await;
                    status == StatusCode::OK && body.is_ok()
                }
                Err(_) => false,
            };
            let done = Instant::now();
            if !ok {
                result.errors += 1;
                break;
            }
            if sent >= measure_from && done <= end {
                let nanos = (done - sent).as_nanos().min(u128::from(u64::MAX)) as u64;
                result.latency.saturating_record(nanos.max(1));
                result.requests += 1;
            }
        }
        drop(sender);
        driver.abort();
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn it_counts_ok_responses_and_errors() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/ok", get(|| async { "OK" }))
            .route("/bad", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let spec = |path: &str| LoadSpec {
            address,
            path: path.to_owned(),
            connections: 2,
            warmup: Duration::from_millis(20),
            duration: Duration::from_millis(200),
        };

        let ok = run(&spec("/ok")).await.unwrap();
        assert!(ok.requests > 10, "{ok:?}");
        assert_eq!(ok.errors, 0);
        assert_eq!(ok.latency.len(), ok.requests);
        assert!(ok.latency_at(0.5) > Duration::ZERO);
        assert!(ok.latency_at(0.99) >= ok.latency_at(0.5));

        let bad = run(&spec("/bad")).await.unwrap();
        assert_eq!(bad.requests, 0);
        assert!(bad.errors > 0);
    }

    #[tokio::test]
    async fn a_server_that_is_not_there_is_an_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let spec = LoadSpec {
            address,
            path: "/".into(),
            connections: 1,
            warmup: Duration::ZERO,
            duration: Duration::from_millis(50),
        };
        let error = run(&spec).await.unwrap_err();
        assert!(format!("{error:#}").contains("cannot connect"), "{error:#}");
    }
}
