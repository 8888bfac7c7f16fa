//! The rules about time: a child outside its parent's interval on another host
//! (`clock-skew`, with the shift Zipkin's UI would apply), timestamps in the wrong unit
//! (`timestamp-unit`), and finished spans without a duration (`zero-duration`). Only spans
//! of different services are compared for skew: one host's spans share a clock.

use zipkin_tracing::{Kind, Span};

use super::Finding;
use super::rules::{CLOCK_SKEW, TIMESTAMP_UNIT, ZERO_DURATION};
use super::view::{MICROS, TraceView, describe, micros, same_service};
use crate::waterfall::format_duration;

/// `clock-skew`: a span that starts before its parent on another service, or a SERVER
/// that ends after its CLIENT. (A CONSUMER may well end after its PRODUCER, and work a
/// local span started on another service may outlive it: only their starts are checked.)
pub(crate) fn clock_skew(view: &TraceView<'_>, findings: &mut Vec<Finding>) {
    for (index, child) in view.spans.iter().enumerate() {
        let Some(parent) = view.parent(index).map(|i| &view.spans[i]) else {
            continue;
        };
        if same_service(parent, child) {
            continue;
        }
        let (Some(start), Some(child_start)) = (micros(parent), micros(child)) else {
            continue;
        };
        let rpc = (parent.kind, child.kind) == (Some(Kind::Client), Some(Kind::Server));
        let early = start.saturating_sub(child_start);
        let late = match (parent.duration, child.duration) {
            (Some(length), Some(child_length)) if rpc => {
                (child_start + child_length).saturating_sub(start + length)
            }
            _ => 0,
        };
        if early == 0 && late == 0 {
            continue;
        }
        let outside = if early > 0 {
            format!("starts {} before", format_duration(early))
        } else {
            format!("ends {} after", format_duration(late))
        };
        let service = child.service_name().unwrap_or("unknown");
        let correction = match lens_skew(parent, child) {
            Some(skew) => {
                let way = if skew < 0 { "later" } else { "earlier" };
                let by = format_duration(skew.unsigned_abs());
                let local = child.local_endpoint.as_ref();
                let ip = local.is_some_and(|e| e.ipv4.is_some() || e.ipv6.is_some());
                let caveat = if ip {
                    ""
                } else {
                    " (it moves only spans whose local endpoint has an IP address, which \
                     this one lacks, so there it shows the skew as reported)"
                };
                format!("Zipkin's UI moves {service}'s spans {by} {way} to fit{caveat}")
            }
            None if rpc => {
                // Where the UI's rule would put it: centred, half the slack each way.
                let slack = parent
                    .duration
                    .unwrap_or(0)
                    .saturating_sub(child.duration.unwrap_or(0));
                let centred = (child_start - start).saturating_sub(slack / 2);
                format!(
                    "Zipkin's UI leaves it as it is (it only corrects a server that starts \
                     before its client); centred in its client, {service}'s spans would \
                     move {} earlier",
                    format_duration(centred)
                )
            }
            None => "Zipkin's UI leaves it as it is (it only corrects a SERVER span under a \
                     CLIENT span)"
                .to_owned(),
        };
        findings.push(Finding::new(
            CLOCK_SKEW,
            [parent.id, child.id],
            format!(
                "{} {outside} its parent {}: {correction}",
                describe(child),
                describe(parent)
            ),
        ));
    }
}

/// The skew Zipkin's UI (zipkin-lens `clock-skew.js`) finds between a CLIENT and the
/// SERVER under it, in microseconds; it subtracts it from the server's subtree. Like the
/// UI, only a server that starts no later than its client counts. When both durations are
/// known, the server is centred in the client (half the time difference each way);
/// otherwise, or when the server lasts longer, it is moved to start 1µs after the client.
pub fn lens_skew(client: &Span, server: &Span) -> Option<i64> {
    if client.kind != Some(Kind::Client) || server.kind != Some(Kind::Server) {
        return None;
    }
    let client_start = i64::try_from(client.timestamp?).ok()?;
    let server_start = i64::try_from(server.timestamp?).ok()?;
    if server_start > client_start {
        return None;
    }
    let durations = client
        .duration
        .zip(server.duration)
        .filter(|(c, s)| *c > 0 && *s > 0);
    let Some((client_length, server_length)) = durations else {
        return Some(server_start - client_start - 1);
    };
    let (client_length, server_length) = (
        i64::try_from(client_length).ok()?,
        i64::try_from(server_length).ok()?,
    );
    if client_length < server_length {
        return Some(server_start - client_start - 1);
    }
    // The UI divides in floating point; whole microseconds are what a timestamp holds.
    let latency = (client_length - server_length) / 2;
    let skew = server_start - latency - client_start;
    (skew != 0).then_some(skew)
}

/// `timestamp-unit`: a span or annotation timestamp that is not epoch microseconds.
pub(crate) fn timestamp_unit(view: &TraceView<'_>, findings: &mut Vec<Finding>) {
    for span in view.spans {
        let stamps = span.timestamp.into_iter().map(|ts| ("timestamp", ts));
        let annotations = span
            .annotations
            .iter()
            .map(|a| ("an annotation", a.timestamp));
        let Some((field, value)) = stamps
            .chain(annotations)
            .find(|(_, ts)| !MICROS.contains(ts))
        else {
            continue;
        };
        let unit = match value {
            100_000_000_000..100_000_000_000_000 => "milliseconds: multiply by 1000",
            100_000_000_000_000_000.. => "nanoseconds: divide by 1000",
            1_000_000_000..100_000_000_000 => "seconds: multiply by 1000000",
            _ => "not a time since 1970",
        };
        let year = 1970 + value / 31_557_600_000_000;
        findings.push(Finding::new(
            TIMESTAMP_UNIT,
            [span.id],
            format!(
                "{} has {field} {value}, which as microseconds would be the year {year}: \
                 it looks like {unit}",
                describe(span)
            ),
        ));
    }
}

/// `zero-duration`: a started span (it has a timestamp) none of whose reports has a
/// duration above 0. A local span that only carries annotations is a deliberate event
/// marker and is left alone.
pub(crate) fn zero_duration(view: &TraceView<'_>, findings: &mut Vec<Finding>) {
    for group in view.reports() {
        let reports: Vec<&Span> = group.iter().map(|&i| &view.spans[i]).collect();
        let Some(first) = reports.iter().find(|span| span.timestamp.is_some()) else {
            continue;
        };
        let finished = reports.iter().any(|span| span.duration.unwrap_or(0) > 0);
        let marker = first.kind.is_none() && reports.iter().any(|s| !s.annotations.is_empty());
        if finished || marker {
            continue;
        }
        let what = if reports.iter().any(|span| span.duration == Some(0)) {
            "a duration of 0"
        } else {
            "no duration"
        };
        findings.push(Finding::new(
            ZERO_DURATION,
            [first.id],
            format!(
                "{} has {what}: the waterfall cannot draw it, and trace searches by \
                 duration miss it",
                describe(first)
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use zipkin_tracing::{SpanId, TraceId};

    use super::*;

    fn call(kind: Kind, timestamp: u64, duration: Option<u64>) -> Span {
        let mut span = Span::new(TraceId::random_64(), SpanId::new(1).unwrap());
        span.kind = Some(kind);
        span.timestamp = Some(timestamp);
        span.duration = duration;
        span
    }

    #[test]
    fn the_skew_is_the_one_zipkins_ui_computes() {
        let client = call(Kind::Client, 1_000, Some(100));
        // Centred: 20 µs of latency each way, so the server should start at 1 020.
        assert_eq!(
            lens_skew(&client, &call(Kind::Server, 900, Some(60))),
            Some(-120)
        );
        // A server lasting longer than its client: 1 µs after the client's start.
        assert_eq!(
            lens_skew(&client, &call(Kind::Server, 990, Some(200))),
            Some(-11)
        );
        // One way (no server duration): 1 µs after the client's start.
        assert_eq!(
            lens_skew(&client, &call(Kind::Server, 950, None)),
            Some(-51)
        );
        // Starting after the client: the UI sees no skew, even when it ends late.
        assert_eq!(
            lens_skew(&client, &call(Kind::Server, 1_050, Some(90))),
            None
        );
        // Already centred.
        assert_eq!(
            lens_skew(&client, &call(Kind::Server, 1_000, Some(100))),
            None
        );
        // Only a CLIENT over a SERVER.
        let local = call(Kind::Producer, 1_000, Some(100));
        assert_eq!(lens_skew(&local, &call(Kind::Server, 900, Some(60))), None);
    }

    #[test]
    fn a_skew_finding_names_the_offset_and_whether_the_ui_applies_it() {
        let example = super::super::examples()
            .into_iter()
            .find(|e| e.name == "clock skew")
            .unwrap();
        let findings = super::super::diagnose(&example.spans, &[]);
        let message = &findings[0].message;
        assert!(message.contains("starts 48.952ms before"), "{message}");
        assert!(message.contains("49.756ms later"), "{message}");
        assert!(message.contains("lacks"), "{message}");

        let example = super::super::examples()
            .into_iter()
            .find(|e| e.name == "late server")
            .unwrap();
        let findings = super::super::diagnose(&example.spans, &[]);
        let message = &findings[0].message;
        assert!(message.contains("ends 4.440ms after"), "{message}");
        assert!(message.contains("leaves it as it is"), "{message}");
        assert!(message.contains("move 5.244ms earlier"), "{message}");
    }
}
