//! Sampling: deciding, once per trace, whether its spans are reported. Recording every
//! request is rarely affordable, so the first service decides and the later ones follow it.

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
}
