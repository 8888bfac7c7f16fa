//! Instructions per request of one load-tool variant, for callgrind: the variant served on
//! one current-thread runtime, 100 warm-up requests, then `N` sequential requests on one
//! keep-alive connection. Run it with `N = 0` and `N = 1000`; the difference in collected
//! instructions over 1000 is the cost of one request (server, client and loader together).
//!
//! ```sh
//! cargo build --release -p bench --example chain_calls
//! valgrind --tool=callgrind target/release/examples/chain_calls 0.0 chain 1000
//! ```
//!
//! Arguments: `untraced` or a sample rate (`0.0`, `1.0`); `chain` or `service2`; `N`; and,
//! optionally, `single`: the B3 headers in their single-header form (`B3_FORMAT=single`)
//! instead of the services' default, the multi-header form.

use std::time::Duration;

use anyhow::Context as _;

use bench::backend::{Backend, BackendKind};
use bench::deploy::{Route, Variant, deploy};
use http_body_util::{BodyExt as _, Empty};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use zipkin_tracing::B3Format;

fn main() -> anyhow::Result<()> {
    const USAGE: &str =
        "usage: chain_calls untraced|SAMPLE_RATE chain|service2 REQUESTS [single|multi]";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (variant, route, n, b3_format) = match args.as_slice() {
        [variant, route, n] => (variant, route, n, B3Format::Multi),
        [variant, route, n, format] => {
            let format = format
                .parse()
                .map_err(|error| anyhow::anyhow!("{error}; {USAGE}"))?;
            (variant, route, n, format)
        }
        _ => anyhow::bail!("{USAGE}"),
    };
    let variant = match variant.as_str() {
        "untraced" => Variant::Untraced,
        text => {
            let rate: f64 = text
                .parse()
                .with_context(|| format!("{text:?} is not a sample rate; {USAGE}"))?;
            zipkin_tracing::ProbabilitySampler::new(rate).context(USAGE)?;
            Variant::Traced(rate)
        }
    };
    // The load tool's own names for its routes.
    let route = <Route as clap::ValueEnum>::from_str(route, false)
        .map_err(|error| anyhow::anyhow!("unknown route {route:?} ({error}); {USAGE}"))?;
    let n: usize = n
        .parse()
        .with_context(|| format!("{n:?} is not a number of requests; {USAGE}"))?;
    let backend = Backend::start(BackendKind::Sink, 1000)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let deployment = deploy(variant, route, backend.endpoint(), b3_format).await?;
        let stream = tokio::net::TcpStream::connect(deployment.address).await?;
        stream.set_nodelay(true)?;
        let (mut sender, driver) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(driver);
        let host = deployment.address.to_string();
        // Warm-up: pools, connections, lazy statics.
        for i in 0..(100 + n) {
            sender.ready().await?;
            let request = Request::get(route.path())
                .header(hyper::header::HOST, host.as_str())
                .body(Empty::<Bytes>::new())?;
            let response = sender.send_request(request).await?;
            anyhow::ensure!(response.status() == 200, "status {}", response.status());
            response.into_body().collect().await?;
            if i == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        for reporter in &deployment.reporters {
            reporter.flush(Duration::from_secs(5)).await;
        }
        anyhow::Ok(())
    })?;
    drop(runtime);
    backend.stop()?;
    Ok(())
}
