//! Timing requests through two chains side by side: one whose collector works, one whose
//! collector misbehaves.
//!
//! The machines are shared and noisy, so one number proves nothing. [`compare`] times the
//! two chains in alternation, so that a busy moment slows both alike, and
//! [`Comparison::assert_faulty_like_healthy`] compares medians with a generous bound that a
//! reporter blocking the request path would still blow through.

use std::time::{Duration, Instant};

use anyhow::Context as _;

/// How much slower the faulty chain's median may be: this many times the healthy one...
pub const SLOWDOWN_FACTOR: u32 = 2;
/// ... plus this much.
pub const SLOWDOWN_MARGIN: Duration = Duration::from_millis(20);

/// The durations of a series of requests.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    samples: Vec<Duration>,
}

impl Latencies {
    /// Adds one request's duration.
    pub fn push(&mut self, latency: Duration) {
        self.samples.push(latency);
    }

    /// How many requests were timed.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether no request was timed.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The median duration (the upper one of an even count); zero when empty.
    pub fn median(&self) -> Duration {
        let mut sorted = self.samples.clone();
        sorted.sort();
        sorted.get(sorted.len() / 2).copied().unwrap_or_default()
    }

    /// The longest duration; zero when empty.
    pub fn max(&self) -> Duration {
        self.samples.iter().max().copied().unwrap_or_default()
    }
}

/// Sends `GET url` and returns how long it took; fails unless it answered 200 and its
/// body could be read.
pub async fn timed_get(client: &reqwest::Client, url: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .with_context(|| format!("GET {url}: reading the body"))?;
    let took = started.elapsed();
    anyhow::ensure!(status == 200, "GET {url} answered {status}: {body}");
    Ok(took)
}

/// The durations of the same requests through a healthy and a faulty chain.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    /// Through the chain whose collector works.
    pub healthy: Latencies,
    /// Through the chain whose collector misbehaves.
    pub faulty: Latencies,
}

impl Comparison {
    /// Panics unless the faulty chain's median is at most [`SLOWDOWN_FACTOR`] times the
    /// healthy one's plus [`SLOWDOWN_MARGIN`].
    #[track_caller]
    pub fn assert_faulty_like_healthy(&self) {
        let (healthy, faulty) = (self.healthy.median(), self.faulty.median());
        let bound = healthy * SLOWDOWN_FACTOR + SLOWDOWN_MARGIN;
        assert!(
            faulty <= bound,
            "the faulty collector slowed requests down: median {faulty:?} over {} requests \
             against {healthy:?} over {} with a working collector (bound {bound:?}; \
             slowest {:?} against {:?})",
            self.faulty.len(),
            self.healthy.len(),
            self.faulty.max(),
            self.healthy.max()
        );
    }
}

/// Sends `rounds` requests to each URL, alternating (healthy first), each expected to
/// answer 200; calls `after_each` with the round's number after each pair.
pub async fn compare(
    client: &reqwest::Client,
    healthy_url: &str,
    faulty_url: &str,
    rounds: usize,
    mut after_each: impl FnMut(usize),
) -> anyhow::Result<Comparison> {
    compare_while(client, healthy_url, faulty_url, |round| {
        after_each(round);
        round + 1 < rounds
    })
    .await
}

/// Like [`compare`], for as long as `keep_going` (called with the round's number after
/// each pair) says so: at least one round.
pub async fn compare_while(
    client: &reqwest::Client,
    healthy_url: &str,
    faulty_url: &str,
    mut keep_going: impl FnMut(usize) -> bool,
) -> anyhow::Result<Comparison> {
    let mut comparison = Comparison::default();
    for round in 0.. {
        let healthy = timed_get(client, healthy_url)
            .await
            .with_context(|| format!("round {round}, healthy chain"))?;
        comparison.healthy.push(healthy);
        let faulty = timed_get(client, faulty_url)
            .await
            .with_context(|| format!("round {round}, chain with the faulty collector"))?;
        comparison.faulty.push(faulty);
        if !keep_going(round) {
            break;
        }
    }
    Ok(comparison)
}
