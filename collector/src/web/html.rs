//! The pieces every page shares: escaping, the page frame with its one stylesheet, and
//! small formatters. Span names, tags and service names come from clients, so every piece
//! of span data goes through [`escape`] before it reaches a page.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// The stylesheet of every page: readable from about 360 px wide, no horizontal scroll
/// (long ids and names wrap anywhere), services told apart by a left border colour.
const STYLE: &str = "
*{box-sizing:border-box}
body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#1d2433;background:#f6f7f9}
header{background:#1d2433;color:#fff;padding:.5em 1em;display:flex;flex-wrap:wrap;gap:.2em 1.2em}
header a{color:#fff;text-decoration:none}header b{margin-right:auto}
main{max-width:72em;margin:0 auto;padding:.5em 1em 2em}
h1{font-size:1.3em;margin:.6em 0}h2{font-size:1.1em;margin:1.2em 0 .4em}
main,p,li,td,th,summary,dd,code{overflow-wrap:anywhere}
code,pre{font:13px/1.4 ui-monospace,monospace}pre{white-space:pre-wrap;margin:.3em 0}
form{display:flex;flex-wrap:wrap;gap:.5em;align-items:end;margin:.5em 0}
label{display:flex;flex-direction:column;font-size:.85em;flex:1 1 9em}
input,select,button{font:inherit;padding:.3em;min-width:0}
.card{background:#fff;border:1px solid #d8dce3;border-left:4px solid #5b7bd5;
border-radius:4px;padding:.4em .6em;margin:.4em 0}
.muted{color:#5c6475;font-size:.9em}
.row{margin:.15em 0}.row summary{cursor:pointer;list-style-position:inside}
.track{position:relative;height:.7em;background:#e6e9ef;border-radius:2px;margin:.1em 0 .3em}
.bar{position:absolute;top:0;bottom:0;min-width:2px;background:#5b7bd5;border-radius:2px}
.err .bar{background:#d64545}.err>summary{color:#b02a2a}
table{border-collapse:collapse;width:100%;table-layout:fixed}
td,th{text-align:left;border-bottom:1px solid #d8dce3;padding:.2em .4em;vertical-align:top}
.finding{border-left-color:#d64545}.ok{border-left-color:#3a9a5b}
";

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, safe inside elements and quoted
/// attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` as one query-string value (form encoding), for links between pages.
pub(crate) fn url_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A whole page: `title` (escaped here) and `body`, HTML that callers escaped already.
pub(crate) fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} · stand-in Zipkin</title><style>{STYLE}</style></head><body>\
         <header><b>stand-in Zipkin</b><a href=\"/\">Traces</a>\
         <a href=\"/dependencies\">Dependencies</a></header><main>{body}</main></body></html>\n",
        title = escape(title),
    ))
}

/// A page saying what was wrong with the request, with `status`.
pub(crate) fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<h1>{}</h1><p class=\"card finding\">{}</p><p><a href=\"/\">All traces</a></p>",
        escape(title),
        escape(message)
    );
    (status, page(title, &body)).into_response()
}

/// The current time in epoch milliseconds (zero on a clock before 1970).
pub(crate) fn now_ms() -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH);
    u64::try_from(now.unwrap_or_default().as_millis()).unwrap_or(u64::MAX)
}

/// Epoch microseconds as `YYYY-MM-DD HH:MM:SS.mmm UTC`, computed without a date crate.
pub(crate) fn format_timestamp(micros: u64) -> String {
    let secs = micros / 1_000_000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03} UTC",
        rest / 3_600,
        rest / 60 % 60,
        rest % 60,
        micros / 1_000 % 1_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x&'y")</script>"#),
            "&lt;script&gt;alert(&quot;x&amp;&#39;y&quot;)&lt;/script&gt;"
        );
        assert_eq!(url_encode("GET /a b&c"), "GET+%2Fa+b%26c");
    }

    #[test]
    fn timestamps_read_as_utc_dates() {
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(
            format_timestamp(1_556_604_172_355_737),
            "2019-04-30 06:02:52.355 UTC"
        );
    }
}
