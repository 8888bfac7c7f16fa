//! The stand-in collector that `cargo run` uses, served on a free port for one test.
//!
//! It takes spans on `/api/v2/spans` and answers Zipkin's query API, so a test reads a
//! trace back through [`StandInCollector::api`] as it would from a real Zipkin.

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::trace_source::ZipkinApi;

/// A running stand-in collector; it stops when dropped.
#[derive(Debug)]
pub struct StandInCollector {
    api: ZipkinApi,
    store: collector::Collector,
    _stop: oneshot::Sender<()>,
}

impl StandInCollector {
    /// Serves a new, empty stand-in collector on a free `127.0.0.1` port.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind 127.0.0.1:0")?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = oneshot::channel::<()>();
        let store = collector::Collector::default();
        tokio::spawn(collector::serve(listener, store.clone(), async {
            // A dropped sender ends the wait too: the collector stops with the test's value.
            let _ = stopped.await;
        }));
        Ok(StandInCollector {
            api: ZipkinApi::new(base),
            store,
            _stop: stop,
        })
    }

    /// Its query API, and its `/api/v2/spans` for reporters.
    pub fn api(&self) -> &ZipkinApi {
        &self.api
    }

    /// What it stored, for counts across traces.
    pub fn store(&self) -> &collector::Collector {
        &self.store
    }
}
