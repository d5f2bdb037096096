//! Link recovery, end to end: real browsers on two hosts whose wire is cut and mended
//! (`ip link set DEV down` / `up`), the real signaling server, the built app.
//!
//! Needs the web app in `dist/` (`cargo xtask test` builds it first).

use std::time::Duration;

use meshdrop_e2e::room::{
    cut_wire_for, everyone_chats, everyone_connected, everyone_names_themselves, join_across, Peer,
};
use meshdrop_e2e::{run_in, Result, SignalingServer, TwoHosts};

/// Cut the wire for `cut`, then mend it and wait until both pages show each other
/// connected again. Returns how long that took after the mend.
async fn cut_and_mend(hosts: &TwoHosts, peers: &[Peer], cut: Duration) -> Result<Duration> {
    let mended = cut_wire_for(hosts, &peers[0].0, cut).await?;
    everyone_connected(peers).await?;
    Ok(mended.elapsed())
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

/// An 8 s cut: the links go down, the offering page restarts ICE on the same
/// connection, and chat flows again on it.
#[test]
fn an_eight_second_cut_is_mended_by_an_ice_restart() -> Result<()> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let server = SignalingServer::start().await?;
        let peers = join_across(&hosts, &server, "cut", ["alice", "bob"]).await?;
        everyone_connected(&peers).await?;
        everyone_names_themselves(&peers).await?;
        everyone_chats(&peers, |label| format!("{label} before the cut")).await?;

        let back = cut_and_mend(&hosts, &peers, Duration::from_secs(8)).await?;
        println!("8 s cut: both pages connected again {back:?} after the mend");
        let (restarts, rebuilds) = recoveries(&peers).await?;
        assert!(restarts >= 1, "the link was ICE-restarted");
        assert_eq!(rebuilds, 0, "and not rebuilt");
        everyone_chats(&peers, |label| format!("{label} after the cut")).await
    })
}

/// A 45 s cut outlasts ICE: the offering page builds a new connection, and chat flows
/// on it.
#[test]
fn a_forty_five_second_cut_is_mended_by_a_new_connection() -> Result<()> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let server = SignalingServer::start().await?;
        let peers = join_across(&hosts, &server, "cut", ["alice", "bob"]).await?;
        everyone_connected(&peers).await?;
        everyone_names_themselves(&peers).await?;
        everyone_chats(&peers, |label| format!("{label} before the cut")).await?;

        let back = cut_and_mend(&hosts, &peers, Duration::from_secs(45)).await?;
        println!("45 s cut: both pages connected again {back:?} after the mend");
        let (_, rebuilds) = recoveries(&peers).await?;
        assert!(rebuilds >= 1, "the link was rebuilt");
        everyone_chats(&peers, |label| format!("{label} after the long cut")).await
    })
}
