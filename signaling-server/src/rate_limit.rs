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
//! Time is passed in rather than read, so the arithmetic is tested without waiting.

use std::time::{Duration, Instant};

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

#[derive(Debug)]
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

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled_at);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.per_second).min(self.per_second);
        self.refilled_at = now;
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
}
