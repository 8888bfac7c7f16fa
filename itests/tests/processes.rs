//! The real binaries, as a user runs them: two processes configured only through
//! environment variables, on free ports, reporting to a mock Zipkin. SIGTERM right after
//! a response stops both with exit code 0, and the spans still queued in their reporters
//! (which batch for a second) reach the collector on the way out.

use std::time::Duration;

use itests::{ArticleTrace, MockCollector, ServiceProcess, TraceTree, build_binary, free_port};

const TIME_SCALE: f64 = 0.01;
/// How long a service may take to start answering `/health`, or to exit after SIGTERM.
const DEADLINE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn sigterm_after_a_request_exits_cleanly_and_flushes_every_span() {
    // Cargo builds the binaries (a no-op when they are up to date), so that
    // `cargo test -p itests` works on a clean clone.
    let (service1_bin, service2_bin) =
        tokio::task::spawn_blocking(|| (build_binary("service1"), build_binary("service2")))
            .await
            .unwrap();
    let (service1_bin, service2_bin) = (service1_bin.unwrap(), service2_bin.unwrap());

    let collector = MockCollector::start().await;
    let (port1, port2) = (free_port().unwrap(), free_port().unwrap());
    let common = |port: u16| {
        vec![
            ("PORT", port.to_string()),
            ("BIND", "127.0.0.1".to_owned()),
            ("ZIPKIN_ENDPOINT", collector.endpoint()),
            ("TIME_SCALE", TIME_SCALE.to_string()),
            ("SAMPLE_RATE", "1.0".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ]
    };
    let service2_url = format!("http://127.0.0.1:{port2}");
    let mut service2 = ServiceProcess::spawn(&service2_bin, &common(port2)).unwrap();
    let mut env1 = common(port1);
    env1.push(("SERVICE2_URL", service2_url.clone()));
    let mut service1 = ServiceProcess::spawn(&service1_bin, &env1).unwrap();
    let service1_url = format!("http://127.0.0.1:{port1}");
    service2
        .wait_healthy(&service2_url, DEADLINE)
        .await
        .unwrap();
    service1
        .wait_healthy(&service1_url, DEADLINE)
        .await
        .unwrap();

    let response = reqwest::get(format!("{service1_url}/")).await.unwrap();
    assert_eq!(response.status(), 200, "{}", service1.output());
    let trace_id = itests::trace_id_of(&response).unwrap();

    // Right away: the reporters are still holding the spans for their 1 s batch, so what
    // arrives from here on is sent by the shutdown flush.
    let before = collector.spans().await.unwrap().len();
    assert!(
        before < 6,
        "all spans arrived before SIGTERM ({before}); this run cannot show the flush"
    );
    service1.terminate().unwrap();
    service2.terminate().unwrap();
    for service in [&mut service1, &mut service2] {
        let status = service.wait_exit(DEADLINE).await.unwrap();
        assert_eq!(
            status.code(),
            Some(0),
            "{status}; output:\n{}",
            service.output()
        );
    }

    // Both processes are gone, so every span they will ever send has arrived.
    let spans = collector.spans().await.unwrap();
    assert_eq!(
        spans.len(),
        6,
        "all six spans, flushed at shutdown:\n{}\nservice1:\n{}\nservice2:\n{}",
        itests::trace_source::describe_spans(&spans),
        service1.output(),
        service2.output()
    );
    let mut tree = TraceTree::new(spans);
    assert_eq!(tree.trace_id(), trace_id);
    let trace = ArticleTrace::take(&mut tree);
    tree.finish();
    trace.assert_timing(TIME_SCALE, Duration::from_secs(1));
}
