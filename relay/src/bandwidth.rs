//! How many bytes one credential may have relayed: a token bucket, with time passed in.
//!
//! The bucket holds up to one second's worth of bytes (and at least [`MIN_BURST`], so a
//! single datagram of any size can pass at a low rate) and refills at the configured
//! rate. A datagram that finds too few tokens is dropped whole: UDP has no way to make a
//! sender slow down, and a peer connection's congestion control reads the loss as a
//! narrower path and backs off.
//!
//! Why not `governor`: its limiters read their clock inside every check, and a clock
//! that returns a time handed in from outside would be shared mutable state smuggled
//! past the API. The relay core is sans-IO (every call gets `now`), which this bucket
//! keeps, and a dozen lines of integer arithmetic are tested without waiting.
//! Arithmetic is in byte-nanoseconds, exact, so rates never drift from rounding.

use std::time::Instant;

/// The smallest bucket: the largest UDP payload, so a datagram is never too big to pass.
pub const MIN_BURST: u64 = 65_536;

const NANOS_PER_SECOND: u128 = 1_000_000_000;

#[derive(Debug)]
pub struct Bucket {
    /// Bytes per second.
    rate: u64,
    /// In bytes times nanoseconds per second: one byte is `NANOS_PER_SECOND` units.
    tokens: u128,
    capacity: u128,
    refilled_at: Instant,
}

impl Bucket {
    /// A full bucket for `rate` bytes per second.
    pub fn new(rate: u64, now: Instant) -> Self {
        let capacity = u128::from(rate.max(MIN_BURST)) * NANOS_PER_SECOND;
        Self {
            rate,
            tokens: capacity,
            capacity,
            refilled_at: now,
        }
    }

    /// Take `bytes` at `now` if the bucket holds them; false (and nothing taken) if not.
    pub fn take(&mut self, bytes: usize, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled_at).as_nanos();
        self.tokens = self
            .tokens
            .saturating_add(elapsed.saturating_mul(u128::from(self.rate)))
            .min(self.capacity);
        self.refilled_at = self.refilled_at.max(now);
        let wanted = (bytes as u128) * NANOS_PER_SECOND;
        if wanted > self.tokens {
            return false;
        }
        self.tokens -= wanted;
        true
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::new(100_000, start);
        assert!(bucket.take(100_000, start));
        assert!(!bucket.take(1, start));
        // A tenth of a second at 100 kB/s is 10 kB.
        let later = start + Duration::from_millis(100);
        assert!(bucket.take(10_000, later));
        assert!(!bucket.take(1, later));
    }

    #[test]
    fn never_more_than_the_burst_and_a_datagram_always_fits() {
        let start = Instant::now();
        let mut bucket = Bucket::new(10, start);
        let much_later = start + Duration::from_secs(3600);
        assert!(bucket.take(MIN_BURST as usize, much_later));
        assert!(!bucket.take(20, much_later));
    }

    #[test]
    fn time_going_backwards_refills_nothing() {
        let start = Instant::now() + Duration::from_secs(10);
        let mut bucket = Bucket::new(MIN_BURST, start);
        assert!(bucket.take(MIN_BURST as usize, start));
        assert!(!bucket.take(1, start - Duration::from_secs(5)));
        assert!(!bucket.take(1, start));
    }
}
