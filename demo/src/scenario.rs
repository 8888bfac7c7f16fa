//! Lessons you run: `cargo run -- --scenario NAME` changes one thing in the article's
//! chain, sends one request, and prints the waterfall, the trace headers that crossed, what
//! the trace doctor finds, and what to notice. `cargo run -- --scenario list` lists them.
//!
//! [`SCENARIOS`] is the catalogue, in the order a reader meets the ideas: the healthy
//! trace, then sampling, then propagation, then failures, then the mistakes the doctor
//! names. Each [`Scenario`] says what it changes ([`Change`]); [`run_scenario`] (in
//! `lesson`) starts the chain with that change, sends the request of `caller` and shows
//! the result as `print` writes it. Changes the services
//! have a setting for use that setting (`SAMPLE_RATE`, `B3_FORMAT`, `JOIN_SPANS`,
//! `PROPAGATION`, `CLIENT_TIMEOUT_SECS`); the others are made on the demo's side, so that
//! service1 and service2 stay the article's code: a stand-in service2 (`stand_in`) and a
//! collector whose clock for service2 runs ahead (`skew`).
//!
//! ```
//! use demo::scenario::{find, SCENARIOS};
//!
//! assert_eq!(SCENARIOS[0].name, "healthy");
//! assert!(find("no-join").is_ok());
//! assert!(find("no-such-lesson").unwrap_err().contains("unsampled"));
//! ```

mod caller;
mod lesson;
mod print;
mod skew;
mod stand_in;

use std::fmt::Write as _;

pub use lesson::{LessonRun, run_scenario};

/// The one thing a scenario changes in the article's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing: the article's trace.
    Nothing,
    /// `SAMPLE_RATE=0` at service1.
    Unsampled,
    /// `SAMPLE_RATE=0`, and the caller sends `X-B3-Flags: 1`.
    Debug,
    /// The caller sends trace and span ids without `X-B3-Sampled`.
    Deferred,
    /// `B3_FORMAT=single`.
    SingleHeader,
    /// `JOIN_SPANS=false`.
    NoJoin,
    /// A W3C `traceparent` caller, with `PROPAGATION=w3c,b3`.
    W3cCaller,
    /// Nothing listens where service1 calls service2.
    Service2Down,
    /// `CLIENT_TIMEOUT_SECS` shorter than service2's work.
    Timeout,
    /// A stand-in service2 whose db_search takes ten times as long.
    SlowDb,
    /// Nothing listens where the spans are sent.
    CollectorDown,
    /// A stand-in service2 that spawns db_search without the current span.
    LostContext,
    /// service2's span timestamps arrive 50 ms ahead.
    ClockSkew,
}

/// One lesson: a name to run it by, a line for the list, and what to notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// The name given to `--scenario`.
    pub name: &'static str,
    /// One line for `--scenario list`: what changes.
    pub about: &'static str,
    /// Two to four lines printed after the trace: what to notice, and why.
    pub notes: &'static [&'static str],
    /// What the chain does differently.
    pub change: Change,
}

/// Every scenario, in the order `--scenario list` prints them.
pub const SCENARIOS: [Scenario; 13] = [
    Scenario {
        name: "healthy",
        about: "the article's trace, unchanged (what `cargo run` shows)",
        notes: &[
            "Six spans, five ids: service2's SERVER span joins service1's CLIENT span.",
            "Every other lesson changes one thing in this chain; compare with this one.",
        ],
        change: Change::Nothing,
    },
    Scenario {
        name: "unsampled",
        about: "SAMPLE_RATE=0 at service1: ids travel with X-B3-Sampled: 0, nothing is stored",
        notes: &[
            "service1 decided not to record the trace, but still sent its ids to service2.",
            "X-B3-Sampled: 0 tells service2 to record nothing too: the collector holds no span.",
            "Logs can still carry the trace id, so requests stay correlated across services.",
        ],
        change: Change::Unsampled,
    },
    Scenario {
        name: "debug",
        about: "SAMPLE_RATE=0, but the caller sends X-B3-Flags: 1: recorded anyway",
        notes: &[
            "The caller asked for debug (X-B3-Flags: 1), which overrides SAMPLE_RATE=0.",
            "Every span carries debug: true, and service1 passes X-B3-Flags: 1 on to service2.",
            "Use it to trace one request on purpose (curl -H 'X-B3-Flags: 1' ...).",
        ],
        change: Change::Debug,
    },
    Scenario {
        name: "deferred",
        about: "the caller sends ids without X-B3-Sampled: service1 makes the decision",
        notes: &[
            "The caller sent a trace id and a span id but no X-B3-Sampled: a deferred decision.",
            "service1 decided with its own SAMPLE_RATE and sent X-B3-Sampled: 1 on, in the \
             caller's trace: the caller can find the trace by its own id.",
            "service1's SERVER span reuses the caller's span id but is not shared: a caller \
             that had not decided may never record its half.",
        ],
        change: Change::Deferred,
    },
    Scenario {
        name: "b3-single",
        about: "B3_FORMAT=single: the context in one `b3` header",
        notes: &[
            "One header, b3: {trace}-{span}-{sampled}-{parent}, carries what the five \
             X-B3-* headers carry.",
            "The trace is the same six spans: the format changes the wire, not the trace.",
        ],
        change: Change::SingleHeader,
    },
    Scenario {
        name: "no-join",
        about: "JOIN_SPANS=false at service2: a child span instead of a shared one",
        notes: &[
            "service2's SERVER span is a child of service1's CLIENT span: six ids, not five.",
            "No span is shared; Zipkin draws the call as two rows instead of one.",
        ],
        change: Change::NoJoin,
    },
    Scenario {
        name: "w3c-caller",
        about: "a W3C traceparent caller, PROPAGATION=w3c,b3: a child, never a join",
        notes: &[
            "W3C Trace Context has no shared spans: service1 records a child of the caller's \
             span, and service2 a child of service1's CLIENT span.",
            "The caller reported no span, so the doctor sees service1's root name a missing \
             parent (context-lost): expected here, as with any caller that does not report.",
        ],
        change: Change::W3cCaller,
    },
    Scenario {
        name: "service2-down",
        about: "nothing listens where service1 calls service2: 502, errors on the spans",
        notes: &[
            "service1 answered 502 and the trace shows why: the CLIENT span and \
             service_1_do_stuff carry an error tag.",
            "service2 received nothing, so there are three spans, all service1's.",
            "The doctor's dependency-hole: a CLIENT span no server joined, naming no remote \
             service, leaves no edge in Zipkin's dependency graph.",
        ],
        change: Change::Service2Down,
    },
    Scenario {
        name: "timeout",
        about: "service2 slower than CLIENT_TIMEOUT_SECS: 504, the call cut short",
        notes: &[
            "service1 gave up after CLIENT_TIMEOUT_SECS and answered 504; its CLIENT span \
             and service_1_do_stuff carry the error.",
            "service1 hung up, so service2's handler was cancelled: its spans end there and \
             db_search never ran (five spans).",
            "The doctor says clock-skew: service2's span ends after its CLIENT span, because \
             service2 noticed the hang-up later. One clock here: read the error tag first.",
        ],
        change: Change::Timeout,
    },
    Scenario {
        name: "slow-db",
        about: "db_search takes 10x longer: the waterfall shows where the time went",
        notes: &[
            "The request took 25 s instead of 7 (at time scale 1), and one bar says why: \
             db_search.",
            "A stand-in service2 of the demo's own sleeps 20 s in db_search instead of 2 s \
             (times --time-scale); the real service2 has no such setting.",
        ],
        change: Change::SlowDb,
    },
    Scenario {
        name: "collector-down",
        about: "the collector refuses: the request is as fast, the spans are lost and counted",
        notes: &[
            "The request took as long as a healthy one: reporting never blocks a request.",
            "Each service's reporter counted the spans it could not deliver (failed); no \
             span reached a collector.",
        ],
        change: Change::CollectorDown,
    },
    Scenario {
        name: "lost-context",
        about: "db_search spawned on a task without the context: its span goes missing",
        notes: &[
            "A stand-in service2 of the demo's own runs db_search with tokio::spawn: the \
             task does not inherit the current span, so db_search is not recorded.",
            "Five spans: the time is there in service_2_do_stuff, but nothing says what it was.",
            "The fix: tokio::spawn(ParentSpan::current().wrap(work)), see \
             tracing-core/src/current.rs.",
        ],
        change: Change::LostContext,
    },
    Scenario {
        name: "clock-skew",
        about: "service2's clock 50 ms ahead: the doctor's clock-skew fires",
        notes: &[
            "service2's spans arrive 50 ms late on the timeline: its SERVER span ends after \
             the CLIENT span that called it, which cannot happen on one clock.",
            "The demo moves service2's timestamps as spans enter the collector (the services \
             run on one machine, with one clock); durations are untouched.",
        ],
        change: Change::ClockSkew,
    },
];

/// The scenario named `name`, or the message refusing it, which lists every scenario.
pub fn find(name: &str) -> Result<&'static Scenario, String> {
    SCENARIOS
        .iter()
        .find(|scenario| scenario.name == name)
        .ok_or_else(|| format!("unknown scenario {name:?}; the scenarios are:\n{}", list()))
}

/// `--scenario list`: each scenario's name and line, with how to run it.
pub fn list() -> String {
    let width = SCENARIOS.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut text = String::new();
    for scenario in &SCENARIOS {
        let _ = writeln!(text, "  {:<width$}  {}", scenario.name, scenario.about);
    }
    text.push_str("Run one with: cargo run -- --scenario NAME\n");
    text
}

/// What `--scenario` names: a scenario to run, or `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioChoice {
    /// `--scenario list`.
    List,
    /// A scenario to run.
    Run(&'static Scenario),
}

/// Parses a `--scenario` value: `list` or a scenario's name.
pub fn parse_scenario(text: &str) -> Result<ScenarioChoice, String> {
    if text == "list" {
        return Ok(ScenarioChoice::List);
    }
    find(text).map(ScenarioChoice::Run)
}
