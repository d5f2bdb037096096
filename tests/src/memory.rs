//! Sampling a browser's renderer memory while it works, for benchmarks.
//!
//! A file transfer must not hold the file in memory, and the place it would show is the
//! renderer: the process running the page. A [`MemorySampler`] reads the renderers'
//! memory (see [`crate::processes`]) every 200 ms in the background and keeps the
//! baseline and the peak.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::browser::Browser;
use crate::error::Result;
use crate::processes::pss_of_renderers_under;

/// How often a [`MemorySampler`] looks.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(200);

/// Samples a browser's renderer memory in the background until stopped.
#[derive(Debug)]
pub struct MemorySampler {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<Vec<u64>>>,
}

/// What a [`MemorySampler`] saw, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryFigures {
    /// The first sample, taken when sampling started.
    pub baseline: u64,
    pub peak: u64,
}

impl MemoryFigures {
    /// How far the peak rose above the baseline.
    pub fn growth(&self) -> u64 {
        self.peak.saturating_sub(self.baseline)
    }
}

impl MemorySampler {
    /// Takes the first sample now, then one every 200 ms.
    pub fn start(browser: &Browser) -> Result<MemorySampler> {
        let root = browser.process_id();
        let first = pss_of_renderers_under(root)?;
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut samples = vec![first];
            let mut ticks = tokio::time::interval(SAMPLE_INTERVAL);
            loop {
                tokio::select! {
                    _ = &mut stopped => return Ok(samples),
                    _ = ticks.tick() => samples.push(pss_of_renderers_under(root)?),
                }
            }
        });
        Ok(MemorySampler { stop, task })
    }

    /// Stops sampling and sums up.
    pub async fn stop(self) -> Result<MemoryFigures> {
        // The task only ends on this signal or an error, which `task` then reports.
        let _ = self.stop.send(());
        let samples = self
            .task
            .await
            .unwrap_or_else(|join_error| std::panic::resume_unwind(join_error.into_panic()))?;
        Ok(MemoryFigures {
            baseline: samples[0],
            peak: samples.iter().copied().max().unwrap_or_default(),
        })
    }
}
