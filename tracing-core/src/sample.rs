//! Sampling: deciding, once per trace, whether its spans are reported. Recording every
//! request is rarely affordable, so the first service decides and the later ones follow it.
//! A sampler may decide by the trace id alone or, for a trace a request starts, by its
//! method and route too ([`RuleSampler`]).

use std::str::FromStr;
use std::sync::Mutex;
use std::time::Instant;

use http::Method;

use crate::id::TraceId;

/// Decides whether a new trace is sampled.
///
/// ```
/// use zipkin_tracing::{Sample, TraceId, Tracer};
/// struct EvenIds; // keeps the traces whose id is even
/// impl Sample for EvenIds {
///     fn sample(&self, trace_id: TraceId) -> bool { trace_id.low() % 2 == 0 }
/// }
/// let trace = Tracer::builder("svc").sampler(EvenIds).build().new_trace();
/// assert_eq!(trace.is_sampled(), trace.trace_id.low() % 2 == 0);
/// ```
pub trait Sample: Send + Sync + 'static {
    /// `true` to report the trace that `trace_id` starts.
    fn sample(&self, trace_id: TraceId) -> bool;

    /// `true` to report the trace that a request starts: its `method`, and its route
    /// template (`/items/{id}`) when the router matched one. By default, the trace id decides.
    fn sample_request(&self, trace_id: TraceId, method: &Method, route: Option<&str>) -> bool {
        let _ = (method, route);
        self.sample(trace_id)
    }
}

/// The sample rate is not a probability; [`ProbabilitySampler`]'s example meets one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("sample rate must be a number from 0.0 to 1.0, got {0}")]
pub struct SampleRateError(pub f64);

/// Samples a fixed fraction of traces.
///
/// The decision is a function of the trace id (its low 64 bits below a threshold), like
/// Brave's `BoundarySampler`: ids are random, so the fraction holds, and two services with
/// the same rate make the same decision for the same trace without any shared state.
///
/// ```
/// use zipkin_tracing::{ProbabilitySampler, Sample, SampleRateError, Tracer};
/// assert_eq!(ProbabilitySampler::new(25.0), Err(SampleRateError(25.0))); // not a percentage
/// let sampler = ProbabilitySampler::new(0.25).unwrap();
/// let trace = Tracer::builder("svc").sampler(sampler).build().new_trace();
/// assert_eq!(trace.is_sampled(), sampler.sample(trace.trace_id)); // same id, same decision
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbabilitySampler {
    rate: f64,
    /// Sample when `low 64 bits of the trace id <= threshold`; `None` never samples.
    threshold: Option<u64>,
}

impl ProbabilitySampler {
    /// A sampler keeping `rate` of all traces: 1.0 keeps all, 0.0 none.
    pub fn new(rate: f64) -> Result<Self, SampleRateError> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(SampleRateError(rate));
        }
        let threshold = if rate == 0.0 {
            None
        } else {
            // `as` saturates, so a rate of 1.0 gives u64::MAX: every id is sampled.
            Some((rate * u64::MAX as f64) as u64)
        };
        Ok(ProbabilitySampler { rate, threshold })
    }

    /// Samples every trace.
    pub fn always() -> Self {
        ProbabilitySampler {
            rate: 1.0,
            threshold: Some(u64::MAX),
        }
    }

    /// Samples no trace.
    pub fn never() -> Self {
        ProbabilitySampler {
            rate: 0.0,
            threshold: None,
        }
    }

    /// The configured probability.
    pub fn rate(&self) -> f64 {
        self.rate
    }
}

impl Sample for ProbabilitySampler {
    fn sample(&self, trace_id: TraceId) -> bool {
        self.threshold.is_some_and(|t| trace_id.low() <= t)
    }
}

/// Samples by request with first-match rules, as Brave's `HttpRuleSampler` does: a rule
/// matches a method, a route or both, and keeps a fraction of the traces it matches or at
/// most a number a second (Brave's `RateLimitingSampler`). A request no rule matches, and a
/// trace no request starts, is sampled by `otherwise` (`SAMPLE_RATE`).
///
/// Parsed from `SAMPLER_RULES`: rules separated by commas, each `[METHOD] ROUTE=KEEP`.
/// `ROUTE` is a route template as the router names it (`/items/{id}`), or ends with `*` to
/// match every route that starts with what comes before; `*` alone matches any request.
/// `KEEP` is a probability from 0 to 1, or `N/s` for at most N traces a second.
///
/// ```
/// use zipkin_tracing::{ProbabilitySampler, RuleSampler, Sample, TraceId};
/// let rules: RuleSampler = "GET /health=0, POST /orders=10/s, /api/*=0.5".parse().unwrap();
/// let sampler = rules.otherwise(ProbabilitySampler::new(0.01).unwrap());
/// let get = http::Method::GET;
/// assert!(!sampler.sample_request(TraceId::random_128(), &get, Some("/health")));
/// let error = "POST /orders=ten/s".parse::<RuleSampler>().unwrap_err();
/// assert!(error.starts_with(r#"rule 1 "POST /orders=ten/s""#), "{error}");
/// ```
#[derive(Debug, PartialEq)]
pub struct RuleSampler {
    rules: Vec<Rule>,
    otherwise: ProbabilitySampler,
}

/// One rule: which requests it matches, and how many of them it keeps.
#[derive(Debug, PartialEq)]
struct Rule {
    method: Option<Method>,
    /// The route, or its start when `prefix`; empty and a prefix for `*`.
    route: String,
    prefix: bool,
    keep: Keep,
}

/// How many of the traces a rule matches it keeps.
#[derive(Debug)]
enum Keep {
    /// A fixed fraction, decided by the trace id as [`ProbabilitySampler`] does.
    Fraction(ProbabilitySampler),
    /// At most `per_second` traces a second, from a bucket holding a tenth of a second's
    /// worth (at least one), so that a burst cannot spend a whole second's budget at once.
    PerSecond {
        per_second: f64,
        /// The tokens left, and when they were last topped up.
        bucket: Mutex<(f64, Instant)>,
    },
}

impl PartialEq for Keep {
    /// The same fraction, or the same rate whatever its budget holds now.
    fn eq(&self, other: &Keep) -> bool {
        match (self, other) {
            (Keep::Fraction(a), Keep::Fraction(b)) => a == b,
            (Keep::PerSecond { per_second: a, .. }, Keep::PerSecond { per_second: b, .. }) => {
                a == b
            }
            _ => false,
        }
    }
}

impl Keep {
    fn per_second(per_second: f64) -> Keep {
        let bucket = Mutex::new((Keep::capacity(per_second), Instant::now()));
        Keep::PerSecond { per_second, bucket }
    }

    fn capacity(per_second: f64) -> f64 {
        if per_second > 0.0 {
            (per_second / 10.0).max(1.0)
        } else {
            0.0
        }
    }

    fn sample(&self, trace_id: TraceId) -> bool {
        match self {
            Keep::Fraction(sampler) => sampler.sample(trace_id),
            Keep::PerSecond { per_second, bucket } => {
                let mut bucket = bucket
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let (tokens, refilled) = &mut *bucket;
                let now = Instant::now();
                let earned = now.duration_since(*refilled).as_secs_f64() * per_second;
                *tokens = (*tokens + earned).min(Keep::capacity(*per_second));
                *refilled = now;
                let kept = *tokens >= 1.0;
                if kept {
                    *tokens -= 1.0;
                }
                kept
            }
        }
    }
}

impl Clone for RuleSampler {
    /// The same rules, each rate with a budget of its own: two services never share one.
    fn clone(&self) -> Self {
        let rules = self.rules.iter().map(|rule| Rule {
            method: rule.method.clone(),
            route: rule.route.clone(),
            prefix: rule.prefix,
            keep: match &rule.keep {
                Keep::Fraction(sampler) => Keep::Fraction(*sampler),
                Keep::PerSecond { per_second, .. } => Keep::per_second(*per_second),
            },
        });
        RuleSampler {
            rules: rules.collect(),
            otherwise: self.otherwise,
        }
    }
}

impl RuleSampler {
    /// These rules, with `otherwise` for what they do not match (default: sample all).
    pub fn otherwise(mut self, otherwise: ProbabilitySampler) -> Self {
        self.otherwise = otherwise;
        self
    }
}

impl Sample for RuleSampler {
    fn sample(&self, trace_id: TraceId) -> bool {
        self.otherwise.sample(trace_id)
    }

    fn sample_request(&self, trace_id: TraceId, method: &Method, route: Option<&str>) -> bool {
        let route = route.unwrap_or_default();
        let matches = |rule: &&Rule| {
            rule.method.as_ref().is_none_or(|m| m == method)
                && if rule.prefix {
                    route.starts_with(&rule.route)
                } else {
                    route == rule.route
                }
        };
        match self.rules.iter().find(matches) {
            Some(rule) => rule.keep.sample(trace_id),
            None => self.otherwise.sample(trace_id),
        }
    }
}

impl FromStr for RuleSampler {
    type Err = String;

    /// Rules as `SAMPLER_RULES` spells them (see [`RuleSampler`]); an error names the rule.
    fn from_str(text: &str) -> Result<Self, String> {
        let rules = text
            .split(',')
            .map(str::trim)
            .enumerate()
            .map(|(index, rule)| {
                parse_rule(rule).map_err(|why| format!("rule {} {rule:?}: {why}", index + 1))
            });
        let rules = rules.collect::<Result<_, _>>()?;
        Ok(RuleSampler {
            rules,
            otherwise: ProbabilitySampler::always(),
        })
    }
}

fn parse_rule(rule: &str) -> Result<Rule, String> {
    let expected = "expected [METHOD] ROUTE=KEEP, such as GET /health=0 or POST /orders=10/s";
    let (matcher, keep) = rule.rsplit_once('=').ok_or(expected)?;
    let (method, route) = match matcher.trim().split_once(' ') {
        Some((method, route)) => (Some(method), route.trim()),
        None => (None, matcher.trim()),
    };
    let method = match method {
        Some(name) if !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase()) => {
            Some(Method::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?)
        }
        Some(name) => return Err(format!("{name:?} is not a method in upper case, like GET")),
        None => None,
    };
    let (route, prefix) = match route.strip_suffix('*') {
        Some(start) => (start, true),
        None => (route, false),
    };
    if !(route.starts_with('/') || (prefix && route.is_empty())) {
        return Err(format!("the route must start with / or be *; {expected}"));
    }
    let keep = keep.trim();
    let keep = match keep.strip_suffix("/s") {
        Some(count) => match count.trim().parse::<f64>() {
            Ok(count) if count.is_finite() && count >= 0.0 => Keep::per_second(count),
            _ => {
                return Err(format!(
                    "{keep:?} is not a number of traces a second, like 10/s"
                ));
            }
        },
        None => keep
            .parse::<f64>()
            .ok()
            .and_then(|rate| ProbabilitySampler::new(rate).ok())
            .map(Keep::Fraction)
            .ok_or_else(|| format!("{keep:?} is not a probability from 0 to 1, or N/s"))?,
    };
    let route = route.to_owned();
    Ok(Rule {
        method,
        route,
        prefix,
        keep,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampled_count(sampler: &ProbabilitySampler, n: usize) -> usize {
        (0..n)
            .filter(|_| sampler.sample(TraceId::random_128()))
            .count()
    }

    #[test]
    fn rate_one_keeps_all_and_rate_zero_none() {
        assert_eq!(
            sampled_count(&ProbabilitySampler::new(1.0).unwrap(), 10_000),
            10_000
        );
        assert_eq!(sampled_count(&ProbabilitySampler::always(), 10_000), 10_000);
        assert_eq!(
            sampled_count(&ProbabilitySampler::new(0.0).unwrap(), 10_000),
            0
        );
        assert_eq!(sampled_count(&ProbabilitySampler::never(), 10_000), 0);
    }

    #[test]
    fn the_sampled_fraction_matches_the_rate() {
        // n = 100_000 draws: the standard deviation of the count is sqrt(n p (1-p)), at most
        // 158. Six deviations (~950) make a false failure about one in a billion runs.
        let n = 100_000;
        for rate in [0.01, 0.1, 0.25, 0.5, 0.9] {
            let count = sampled_count(&ProbabilitySampler::new(rate).unwrap(), n) as f64;
            let expected = rate * n as f64;
            let sigma = (n as f64 * rate * (1.0 - rate)).sqrt();
            assert!(
                (count - expected).abs() < 6.0 * sigma,
                "rate {rate}: {count} sampled of {n}, expected about {expected}"
            );
        }
    }

    #[test]
    fn the_same_trace_gets_the_same_decision() {
        let sampler = ProbabilitySampler::new(0.5).unwrap();
        for _ in 0..1000 {
            let id = TraceId::random_64();
            assert_eq!(sampler.sample(id), sampler.sample(id));
        }
    }

    #[test]
    fn rates_outside_zero_to_one_are_rejected() {
        for bad in [-0.1, 1.5, 100.0, f64::NAN, f64::INFINITY] {
            let err = ProbabilitySampler::new(bad).unwrap_err();
            assert!(err.to_string().contains("0.0 to 1.0"), "{err}");
        }
    }

    fn kept(sampler: &RuleSampler, method: Method, route: Option<&str>, n: usize) -> usize {
        (0..n)
            .filter(|_| sampler.sample_request(TraceId::random_128(), &method, route))
            .count()
    }

    #[test]
    fn the_first_matching_rule_decides_and_the_rest_fall_to_otherwise() {
        let rules = "GET /health=0, /orders/*=1, POST *=0, *=0".parse::<RuleSampler>();
        let sampler = rules.unwrap().otherwise(ProbabilitySampler::always());
        assert_eq!(kept(&sampler, Method::GET, Some("/health"), 100), 0);
        assert_eq!(kept(&sampler, Method::POST, Some("/orders/{id}"), 100), 100);
        assert_eq!(kept(&sampler, Method::POST, Some("/payments"), 100), 0);
        assert_eq!(
            kept(&sampler, Method::GET, None, 100),
            0,
            "no route: only * matches"
        );
        assert!(
            sampler.sample(TraceId::random_128()),
            "no request: otherwise decides"
        );
        let only_health: RuleSampler = "GET /health=0".parse().unwrap();
        let sampler = only_health.otherwise(ProbabilitySampler::never());
        assert_eq!(kept(&sampler, Method::HEAD, Some("/health"), 10), 0);
        assert_eq!(
            kept(&sampler, Method::GET, Some("/health/deep"), 10),
            0,
            "exact"
        );
    }

    #[test]
    fn a_rate_keeps_a_burst_to_a_tenth_of_a_second_and_clones_have_their_own() {
        let sampler: RuleSampler = "*=100/s".parse().unwrap();
        let burst = kept(&sampler, Method::GET, Some("/"), 1_000);
        // Ten in the bucket, and at most one more earned while the burst ran.
        assert!(
            (10..=11).contains(&burst),
            "{burst} kept of a burst of 1000 at 100/s"
        );
        let slow: RuleSampler = "*=1/s".parse().unwrap();
        assert_eq!(kept(&slow, Method::GET, Some("/"), 1_000), 1);
        assert_eq!(kept(&slow.clone(), Method::GET, Some("/"), 1_000), 1);
        let never: RuleSampler = "*=0/s".parse().unwrap();
        assert_eq!(kept(&never, Method::GET, Some("/"), 10), 0);
    }

    #[test]
    fn a_bad_rule_is_refused_by_its_number_and_text() {
        for (rules, says) in [
            (
                "GET /health",
                r#"rule 1 "GET /health": expected [METHOD] ROUTE=KEEP"#,
            ),
            (
                "*=1, get /x=0",
                r#"rule 2 "get /x=0": "get" is not a method"#,
            ),
            (
                "/x=1,health=0",
                r#"rule 2 "health=0": the route must start with /"#,
            ),
            ("/x=1.5", r#""1.5" is not a probability from 0 to 1"#),
            ("/x=ten/s", r#""ten/s" is not a number of traces a second"#),
            ("/x=-1/s", "is not a number of traces a second"),
            ("", r#"rule 1 "": expected"#),
            ("/x=1,", r#"rule 2 "": expected"#),
        ] {
            let error = rules.parse::<RuleSampler>().unwrap_err();
            assert!(error.contains(says), "{rules:?}: {error}");
        }
    }
}
