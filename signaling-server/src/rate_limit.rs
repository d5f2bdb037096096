//! How many messages a connection may send: a token bucket with flood detection.
//!
//! The bucket holds up to `max_messages_per_second` tokens and refills at that rate, so
//! a client may burst a full second's worth at once (the first join plus a burst of ICE
//! candidates) and then keep to the average. A message without a token is dropped; the
//! client hears `rate_limited` once per one-second window, not once per dropped message,
//! so a flood does not turn into a flood of errors back.
//!
//! A client that sends more than [`FLOOD_FACTOR`] times the limit within one window is
//! not misbehaving by accident; the connection asks to be closed.
//!
//! The bucket belongs to the client's address, not to one connection: when a
//! connection closes before its bucket has refilled, [`RateLimits`] keeps the bucket
//! and the next connection from that address carries on with it, so reconnecting does
//! not buy a fresh burst.
//!
//! Time is passed in rather than read, so the arithmetic is tested without waiting.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::admission::AddressKey;

/// Messages per window, as a multiple of the limit, above which a connection is closed.
pub const FLOOD_FACTOR: u32 = 10;

const WINDOW: Duration = Duration::from_secs(1);

/// What to do with one incoming message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Drop it; `notify` is true for the first dropped message of a window.
    Drop {
        notify: bool,
    },
    /// Drop it and close the connection.
    Flood,
}

#[derive(Debug, Clone)]
pub struct RateLimiter {
    per_second: f64,
    tokens: f64,
    refilled_at: Instant,
    window_started: Instant,
    window_messages: u32,
    flood_threshold: u32,
    notified_in_window: bool,
}

impl RateLimiter {
    pub fn new(max_messages_per_second: u32, now: Instant) -> Self {
        Self {
            per_second: f64::from(max_messages_per_second),
            tokens: f64::from(max_messages_per_second),
            refilled_at: now,
            window_started: now,
            window_messages: 0,
            flood_threshold: max_messages_per_second.saturating_mul(FLOOD_FACTOR),
            notified_in_window: false,
        }
    }

    /// Account for one message arriving at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        self.count_in_window(now);
        if self.window_messages > self.flood_threshold {
            return Verdict::Flood;
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Accept;
        }
        let notify = !self.notified_in_window;
        self.notified_in_window = true;
        Verdict::Drop { notify }
    }

    fn count_in_window(&mut self, now: Instant) {
        if now.saturating_duration_since(self.window_started) >= WINDOW {
            self.window_started = now;
            self.window_messages = 0;
            self.notified_in_window = false;
        }
        self.window_messages = self.window_messages.saturating_add(1);
    }

    /// The tokens the bucket would hold at `now`.
    fn tokens_at(&self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.refilled_at);
        (self.tokens + elapsed.as_secs_f64() * self.per_second).min(self.per_second)
    }

    /// Whether by `now` this bucket is as good as a new one: full, and past its window.
    fn is_rested(&self, now: Instant) -> bool {
        self.tokens_at(now) >= self.per_second
            && now.saturating_duration_since(self.window_started) >= WINDOW
    }

    fn refill(&mut self, now: Instant) {
        self.tokens = self.tokens_at(now);
        self.refilled_at = now;
    }
}

/// Buckets of closed connections that have not refilled yet, by client address.
#[derive(Debug)]
pub struct RateLimits {
    max_messages_per_second: u32,
    parked: Mutex<Parked>,
}

#[derive(Debug)]
struct Parked {
    buckets: HashMap<AddressKey, RateLimiter>,
    /// Rested buckets are swept out when this many are parked, so the map stays about
    /// as large as the number of addresses that closed a connection in the last second.
    sweep_at: usize,
}

/// The smallest [`Parked::sweep_at`].
const SWEEP_AT_LEAST: usize = 1024;

impl RateLimits {
    pub fn new(max_messages_per_second: u32) -> Self {
        Self {
            max_messages_per_second,
            parked: Mutex::new(Parked {
                buckets: HashMap::new(),
                sweep_at: SWEEP_AT_LEAST,
            }),
        }
    }

    /// The bucket for a new connection from `address`: the one a closed connection
    /// from there left, or a full one.
    pub fn take(&self, address: AddressKey, now: Instant) -> RateLimiter {
        self.parked()
            .buckets
            .remove(&address)
            .unwrap_or_else(|| RateLimiter::new(self.max_messages_per_second, now))
    }

    /// Keep the bucket of a connection from `address` that closes, unless it is rested.
    /// Of two closed connections from one address, the emptier bucket is kept.
    pub fn park(&self, address: AddressKey, bucket: RateLimiter, now: Instant) {
        if bucket.is_rested(now) {
            return;
        }
        let mut parked = self.parked();
        if parked.buckets.len() >= parked.sweep_at {
            parked.buckets.retain(|_, bucket| !bucket.is_rested(now));
            parked.sweep_at = (parked.buckets.len() * 2).max(SWEEP_AT_LEAST);
        }
        let kept = parked.buckets.entry(address).or_insert(bucket.clone());
        if bucket.tokens_at(now) < kept.tokens_at(now) {
            *kept = bucket;
        }
    }

    /// Buckets parked now.
    #[cfg(test)]
    fn parked_count(&self) -> usize {
        self.parked().buckets.len()
    }

    fn parked(&self) -> std::sync::MutexGuard<'_, Parked> {
        self.parked.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(limiter: &mut RateLimiter, at: Instant, count: usize) -> Vec<Verdict> {
        (0..count).map(|_| limiter.check(at)).collect()
    }

    #[test]
    fn a_full_second_may_be_sent_at_once_then_messages_drop() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(5, start);
        assert!(verdicts(&mut limiter, start, 5)
            .iter()
            .all(|v| *v == Verdict::Accept));
        assert_eq!(limiter.check(start), Verdict::Drop { notify: true });
        assert_eq!(limiter.check(start), Verdict::Drop { notify: false });
    }

    #[test]
    fn tokens_come_back_at_the_configured_rate() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(10, start);
        verdicts(&mut limiter, start, 10);
        let later = start + Duration::from_millis(250);
        // A quarter second at 10/s refills 2.5 tokens: two messages pass.
        assert_eq!(
            verdicts(&mut limiter, later, 3),
            [
                Verdict::Accept,
                Verdict::Accept,
                Verdict::Drop { notify: true }
            ]
        );
    }

    #[test]
    fn the_bucket_never_holds_more_than_one_second() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(3, start);
        let much_later = start + Duration::from_secs(60);
        assert_eq!(
            verdicts(&mut limiter, much_later, 4)[3],
            Verdict::Drop { notify: true }
        );
    }

    #[test]
    fn the_client_is_told_again_in_the_next_window() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(1, start);
        assert_eq!(limiter.check(start), Verdict::Accept);
        assert_eq!(limiter.check(start), Verdict::Drop { notify: true });
        let next_window = start + Duration::from_millis(1500);
        assert_eq!(limiter.check(next_window), Verdict::Accept);
        assert_eq!(limiter.check(next_window), Verdict::Drop { notify: true });
    }

    #[test]
    fn ten_times_the_limit_within_a_second_is_a_flood() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(5, start);
        let within = start + Duration::from_millis(900);
        let seen = verdicts(&mut limiter, within, 50);
        assert!(!seen.contains(&Verdict::Flood));
        assert_eq!(limiter.check(within), Verdict::Flood);
    }

    #[test]
    fn steady_sending_at_the_limit_is_never_dropped() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(4, start);
        for step in 1..=40 {
            let at = start + Duration::from_millis(250 * step);
            assert_eq!(limiter.check(at), Verdict::Accept, "message {step}");
        }
    }

    fn address(last: u8) -> AddressKey {
        AddressKey::of(std::net::IpAddr::from([203, 0, 113, last]))
    }

    #[test]
    fn a_reconnect_carries_on_with_the_bucket_it_left() {
        let start = Instant::now();
        let limits = RateLimits::new(5);
        let mut first = limits.take(address(1), start);
        verdicts(&mut first, start, 5);
        limits.park(address(1), first, start);
        let mut second = limits.take(address(1), start);
        assert_eq!(second.check(start), Verdict::Drop { notify: true });
        // Another address is not affected.
        assert_eq!(limits.take(address(2), start).check(start), Verdict::Accept);
    }

    #[test]
    fn a_rested_bucket_is_not_kept() {
        let start = Instant::now();
        let limits = RateLimits::new(5);
        let mut bucket = limits.take(address(1), start);
        verdicts(&mut bucket, start, 5);
        limits.park(address(1), bucket.clone(), start + Duration::from_secs(2));
        assert_eq!(limits.parked_count(), 0);
        limits.park(address(1), bucket, start);
        assert_eq!(limits.parked_count(), 1);
    }

    #[test]
    fn of_two_closed_connections_the_emptier_bucket_is_kept() {
        let start = Instant::now();
        let limits = RateLimits::new(5);
        let (mut emptier, mut fuller) = (
            limits.take(address(1), start),
            limits.take(address(1), start),
        );
        verdicts(&mut emptier, start, 5);
        verdicts(&mut fuller, start, 2);
        limits.park(address(1), emptier, start);
        limits.park(address(1), fuller, start);
        let mut next = limits.take(address(1), start);
        assert_eq!(next.check(start), Verdict::Drop { notify: true });
    }

    #[test]
    fn rested_buckets_are_swept_out() {
        let start = Instant::now();
        let limits = RateLimits::new(1);
        for n in 0..SWEEP_AT_LEAST {
            let key = AddressKey::of(std::net::IpAddr::from([10, 0, (n / 256) as u8, n as u8]));
            let mut bucket = limits.take(key, start);
            bucket.check(start);
            limits.park(key, bucket, start);
        }
        assert_eq!(limits.parked_count(), SWEEP_AT_LEAST);
        let later = start + Duration::from_secs(2);
        let mut bucket = limits.take(address(1), later);
        bucket.check(later);
        limits.park(address(1), bucket, later);
        assert_eq!(limits.parked_count(), 1);
    }
}
