//! The OpenTelemetry column: the SDK's `BatchSpanProcessor` (default settings) in front of
//! the `opentelemetry-zipkin` exporter, which POSTs to the sink over a real HTTP client.
//!
//! The exporter takes its HTTP client from the application. The processor runs exports on
//! its own thread with a plain `block_on`, outside any tokio runtime, so the client here
//! hands each request to a one-thread tokio runtime and waits for the answer; this is
//! what `reqwest::blocking`, the exporter's default client, does inside. The requests go
//! through `reqwest` on hyper, the same HTTP stack as `AsyncReporter`'s, without TLS.

// `opentelemetry-zipkin` 0.33 marks its API deprecated in favour of OTLP export; it is
// still the Zipkin exporter OpenTelemetry's Rust SDK ships.
#![allow(deprecated)]

use std::hint::black_box;

use anyhow::Context as _;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_sdk::trace::{BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider};
use opentelemetry_zipkin::ZipkinExporter;

use crate::{NAME, TAGS};

/// An [`HttpClient`] that sends on a tokio runtime of its own, from any thread.
#[derive(Debug)]
pub struct RuntimeClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl RuntimeClient {
    /// A client whose requests run on `runtime`'s threads.
    pub fn new(runtime: tokio::runtime::Handle) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .build()
            .context("cannot build the exporter's HTTP client")?;
        Ok(RuntimeClient { client, runtime })
    }
}

#[async_trait::async_trait]
impl HttpClient for RuntimeClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let answer = self.runtime.spawn(async move {
            let response = client.execute(request).await?;
            let status = response.status();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        });
        let (status, body) = answer.await??;
        Ok(Response::builder().status(status).body(body)?)
    }
}

/// A tracer provider as a production service configures it, sampling every span: a
/// batch processor with default settings (queue 2,048, batches of 512) in front of the
/// Zipkin exporter, POSTing to `endpoint`.
pub fn provider(endpoint: &str, client: RuntimeClient) -> anyhow::Result<SdkTracerProvider> {
    let exporter = ZipkinExporter::builder()
        .with_http_client(client)
        .with_collector_endpoint(endpoint)
        .build()
        .context("cannot build the Zipkin exporter")?;
    Ok(SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .with_span_processor(BatchSpanProcessor::builder(exporter).build())
        .build())
}

/// One span through the SDK's API: started, three attributes, ended (queued for export).
/// Not inlined, so that callgrind's report names its cost.
#[inline(never)]
pub fn record(tracer: &SdkTracer) {
    let mut span = tracer.start(black_box(NAME));
    for (key, value) in TAGS {
        span.set_attribute(KeyValue::new(black_box(key), black_box(value)));
    }
    span.end();
}
