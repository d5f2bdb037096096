//! Sending to many: one `meshdrop send` delivers a file to N receivers on hosts of one
//! switch, every host sending at most [`EGRESS_MBIT`], with the swarm (receivers pass
//! blocks on to each other) and, in the same run, without it (`--no-swarm`: the sender
//! uploads every byte to every receiver). With fan-out the time grows with N; the
//! swarm's goal is N = 4 within 1.5 times the time of N = 1, and N = 8 within 2 times.
//! Section `swarm`: `meshdrop receive`s, N = 1, 4, 8. Section `swarm-web`: the web app
//! in headless Chromium, N = 1, 2, 4 (a browser per host; more do not fit two cores).

use std::path::Path;

use futures_util::future::try_join_all;
use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::room::{everyone_connected, open_on, Peer};
use meshdrop_e2e::{
    run_in, Error, Launch, RemoteHost, Result, ServesApp, SignalingServer, Switch, TestFile,
    TransferButton,
};
use tokio::time::Instant;

use crate::native_peer::Meshdrop;

const MIB: u64 = 1 << 20;
/// What the sender delivers.
const BYTES: u64 = 256 * MIB;
/// Every host's upload, as a home uplink.
const EGRESS_MBIT: u32 = 40;
/// The receiver counts timed, both ways: `meshdrop receive`s, and browsers.
const RECEIVERS: [usize; 3] = [1, 4, 8];
const PAGES: [usize; 3] = [1, 2, 4];
/// Goals: N receivers within this many times the time of one, with the swarm.
const GOALS: [(usize, f64); 2] = [(4, 1.5), (8, 2.0)];

/// Who receives.
#[derive(Clone, Copy, PartialEq)]
enum Receivers {
    Native,
    Browsers,
}

/// `meshdrop receive`s.
pub fn run() -> Result<()> {
    run_with(Receivers::Native)
}

/// The web app.
pub fn run_web() -> Result<()> {
    run_with(Receivers::Browsers)
}

fn run_with(kind: Receivers) -> Result<()> {
    let counts = match kind {
        Receivers::Native => RECEIVERS,
        Receivers::Browsers => PAGES,
    };
    let most = counts.iter().max().copied().unwrap_or(1);
    let switch = Switch::create(1 + most, Some(EGRESS_MBIT))?;
    let dir = scratch_dir()?;
    let file = TestFile::random(dir.path(), "swarmed.bin", BYTES)?;
    run_in(&switch.hub, async {
        let server = SignalingServer::start().await?;
        let url = server.websocket_url(Switch::HUB);
        let (who, done) = match kind {
            Receivers::Native => ("`meshdrop receive`s", "last receiver's `done`"),
            Receivers::Browsers => ("web apps (headless Chromium)", "last page's Done"),
        };
        println!(
            "\nSending to many: `meshdrop send` of {} MiB to N {who}, each host on one switch \
             sending at most {EGRESS_MBIT} Mbit/s; from the sender's start to the {done}",
            BYTES / MIB
        );
        let mut times = Vec::new();
        for receivers in counts {
            // One receiver gets the plain stream either way.
            let ways: &[bool] = if receivers == 1 {
                &[false]
            } else {
                &[false, true]
            };
            for &swarm in ways {
                let delivery = match kind {
                    Receivers::Native => {
                        deliver(&switch, &url, &file, dir.path(), receivers, swarm).await?
                    }
                    Receivers::Browsers => {
                        deliver_to_pages(&switch, &server, &file, receivers, swarm).await?
                    }
                };
                println!(
                    "  N = {receivers}, {}: {:.1} s{}",
                    if swarm { "swarm" } else { "fan-out" },
                    delivery.seconds,
                    delivery.share_note()
                );
                times.push((receivers, swarm, delivery.seconds));
            }
        }
        let alone = times[0].2;
        println!("  against N = 1 ({alone:.1} s):");
        let goals = GOALS.iter().filter(|(n, _)| counts.contains(n));
        for &(receivers, goal) in goals {
            let of = |swarm: bool| {
                times
                    .iter()
                    .find(|(n, way, _)| *n == receivers && *way == swarm)
                    .map_or(f64::NAN, |(_, _, seconds)| seconds / alone)
            };
            let (fan_out, swarm) = (of(false), of(true));
            let verdict = if swarm <= goal { "met" } else { "NOT met" };
            println!(
                "    N = {receivers}: swarm {swarm:.2} × (goal at most {goal} ×: {verdict}), \
                 fan-out {fan_out:.2} ×"
            );
        }
        server.stop().await
    })
}

/// One delivery, as timed.
struct Delivery {
    seconds: f64,
    /// Per receiver, the bytes that came from other receivers and from the sender.
    shares: Vec<(u64, u64)>,
}

impl Delivery {
    fn share_note(&self) -> String {
        if self.shares.is_empty() {
            return String::new();
        }
        let from_peers: u64 = self.shares.iter().map(|(peers, _)| peers).sum();
        let total: u64 = self
            .shares
            .iter()
            .map(|(peers, origin)| peers + origin)
            .sum();
        format!(
            " ({:.0} % of the bytes received came from other receivers)",
            100.0 * from_peers as f64 / total.max(1) as f64
        )
    }
}

/// Sends `file` from host 0 to `receivers` receivers on hosts 1 to N.
async fn deliver(
    switch: &Switch,
    url: &str,
    file: &TestFile,
    scratch: &Path,
    receivers: usize,
    swarm: bool,
) -> Result<Delivery> {
    let room = format!("many-{receivers}-{}", if swarm { "swarm" } else { "fan" });
    let mut started = Vec::new();
    for n in 1..=receivers {
        let inbox = scratch.join(format!("{room}-{n}"));
        std::fs::create_dir_all(&inbox).map_err(|source| Error::Io {
            action: format!("create {}", inbox.display()),
            source,
        })?;
        let name = format!("r{n}");
        let inbox = inbox.to_str().expect("a UTF-8 scratch path").to_owned();
        #[rustfmt::skip]
        let args = ["receive", "--room", &room, "--yes", "--dir", &inbox, "--server", url, "--name", &name];
        let mut receiver = Meshdrop::start_on(&switch.hosts[n], &args)?;
        receiver.joined().await?;
        started.push((receiver, inbox));
    }
    let path = file.path().to_str().expect("a UTF-8 scratch path");
    let mut args = vec![
        "send", path, "--room", &room, "--server", url, "--name", "origin",
    ];
    if !swarm {
        args.push("--no-swarm");
    }
    let start = Instant::now();
    let sender = Meshdrop::start_on(&switch.hosts[0], &args)?;
    let mut last_done = start;
    let mut shares = Vec::new();
    for (receiver, _) in &mut started {
        // A swarm's receiver says where its blocks came from, just before or after
        // its transfer's `done`.
        let mut pending = if swarm { 2 } else { 1 };
        while pending > 0 {
            let (line, at) = receiver
                .status("that the transfer is done", |line| {
                    line.ends_with(": done") || line.starts_with("all blocks here: ")
                })
                .await?;
            if line.ends_with(": done") {
                last_done = last_done.max(at);
            } else {
                shares.push(share_of(&line));
            }
            pending -= 1;
        }
    }
    sender.succeeded().await?;
    for (receiver, inbox) in started {
        receiver.succeeded().await?;
        let _ = std::fs::remove_dir_all(inbox);
    }
    Ok(Delivery {
        seconds: (last_done - start).as_secs_f64(),
        shares,
    })
}

/// Sends `file` from host 0 to `receivers` pages, one on each of hosts 1 to N, which
/// accept it together.
async fn deliver_to_pages(
    switch: &Switch,
    server: &SignalingServer,
    file: &TestFile,
    receivers: usize,
    swarm: bool,
) -> Result<Delivery> {
    let room = format!("pages-{receivers}-{}", if swarm { "swarm" } else { "fan" });
    let mut pages: Vec<Peer> = Vec::new();
    for n in 1..=receivers {
        let launch = Launch::on(RemoteHost {
            ns: &switch.hosts[n],
            address: Switch::address(n),
            driven_from: Switch::HUB,
            behind: None,
        });
        let label = format!("p{n}");
        pages.push(open_on(launch, server, Switch::HUB, Some(&room), &label).await?);
    }
    everyone_connected(&pages).await?;
    let url = server.websocket_url(Switch::HUB);
    let path = file.path().to_str().expect("a UTF-8 scratch path");
    let mut args = vec![
        "send", path, "--room", &room, "--server", &url, "--name", "origin",
    ];
    if !swarm {
        args.push("--no-swarm");
    }
    let start = Instant::now();
    let mut sender = Meshdrop::start_on(&switch.hosts[0], &args)?;
    let origin = sender.joined().await?;
    let offered = [file];
    let offers = try_join_all(
        pages
            .iter()
            .map(|(page, _)| page.wait_for_offer(&origin, &offered)),
    )
    .await?;
    try_join_all(pages.iter().zip(&offers).map(|((page, _), offer)| {
        page.click_transfer_button(&origin, &offer.id, TransferButton::Accept)
    }))
    .await?;
    let ended = try_join_all(pages.iter().zip(&offers).map(|((page, _), offer)| {
        let origin = &origin;
        async move {
            let entry = page.wait_for_transfer(origin, &offer.id, "done").await?;
            Ok::<_, Error>((entry, Instant::now()))
        }
    }))
    .await?;
    let last_done = ended.iter().map(|(_, at)| *at).max().unwrap_or(start);
    let shares = ended
        .iter()
        .filter_map(|(entry, _)| entry.from_peers)
        .map(|from_peers| (from_peers, file.size() - from_peers))
        .collect();
    sender.succeeded().await?;
    Ok(Delivery {
        seconds: (last_done - start).as_secs_f64(),
        shares,
    })
}

/// (from peers, from the sender) in "all blocks here: X bytes from peers, Y from the
/// sender".
fn share_of(line: &str) -> (u64, u64) {
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|word| word.parse().ok())
        .collect();
    match numbers[..] {
        [peers, origin, ..] => (peers, origin),
        _ => (0, 0),
    }
}
