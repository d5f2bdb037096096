//! How much memory a browser's page processes use, read from `/proc` while it works.
//!
//! A file transfer must not hold the file in memory, and the place it would show is the
//! renderer: the process running the page, its JavaScript heap and the app's wasm memory.
//! Every browser's processes descend from its chromedriver, so the renderers are the
//! descendants started with `--type=renderer`. A browser in another network namespace is
//! still in this PID namespace, so this works for both hosts of a [`crate::TwoHosts`].

use std::collections::HashMap;
use std::fs;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::browser::Browser;
use crate::error::{Error, Result};

/// How often a [`MemorySampler`] looks.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(200);

/// The proportional set size (PSS) of every renderer of `browser`, summed, in bytes.
/// PSS splits shared pages among their users, so libraries every Chromium process maps
/// do not count many times over.
pub fn renderer_pss(browser: &Browser) -> Result<u64> {
    pss_of_renderers_under(browser.process_id())
}

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

fn pss_of_renderers_under(root: u32) -> Result<u64> {
    let mut total = 0;
    for pid in descendants(root)? {
        // A process may exit between listing and reading; it then uses nothing.
        let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        // Chromium rewrites its children's command lines into one space-separated string,
        // so look for the flag anywhere rather than as a NUL-separated argument.
        if String::from_utf8_lossy(&cmdline).contains("--type=renderer") {
            if let Ok(rollup) = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
                total += pss_kib(&rollup).unwrap_or_default() * 1024;
            }
        }
    }
    Ok(total)
}

/// Every process whose chain of parents leads to `root`.
fn descendants(root: u32) -> Result<Vec<u32>> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in fs::read_dir("/proc").map_err(Error::io("list /proc"))? {
        let Some(pid) = entry
            .ok()
            .and_then(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(parent) = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| parent_pid(&stat))
        {
            children.entry(parent).or_default().push(pid);
        }
    }
    let mut found = Vec::new();
    let mut pending = vec![root];
    while let Some(pid) = pending.pop() {
        for &child in children.get(&pid).into_iter().flatten() {
            found.push(child);
            pending.push(child);
        }
    }
    Ok(found)
}

/// The parent pid from `/proc/PID/stat`: "pid (comm) state ppid ...", where comm may
/// itself contain spaces and parentheses, so fields are counted after the last ')'.
fn parent_pid(stat: &str) -> Option<u32> {
    let (_, after_comm) = stat.rsplit_once(')')?;
    after_comm.split_whitespace().nth(1)?.parse().ok()
}

/// The `Pss:` line of `/proc/PID/smaps_rollup`, in KiB.
fn pss_kib(rollup: &str) -> Option<u64> {
    rollup
        .lines()
        .find_map(|line| line.strip_prefix("Pss:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parent_past_a_command_name_with_parentheses() {
        let stat = "4242 (Chrome_Child) (x)) S 4200 4242 4200 0 -1 4194560";
        assert_eq!(parent_pid(stat), Some(4200));
    }

    #[test]
    fn reads_pss_and_not_the_lines_that_start_alike() {
        let rollup = "Rss:  20480 kB\nPss:  12345 kB\nPss_Dirty:  999 kB\n";
        assert_eq!(pss_kib(rollup), Some(12345));
    }

    #[test]
    fn finds_this_process_under_its_parent() {
        let parent = parent_pid(&fs::read_to_string("/proc/self/stat").unwrap()).unwrap();
        assert!(descendants(parent).unwrap().contains(&std::process::id()));
    }
}
