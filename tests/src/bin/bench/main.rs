//! `cargo xtask bench`: how fast Meshdrop moves a file between two hosts compared with a
//! raw RTCDataChannel, browsers and native peers alike, and how much memory the receiving
//! page needs while it does.
//!
//! Two network namespaces joined by a veth pair stand for two machines. Browser A runs on
//! host a (with the signaling server), browser B on host b, both with the app open. B
//! receives 256 MiB from A a few times over, taking turns between a bare data channel
//! in the same pages (the [`baseline`] loop: backpressure on `bufferedAmount`, in messages
//! of 64 or 256 KiB, whichever a calibration finds faster), the web app, the native peer to the native peer (`meshdrop` on host a
//! to `meshdrop` on host b, see [`native_peer`]), the native peer to the web app in B and
//! the web app in B to the native peer. In fresh pages each, the `memory` section then sends
//! 256 MiB, 1 GiB and 4 GiB through the web app while B's renderer memory is sampled, and
//! `chat` 1 GiB while A sends chat lines ([`chat_load`]). The
//! CPU time of both browsers is read around each browser-to-browser transfer: on a machine
//! where the browsers compete for few cores, throughput follows CPU cost, and the split by
//! process shows where Meshdrop's extra cost goes. Nothing else runs while a transfer is
//! timed: no memory sampling, no polling of the pages.
//! First of all, the page weight: what a first visit downloads, gzipped.
//! It prints figures and asserts nothing: a benchmark informs, the tests decide.
//!
//! Then [`discovery`] times a second page finding the first on the same network, and
//! [`recovery`] how soon bytes flow again after a wire cut ends, what a cut or a server
//! restart costs a transfer.
//!
//! Last, [`relay`] compares a transfer between two homes behind NATs through the
//! built-in TURN relay and through coturn with a direct one: throughput, and the relay
//! process's CPU time per MiB.
//!
//! Then [`swarm`] times one sender delivering to many receivers, with receivers passing
//! blocks on to each other and without, and [`setup`] how soon a page that opens a room's
//! link has its channels open.
//!
//! `bench SECTION...` runs only the sections named (`page`, `transfers`, `memory`, `chat`,
//! `discovery`, `recovery`, `relay`, `swarm`, `swarm-web`, `setup`, and [`profile`]);
//! without arguments it runs them all but `profile`, a tool for finding where the pages'
//! time goes.

mod chat_load;
mod discovery;
mod native_peer;
mod profile;
mod recovery;
mod relay;
mod setup;
mod swarm;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::memory::MemorySampler;
use meshdrop_e2e::page_weight;
use meshdrop_e2e::processes::{cpu_seconds, Pss};
use meshdrop_e2e::room::{everyone_connected, join_across, Peer};
use meshdrop_e2e::{
    baseline, run_in, App, Browser, Error, NetNs, Recipient, Result, SignalingServer, TestFile,
    TransferButton, TwoHosts, HOST_A, TRANSFER_TIMEOUT,
};
use native_peer::{Meshdrop, NativeReceipt};
use serde::Deserialize;
use serde_json::json;
use tempfile::TempDir;

const MIB: u64 = 1 << 20;
/// The size every way of sending is timed with.
const TIMED_BYTES: u64 = 256 * MIB;
/// Raw and the Meshdrop peers take turns this often, so a change in the machine's load hits
/// both; an odd number, so the median is one round's figure.
const ROUNDS: usize = 7;
/// The bigger size whose memory use is compared with [`TIMED_BYTES`]'s.
const LARGE_BYTES: u64 = 1024 * MIB;
/// The largest size whose memory use is measured.
const HUGE_BYTES: u64 = 4096 * MIB;
/// What the receiving renderers may grow by at [`HUGE_BYTES`].
const GROWTH_TARGET_MIB: f64 = 100.0;
/// How far the growth at [`HUGE_BYTES`] may be from that at [`TIMED_BYTES`].
const FLAT_TARGET_MIB: f64 = 20.0;

const CLOCK_SCRIPT: &str = include_str!("../../../js/transfer_clock.js");

/// When a transfer row first showed each state, in the page's milliseconds. Reading
/// them fails unless the transfer went through.
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
}

impl AppTransfer {
    /// Throughput from the receiver showing `transferring` (it accepted) to `done` (the
    /// last file's digest matched).
    fn mib_per_second(&self) -> f64 {
        mib(self.bytes) / ((self.times.done - self.times.transferring) / 1000.0)
    }
}

/// The most a first visit may download, gzipped.
const PAGE_WEIGHT_TARGET_KB: f64 = 250.0;

/// One part of the benchmark: its name on the command line, and what it runs.
type Section = (&'static str, fn() -> Result<()>);

/// The sections of the benchmark, in the order they run.
const SECTIONS: [Section; 11] = [
    ("page", page),
    ("transfers", transfers),
    ("memory", memory),
    ("chat", chat),
    ("discovery", discovery::run),
    ("recovery", recovery::run),
    ("relay", relay::run),
    ("swarm", swarm::run),
    ("swarm-web", swarm::run_web),
    ("setup", setup::run),
    ("profile", profile::run),
];

/// Sections run only when named.
const ON_REQUEST: [&str; 1] = ["profile"];

fn main() -> Result<()> {
    let chosen: Vec<String> = std::env::args().skip(1).collect();
    let known = |name: &String| SECTIONS.iter().any(|(section, _)| section == name);
    if let Some(unknown) = chosen.iter().find(|name| !known(name)) {
        let names: Vec<&str> = SECTIONS.iter().map(|(name, _)| *name).collect();
        eprintln!(
            "unknown section {unknown:?}; the sections are {}",
            names.join(", ")
        );
        std::process::exit(2);
    }
    for (name, run) in SECTIONS {
        let by_default = !ON_REQUEST.contains(&name);
        if (chosen.is_empty() && by_default) || chosen.iter().any(|chosen| chosen == name) {
            run()?;
        }
    }
    Ok(())
}

/// What a first visit downloads.
fn page() -> Result<()> {
    let weight = page_weight::measure()?;
    let (first, later) = (weight.first_visit, weight.on_demand);
    println!(
        "Page weight, gzipped (wasm + JS + CSS a first visit loads from dist/, {} files): \
         {:.1} KB, {:.1} KB before gzip (target at most {PAGE_WEIGHT_TARGET_KB} KB)",
        first.files,
        kb(first.gzipped_bytes),
        kb(first.bytes)
    );
    println!(
        "  loaded on demand (swarms, Save all, dropped folders; {} files): {:.1} KB gzipped, \
         {:.1} KB before gzip",
        later.files,
        kb(later.gzipped_bytes),
        kb(later.bytes)
    );
    Ok(())
}

/// Browsers A (on host a, with the signaling server) and B (on host b), in one room and
/// connected, with a directory for test files.
struct Pair {
    server: SignalingServer,
    peers: Vec<Peer>,
    dir: TempDir,
}

impl Pair {
    async fn join(hosts: &TwoHosts) -> Result<Pair> {
        let server = SignalingServer::start().await?;
        println!("Browser A on host a sends, browser B on host b receives, over a veth pair.");
        let peers = join_across(hosts, &server, "bench", ["A", "B"]).await?;
        everyone_connected(&peers).await?;
        Ok(Pair {
            server,
            peers,
            dir: scratch_dir()?,
        })
    }

    fn sender(&self) -> &Peer {
        &self.peers[0]
    }

    fn receiver(&self) -> &Peer {
        &self.peers[1]
    }
}

/// Transfer speed: raw, web app and native peers, taking turns.
fn transfers() -> Result<()> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let pair = Pair::join(&hosts).await?;
        speed(&hosts.b, &pair).await
    })
}

/// B's renderer memory while it receives ever larger files.
fn memory() -> Result<()> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let pair = Pair::join(&hosts).await?;
        memory_growth(&pair).await
    })
}

/// Chat latency while a large file moves between the same pages.
fn chat() -> Result<()> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let pair = Pair::join(&hosts).await?;
        let large = TestFile::sparse(pair.dir.path(), "large.bin", LARGE_BYTES)?;
        chat_load::measure(pair.sender(), pair.receiver(), &large).await
    })
}

async fn speed(host_b: &NetNs, pair: &Pair) -> Result<()> {
    let (server, peers) = (&pair.server, &pair.peers);
    let (sender, receiver) = (pair.sender(), pair.receiver());
    // `meshdrop send --to` picks the receiving browser by its display name.
    receiver.0.set_name(receiver.0.label()).await?;
    let timed = TestFile::sparse(pair.dir.path(), "timed.bin", TIMED_BYTES)?;
    let native_inbox = pair.dir.path().join("native-inbox");
    std::fs::create_dir(&native_inbox).map_err(|source| Error::Io {
        action: format!("create {}", native_inbox.display()),
        source,
    })?;
    let raw_message_bytes = fastest_raw_message(&sender.0, &receiver.0).await?;
    println!(
        "{} each way, {ROUNDS} rounds; raw: first to last message at B; \
         web app: B transferring to done; meshdrop receiver: its `receiving` to its `done` line",
        size(TIMED_BYTES)
    );
    let mut ratios = Vec::new();
    let mut cpu = (Vec::new(), Vec::new());
    let mut cpu_by_process = (CpuUse::new(), CpuUse::new());
    let mut throughput = Throughput::default();
    let both = [sender.0.browser(), receiver.0.browser()];
    for round in 1..=ROUNDS {
        let raw_way = with_cpu_use(
            both,
            baseline::transfer(
                both[0],
                both[1],
                TIMED_BYTES,
                raw_message_bytes,
                TRANSFER_TIMEOUT,
            ),
        );
        let app_way = with_cpu_use(both, send_through_app(sender, receiver, &timed));
        // Taking turns at going first, so neither always runs on a machine the other warmed up.
        let (((_, raw), raw_spent), (app, app_spent)) = if round % 2 == 1 {
            let raw = raw_way.await?;
            (raw, app_way.await?)
        } else {
            let app = app_way.await?;
            (raw_way.await?, app)
        };
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
        let native = native_to_native(host_b, server, &timed, &native_inbox).await?;
        let native_to_app = native_to_app(server, receiver, &timed).await?;
        let app_to_native = app_to_native(server, peers, &timed, &native_inbox).await?;
        println!(
            "           meshdrop → meshdrop {:.1} MiB/s, meshdrop → web app {:.1} MiB/s, \
             web app → meshdrop {:.1} MiB/s",
            native.mib_per_second(),
            native_to_app.mib_per_second(),
            app_to_native.mib_per_second()
        );
        throughput.raw.push(raw.mib_per_second());
        throughput.app.push(app.mib_per_second());
        throughput.native.push(native.mib_per_second());
        throughput
            .native_to_app
            .push(native_to_app.mib_per_second());
        throughput
            .app_to_native
            .push(app_to_native.mib_per_second());
        ratios.push(ratio);
        cpu.0.push(raw_cpu);
        cpu.1.push(app_cpu);
    }
    println!(
        "Meshdrop / raw, median of the rounds: {:.2} (target at least 0.95)",
        median(ratios)
    );
    throughput.print();
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
    Ok(())
}

/// B's renderer memory through 256 MiB, 1 GiB and 4 GiB.
async fn memory_growth(pair: &Pair) -> Result<()> {
    let (sender, receiver) = (pair.sender(), pair.receiver());
    println!(
        "B's renderer memory (PSS, all renderers) from before the offer to saveable, sampled every \
         200 ms (target: growth under {GROWTH_TARGET_MIB:.0} MiB at \
         {}, and within {FLAT_TARGET_MIB:.0} MiB of the {} figure):",
        size(HUGE_BYTES),
        size(TIMED_BYTES)
    );
    let timed = TestFile::sparse(pair.dir.path(), "timed.bin", TIMED_BYTES)?;
    let large = TestFile::sparse(pair.dir.path(), "large.bin", LARGE_BYTES)?;
    let huge = TestFile::sparse(pair.dir.path(), "huge.bin", HUGE_BYTES)?;
    for file in [&timed, &large, &huge] {
        let sampler = MemorySampler::start(receiver.0.browser())?;
        let transfer = send_through_app(sender, receiver, file).await?;
        let memory = sampler.stop().await?;
        let (baseline, peak) = (memory.baseline, memory.peak);
        let change = |of: fn(&Pss) -> u64| mib(of(&peak)) - mib(of(&baseline));
        println!(
            "  {:>8}: baseline {:.1} MiB, peak {:.1} MiB, growth {:.1} MiB ({:.1} MiB/s)",
            size(transfer.bytes),
            mib(baseline.total),
            mib(peak.total),
            mib(memory.growth()),
            transfer.mib_per_second()
        );
        println!(
            "            the growth by kind: private {:+.1}, file pages {:+.1}, shared {:+.1} MiB; \
             the page's JS heap at most {:.1} MiB, its ArrayBuffers at most {:.1} MiB; \
             after a forced GC at the end {:+.1} MiB over the baseline",
            change(|pss| pss.anon),
            change(|pss| pss.file),
            change(|pss| pss.shmem),
            mib(memory.heap_peak),
            mib(memory.array_buffers_peak),
            mib(memory.after_collection.total) - mib(baseline.total),
        );
    }
    Ok(())
}

/// The raw loop's message size that moves [`TIMED_BYTES`] fastest from `a` to `b`, so
/// that the reference is the ceiling: 64 KiB (what every connection takes) and 256 KiB
/// (what browsers take, and the web app sends), taking turns.
async fn fastest_raw_message(a: &App, b: &App) -> Result<u32> {
    const SIZES: [u32; 2] = [baseline::MESSAGE_BYTES, 256 * 1024];
    const TURNS: usize = 3;
    let mut figures = [Vec::new(), Vec::new()];
    for _ in 0..TURNS {
        for (size, figures) in SIZES.iter().zip(&mut figures) {
            let (_, received) = baseline::transfer(
                a.browser(),
                b.browser(),
                TIMED_BYTES,
                *size,
                TRANSFER_TIMEOUT,
            )
            .await?;
            figures.push(received.mib_per_second());
        }
    }
    let [small, large] = figures.map(median);
    let fastest = if large > small { SIZES[1] } else { SIZES[0] };
    println!(
        "Raw loop's message size, median of {TURNS} turns: 64 KiB {small:.1} MiB/s, \
         256 KiB {large:.1} MiB/s; the reference below sends {} KiB messages",
        fastest / 1024
    );
    Ok(fastest)
}

/// Throughput of each way of sending, one figure per round, in MiB/s.
#[derive(Default)]
struct Throughput {
    raw: Vec<f64>,
    app: Vec<f64>,
    native: Vec<f64>,
    native_to_app: Vec<f64>,
    app_to_native: Vec<f64>,
}

impl Throughput {
    fn print(self) {
        println!(
            "{} from host a to host b, MiB/s, median of {ROUNDS} rounds:",
            size(TIMED_BYTES)
        );
        let app = median(self.app);
        println!(
            "  {:<40} {:>6.1}",
            "raw RTCDataChannel, browser → browser",
            median(self.raw)
        );
        println!("  {:<40} {app:>6.1}", "web app → web app");
        println!(
            "  {:<40} {:>6.1}",
            "meshdrop → meshdrop (release build)",
            median(self.native)
        );
        for (way, figures) in [
            ("meshdrop → web app", self.native_to_app),
            ("web app → meshdrop", self.app_to_native),
        ] {
            let figure = median(figures);
            println!(
                "  {way:<40} {figure:>6.1}  ({:.2} of web app → web app; target at least 0.90)",
                figure / app
            );
        }
    }
}

/// `sender` offers `file` to `receiver`, which accepts; returns the receiver's timings.
async fn send_through_app(sender: &Peer, receiver: &Peer, file: &TestFile) -> Result<AppTransfer> {
    let (sending, sender_id) = sender;
    let (receiving, receiver_id) = receiver;
    sending
        .send_files(Recipient::Peer(receiver_id), &[file])
        .await?;
    accept_in_app(receiving, sender_id, file).await
}

/// `meshdrop send` on this host offers `file` to `receiver`'s app, which accepts.
async fn native_to_app(
    server: &SignalingServer,
    receiver: &Peer,
    file: &TestFile,
) -> Result<AppTransfer> {
    let (receiving, _) = receiver;
    let signaling = signaling_url(server, Ipv4Addr::LOCALHOST);
    let path = file.path().to_string_lossy();
    let mut sender = Meshdrop::start_here(&[
        "send",
        &path,
        "--server",
        &signaling,
        "--room",
        "bench",
        "--to",
        receiving.label(),
    ])?;
    let sender_id = sender.joined().await?;
    let transfer = accept_in_app(receiving, &sender_id, file).await?;
    sender.succeeded().await?;
    Ok(transfer)
}

/// Browser B (`peers[1]`, on host b) sends `file` to `meshdrop receive --yes` on this
/// host (a), which saves it in `inbox`; the received copy is deleted again.
async fn app_to_native(
    server: &SignalingServer,
    peers: &[Peer],
    file: &TestFile,
    inbox: &Path,
) -> Result<NativeReceipt> {
    let ((_, a_id), (sending, _)) = (&peers[0], &peers[1]);
    let (signaling, inbox_path) = (
        signaling_url(server, Ipv4Addr::LOCALHOST),
        inbox.to_string_lossy(),
    );
    #[rustfmt::skip]
    let mut receiver = Meshdrop::start_here(&[
        "receive", "--server", &signaling, "--room", "bench", "--name", "native-a",
        "--yes", "--dir", &inbox_path,
    ])?;
    let receiver_id = receiver.joined().await?;
    sending
        .wait_for_peers(&[a_id, &receiver_id], "connected")
        .await?;
    sending
        .send_files(Recipient::Peer(&receiver_id), &[file])
        .await?;
    let receipt = receiver.receipt(file.size()).await?;
    receiver.succeeded().await?;
    remove_received(inbox, file)?;
    Ok(receipt)
}

/// `meshdrop send` on this host (a) sends `file` to `meshdrop receive --yes` on `host_b`,
/// which saves it in `inbox`; the received copy is deleted again.
async fn native_to_native(
    host_b: &NetNs,
    server: &SignalingServer,
    file: &TestFile,
    inbox: &Path,
) -> Result<NativeReceipt> {
    let (sender_url, receiver_url) = (
        signaling_url(server, Ipv4Addr::LOCALHOST),
        signaling_url(server, HOST_A),
    );
    let (path, inbox_path) = (file.path().to_string_lossy(), inbox.to_string_lossy());
    #[rustfmt::skip]
    let mut receiver = Meshdrop::start_on(host_b, &[
        "receive", "--server", &receiver_url, "--room", "native", "--name", "native-b",
        "--yes", "--dir", &inbox_path,
    ])?;
    receiver.joined().await?;
    #[rustfmt::skip]
    let sender = Meshdrop::start_here(&[
        "send", &path, "--server", &sender_url, "--room", "native", "--to", "native-b",
    ])?;
    let receipt = receiver.receipt(file.size()).await?;
    sender.succeeded().await?;
    receiver.succeeded().await?;
    remove_received(inbox, file)?;
    Ok(receipt)
}

/// Deletes the copy of `file` a `meshdrop receive` saved in `inbox`.
fn remove_received(inbox: &Path, file: &TestFile) -> Result<()> {
    let received = inbox.join(file.name());
    std::fs::remove_file(&received).map_err(|source| Error::Io {
        action: format!("delete {}", received.display()),
        source,
    })
}

/// The signaling WebSocket as a `meshdrop` on a host that reaches the server at `host` sees it.
fn signaling_url(server: &SignalingServer, host: Ipv4Addr) -> String {
    format!("ws://{}/ws", server.address(host))
}

/// `receiving` accepts the offer of `file` from `sender_id`; returns its timings once the
/// received file is saveable. While the file moves, nothing polls the pages: the receiver's
/// clock says when it is over.
async fn accept_in_app(receiving: &App, sender_id: &str, file: &TestFile) -> Result<AppTransfer> {
    // Before accepting, so the clock sees `transferring` appear.
    receiving
        .browser()
        .run::<()>("installing the transfer clock", CLOCK_SCRIPT, vec![])
        .await?;
    let offered = receiving.wait_for_offer(sender_id, &[file]).await?;
    receiving
        .click_transfer_button(sender_id, &offered.id, TransferButton::Accept)
        .await?;
    let times = receiving
        .browser()
        .run(
            "waiting for the transfer to end, by the transfer clock",
            "return transferClock.ended(arguments[0], arguments[1])",
            vec![json!(sender_id), json!(offered.id)],
        )
        .await?;
    Ok(AppTransfer {
        bytes: file.size(),
        times,
    })
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

/// `work`'s result and the CPU time both browsers spent while it ran.
async fn with_cpu_use<T>(
    browsers: [&Browser; 2],
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<(T, CpuUse)> {
    let before = cpu_use(browsers)?;
    let result = work.await?;
    Ok((result, spent(&before, &cpu_use(browsers)?)))
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

/// Kilobytes of 1000 bytes, as page weights are usually given.
fn kb(bytes: u64) -> f64 {
    bytes as f64 / 1000.0
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
