//! After the first trace the demo keeps serving: each further request's trace is printed
//! when it completes, and the shutdown future stops everything cleanly, even with the
//! article's request still in flight.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use collector::waterfall::WaterfallOptions;
use demo::{Config, Printer, run_on};
use tokio::sync::{oneshot, watch};
use zipkin_tracing::TraceId;

const OPTIONS: WaterfallOptions = WaterfallOptions {
    width: 100,
    colour: false,
};

/// How long a test waits for text to be printed; generous, the machines are shared.
const DEADLINE: Duration = Duration::from_secs(30);

/// A writer the test can read while the demo writes to it, with a signal on each write.
#[derive(Clone)]
struct SharedBuffer {
    bytes: Arc<Mutex<Vec<u8>>>,
    writes: Arc<watch::Sender<u64>>,
}

impl SharedBuffer {
    fn new() -> Self {
        SharedBuffer {
            bytes: Arc::default(),
            writes: Arc::new(watch::Sender::new(0)),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned()
    }

    /// Waits until the text contains `needle`, waking on each write, never on a timer.
    async fn wait_for(&self, needle: &str) -> String {
        let mut writes = self.writes.subscribe();
        let wait = async {
            loop {
                writes.borrow_and_update();
                let text = self.text();
                if text.contains(needle) {
                    return text;
                }
                writes.changed().await.unwrap();
            }
        };
        match tokio::time::timeout(DEADLINE, wait).await {
            Ok(text) => text,
            Err(_) => panic!(
                "{needle:?} not printed within {DEADLINE:?}:\n{}",
                self.text()
            ),
        }
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.bytes.lock().unwrap().extend_from_slice(data);
        self.writes.send_modify(|n| *n += 1);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A request as `curl` would send it; returns the trace id service1 reports.
async fn curl(url: &str) -> TraceId {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = client.get(url).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let id = response
        .headers()
        .get("x-trace-id")
        .unwrap()
        .to_str()
        .unwrap();
    id.parse().unwrap()
}

#[tokio::test]
async fn further_requests_are_printed_until_shutdown() {
    let config = Config {
        once: false,
        ..Config::ephemeral(0.01)
    };
    let chain = config.chain().start().await.unwrap();
    let url = chain.entry_url();
    let buffer = SharedBuffer::new();
    let (stop, stopped) = oneshot::channel::<()>();
    let mut printer = Printer::new(buffer.clone(), OPTIONS);
    let demo = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        run_on(chain, &config, &mut printer, shutdown).await
    });

    buffer.wait_for("Serving: curl localhost:").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let trace_id = curl(&url).await;
        let text = buffer
            .wait_for(&format!("Trace {trace_id} | 6 spans"))
            .await;
        // The headers of this trace follow its waterfall.
        let after = &text[text.find(&format!("Trace {trace_id}")).unwrap()..];
        assert!(
            after.contains(&format!("X-B3-TraceId:      {trace_id}")),
            "{text}"
        );
        ids.push(trace_id);
    }

    stop.send(()).unwrap();
    let traces = tokio::time::timeout(DEADLINE, demo)
        .await
        .expect("the demo stops")
        .expect("the demo task does not panic")
        .expect("the demo stops cleanly");
    let printed: Vec<TraceId> = traces.iter().map(|t| t.trace_id).collect();
    assert_eq!(printed.len(), 3, "the article's trace and the two requests");
    assert_eq!(printed[1..], ids);
    assert!(traces.iter().all(|t| t.complete && t.spans.len() == 6));
    let text = buffer.text();
    assert_eq!(
        text.matches("Trace ").count(),
        3,
        "each trace once:\n{text}"
    );
    assert!(text.ends_with("Stopping: finishing requests in flight, flushing spans.\n"));
}

#[tokio::test]
async fn shutdown_during_the_first_request_stops_cleanly() {
    // The article's request takes ~1.4 s at this scale; shutdown comes as soon as it is
    // sent, so the services stop with it in flight.
    let config = Config::ephemeral(0.2);
    let chain = config.chain().start().await.unwrap();
    let buffer = SharedBuffer::new();
    let mut printer = Printer::new(buffer.clone(), OPTIONS);
    let shutdown = async {
        buffer.wait_for("(takes ~1.4 s at time scale 0.2)").await;
    };
    let run = run_on(chain, &config, &mut printer, shutdown);
    let traces = tokio::time::timeout(DEADLINE, run)
        .await
        .expect("the demo stops")
        .expect("the demo stops cleanly");
    assert!(traces.is_empty());
    let text = buffer.text();
    assert!(text.ends_with("flushing spans.\n"), "{text}");
    assert!(!text.contains("Trace "), "{text}");
}
