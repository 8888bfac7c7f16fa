//! An `https://` endpoint (the `https` feature): batches go over TLS, by rustls, to a
//! collector whose certificate the system trusts, and a collector whose certificate it
//! does not trust gets nothing.
//!
//! The reporter trusts what rustls-platform-verifier finds, which on Linux honours
//! `SSL_CERT_FILE`. Setting a variable would change this whole test process, so each
//! reporter runs in a child: this test binary again, running one test, with
//! `SSL_CERT_FILE` naming the certificate to trust.

// Test helpers outside #[test] functions may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::span;
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{CertifiedKey, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use zipkin_reporter::{AsyncReporter, ReporterConfig};
use zipkin_tracing::Report as _;

/// Set for the child: the endpoint to report to.
const CHILD_ENDPOINT: &str = "ZIPKIN_REPORTER_HTTPS_CHILD_ENDPOINT";
/// Set for the child: `sent` or `refused`, what must become of its spans.
const CHILD_EXPECTS: &str = "ZIPKIN_REPORTER_HTTPS_CHILD_EXPECTS";
/// Spans the child reports.
const SPANS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_reach_an_https_collector_whose_certificate_is_trusted() {
    if run_as_child().await {
        return;
    }
    let certificate = certificate();
    let (endpoint, spans) = tls_collector(&certificate).await;
    let trusted = write_pem("trusted", &certificate);
    let output = child(
        "batches_reach_an_https_collector_whose_certificate_is_trusted",
        &endpoint,
        &trusted,
        "sent",
    )
    .await;
    assert!(output.0, "the child failed:\n{}", output.1);
    assert_eq!(spans.load(Ordering::Acquire), SPANS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_whose_certificate_is_not_trusted_gets_nothing() {
    if run_as_child().await {
        return;
    }
    let (endpoint, spans) = tls_collector(&certificate()).await;
    // The child trusts another certificate only.
    let other = write_pem("other", &certificate());
    let output = child(
        "a_collector_whose_certificate_is_not_trusted_gets_nothing",
        &endpoint,
        &other,
        "refused",
    )
    .await;
    assert!(output.0, "the child failed:\n{}", output.1);
    assert_eq!(spans.load(Ordering::Acquire), 0);
}

/// A certificate for `127.0.0.1`, signed by itself.
fn certificate() -> CertifiedKey<KeyPair> {
    rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap()
}

/// Writes `certificate` as PEM into a file of this test run's own; returns its path.
fn write_pem(name: &str, certificate: &CertifiedKey<KeyPair>) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("https-reporter-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.pem"));
    std::fs::write(&path, certificate.cert.pem()).unwrap();
    path
}

/// A collector that speaks only TLS, with `certificate`, on a free port: it counts the
/// spans of each POST and answers 202. Returns its spans endpoint and the count.
async fn tls_collector(certificate: &CertifiedKey<KeyPair>) -> (String, Arc<AtomicUsize>) {
    let key = PrivatePkcs8KeyDer::from(certificate.signing_key.serialize_der());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![certificate.cert.der().clone()],
            PrivateKeyDer::Pkcs8(key),
        )
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("https://{}/api/v2/spans", listener.local_addr().unwrap());
    let spans = Arc::new(AtomicUsize::new(0));
    let counted = spans.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, counted) = (acceptor.clone(), counted.clone());
            tokio::spawn(async move {
                // A client that does not trust the certificate ends the handshake here.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |request: Request<Incoming>| {
                    let counted = counted.clone();
                    async move {
                        let body = request.into_body().collect().await?.to_bytes();
                        let text = String::from_utf8_lossy(&body);
                        counted.fetch_add(text.matches("\"traceId\"").count(), Ordering::Release);
                        let answer = Response::builder().status(202).body(Empty::<Bytes>::new());
                        Ok::<_, hyper::Error>(answer.unwrap())
                    }
                });
                let connection = hyper::server::conn::http1::Builder::new();
                let _ = connection
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (endpoint, spans)
}

/// Runs `test` in a child of this binary, reporting to `endpoint` and trusting only the
/// certificate in `trusted`; returns whether it passed, and its output.
async fn child(test: &str, endpoint: &str, trusted: &Path, expects: &str) -> (bool, String) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", test, "--nocapture"])
        .env(CHILD_ENDPOINT, endpoint)
        .env(CHILD_EXPECTS, expects)
        .env("SSL_CERT_FILE", trusted)
        .env_remove("SSL_CERT_DIR");
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let text = format!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    (output.status.success() && stdout.contains("1 passed"), text)
}

/// In the child: reports [`SPANS`] spans to the endpoint it was given and checks what
/// became of them. Returns `false` in the parent, which has no endpoint set.
async fn run_as_child() -> bool {
    let Ok(endpoint) = std::env::var(CHILD_ENDPOINT) else {
        return false;
    };
    let expects = std::env::var(CHILD_EXPECTS).unwrap();
    let reporter = AsyncReporter::start(ReporterConfig {
        retry_window: Duration::from_millis(300),
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(50),
        ..ReporterConfig::http(endpoint.parse().unwrap())
    })
    .unwrap();
    for _ in 0..SPANS {
        reporter.report(span());
    }
    assert!(reporter.flush(Duration::from_secs(20)).await);
    let stats = reporter.stats();
    let counts = (stats.sent, stats.failed);
    match expects.as_str() {
        "sent" => assert_eq!(counts, (SPANS as u64, 0), "{stats:?}"),
        _ => assert_eq!(counts, (0, SPANS as u64), "{stats:?}"),
    }
    true
}
