//! A trace drawn as text, like the trace page of the Zipkin UI.
//!
//! One row per span, in tree order (parents before children, siblings by start time),
//! indented by depth, with the service and span name, the duration in human units, and a
//! bar on a time axis shared by the whole trace, so overlaps and gaps are visible at a
//! glance. Every line fits the given width; ANSI colour is added only when asked for.
//!
//! ```
//! use collector::waterfall::{WaterfallOptions, render};
//!
//! let options = WaterfallOptions { width: 80, colour: false };
//! assert_eq!(render(&[], &options), "(empty trace)\n");
//! ```

pub(crate) mod tree;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::IsTerminal;

use zipkin_tracing::Span;

/// Width of the duration column: `999.999ms` is the longest common case.
const DURATION_WIDTH: usize = 9;
/// Below this width rows drop the bar and keep only the name and duration.
const MIN_WIDTH_FOR_BAR: usize = DURATION_WIDTH + 4 + 20;
/// ANSI colours given to services in name order, as the Zipkin UI colours by service.
const PALETTE: [&str; 6] = ["36", "35", "33", "32", "34", "96"];
const BOLD: &str = "1";
const RED: &str = "31";

/// How to draw a waterfall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaterfallOptions {
    /// Maximum width of every line, in characters.
    pub width: usize,
    /// Whether to add ANSI colour codes (they take no width).
    pub colour: bool,
}

impl WaterfallOptions {
    /// Options for standard output: [`terminal_width`] and [`colour_enabled`].
    pub fn for_stdout() -> Self {
        WaterfallOptions {
            width: terminal_width(),
            colour: colour_enabled(),
        }
    }
}

/// The terminal width from the `COLUMNS` environment variable, or 100.
pub fn terminal_width() -> usize {
    width_from(std::env::var("COLUMNS").ok().as_deref())
}

/// A width from a `COLUMNS` value: a positive whole number, otherwise 100.
pub fn width_from(columns: Option<&str>) -> usize {
    columns
        .and_then(|text| text.trim().parse().ok())
        .filter(|&width: &usize| width > 0)
        .unwrap_or(100)
}

/// Whether standard output should get colour: it is a terminal and `NO_COLOR` is unset
/// or empty.
pub fn colour_enabled() -> bool {
    should_colour(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// The rule behind [`colour_enabled`]: colour on a terminal unless `NO_COLOR` is present
/// and not empty, whatever its value (<https://no-color.org>).
pub fn should_colour(is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// A duration in microseconds in human units: `845µs`, `12.345ms`, `7.003s`.
pub fn format_duration(micros: u64) -> String {
    match micros {
        0..1_000 => format!("{micros}µs"),
        1_000..1_000_000 => format!("{}.{:03}ms", micros / 1_000, micros % 1_000),
        _ => {
            let millis = micros / 1_000;
            format!("{}.{:03}s", millis / 1_000, millis % 1_000)
        }
    }
}

/// Draws `spans` (one trace) as a header, a time scale and one row per span, each line
/// ending in `\n` and at most `options.width` characters wide, not counting colour codes.
pub fn render(spans: &[Span], options: &WaterfallOptions) -> String {
    let Some(first) = spans.first() else {
        return "(empty trace)\n".to_owned();
    };
    let services: BTreeSet<&str> = spans.iter().filter_map(Span::service_name).collect();
    let services: Vec<&str> = services.into_iter().collect();
    let axis = Axis::of(spans);
    let total = axis.map_or_else(|| "?".to_owned(), |a| format_duration(a.length));
    let painter = Painter {
        colour: options.colour,
    };
    let mut out = String::new();

    let plural = if spans.len() == 1 { "" } else { "s" };
    let services_text = if services.is_empty() {
        "?".to_owned()
    } else {
        services.join(", ")
    };
    let header = format!(
        "Trace {} | {} span{plural} | {total} | {services_text}",
        first.trace_id,
        spans.len(),
    );
    painter.line(
        &mut out,
        &[(fit(&header, options.width, false), Some(BOLD))],
    );

    let (label_width, bar_width) = columns(options.width);
    // The time scale over the bars: where 0 and the trace's end fall.
    if bar_width >= total.chars().count() + 2 {
        let blank = " ".repeat(label_width + 1 + DURATION_WIDTH);
        let scale = format!("{blank} |0{total:>0$}|", bar_width - 1);
        painter.line(&mut out, &[(scale, None)]);
    }
    for row in tree::rows(spans) {
        let span = row.span;
        let service = span.service_name().unwrap_or("unknown");
        let hue = services
            .iter()
            .position(|s| *s == service)
            .map(|i| PALETTE[i % PALETTE.len()]);
        let name_hue = span.tags.contains_key("error").then_some(RED);
        // Deep trees keep half the label for names.
        let indent = " ".repeat((2 * row.depth).min(label_width / 2));
        let name = format!(": {}", span.name.as_deref().unwrap_or("-"));
        let [indent, service, name] = fit_parts([&indent, service, &name], label_width);
        let mut parts = vec![(indent, None), (service, hue), (name, name_hue)];
        if options.width > DURATION_WIDTH {
            let duration = span
                .duration
                .map_or_else(|| "?".to_owned(), format_duration);
            parts.push((format!(" {}", fit(&duration, DURATION_WIDTH, true)), None));
        }
        if bar_width > 0 {
            let (before, filled, after) =
                axis.map_or((bar_width, 0, 0), |a| a.cells(span, bar_width));
            parts.push((format!(" |{}", " ".repeat(before)), None));
            parts.push(("█".repeat(filled), hue));
            parts.push((format!("{}|", " ".repeat(after)), None));
        }
        painter.line(&mut out, &parts);
    }
    out
}

/// Splits `width` between the label and the bar; `(label, 0)` when too narrow for a bar.
fn columns(width: usize) -> (usize, usize) {
    if width >= MIN_WIDTH_FOR_BAR {
        let shared = width - DURATION_WIDTH - 4; // " " before the duration, " |" and "|"
        let bar = shared * 2 / 5;
        (shared - bar, bar)
    } else if width > DURATION_WIDTH {
        (width - DURATION_WIDTH - 1, 0)
    } else {
        (width, 0)
    }
}

/// The time axis of a trace: its first start and its length in microseconds.
#[derive(Debug, Clone, Copy)]
struct Axis {
    start: u64,
    length: u64,
}

impl Axis {
    fn of(spans: &[Span]) -> Option<Self> {
        let start = spans.iter().filter_map(|s| s.timestamp).min()?;
        let end = spans
            .iter()
            .filter_map(|s| Some(s.timestamp?.saturating_add(s.duration.unwrap_or(0))))
            .max()?;
        Some(Axis {
            start,
            length: end - start,
        })
    }

    /// Cells of a `width`-cell bar: empty before, filled, empty after. A span with a
    /// timestamp always fills at least one cell; one without fills none.
    fn cells(self, span: &Span, width: usize) -> (usize, usize, usize) {
        let Some(timestamp) = span.timestamp else {
            return (width, 0, 0);
        };
        let length = u128::from(self.length.max(1));
        let cell = |micros: u64, round_up: bool| {
            let scaled = u128::from(micros) * width as u128;
            let cell = if round_up {
                scaled.div_ceil(length)
            } else {
                scaled / length
            };
            usize::try_from(cell).unwrap_or(usize::MAX).min(width)
        };
        let offset = timestamp - self.start;
        let first = cell(offset, false).min(width - 1);
        let last = cell(offset.saturating_add(span.duration.unwrap_or(0)), true).max(first + 1);
        (first, last - first, width - last)
    }
}

/// Adds colour codes, or not.
#[derive(Debug, Clone, Copy)]
struct Painter {
    colour: bool,
}

impl Painter {
    fn line(self, out: &mut String, parts: &[(String, Option<&str>)]) {
        for (text, style) in parts {
            match style {
                Some(code) if self.colour && !text.is_empty() => {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "\x1b[{code}m{text}\x1b[0m");
                }
                _ => out.push_str(text),
            }
        }
        out.push('\n');
    }
}

/// `text` cut to `width` characters (ending in `…` when cut), and if `pad`, right-aligned
/// in exactly `width` characters.
fn fit(text: &str, width: usize, pad: bool) -> String {
    let length = text.chars().count();
    if length > width {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        if width > 0 {
            cut.push('…');
        }
        cut
    } else if pad {
        format!("{text:>width$}")
    } else {
        text.to_owned()
    }
}

/// Fits consecutive `parts` into exactly `width` characters as a whole: cut with `…` if
/// too long, padded with trailing spaces if short.
fn fit_parts<const N: usize>(parts: [&str; N], width: usize) -> [String; N] {
    let total: usize = parts.iter().map(|p| p.chars().count()).sum();
    let cut = total > width;
    let mut budget = if cut { width.saturating_sub(1) } else { width };
    let mut out = parts.map(|part| {
        let taken: String = part.chars().take(budget).collect();
        budget -= taken.chars().count();
        taken
    });
    // Now `budget` is 0 if cut, else the padding needed.
    if let Some(last) = out.last_mut() {
        if cut && width > 0 {
            last.push('…');
        }
        last.extend(std::iter::repeat_n(' ', budget));
    }
    out
}
