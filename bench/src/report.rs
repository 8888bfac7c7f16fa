//! Output helpers shared by the benchmark binaries: medians, markdown tables, and the
//! command line that produced a result.
//!
//! Every binary prints the exact command it was run with next to its table, so a number in
//! `BENCHMARKS.md` can always be reproduced; results over several rounds are summarised by
//! their median, which one noisy round on a shared machine cannot drag.

use std::fmt::Write as _;

/// The median of `values` (the mean of the middle two for an even count); NaN if empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// A markdown table: a header row and rows of already formatted cells.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Self {
        Table {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are left empty, extra cells are kept.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as GitHub-flavoured markdown, columns padded to line up in a terminal.
    pub fn to_markdown(&self) -> String {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.headers.len()])
            .max()
            .unwrap_or(0);
        let cell = |row: &[String], i: usize| row.get(i).cloned().unwrap_or_default();
        let widths: Vec<usize> = (0..columns)
            .map(|i| {
                self.rows
                    .iter()
                    .map(|row| cell(row, i).chars().count())
                    .chain([cell(&self.headers, i).chars().count(), 3])
                    .max()
                    .unwrap_or(3)
            })
            .collect();
        let mut out = String::new();
        let mut line = |row: &[String]| {
            out.push('|');
            for (i, width) in widths.iter().enumerate() {
                let text = cell(row, i);
                let pad = width - text.chars().count();
                let _ = write!(out, " {text}{} |", " ".repeat(pad));
            }
            out.push('\n');
        };
        line(&self.headers);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(&rule);
        for row in &self.rows {
            line(row);
        }
        out
    }
}

/// How to run `bin` again with this process's arguments:
/// `cargo run --release -p bench --bin {bin} -- {args}`, quoting arguments that need it.
pub fn command_line(bin: &str) -> String {
    let args: Vec<String> = std::env::args().skip(1).map(|a| shell_quote(&a)).collect();
    let mut command = format!("cargo run --release -p bench --bin {bin}");
    if !args.is_empty() {
        command.push_str(" -- ");
        command.push_str(&args.join(" "));
    }
    command
}

/// `text` as one shell word: as it is when that is safe, else in single quotes.
fn shell_quote(text: &str) -> String {
    let safe = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=.,/:@+".contains(c));
    if safe {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// A number with thousands separators, e.g. `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Parses a number of seconds above zero, for duration flags.
pub fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 86_400.0 => {
            Ok(std::time::Duration::from_secs_f64(secs))
        }
        _ => Err(format!(
            "expected a number of seconds above 0 (and under a day), got {text:?}"
        )),
    }
}

/// Parses a number of seconds of zero or more, for warm-up flags.
pub fn parse_seconds_or_zero(text: &str) -> Result<std::time::Duration, String> {
    if text.parse::<f64>().is_ok_and(|secs| secs == 0.0) {
        return Ok(std::time::Duration::ZERO);
    }
    parse_seconds(text).map_err(|_| {
        format!("expected a number of seconds, 0 or more (and under a day), got {text:?}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_even_and_empty_lists() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn tables_line_up() {
        let mut table = Table::new(&["variant", "req/s"]);
        table.row(vec!["untraced".into(), "12".into()]);
        assert_eq!(
            table.to_markdown(),
            "| variant  | req/s |\n| -------- | ----- |\n| untraced | 12    |\n"
        );
    }

    #[test]
    fn numbers_and_words_are_formatted() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(shell_quote("--rounds=3"), "--rounds=3");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn seconds_must_be_positive_and_finite() {
        assert_eq!(
            parse_seconds("1.5"),
            Ok(std::time::Duration::from_millis(1500))
        );
        for bad in ["0", "-1", "NaN", "inf", "soon"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_seconds_or_zero("0"), Ok(std::time::Duration::ZERO));
        assert!(parse_seconds_or_zero("-0.5").is_err());
    }
}
