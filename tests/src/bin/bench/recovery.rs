//! Link recovery: how soon after a wire cut ends bytes flow again between two pages.
//!
//! Page A on host a (with the signaling server) and page B on host b, connected. Each
//! round cuts the veth pair (`ip link set down`), mends it after a while, and times from
//! the mend until page A shows B connected again (link up) and until a chat line A sends
//! at that moment is shown by B (bytes flowing). A 12 s cut is mended by an ICE restart
//! (due about 8 s into it: a shorter cut may heal before one), a 45 s cut (past ICE's
//! failure) by a new connection; the pages' counters say which.
//!
//! Then what a recovery costs a transfer: a 256 MiB file from A to B cut at 40 % for
//! 12 s (ICE restart) and for 45 s (new connection), with the file bytes the pages'
//! counters say were sent and received twice; and the same file sent undisturbed and
//! with the signaling server restarted (killed at 30 %, started 5 s later), timed.

use std::time::Duration;

use meshdrop_e2e::cuts::{send_across_a_cut, send_across_a_server_restart};
use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::room::{cut_wire_for, everyone_connected, join_across, recoveries, Peer};
use meshdrop_e2e::{run_in, Result, SignalingServer, TestFile, TwoHosts};

use crate::median;

/// Rounds of the short cut; an odd number, so the median is one round's figure.
const ROUNDS: usize = 3;
const LONG_CUT: Duration = Duration::from_secs(45);
const RESTART_GOAL_MS: f64 = 3000.0;
const REBUILD_GOAL_MS: f64 = 6000.0;
const MIB: u64 = 1 << 20;
const TRANSFER_SIZE: u64 = 256 * MIB;
/// Long enough for the offering side's ICE restart, which is due about 8 s into a cut.
const RESTART_CUT: Duration = Duration::from_secs(12);
const SERVER_DOWN: Duration = Duration::from_secs(5);

pub fn run() -> Result<()> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let server = SignalingServer::start().await?;
        let peers = join_across(&hosts, &server, "recovery", ["A", "B"]).await?;
        everyone_connected(&peers).await?;
        println!(
            "Link recovery between page A (host a) and page B (host b), from the end of a cut:"
        );
        let (mut up, mut flowing) = (Vec::new(), Vec::new());
        for round in 1..=ROUNDS {
            let (link_ms, chat_ms, how) = round_trip(&hosts, &peers, RESTART_CUT, round).await?;
            println!("  {RESTART_CUT:?} cut, round {round}: link up {link_ms:.0} ms, chat delivered {chat_ms:.0} ms ({how})");
            up.push(link_ms);
            flowing.push(chat_ms);
        }
        println!(
            "{RESTART_CUT:?} cut (ICE restart), median of {ROUNDS}: link up {:.0} ms, bytes flowing {:.0} ms \
             (goal under {RESTART_GOAL_MS:.0} ms)",
            median(up),
            median(flowing)
        );
        let (link_ms, chat_ms, how) = round_trip(&hosts, &peers, LONG_CUT, 0).await?;
        println!(
            "{LONG_CUT:?} cut (new connection): link up {link_ms:.0} ms, bytes flowing {chat_ms:.0} ms \
             ({how}; goal under {REBUILD_GOAL_MS:.0} ms)"
        );
        transfers(&hosts, server, &peers).await
    })
}

/// Bytes sent twice per recovery during a transfer, and a transfer's time across a
/// server restart beside an undisturbed one's.
async fn transfers(hosts: &TwoHosts, server: SignalingServer, peers: &[Peer]) -> Result<()> {
    let dir = scratch_dir()?;
    let file = TestFile::random(dir.path(), "recovery.bin", TRANSFER_SIZE)?;
    println!("{} MiB from A to B, cut at 40 %:", TRANSFER_SIZE / MIB);
    for cut in [RESTART_CUT, LONG_CUT] {
        let figures = send_across_a_cut(hosts, peers, &file, cut, 40, &[]).await?;
        println!(
            "  {cut:?} cut ({} ICE restarts, {} new connections): {} KiB sent twice, \
             {} KiB received twice; done {:.1} s after the accept",
            figures.ice_restarts,
            figures.link_rebuilds,
            figures.sent_twice / 1024,
            figures.received_twice / 1024,
            figures.took.as_secs_f64()
        );
    }
    let (figures, server) =
        send_across_a_server_restart(server, peers, &file, SERVER_DOWN, 30).await?;
    let back: Vec<String> = figures
        .back_in_room
        .iter()
        .map(|(label, back)| format!("{label} {:.0} ms", back.as_secs_f64() * 1000.0))
        .collect();
    println!(
        "Server killed at 30 % and started {SERVER_DOWN:?} later: back in the room after \
         the restart: {} (goal under 3000 ms); the transfer took {:.1} s, undisturbed \
         {:.1} s ({:+.0} %, goal within 20 %)",
        back.join(", "),
        figures.disturbed.as_secs_f64(),
        figures.undisturbed.as_secs_f64(),
        (figures.disturbed.as_secs_f64() / figures.undisturbed.as_secs_f64() - 1.0) * 100.0
    );
    server.stop().await
}

/// One cut of `cut`: milliseconds from the mend to the link up and to a chat line
/// delivered, and how the pages recovered it.
async fn round_trip(
    hosts: &TwoHosts,
    peers: &[Peer],
    cut: Duration,
    round: usize,
) -> Result<(f64, f64, String)> {
    let ((a, a_id), (b, _)) = (&peers[0], &peers[1]);
    let before = recoveries(peers).await?;
    let mended = cut_wire_for(hosts, a, cut).await?;
    a.wait_for("the peer connected again", |s| {
        s.peers
            .iter()
            .all(|peer| peer.state == "connected")
            .then_some(())
    })
    .await?;
    let link_ms = mended.elapsed().as_secs_f64() * 1000.0;
    let text = format!("after cut {round} of {cut:?}");
    a.send_chat(&text).await?;
    b.wait_for_chat(a_id, &text).await?;
    let chat_ms = mended.elapsed().as_secs_f64() * 1000.0;
    let after = recoveries(peers).await?;
    let how = format!(
        "{} ICE restarts, {} new connections",
        after.0 - before.0,
        after.1 - before.1
    );
    Ok((link_ms, chat_ms, how))
}
