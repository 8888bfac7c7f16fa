//! The waterfall view: exact text for a fixed trace, width limits, and colour on request.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

mod common;

use std::ffi::OsStr;

use collector::waterfall::{WaterfallOptions, format_duration, render, should_colour, width_from};
use common::{T0, TRACE, article_trace, span};
use serde_json::json;
use zipkin_tracing::Span;

fn article() -> Vec<Span> {
    serde_json::from_value(article_trace(TRACE)).unwrap()
}

fn plain(width: usize) -> WaterfallOptions {
    WaterfallOptions {
        width,
        colour: false,
    }
}

/// Removes ANSI colour sequences (`ESC [ ... m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn the_article_trace_at_80_columns() {
    let expected = "\
Trace 463ac35c9f6413ad48485a3953bb6124 | 6 spans | 7.003ms | service1, service2
                                                    |0                  7.003ms|
service1: GET /                             7.003ms |██████████████████████████|
  service1: service_1_do_stuff              6.001ms |███████████████████████   |
    service1: GET /service/                 4.000ms |       ████████████████   |
      service2: GET /service/               3.998ms |       ████████████████   |
        service2: service_2_do_stuff        3.996ms |       ████████████████   |
          service2: db_search               2.001ms |              █████████   |
";
    assert_eq!(render(&article(), &plain(80)), expected);
}

#[test]
fn narrow_terminals_cut_names_then_drop_the_bar() {
    let expected = "\
Trace 463ac35c9f6413ad48485a3953bb6124 | 6 spans | 7.003ms …
                                        |0          7.003ms|
service1: GET /                 7.003ms |██████████████████|
  service1: service_1_do_stu…   6.001ms |████████████████  |
    service1: GET /service/     4.000ms |     ███████████  |
      service2: GET /service/   3.998ms |     ███████████  |
        service2: service_2_…   3.996ms |     ███████████  |
          service2: db_search   2.001ms |          ██████  |
";
    assert_eq!(render(&article(), &plain(60)), expected);
    let expected = "\
Trace 463ac35c9f6413…
service1: …   7.003ms
  service1…   6.001ms
    servic…   4.000ms
     servi…   3.998ms
     servi…   3.996ms
     servi…   2.001ms
";
    assert_eq!(render(&article(), &plain(21)), expected);
}

#[test]
fn every_line_fits_the_width() {
    for width in [0, 1, 2, 9, 10, 11, 20, 32, 33, 34, 50, 79, 80, 81, 120, 200] {
        let text = render(&article(), &plain(width));
        // Header, the time scale when the bar has room for it, six rows.
        let lines = text.lines().count();
        assert_eq!(
            lines,
            if width >= 40 { 8 } else { lines.clamp(7, 8) },
            "{width}"
        );
        for line in text.lines() {
            assert!(line.chars().count() <= width, "{width}: {line:?}");
        }
        // Coloured output has the same visible text.
        let coloured = render(
            &article(),
            &WaterfallOptions {
                width,
                colour: true,
            },
        );
        assert_eq!(strip_ansi(&coloured), text, "{width}");
    }
}

#[test]
fn colour_codes_appear_only_when_enabled() {
    let plain_text = render(&article(), &plain(80));
    assert!(!plain_text.contains('\x1b'));
    let coloured = render(
        &article(),
        &WaterfallOptions {
            width: 80,
            colour: true,
        },
    );
    // Services get colours in name order; the header is bold.
    assert!(coloured.starts_with("\x1b[1mTrace 463ac35c"), "{coloured}");
    assert!(
        coloured.contains("\x1b[36mservice1\x1b[0m: GET /"),
        "{coloured}"
    );
    assert!(
        coloured.contains("\x1b[35mservice2\x1b[0m: db_search"),
        "{coloured}"
    );
    assert!(coloured.contains("|\x1b[36m███"), "{coloured}");
}

#[test]
fn orphans_errors_and_untimed_spans() {
    let mut failed = span(
        TRACE,
        "0000000000000002",
        Some("0000000000000001"),
        "web",
        "GET /x",
        T0 + 500,
        500,
    );
    failed["tags"] = json!({"error": "boom"});
    let mut untimed = span(TRACE, "0000000000000003", None, "web", "late", 0, 1);
    untimed.as_object_mut().unwrap().remove("timestamp");
    untimed.as_object_mut().unwrap().remove("duration");
    let root = span(TRACE, "0000000000000004", None, "web", "GET /", T0, 1_000);
    let spans: Vec<Span> = serde_json::from_value(json!([untimed, failed, root])).unwrap();
    let expected = "\
Trace 463ac35c9f6413ad48485a3953bb6124 | 3 spans | 1.000ms | web
                                              |0              1.000ms|
web: GET /                            1.000ms |██████████████████████|
web: GET /x                             500µs |           ███████████|
web: late                                   ? |                      |
";
    assert_eq!(render(&spans, &plain(70)), expected);
    let coloured = render(
        &spans,
        &WaterfallOptions {
            width: 48,
            colour: true,
        },
    );
    assert!(
        coloured.contains("\x1b[31m: GET /x"),
        "errors are red: {coloured}"
    );
}

#[test]
fn empty_and_single_span_traces() {
    assert_eq!(render(&[], &plain(80)), "(empty trace)\n");
    let one: Vec<Span> = serde_json::from_value(json!([span(
        TRACE,
        "0000000000000001",
        None,
        "a",
        "b",
        T0,
        7
    )]))
    .unwrap();
    let text = render(&one, &plain(40));
    assert!(
        text.starts_with("Trace 463ac35c9f6413ad48485a3953bb6124 …\n"),
        "{text}"
    );
    assert!(render(&one, &plain(200)).contains("| 1 span | 7µs | a"));
}

#[test]
fn durations_use_human_units() {
    for (micros, text) in [
        (0, "0µs"),
        (999, "999µs"),
        (1_000, "1.000ms"),
        (12_345, "12.345ms"),
        (999_999, "999.999ms"),
        (1_000_000, "1.000s"),
        (7_003_456, "7.003s"),
        (3_600_000_000, "3600.000s"),
    ] {
        assert_eq!(format_duration(micros), text);
    }
}

#[test]
fn width_and_colour_helpers() {
    assert_eq!(width_from(None), 100);
    assert_eq!(width_from(Some("132")), 132);
    assert_eq!(width_from(Some("0")), 100);
    assert_eq!(width_from(Some("wide")), 100);
    assert!(should_colour(true, None));
    assert!(!should_colour(false, None));
    assert!(!should_colour(true, Some(OsStr::new("1"))));
    assert!(
        !should_colour(true, Some(OsStr::new("false"))),
        "any value disables colour"
    );
    assert!(
        should_colour(true, Some(OsStr::new(""))),
        "an empty NO_COLOR is ignored"
    );
}
