//! Link recovery: how soon after a wire cut ends bytes flow again between two pages.
//!
//! Page A on host a (with the signaling server) and page B on host b, connected. Each
//! round cuts the veth pair (`ip link set down`), mends it after a while, and times from
//! the mend until page A shows B connected again (link up) and until a chat line A sends
//! at that moment is shown by B (bytes flowing). An 8 s cut is mended by an ICE restart,
//! a 45 s cut (past ICE's failure) by a new connection; the pages' counters say which.

use std::time::Duration;

use meshdrop_e2e::room::{cut_wire_for, everyone_connected, join_across, Peer};
use meshdrop_e2e::{run_in, Result, SignalingServer, TwoHosts};

use crate::median;

/// Rounds of the short cut; an odd number, so the median is one round's figure.
const ROUNDS: usize = 3;
const SHORT_CUT: Duration = Duration::from_secs(8);
const LONG_CUT: Duration = Duration::from_secs(45);
const RESTART_GOAL_MS: f64 = 3000.0;
const REBUILD_GOAL_MS: f64 = 6000.0;

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
            let (link_ms, chat_ms, how) = round_trip(&hosts, &peers, SHORT_CUT, round).await?;
            println!("  {SHORT_CUT:?} cut, round {round}: link up {link_ms:.0} ms, chat delivered {chat_ms:.0} ms ({how})");
            up.push(link_ms);
            flowing.push(chat_ms);
        }
        println!(
            "{SHORT_CUT:?} cut (ICE restart), median of {ROUNDS}: link up {:.0} ms, bytes flowing {:.0} ms \
             (goal under {RESTART_GOAL_MS:.0} ms)",
            median(up),
            median(flowing)
        );
        let (link_ms, chat_ms, how) = round_trip(&hosts, &peers, LONG_CUT, 0).await?;
        println!(
            "{LONG_CUT:?} cut (new connection): link up {link_ms:.0} ms, bytes flowing {chat_ms:.0} ms \
             ({how}; goal under {REBUILD_GOAL_MS:.0} ms)"
        );
        Ok(())
    })
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

/// Totals of (ICE restarts, rebuilt links) over the pages.
async fn recoveries(peers: &[Peer]) -> Result<(u32, u32)> {
    let mut totals = (0, 0);
    for (app, _) in peers {
        let snapshot = app.snapshot().await?;
        totals.0 += snapshot.ice_restarts;
        totals.1 += snapshot.link_rebuilds;
    }
    Ok(totals)
}
