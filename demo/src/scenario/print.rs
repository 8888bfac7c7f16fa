//! What a lesson prints around the demo's waterfall: its name and what runs where, then
//! the trace (or why there is none), the headers service2 received, the reporters' counts
//! when spans were lost, and the lesson's notes.

use std::io::Write;

use zipkin_reporter::ReporterStats;
use zipkin_tracing::Span;

use super::Scenario;
use crate::chain::Chain;
use crate::headers::CapturedRequest;
use crate::output::Printer;
use crate::served::Served;
use crate::settings::ChainSettings;

/// What each trace header means in any lesson's trace (the demo's own list speaks of the
/// article's: six spans, service2 joining): whether service2 joins the CLIENT span and
/// how many spans there are is what some lessons change.
const MEANINGS: [(&str, &str); 7] = [
    ("X-B3-TraceId", "the trace: the same on every span of it"),
    ("X-B3-SpanId", "service1's CLIENT span"),
    ("X-B3-ParentSpanId", "its parent: service_1_do_stuff"),
    ("X-B3-Sampled", "1 = record this trace"),
    ("X-B3-Flags", "0 = not a debug trace"),
    ("b3", "the single-header form: trace-span-sampled-parent"),
    ("traceparent", "W3C: version-trace-span-flags"),
];

/// The lesson's name and change, then what runs where.
pub(crate) fn intro<W: Write>(
    printer: &mut Printer<W>,
    scenario: &Scenario,
    chain: &Chain,
    settings: &ChainSettings,
    collector: Option<&Served>,
    stand_ins: &[Served],
    scale: f64,
) -> std::io::Result<()> {
    let out = printer.out();
    writeln!(out, "Lesson {}: {}", scenario.name, scenario.about)?;
    let collector = match collector {
        Some(served) => format!("http://{}", served.address()),
        None => "(none: spans go to a closed port)".to_owned(),
    };
    let service2 = match (chain.service2(), stand_ins.first()) {
        (Some(served), _) => format!("{}  the article's service2", served.url()),
        (None, Some(served)) => format!("{}  the demo's stand-in service2", served.url()),
        (None, None) => match settings.service2_stand_in() {
            Some(url) => format!("{url}  (nothing listens there)"),
            None => String::new(),
        },
    };
    let service1 = chain.service1().map(Served::url).unwrap_or_default();
    writeln!(out, "  collector  {collector}")?;
    writeln!(out, "  service2   {service2}")?;
    writeln!(out, "  service1   {service1}  calls service2")?;
    writeln!(
        out,
        "The article's sleeps are multiplied by {scale} (--time-scale)."
    )?;
    writeln!(out)
}

/// The trace (or why there is none), the headers service2 received, the reporters'
/// counts when spans were lost, and what to notice.
pub(crate) fn show<W: Write>(
    printer: &mut Printer<W>,
    scenario: &Scenario,
    spans: &[Span],
    headers: &[CapturedRequest],
    reported: &ReporterStats,
) -> std::io::Result<()> {
    if spans.is_empty() {
        writeln!(printer.out(), "The collector holds no span of this trace.")?;
    } else {
        printer.spans(spans)?;
    }
    writeln!(printer.out())?;
    if headers.is_empty() {
        writeln!(
            printer.out(),
            "(service2 received no trace headers in this trace)"
        )?;
    }
    for request in headers {
        printer.headers_meaning(request, &MEANINGS)?;
    }
    if reported.failed > 0 || reported.dropped > 0 {
        writeln!(
            printer.out(),
            "The reporters: {} spans sent, {} failed (collector unreachable), {} dropped \
             (queue full).",
            reported.sent,
            reported.failed,
            reported.dropped
        )?;
    }
    let out = printer.out();
    writeln!(out)?;
    writeln!(out, "What to notice:")?;
    for note in scenario.notes {
        writeln!(out, "  - {note}")?;
    }
    writeln!(out)?;
    out.flush()
}
