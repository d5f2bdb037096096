//! `cargo xtask bench`: how fast Meshdrop moves a file between two hosts compared with a
//! raw RTCDataChannel, and how much memory the receiving page needs while it does.
//!
//! Two network namespaces joined by a veth pair stand for two machines. Browser A runs on
//! host a (with the signaling server), browser B on host b, both with the app open. B
//! receives 256 MiB from A a few times over, taking turns between a bare data channel
//! in the same pages (the [`baseline`] loop: 64 KiB messages, backpressure on
//! `bufferedAmount`) and the web app; then 1 GiB through the web app. B's renderer memory
//! is sampled during every app transfer, and the CPU time of both browsers is read around
//! each transfer: on a machine where the browsers compete for few cores, throughput
//! follows CPU cost, and the split by process shows where Meshdrop's extra cost goes.
//! It prints figures and asserts nothing: a benchmark informs, the tests decide.

use std::collections::BTreeMap;

use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::memory::{MemoryFigures, MemorySampler};
use meshdrop_e2e::processes::cpu_seconds;
use meshdrop_e2e::room::{everyone_connected, welcomed, Peer};
use meshdrop_e2e::{
    baseline, run_in, App, Browser, Launch, Recipient, Result, SignalingServer, TestFile,
    TransferButton, TwoHosts, HOST_A, TRANSFER_TIMEOUT,
};
use serde::Deserialize;
use serde_json::json;

const MIB: u64 = 1 << 20;
/// The size both ways of sending are timed with.
const TIMED_BYTES: u64 = 256 * MIB;
/// Raw and Meshdrop take turns this often, so a change in the machine's load hits both.
const ROUNDS: usize = 3;
/// The bigger size whose memory use is compared with [`TIMED_BYTES`]'s.
const LARGE_BYTES: u64 = 1024 * MIB;

const CLOCK_SCRIPT: &str = include_str!("../../js/transfer_clock.js");

/// When a transfer row first showed each state, in the page's milliseconds.
#[derive(Debug, Deserialize)]
struct TransferTimes {
    transferring: f64,
    done: f64,
    /// When the received file was stored and offered for saving.
    saved: f64,
}

/// One transfer through the web app, as the receiver saw it.
struct AppTransfer {
    bytes: u64,
    times: TransferTimes,
    memory: MemoryFigures,
}

impl AppTransfer {
    /// Throughput from the receiver showing `transferring` (it accepted) to `done` (the
    /// last file's digest matched).
    fn mib_per_second(&self) -> f64 {
        mib(self.bytes) / ((self.times.done - self.times.transferring) / 1000.0)
    }
}

fn main() -> Result<()> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let server = SignalingServer::start().await?;
        let (sender, receiver) = tokio::try_join!(
            Browser::launch(),
            Launch::on_host(&hosts.b)
                .treat_as_secure(server.origin_at(HOST_A))
                .start()
        )?;
        println!("Browser A on host a sends, browser B on host b receives, over a veth pair.");
        let sender = App::open(sender, &server.room_url("bench"), "A").await?;
        let receiver = App::open(receiver, &server.room_url_at(HOST_A, "bench"), "B").await?;
        let peers = vec![welcomed(sender).await?, welcomed(receiver).await?];
        everyone_connected(&peers).await?;
        let (sender, receiver) = (&peers[0], &peers[1]);
        let dir = scratch_dir()?;
        let timed = TestFile::sparse(dir.path(), "timed.bin", TIMED_BYTES)?;

        println!(
            "{} each way, {ROUNDS} rounds; raw: first to last message at B; Meshdrop: B transferring to done",
            size(TIMED_BYTES)
        );
        let mut ratios = Vec::new();
        let mut cpu = (Vec::new(), Vec::new());
        let mut cpu_by_process = (CpuUse::new(), CpuUse::new());
        let mut timed_transfers = Vec::new();
        let both = [sender.0.browser(), receiver.0.browser()];
        for round in 1..=ROUNDS {
            let cpu_before = cpu_use(both)?;
            let (_, raw) =
                baseline::transfer(both[0], both[1], TIMED_BYTES, TRANSFER_TIMEOUT).await?;
            let cpu_between = cpu_use(both)?;
            let app = send_through_app(sender, receiver, &timed).await?;
            let cpu_after = cpu_use(both)?;
            let (raw_spent, app_spent) = (
                spent(&cpu_before, &cpu_between),
                spent(&cpu_between, &cpu_after),
            );
            let (raw_cpu, app_cpu) = (raw_spent.values().sum(), app_spent.values().sum());
            add(&mut cpu_by_process.0, &raw_spent);
            add(&mut cpu_by_process.1, &app_spent);
            let ratio = app.mib_per_second() / raw.mib_per_second();
            println!(
                "  round {round}: raw RTCDataChannel {:.1} MiB/s ({raw_cpu:.1} CPU s), \
                 Meshdrop {:.1} MiB/s ({app_cpu:.1} CPU s, saveable {:.2} s after done), ratio {ratio:.2}",
                raw.mib_per_second(),
                app.mib_per_second(),
                (app.times.saved - app.times.done) / 1000.0,
            );
            ratios.push(ratio);
            cpu.0.push(raw_cpu);
            cpu.1.push(app_cpu);
            timed_transfers.push(app);
        }
        println!(
            "Meshdrop / raw, median of the rounds: {:.2} (target at least 0.9)",
            median(ratios)
        );
        println!(
            "CPU time of both browsers (all their processes) per {}, median: raw {:.1} s, Meshdrop {:.1} s",
            size(TIMED_BYTES),
            median(cpu.0),
            median(cpu.1)
        );
        println!("  by process, summed over the rounds (raw / Meshdrop, CPU seconds):");
        for (process, raw_seconds) in &cpu_by_process.0 {
            let app_seconds = cpu_by_process.1.get(process).copied().unwrap_or_default();
            if raw_seconds.max(app_seconds) >= 0.5 {
                println!("    {process:<40} {raw_seconds:>6.1} / {app_seconds:>6.1}");
            }
        }

        let large = TestFile::sparse(dir.path(), "large.bin", LARGE_BYTES)?;
        let large = send_through_app(sender, receiver, &large).await?;
        println!(
            "Meshdrop: {} at {:.1} MiB/s",
            size(large.bytes),
            large.mib_per_second()
        );
        println!(
            "B's renderer memory (PSS, all renderers) from accepting to saveable, sampled every 200 ms \
             (target: growth under 150 MiB, flat in file size):"
        );
        let most_grown = timed_transfers
            .iter()
            .max_by_key(|transfer| transfer.memory.growth())
            .expect("at least one round");
        for transfer in [most_grown, &large] {
            let memory = transfer.memory;
            println!(
                "  {:>8}: baseline {:.1} MiB, peak {:.1} MiB, growth {:.1} MiB",
                size(transfer.bytes),
                mib(memory.baseline),
                mib(memory.peak),
                mib(memory.growth())
            );
        }
        Ok(())
    })
}

/// `sender` offers `file` to `receiver`, which accepts; returns the receiver's timings
/// and its renderer memory from just before accepting until the file was saveable.
async fn send_through_app(sender: &Peer, receiver: &Peer, file: &TestFile) -> Result<AppTransfer> {
    let ((sending, _), (receiving, receiver_id)) = (sender, receiver);
    let sender_id = &sender.1;
    receiving
        .browser()
        .run::<()>("installing the transfer clock", CLOCK_SCRIPT, vec![])
        .await?;
    sending
        .send_files(Recipient::Peer(receiver_id), &[file])
        .await?;
    let offered = receiving.wait_for_offer(sender_id, &[file]).await?;
    let sampler = MemorySampler::start(receiving.browser())?;
    receiving
        .click_transfer_button(sender_id, &offered.id, TransferButton::Accept)
        .await?;
    receiving
        .wait_for_transfer(sender_id, &offered.id, "done")
        .await?;
    let times = wait_until_saved(receiving, sender_id, &offered.id).await?;
    let memory = sampler.stop().await?;
    Ok(AppTransfer {
        bytes: file.size(),
        times,
        memory,
    })
}

/// The receiver's clock readings, once the received file can be saved.
async fn wait_until_saved(receiving: &App, sender_id: &str, id: &str) -> Result<TransferTimes> {
    receiving
        .wait_for("the received file ready to save", |s| {
            s.transfers
                .iter()
                .any(|entry| entry.peer == sender_id && entry.id == id && !entry.saved.is_empty())
                .then_some(())
        })
        .await?;
    receiving
        .browser()
        .run(
            "reading the transfer clock",
            "return transferClock.times(arguments[0], arguments[1])",
            vec![json!(sender_id), json!(id)],
        )
        .await
}

/// CPU seconds used so far, by browser (A, B) and kind of process.
type CpuUse = BTreeMap<String, f64>;

fn cpu_use(browsers: [&Browser; 2]) -> Result<CpuUse> {
    let mut all = CpuUse::new();
    for (label, browser) in ["A", "B"].into_iter().zip(browsers) {
        for (kind, seconds) in cpu_seconds(browser)? {
            all.insert(format!("{label} {kind}"), seconds);
        }
    }
    Ok(all)
}

/// What each process used between two readings.
fn spent(before: &CpuUse, after: &CpuUse) -> CpuUse {
    after
        .iter()
        .map(|(process, seconds)| {
            let earlier = before.get(process).copied().unwrap_or_default();
            (process.clone(), seconds - earlier)
        })
        .collect()
}

fn add(total: &mut CpuUse, more: &CpuUse) {
    for (process, seconds) in more {
        *total.entry(process.clone()).or_default() += seconds;
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

fn size(bytes: u64) -> String {
    match bytes {
        _ if bytes >= 1024 * MIB => format!("{:.0} GiB", mib(bytes) / 1024.0),
        _ => format!("{:.0} MiB", mib(bytes)),
    }
}
