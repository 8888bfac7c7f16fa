//! Benchmarks of the tracing library and the services, and the helpers they share.
//!
//! The criterion benches under `benches/` time single operations (a span, a B3 header, a
//! JSON batch) for this project and for the OpenTelemetry SDK in the same run; the binaries
//! under `src/bin/` measure whole services under load and the reporter's throughput and
//! memory. `BENCHMARKS.md` at the workspace root holds the results and the commands.
