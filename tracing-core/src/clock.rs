//! The clock: epoch microseconds for Zipkin, measured with a monotonic clock.
//! A duration read from the wall clock breaks when the clock is adjusted mid-span. So, like
//! Brave, we read the wall clock once, as an anchor, and derive every timestamp from the
//! monotonic clock: one read per event, and a child's interval always lies inside its parent's.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The wall clock (epoch microseconds) and the monotonic clock, read together once.
fn anchor() -> &'static (u64, Instant) {
    static ANCHOR: OnceLock<(u64, Instant)> = OnceLock::new();
    ANCHOR.get_or_init(|| {
        // A clock before 1970 is a broken machine: timestamps then start at 0 rather than
        // failing the requests being traced.
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        (wall, Instant::now())
    })
}

/// Reads the anchor now, so that it exists before the first span starts.
pub(crate) fn init() {
    anchor();
}

/// Epoch microseconds of `instant`: the anchor's wall time plus (before it, minus) the
/// monotonic time between them. Brave anchors once per local root span; one anchor per
/// process is simpler and, on Linux, as accurate: `CLOCK_MONOTONIC` follows NTP's rate
/// corrections; only a step of the wall clock after start-up (which would also break
/// durations) is not followed.
pub(crate) fn epoch_micros(instant: Instant) -> u64 {
    let (wall, mono) = *anchor();
    match instant.checked_duration_since(mono) {
        Some(after) => wall + after.as_micros() as u64,
        // Rounded towards the past on this side too, so that the mapping stays the same
        // `floor` on both sides of the anchor and durations stay exact.
        None => wall.saturating_sub((mono - instant).as_nanos().div_ceil(1_000) as u64),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn whole_microseconds_apart_stay_exactly_apart_on_both_sides_of_the_anchor() {
        let (_, mono) = *anchor();
        for offset_nanos in [0, 1, 400, 999, 1_000, 1_001, 2_500_700] {
            let offset = Duration::from_nanos(offset_nanos);
            for start in [mono - offset, mono + offset] {
                let end = start + Duration::from_micros(1_500);
                assert_eq!(
                    epoch_micros(end) - epoch_micros(start),
                    1_500,
                    "{offset_nanos} ns from the anchor"
                );
            }
        }
    }

    #[test]
    fn timestamps_are_epoch_microseconds_of_now() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros() as u64;
        let ours = epoch_micros(Instant::now());
        // Within a second of the wall clock: the anchor was read in this process.
        assert!(ours.abs_diff(now) < 1_000_000, "{ours} vs {now}");
    }
}
