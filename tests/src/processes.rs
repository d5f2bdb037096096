//! A browser's processes, found in `/proc`, and what they cost.
//!
//! Every browser's processes descend from its WebDriver server, whatever network namespace
//! they run in: all of them share this PID namespace. Benchmarks read two costs from
//! here: the memory of the renderers, which run the page (its JavaScript heap and the
//! app's wasm memory), and the CPU time of all of a browser's processes, which on a busy
//! machine explains a throughput better than the throughput itself. A single process's
//! CPU time, like a server's, is read here too.

use std::collections::{BTreeMap, HashMap};
use std::fs;

use nix::unistd::{sysconf, SysconfVar};

use crate::browser::Browser;
use crate::error::{Error, Result};

/// CPU time (user and system) that the live processes of `browser` have used, in seconds,
/// by kind of process: `browser`, `renderer`, `gpu-process`, or a utility's service like
/// `network.mojom.NetworkService`.
pub fn cpu_seconds(browser: &Browser) -> Result<BTreeMap<String, f64>> {
    let ticks_per_second = ticks_per_second();
    let mut by_kind = BTreeMap::new();
    for pid in descendants(browser.process_id())? {
        // A process may exit between listing and reading; its time is then lost.
        let (Some(stat), Some(kind)) = (read_stat(pid), process_kind(pid)) else {
            continue;
        };
        *by_kind.entry(kind).or_default() += stat.cpu_ticks as f64 / ticks_per_second;
    }
    Ok(by_kind)
}

/// CPU time (user and system) that process `pid` has used, in seconds: a server's, say,
/// whose cost per byte it moves a benchmark reports.
pub fn process_cpu_seconds(pid: u32) -> Result<f64> {
    let stat = read_stat(pid).ok_or_else(|| Error::Command {
        command: format!("read /proc/{pid}/stat"),
        stderr: "no such process, or its stat is unreadable".into(),
    })?;
    Ok(stat.cpu_ticks as f64 / ticks_per_second())
}

/// The resident set of process `pid`, in bytes (`VmRSS` of `/proc/PID/status`).
pub fn process_resident_bytes(pid: u32) -> Result<u64> {
    let unreadable = || Error::Command {
        command: format!("read /proc/{pid}/status"),
        stderr: "no such process, or no VmRSS line in its status".into(),
    };
    let status = fs::read_to_string(format!("/proc/{pid}/status")).map_err(|_| unreadable())?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(unreadable)?;
    Ok(kib * 1024)
}

/// The kernel's clock ticks per second, the unit of `/proc/PID/stat`'s times.
fn ticks_per_second() -> f64 {
    sysconf(SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100) as f64
}

/// What a Chromium process does, from its command line.
fn process_kind(pid: u32) -> Option<String> {
    let cmdline =
        String::from_utf8_lossy(&fs::read(format!("/proc/{pid}/cmdline")).ok()?).into_owned();
    // Chromium rewrites its children's command lines into one space-separated string, so
    // split on both.
    let flag = |name: &str| {
        cmdline
            .split(['\0', ' '])
            .find_map(|argument| argument.strip_prefix(name))
            .map(str::to_owned)
    };
    Some(
        flag("--utility-sub-type=")
            .or_else(|| flag("--type="))
            .unwrap_or_else(|| "browser".to_owned()),
    )
}

/// Proportional set size (PSS) in bytes: the total and its three kinds of pages. PSS
/// splits shared pages among their users, so libraries every Chromium process maps do
/// not count many times over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pss {
    pub total: u64,
    /// Private memory: the JavaScript heaps, ArrayBuffers, the wasm memory, malloc.
    pub anon: u64,
    /// Pages of mapped files: code, and any file a process maps.
    pub file: u64,
    /// Shared memory: buffers passed between processes (IPC, mojo data pipes).
    pub shmem: u64,
}

impl Pss {
    fn add(&mut self, other: Pss) {
        self.total += other.total;
        self.anon += other.anon;
        self.file += other.file;
        self.shmem += other.shmem;
    }
}

/// The PSS of every renderer under process `root`, summed.
pub(crate) fn pss_of_renderers_under(root: u32) -> Result<Pss> {
    let mut sum = Pss::default();
    for pid in descendants(root)? {
        if process_kind(pid).as_deref() != Some("renderer") {
            continue;
        }
        if let Ok(rollup) = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
            sum.add(parse_pss(&rollup));
        }
    }
    Ok(sum)
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
        if let Some(stat) = read_stat(pid) {
            children.entry(stat.parent).or_default().push(pid);
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

/// What this module needs of `/proc/PID/stat`.
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    parent: u32,
    /// utime + stime, in clock ticks.
    cpu_ticks: u64,
}

fn read_stat(pid: u32) -> Option<Stat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses "pid (comm) state ppid ... utime stime ...": comm may itself contain spaces
/// and parentheses, so fields are counted after the last ')' (state is the first there,
/// ppid the second, utime the twelfth, stime the thirteenth).
fn parse_stat(stat: &str) -> Option<Stat> {
    let (_, after_comm) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let number = |index: usize| fields.get(index)?.parse::<u64>().ok();
    Some(Stat {
        parent: u32::try_from(number(1)?).ok()?,
        cpu_ticks: number(11)? + number(12)?,
    })
}

/// The PSS lines of a `/proc/PID/smaps_rollup`; a line missing counts as zero.
fn parse_pss(rollup: &str) -> Pss {
    let bytes = |field: &str| {
        rollup
            .lines()
            .find_map(|line| {
                let value = line.strip_prefix(field)?.strip_prefix(':')?;
                value.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()
            })
            .unwrap_or_default()
            * 1024
    };
    Pss {
        total: bytes("Pss"),
        anon: bytes("Pss_Anon"),
        file: bytes("Pss_File"),
        shmem: bytes("Pss_Shmem"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stat_fields_past_a_command_name_with_parentheses() {
        let stat = "4242 (Chrome_Child) (x)) S 4200 4242 4200 0 -1 4194560 10 0 0 0 250 37 0 0 20";
        assert_eq!(
            parse_stat(stat),
            Some(Stat {
                parent: 4200,
                cpu_ticks: 287
            })
        );
    }

    #[test]
    fn reads_each_kind_of_pss_and_not_the_lines_that_start_alike() {
        let rollup = "Rss:  20480 kB\nPss:  12345 kB\nPss_Dirty:  999 kB\n\
                      Pss_Anon:  10000 kB\nPss_File:  2000 kB\nPss_Shmem:  345 kB\n";
        assert_eq!(
            parse_pss(rollup),
            Pss {
                total: 12345 * 1024,
                anon: 10000 * 1024,
                file: 2000 * 1024,
                shmem: 345 * 1024
            }
        );
    }

    #[test]
    fn finds_this_process_under_its_parent() {
        let parent = read_stat(std::process::id()).unwrap().parent;
        assert!(descendants(parent).unwrap().contains(&std::process::id()));
    }
}
