//! `cargo run`: the article's whole trace on one machine, with nothing to install.
//!
//! The demo starts the stand-in Zipkin collector (port 9411), service2 (6000) and service1
//! (5000) in one process on loopback, sends the article's request `GET /` to service1,
//! waits for the six spans of its trace, and prints them as a waterfall together with the
//! B3 headers service1 sent to service2. Then it keeps serving, printing the trace of each
//! further request, until Ctrl-C (or SIGTERM) stops everything cleanly.
//!
//! The chain it starts is the one the integration tests and the benchmarks start too:
//! [`ChainSettings`] says what to start, [`Chain`] is what runs.
//!
//! | module | what |
//! |---|---|
//! | [`headers`] | a layer recording the B3 headers service2 receives |
//! | [`served`] | one server on a task, its port, stopping it; the start-up errors |
//! | [`settings`] | what the chain starts: where spans go, ports, time scale, sampling |
//! | [`chain`] | starting and stopping the collector and both services, for every caller |
//! | [`flags`] | the services' sampling and B3 flags, read by the demo as they are |
//! | [`config`] | the command line (`--once`, `--time-scale`, the ports, `--zipkin`) |
//! | [`error`] | why the demo failed |
//! | [`request`] | the article's request, as a user sends it |
//! | [`watch`] | noticing finished traces and gathering their spans |
//! | [`output`] | the printed text: intro, waterfall, headers |
//! | [`run`] | the demo from start to finish |
//! | [`scenario`] | `--scenario NAME`: lessons that change one thing and show the trace |
//! | [`remote`] | `--zipkin URL`: the demo against a running Zipkin, read back through its API |
//! | [`doctor`](mod@doctor) | `demo doctor TRACE_ID\|FILE.json`: the trace doctor on a trace of your own |
//!
//! The table lists the modules in the order they build on each other: each uses only
//! modules above it.
//!
//! The whole demo at a hundredth of the article's time, on free ports, printing to a
//! buffer:
//!
//! ```
//! use collector::waterfall::WaterfallOptions;
//! use demo::{Config, Printer, run};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), demo::DemoError> {
//! let config = Config::ephemeral(0.01); // --once, every port 0
//! let options = WaterfallOptions { width: 100, colour: false };
//! let mut printer = Printer::new(Vec::new(), options);
//! let traces = run(&config, &mut printer, std::future::pending()).await?;
//! assert_eq!(traces[0].spans.len(), 6);
//! let text = String::from_utf8_lossy(&printer.into_inner()).into_owned();
//! assert!(text.contains("service2: db_search"));
//! # Ok(())
//! # }
//! ```

pub mod chain;
pub mod config;
pub mod doctor;
pub mod error;
pub mod flags;
pub mod headers;
pub mod output;
pub mod remote;
pub mod request;
pub mod run;
pub mod scenario;
pub mod served;
pub mod settings;
pub mod watch;

pub use chain::{Chain, STOP_DEADLINE};
pub use config::Config;
pub use doctor::{DoctorArgs, DoctorError, doctor};
pub use error::DemoError;
pub use flags::TracingFlags;
pub use headers::{CaptureB3Layer, CapturedRequest, HeaderLog};
pub use output::Printer;
pub use remote::{RemoteError, run_with_zipkin};
pub use run::{run, run_on};
pub use served::{ChainError, Served, Server};
pub use settings::ChainSettings;
pub use watch::{ARTICLE_SPANS, CollectedTrace, TraceWatcher};
