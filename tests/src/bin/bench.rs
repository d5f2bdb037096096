//! `cargo xtask bench`: how fast Meshdrop moves a file between two hosts compared with a
//! raw RTCDataChannel, and how much memory the receiving page needs while it does.
//!
//! Two network namespaces joined by a veth pair stand for two machines. Browser A runs on
//! host a (with the signaling server), browser B on host b. In the same run, B receives
//! 256 MiB from A over a bare data channel (the [`baseline`] loop: 64 KiB messages,
//! backpressure on `bufferedAmount`) and then through the web app, and then 1 GiB through
//! the web app, while B's renderer memory is sampled. It prints figures and asserts
//! nothing: a benchmark informs, the tests decide.

use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::memory::{MemoryFigures, MemorySampler};
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

        let (_, raw) =
            baseline::transfer(&sender, &receiver, TIMED_BYTES, TRANSFER_TIMEOUT).await?;
        let raw_rate = raw.mib_per_second();
        println!(
            "raw RTCDataChannel, 64 KiB messages: {} in {:.2} s (first to last message) = {raw_rate:.1} MiB/s",
            size(raw.bytes),
            raw.elapsed_ms / 1000.0
        );

        let sender = App::open(sender, &server.room_url("bench"), "A").await?;
        let receiver = App::open(receiver, &server.room_url_at(HOST_A, "bench"), "B").await?;
        let peers = vec![welcomed(sender).await?, welcomed(receiver).await?];
        everyone_connected(&peers).await?;
        let dir = scratch_dir()?;

        let timed = TestFile::sparse(dir.path(), "timed.bin", TIMED_BYTES)?;
        let timed = send_through_app(&peers[0], &peers[1], &timed).await?;
        let app_rate = timed.mib_per_second();
        println!(
            "Meshdrop web app: {} in {:.2} s (B: transferring to done) = {app_rate:.1} MiB/s; stored and saveable after {:.2} s",
            size(timed.bytes),
            (timed.times.done - timed.times.transferring) / 1000.0,
            (timed.times.saved - timed.times.transferring) / 1000.0,
        );
        println!(
            "Meshdrop / raw: {:.2} (target at least 0.9)",
            app_rate / raw_rate
        );

        let large = TestFile::sparse(dir.path(), "large.bin", LARGE_BYTES)?;
        let large = send_through_app(&peers[0], &peers[1], &large).await?;
        println!(
            "Meshdrop web app: {} at {:.1} MiB/s",
            size(large.bytes),
            large.mib_per_second()
        );
        println!("B's renderer memory (PSS) while receiving, sampled every 200 ms (target: growth under 150 MiB, flat in file size):");
        for transfer in [&timed, &large] {
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

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

fn size(bytes: u64) -> String {
    match bytes {
        _ if bytes >= 1024 * MIB => format!("{:.0} GiB", mib(bytes) / 1024.0),
        _ => format!("{:.0} MiB", mib(bytes)),
    }
}
