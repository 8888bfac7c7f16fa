//! What the demo prints: where things run, the request, each trace's waterfall with the
//! trace doctor's findings (none for a healthy trace) and the B3 headers that crossed the
//! wire.
//!
//! [`Printer`] writes to any [`Write`], standard output in the binary and a buffer in
//! tests, so the whole text can be checked. Logs never come here: they go to standard
//! error.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use collector::doctor::{diagnose, render_findings};
use collector::waterfall::{WaterfallOptions, render};

use zipkin_tracing::Span;

use crate::chain::Chain;
use crate::headers::CapturedRequest;
use crate::watch::{ARTICLE_SPANS, CollectedTrace, SPAN_DEADLINE};

/// What each B3 header means in the article's trace, printed next to its value.
const MEANINGS: [(&str, &str); 7] = [
    ("X-B3-TraceId", "the trace: the same on all six spans"),
    ("X-B3-SpanId", "service1's CLIENT span (service2 joins it)"),
    ("X-B3-ParentSpanId", "its parent: service_1_do_stuff"),
    ("X-B3-Sampled", "1 = record this trace"),
    ("X-B3-Flags", "0 = not a debug trace"),
    ("b3", "the single-header form"),
    ("traceparent", "W3C: version-trace-span-flags"),
];

/// Writes the demo's text to `W`.
#[derive(Debug)]
pub struct Printer<W> {
    out: W,
    waterfall: WaterfallOptions,
}

impl<W: Write> Printer<W> {
    /// A printer to `out`, drawing waterfalls with `waterfall` (width and colour).
    pub fn new(out: W, waterfall: WaterfallOptions) -> Self {
        Printer { out, waterfall }
    }

    /// The writer, e.g. a buffer to inspect.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// What runs where: the chain's collector (if it started one) and services.
    pub fn intro(&mut self, chain: &Chain, time_scale: f64) -> io::Result<()> {
        let out = &mut self.out;
        writeln!(
            out,
            "Zipkin tracing demo: the article's two services, in process:"
        )?;
        let rows = [
            (
                "collector",
                chain.collector_address(),
                "stand-in Zipkin: POST /api/v2/spans, GET /api/v2/trace/{id}",
            ),
            (
                "service2",
                chain.service2().map(|served| served.address()),
                "GET /service/: service_2_do_stuff, then db_search",
            ),
            (
                "service1",
                chain.service1().map(|served| served.address()),
                "GET /: service_1_do_stuff, which calls service2",
            ),
        ];
        let urls: Vec<_> = rows
            .into_iter()
            .filter_map(|(name, address, what)| Some((name, format!("http://{}", address?), what)))
            .collect();
        let width = urls.iter().map(|(_, url, _)| url.len()).max().unwrap_or(0);
        for (name, url, what) in urls {
            writeln!(out, "  {name:<9}  {url:<width$}  {what}")?;
        }
        writeln!(
            out,
            "The article's sleeps are multiplied by {} (--time-scale).",
            number(time_scale)
        )?;
        writeln!(out)?;
        out.flush()
    }

    /// The request about to be sent, and how long it should take.
    pub fn request(&mut self, url: &str, expected: Duration, time_scale: f64) -> io::Result<()> {
        writeln!(
            self.out,
            "GET {url} … (takes ~{} s at time scale {})",
            number(expected.as_secs_f64()),
            number(time_scale)
        )?;
        self.out.flush()
    }

    /// The response to the article's request.
    pub fn response(&mut self, status: &str, took: Duration, trace_id: &str) -> io::Result<()> {
        writeln!(
            self.out,
            "{status} after {} s; x-trace-id: {trace_id}",
            number(took.as_secs_f64())
        )?;
        writeln!(self.out)?;
        self.out.flush()
    }

    /// A trace: a warning if spans are missing (or none, if it was not sampled), the
    /// waterfall and the doctor's findings, the B3 headers, and where to fetch its JSON
    /// while `collector` serves; `None` once the demo stops its collector on exit
    /// (`--once`).
    pub fn trace(
        &mut self,
        trace: &CollectedTrace,
        collector: Option<SocketAddr>,
    ) -> io::Result<()> {
        if !trace.sampled {
            self.not_sampled(&trace.trace_id.to_string())?;
        } else if !trace.complete {
            writeln!(
                self.out,
                "Incomplete: {} of the article's {ARTICLE_SPANS} spans arrived within {} s; \
                 showing those.",
                trace.spans.len(),
                SPAN_DEADLINE.as_secs()
            )?;
        }
        if trace.sampled {
            self.spans(&trace.spans)?;
        }
        writeln!(self.out)?;
        if trace.headers.is_empty() {
            writeln!(self.out, "(service2 received no B3 headers in this trace)")?;
        }
        for request in &trace.headers {
            self.headers(request)?;
        }
        match (collector, trace.sampled) {
            (Some(collector), true) => writeln!(
                self.out,
                "As JSON: curl http://{collector}/api/v2/trace/{}",
                trace.trace_id
            )?,
            (_, false) => {}
            (None, true) => writeln!(
                self.out,
                "The stand-in collector stops with the demo; to fetch traces as JSON, run \
                 the demo without --once."
            )?,
        }
        writeln!(self.out)?;
        self.out.flush()
    }

    /// The waterfall of `spans`, then the trace doctor's findings (nothing for a healthy
    /// trace, such as the article's).
    pub fn spans(&mut self, spans: &[Span]) -> io::Result<()> {
        self.out
            .write_all(render(spans, &self.waterfall).as_bytes())?;
        let findings = diagnose(spans, &[]);
        self.out.write_all(render_findings(&findings).as_bytes())
    }

    /// Where the text goes, for a caller that prints lines of its own between the
    /// printer's (a lesson's notes).
    pub fn out(&mut self) -> &mut W {
        &mut self.out
    }

    /// A trace service1 decided not to record: there is nothing to wait for or show.
    pub fn not_sampled(&mut self, trace_id: &str) -> io::Result<()> {
        writeln!(
            self.out,
            "Trace {trace_id} was not sampled (--sample-rate/SAMPLE_RATE): service1 and \
             service2 passed its ids along but recorded no span of it, so there is no \
             waterfall to show."
        )
    }

    /// The B3 headers of one request as service2 received them, each with its meaning in
    /// the article's trace.
    pub fn headers(&mut self, request: &CapturedRequest) -> io::Result<()> {
        self.headers_meaning(request, &MEANINGS)
    }

    /// The B3 headers of one request as service2 received them, each with its meaning
    /// from `meanings` (header name, meaning); the sampling and debug flags are explained
    /// by their value.
    pub fn headers_meaning(
        &mut self,
        request: &CapturedRequest,
        meanings: &[(&str, &'static str)],
    ) -> io::Result<()> {
        writeln!(
            self.out,
            "B3 headers service1 sent with {} {}, as service2 received them:",
            request.method, request.path
        )?;
        let name_width = request.headers.iter().map(|(n, _)| n.len() + 1).max();
        let value_width = request.headers.iter().map(|(_, v)| v.len()).max();
        let (name_width, value_width) = (name_width.unwrap_or(0), value_width.unwrap_or(0));
        for (name, value) in &request.headers {
            let label = format!("{name}:");
            let meaning = meaning(meanings, name, value);
            let line = format!("  {label:<name_width$} {value:<value_width$}  {meaning}");
            writeln!(self.out, "{}", line.trim_end())?;
        }
        Ok(())
    }

    /// The demo keeps serving.
    pub fn serving(&mut self, service1: SocketAddr) -> io::Result<()> {
        writeln!(
            self.out,
            "Serving: curl localhost:{} to see another trace, Ctrl-C to stop.",
            service1.port()
        )?;
        writeln!(self.out)?;
        self.out.flush()
    }

    /// The demo is stopping.
    pub fn stopping(&mut self) -> io::Result<()> {
        writeln!(
            self.out,
            "Stopping: finishing requests in flight, flushing spans."
        )?;
        self.out.flush()
    }
}

/// What the header `name` with `value` means, from `meanings`: the sampling and debug
/// flags are explained by their value, the others by their name.
fn meaning(meanings: &[(&str, &'static str)], name: &str, value: &str) -> &'static str {
    match (name, value) {
        ("X-B3-Sampled", "0") => "0 = do not record this trace",
        ("X-B3-Flags", "1") => "1 = debug: record this trace whatever the sample rate",
        _ => meanings
            .iter()
            .find(|(known, _)| *known == name)
            .map_or("", |(_, meaning)| meaning),
    }
}

/// A number without trailing zeros: `7`, `0.35`, `0.07`.
fn number(value: f64) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_lose_trailing_zeros() {
        assert_eq!(number(7.0), "7");
        assert_eq!(number(0.35), "0.35");
        assert_eq!(number(0.07), "0.07");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(12.5), "12.5");
    }

    #[test]
    fn findings_come_under_the_waterfall_and_only_when_there_are_some() {
        let options = WaterfallOptions {
            width: 100,
            colour: false,
        };
        let examples = collector::doctor::examples();
        for (name, finding) in [
            ("healthy article", None),
            ("orphan task", Some("[context-lost]")),
        ] {
            let example = examples.iter().find(|e| e.name == name).unwrap();
            let trace = CollectedTrace {
                trace_id: example.spans[0].trace_id,
                spans: example.spans.clone(),
                complete: true,
                sampled: true,
                headers: Vec::new(),
            };
            let mut printer = Printer::new(Vec::new(), options);
            printer.trace(&trace, None).unwrap();
            let text = String::from_utf8(printer.into_inner()).unwrap();
            match finding {
                None => assert!(!text.contains("Doctor"), "{text}"),
                Some(id) => {
                    let rows = text.find("service2: db_search").unwrap();
                    let found = text.find(id).unwrap_or_else(|| panic!("{text}"));
                    let headers = text.find("received no B3 headers").unwrap();
                    assert!(rows < found && found < headers, "{text}");
                }
            }
        }
    }

    #[test]
    fn headers_are_aligned_and_explained() {
        let options = WaterfallOptions {
            width: 80,
            colour: false,
        };
        let mut printer = Printer::new(Vec::new(), options);
        let request = CapturedRequest {
            method: "GET".into(),
            path: "/service/".into(),
            headers: vec![
                ("X-B3-TraceId".into(), "463ac35c9f6413ad".into()),
                ("X-B3-Sampled".into(), "1".into()),
            ],
            sampled: Some(true),
        };
        printer.headers(&request).unwrap();
        let text = String::from_utf8(printer.into_inner()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].contains("GET /service/"));
        assert!(lines[1].starts_with("  X-B3-TraceId: 463ac35c9f6413ad"));
        assert_eq!(
            lines[2],
            "  X-B3-Sampled: 1                 1 = record this trace"
        );
    }
}
