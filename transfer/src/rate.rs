//! Transfer speed and time left, for people to read.
//!
//! Chunks come in bursts as the data channel's buffer fills and drains, so the speed
//! between two chunks means little. [`RateMeter`] averages over a window of a few
//! seconds instead. It never reads a clock: the driver samples the time (say with
//! `performance.now()`) and the progress, as often as it redraws.

use std::collections::VecDeque;

use crate::Progress;

const MIB: f64 = 1024.0 * 1024.0;

#[derive(Debug, Clone)]
pub struct RateMeter {
    window_ms: f64,
    samples: VecDeque<Sample>,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at_ms: f64,
    progress: Progress,
}

impl RateMeter {
    /// A meter averaging over the last `window_ms` milliseconds; 3000 reads well.
    pub fn new(window_ms: f64) -> Self {
        Self {
            window_ms,
            samples: VecDeque::new(),
        }
    }

    /// Records `progress` as of `now_ms` (any monotonic clock in milliseconds). A sample
    /// that is not later than the previous one is ignored.
    pub fn record(&mut self, now_ms: f64, progress: Progress) {
        let is_later = self
            .samples
            .back()
            .map_or(now_ms.is_finite(), |last| now_ms > last.at_ms);
        if !is_later {
            return;
        }
        self.samples.push_back(Sample {
            at_ms: now_ms,
            progress,
        });
        // Keep the newest sample at or before the window's start, so the average spans
        // the whole window once there is that much history.
        let window_start = now_ms - self.window_ms;
        while self
            .samples
            .get(1)
            .is_some_and(|second| second.at_ms <= window_start)
        {
            self.samples.pop_front();
        }
    }

    /// Average speed over the window, or `None` before there are two samples.
    pub fn bytes_per_second(&self) -> Option<f64> {
        let (first, last) = (self.samples.front()?, self.samples.back()?);
        let seconds = (last.at_ms - first.at_ms) / 1000.0;
        let bytes = last
            .progress
            .bytes_done
            .saturating_sub(first.progress.bytes_done);
        (seconds > 0.0).then(|| bytes as f64 / seconds)
    }

    pub fn mib_per_second(&self) -> Option<f64> {
        self.bytes_per_second().map(|rate| rate / MIB)
    }

    /// Seconds until the latest sample's transfer is done at the current speed, or
    /// `None` while that cannot be told (too few samples, or stalled).
    pub fn seconds_left(&self) -> Option<f64> {
        let progress = self.samples.back()?.progress;
        let bytes_left = progress.bytes_total.saturating_sub(progress.bytes_done);
        if bytes_left == 0 {
            return Some(0.0);
        }
        let rate = self.bytes_per_second()?;
        (rate > 0.0).then(|| bytes_left as f64 / rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOTAL: u64 = 100 * 1024 * 1024;

    fn at(meter: &mut RateMeter, now_ms: f64, mib_done: u64) {
        let progress = Progress {
            bytes_done: mib_done * 1024 * 1024,
            bytes_total: TOTAL,
        };
        meter.record(now_ms, progress);
    }

    #[test]
    fn one_sample_tells_nothing_about_speed() {
        let mut meter = RateMeter::new(3000.0);
        assert_eq!(meter.mib_per_second(), None);
        at(&mut meter, 0.0, 0);
        assert_eq!(meter.mib_per_second(), None);
        assert_eq!(meter.seconds_left(), None);
    }

    #[test]
    fn steady_speed_and_time_left() {
        let mut meter = RateMeter::new(3000.0);
        for step in 0..=4 {
            at(&mut meter, step as f64 * 500.0, step);
        }
        assert_eq!(meter.mib_per_second(), Some(2.0));
        assert_eq!(meter.bytes_per_second(), Some(2.0 * MIB));
        // 96 MiB left at 2 MiB/s.
        assert_eq!(meter.seconds_left(), Some(48.0));
    }

    #[test]
    fn only_the_window_counts() {
        let mut meter = RateMeter::new(3000.0);
        // 1 MiB/s for three seconds, then 4 MiB/s for three more.
        for second in 0..=3 {
            at(&mut meter, second as f64 * 1000.0, second);
        }
        for second in 4..=6 {
            at(&mut meter, second as f64 * 1000.0, 3 + (second - 3) * 4);
        }
        assert_eq!(meter.mib_per_second(), Some(4.0));
    }

    #[test]
    fn a_stall_has_no_eta_and_the_end_has_zero() {
        let mut meter = RateMeter::new(3000.0);
        at(&mut meter, 0.0, 10);
        at(&mut meter, 1000.0, 10);
        assert_eq!(meter.mib_per_second(), Some(0.0));
        assert_eq!(meter.seconds_left(), None);
        at(&mut meter, 2000.0, 100);
        assert_eq!(meter.seconds_left(), Some(0.0));
    }

    #[test]
    fn time_going_backwards_or_nowhere_is_ignored() {
        let mut meter = RateMeter::new(3000.0);
        at(&mut meter, f64::NAN, 50);
        at(&mut meter, 1000.0, 0);
        at(&mut meter, 2000.0, 1);
        at(&mut meter, 2000.0, 50);
        at(&mut meter, 1500.0, 50);
        at(&mut meter, f64::NAN, 50);
        assert_eq!(meter.mib_per_second(), Some(1.0));
    }
}
