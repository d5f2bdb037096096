//! Sampling a browser's renderer memory while it works, for benchmarks.
//!
//! A file transfer must not hold the file in memory, and the place it would show is the
//! renderer: the process running the page. A [`MemorySampler`] reads the renderers'
//! memory (see [`crate::processes`]) every 200 ms in the background and keeps the
//! baseline and the peak, by kind of page. Once a second it also asks the page's
//! JavaScript engine what its heap and its ArrayBuffers hold, and when stopped it collects
//! the garbage and looks once more: what a peak is made of, not only how high it is.

use std::time::Duration;

use fantoccini::Client;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::browser::Browser;
use crate::error::{Error, Result};
use crate::processes::{pss_of_renderers_under, Pss};
use crate::session_post::cdp;

/// How often a [`MemorySampler`] reads the renderers' PSS.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(200);
/// Every how many PSS samples the page's heap is read too: a DevTools call costs the
/// page some time, the PSS read costs it none.
const HEAP_EVERY: usize = 5;

/// Samples a browser's renderer memory in the background until stopped.
#[derive(Debug)]
pub struct MemorySampler {
    client: Client,
    root: u32,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<Samples>>,
}

/// What a [`MemorySampler`] saw, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryFigures {
    /// The first sample, taken when sampling started.
    pub baseline: Pss,
    /// The sample with the highest total.
    pub peak: Pss,
    /// The most the page's JavaScript heap held in live and dead objects.
    pub heap_peak: u64,
    /// The most the page's ArrayBuffers held (their memory lies outside the heap).
    pub array_buffers_peak: u64,
    /// After the sampling stopped and the page's garbage was collected.
    pub after_collection: Pss,
}

impl MemoryFigures {
    /// How far the peak rose above the baseline.
    pub fn growth(&self) -> u64 {
        self.peak.total.saturating_sub(self.baseline.total)
    }
}

#[derive(Debug, Default)]
struct Samples {
    pss: Vec<Pss>,
    heap_peak: u64,
    array_buffers_peak: u64,
}

/// The DevTools protocol's `Runtime.getHeapUsage`, the parts read here.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeapUsage {
    used_size: f64,
    /// ArrayBuffer backing stores; older browsers do not report it.
    #[serde(default)]
    backing_storage_size: f64,
}

impl MemorySampler {
    /// Takes the first sample now, then one every 200 ms.
    pub fn start(browser: &Browser) -> Result<MemorySampler> {
        let root = browser.process_id();
        let client = browser.client().clone();
        let first = pss_of_renderers_under(root)?;
        let (stop, mut stopped) = oneshot::channel();
        let page = client.clone();
        let task = tokio::spawn(async move {
            let mut samples = Samples {
                pss: vec![first],
                ..Samples::default()
            };
            let mut ticks = tokio::time::interval(SAMPLE_INTERVAL);
            loop {
                tokio::select! {
                    _ = &mut stopped => return Ok(samples),
                    _ = ticks.tick() => {
                        samples.pss.push(pss_of_renderers_under(root)?);
                        if samples.pss.len().is_multiple_of(HEAP_EVERY) {
                            let heap = heap_usage(&page).await?;
                            samples.heap_peak = samples.heap_peak.max(heap.used_size as u64);
                            samples.array_buffers_peak =
                                samples.array_buffers_peak.max(heap.backing_storage_size as u64);
                        }
                    }
                }
            }
        });
        Ok(MemorySampler {
            client,
            root,
            stop,
            task,
        })
    }

    /// Stops sampling, collects the page's garbage, and sums up.
    pub async fn stop(self) -> Result<MemoryFigures> {
        // The task only ends on this signal or an error, which `task` then reports.
        let _ = self.stop.send(());
        let samples = self
            .task
            .await
            .unwrap_or_else(|join_error| std::panic::resume_unwind(join_error.into_panic()))?;
        cdp(&self.client, "HeapProfiler.collectGarbage", json!({})).await?;
        Ok(MemoryFigures {
            baseline: samples.pss[0],
            peak: samples
                .pss
                .iter()
                .copied()
                .max_by_key(|pss| pss.total)
                .unwrap_or_default(),
            heap_peak: samples.heap_peak,
            array_buffers_peak: samples.array_buffers_peak,
            after_collection: pss_of_renderers_under(self.root)?,
        })
    }
}

async fn heap_usage(page: &Client) -> Result<HeapUsage> {
    let value = cdp(page, "Runtime.getHeapUsage", json!({})).await?;
    serde_json::from_value(value.clone()).map_err(|source| Error::UnexpectedJson {
        what: "the page's heap usage",
        value,
        source,
    })
}
