//! Benchmarks of the tracing library and the services, and the helpers they share.
//!
//! The criterion benches under `benches/` time single operations (a span, a B3 header, a
//! JSON batch) for this project and for the OpenTelemetry SDK in the same run; the binaries
//! under `src/bin/` measure whole services under load and the reporter's throughput and
//! memory. `BENCHMARKS.md` at the workspace root holds the results and the commands.
//!
//! The binaries, each printing a markdown table and the command that produced it:
//!
//! | binary | measures | command |
//! |---|---|---|
//! | `load` | a service route untraced, traced at sampling 1.0 and at 0.0, under load | `cargo run --release -p bench --bin load` |
//! | `reporter` | spans per second the `AsyncReporter` delivers to a collector | `cargo run --release -p bench --bin reporter` |
//! | `memory` | resident memory while a million spans go to a collector that is down | `cargo run --release -p bench --bin memory` |
//!
//! Costs counted in instructions rather than time come from `bench/cost`, a script that
//! runs the `span_cost` and `chain_calls` examples under callgrind and prints one table:
//! instructions per delivered span (ours beside the OpenTelemetry SDK) and per chain
//! request (untraced, sampled at 0.0 and at 1.0).
//!
//! The library holds what they share:
//!
//! - [`backend`]: where spans go, the stand-in collector or a sink, on its own thread;
//! - [`deploy`]: a service route untraced or traced, as the load tool serves it;
//! - [`loadgen`]: an HTTP/1.1 load generator with keep-alive connections and a latency
//!   histogram;
//! - [`spans`]: the spans one service2 request records, made through the real tracer;
//! - [`procfs`]: resident memory and per-thread CPU time, as Linux reports them;
//! - [`report`]: medians, markdown tables and the command line, for the output.

pub mod backend;
pub mod deploy;
pub mod loadgen;
pub mod procfs;
pub mod report;
pub mod spans;
