//! Propagation formats: which headers a service reads a trace context from and writes it to.
//! Zipkin services speak B3; OpenTelemetry services speak W3C Trace Context by default.
//! A service between the two lists both (`PROPAGATION=b3,w3c`): it reads the first format
//! that a request carries, in the order listed, and writes every listed format on its
//! calls, so that neither side starts a new trace at the boundary.

use std::fmt;
use std::str::FromStr;

use http::HeaderMap;

use crate::b3::{self, B3Format, Extracted};
use crate::context::TraceContext;
use crate::w3c::{self, TraceState, W3cContext};

/// One way of carrying a trace context in HTTP headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PropagationFormat {
    /// B3: `X-B3-*` or `b3` headers, Zipkin's own.
    B3,
    /// W3C Trace Context: `traceparent` and `tracestate`, OpenTelemetry's default.
    W3c,
}

impl PropagationFormat {
    fn name(self) -> &'static str {
        match self {
            PropagationFormat::B3 => "b3",
            PropagationFormat::W3c => "w3c",
        }
    }
}

/// The formats a service reads and writes, in order: `b3` (the default), `w3c`, or both
/// (`b3,w3c` or `w3c,b3`). [`Tracer`](crate::Tracer)'s example sets one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Propagation {
    first: PropagationFormat,
    second: Option<PropagationFormat>,
}

impl Default for Propagation {
    /// B3 only, as Zipkin services expect.
    fn default() -> Self {
        Propagation {
            first: PropagationFormat::B3,
            second: None,
        }
    }
}

impl FromStr for Propagation {
    type Err = String;

    /// A comma-separated list of `b3` and `w3c`, each at most once; errors say what is expected.
    fn from_str(text: &str) -> Result<Self, String> {
        let expected = "expected b3, w3c, or both in the order to read them (b3,w3c or w3c,b3)";
        let mut formats = Vec::new();
        for name in text.split(',') {
            let format = match name.trim() {
                "b3" => PropagationFormat::B3,
                "w3c" => PropagationFormat::W3c,
                other => {
                    return Err(format!("unknown propagation format {other:?}: {expected}"));
                }
            };
            if formats.contains(&format) {
                return Err(format!("{name:?} is listed twice in {text:?}: {expected}"));
            }
            formats.push(format);
        }
        Ok(Propagation {
            first: formats[0],
            second: formats.get(1).copied(),
        })
    }
}

impl fmt::Display for Propagation {
    /// The setting's spelling: `b3`, `w3c`, `b3,w3c` or `w3c,b3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.first.name())?;
        if let Some(second) = self.second {
            write!(f, ",{}", second.name())?;
        }
        Ok(())
    }
}

/// What a request's headers said, in whichever format was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Incoming {
    /// The caller's context, a sampling decision alone, or nothing usable.
    pub(crate) extracted: Extracted,
    /// Whether a server may join the caller's span (share its id). Only B3 has shared
    /// spans; W3C callers, such as OpenTelemetry's, expect a child, so one is made.
    pub(crate) joinable: bool,
    /// The `tracestate` that came with a W3C context, to pass on.
    pub(crate) tracestate: Option<TraceState>,
}

impl Propagation {
    /// The listed formats, in order.
    fn formats(&self) -> impl Iterator<Item = PropagationFormat> {
        std::iter::once(self.first).chain(self.second)
    }

    /// Reads the first listed format the request carries validly: one absent or invalid
    /// gives way to the next, as in Brave's composite propagation, so when both formats
    /// come and disagree, the first listed wins.
    pub(crate) fn extract(&self, headers: &HeaderMap) -> Incoming {
        for format in self.formats() {
            match format {
                PropagationFormat::B3 => match b3::extract(headers) {
                    Extracted::Empty => {}
                    extracted => {
                        return Incoming {
                            extracted,
                            joinable: true,
                            tracestate: None,
                        };
                    }
                },
                PropagationFormat::W3c => {
                    if let Some(W3cContext {
                        context,
                        tracestate,
                    }) = w3c::extract_traceparent(headers)
                    {
                        return Incoming {
                            extracted: Extracted::Context(context),
                            joinable: false,
                            tracestate,
                        };
                    }
                }
            }
        }
        Incoming {
            extracted: Extracted::Empty,
            joinable: true,
            tracestate: None,
        }
    }

    /// Writes `context` in every listed format: B3 in `b3_format`, W3C with `tracestate`.
    pub(crate) fn inject(
        &self,
        context: &TraceContext,
        b3_format: B3Format,
        tracestate: Option<&TraceState>,
        headers: &mut HeaderMap,
    ) {
        for format in self.formats() {
            match format {
                PropagationFormat::B3 => b3::inject(context, b3_format, headers),
                PropagationFormat::W3c => w3c::inject_traceparent(context, tracestate, headers),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;
    use crate::context::SamplingFlags;

    const B3_TRACE: &str = "463ac35c9f6413ad48485a3953bb6124";
    const W3C_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

    fn both_formats() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "b3",
            HeaderValue::from_str(&format!("{B3_TRACE}-a2fb4a1d1a96d312-1")).unwrap(),
        );
        headers.insert(
            "traceparent",
            HeaderValue::from_str(&format!("00-{W3C_TRACE}-b7ad6b7169203331-01")).unwrap(),
        );
        headers.insert("tracestate", HeaderValue::from_static("congo=t61rcWkgMzE"));
        headers
    }

    fn trace_of(incoming: &Incoming) -> String {
        match incoming.extracted {
            Extracted::Context(context) => context.trace_id.to_string(),
            other => panic!("expected a context, got {other:?}"),
        }
    }

    #[test]
    fn settings_parse_in_order_and_bad_ones_say_what_is_expected() {
        for text in ["b3", "w3c", "b3,w3c", "w3c,b3", " b3 , w3c "] {
            let propagation: Propagation = text.parse().unwrap();
            assert_eq!(propagation.to_string(), text.replace(' ', ""), "{text}");
        }
        assert_eq!(Propagation::default().to_string(), "b3");
        for text in [
            "",
            "b3,",
            "tracecontext",
            "b3,b3",
            "B3",
            "b3,w3c,b3",
            "jaeger",
        ] {
            let error = text.parse::<Propagation>().unwrap_err();
            assert!(error.contains("expected b3, w3c"), "{text}: {error}");
        }
    }

    #[test]
    fn when_both_formats_come_and_disagree_the_first_listed_wins() {
        let headers = both_formats();
        let b3_first: Propagation = "b3,w3c".parse().unwrap();
        let incoming = b3_first.extract(&headers);
        assert_eq!(trace_of(&incoming), B3_TRACE);
        assert!(incoming.joinable && incoming.tracestate.is_none());

        let w3c_first: Propagation = "w3c,b3".parse().unwrap();
        let incoming = w3c_first.extract(&headers);
        assert_eq!(trace_of(&incoming), W3C_TRACE);
        assert!(!incoming.joinable, "a W3C caller's span is never joined");
        assert_eq!(
            incoming.tracestate.unwrap().0.to_str().unwrap(),
            "congo=t61rcWkgMzE"
        );
    }

    #[test]
    fn an_invalid_first_format_gives_way_to_a_valid_second() {
        let mut headers = both_formats();
        headers.insert("b3", HeaderValue::from_static("not-a-context"));
        let incoming = "b3,w3c".parse::<Propagation>().unwrap().extract(&headers);
        assert_eq!(trace_of(&incoming), W3C_TRACE);
        // With B3 alone, the same request starts a new trace.
        let b3_only = Propagation::default().extract(&headers);
        assert_eq!(b3_only.extracted, Extracted::Empty);
    }

    #[test]
    fn a_format_not_listed_is_not_read() {
        let mut headers = both_formats();
        headers.remove("b3");
        assert_eq!(
            Propagation::default().extract(&headers).extracted,
            Extracted::Empty
        );
    }

    #[test]
    fn every_listed_format_is_written() {
        let context = TraceContext::new_root(SamplingFlags::SAMPLED, true);
        let both: Propagation = "w3c,b3".parse().unwrap();
        let mut headers = HeaderMap::new();
        both.inject(&context, B3Format::Single, None, &mut headers);
        assert!(headers.contains_key("b3") && headers.contains_key("traceparent"));
        let mut headers = HeaderMap::new();
        "w3c"
            .parse::<Propagation>()
            .unwrap()
            .inject(&context, B3Format::Multi, None, &mut headers);
        assert_eq!(headers.len(), 1, "{headers:?}");
    }
}
