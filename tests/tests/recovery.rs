//! Link recovery, end to end: real browsers on two hosts whose wire is cut and mended
//! (`ip link set DEV down` / `up`), the real signaling server, the built app.
//!
//! Needs the web app in `dist/` (`cargo xtask test` builds it first).

use std::time::Duration;

use meshdrop_e2e::cuts::{send_across_a_cut, send_across_a_server_restart, CutTransfer};
use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::room::{
    connected_and_named, cut_wire_for, everyone_chats, everyone_connected,
    everyone_names_themselves, join_across, recoveries, Peer,
};
use meshdrop_e2e::{run_in, Result, SignalingServer, TestFile, TwoHosts};

const MIB: u64 = 1 << 20;
/// As the issue asks: far more than the data channels hold in flight.
const FILE_SIZE: u64 = 256 * MIB;
/// At most this much may be sent (and arrive) twice: the block being received when the
/// wire was cut, and a little.
const TWICE_AT_MOST: u64 = 2 * MIB;

/// Cut the wire for `cut`, then mend it and wait until both pages show each other
/// connected again. Returns how long that took after the mend.
async fn cut_and_mend(hosts: &TwoHosts, peers: &[Peer], cut: Duration) -> Result<Duration> {
    let mended = cut_wire_for(hosts, &peers[0].0, cut).await?;
    everyone_connected(peers).await?;
    Ok(mended.elapsed())
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

/// A 256 MiB file whose wire is cut for `cut` at about 40 %, with chat typed during the
/// cut: it arrives whole, both pages showed it paused then done, the chat arrives once
/// and in order, and at most [`TWICE_AT_MOST`] bytes were sent twice.
fn transfer_across_a_cut(cut: Duration) -> Result<CutTransfer> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let server = SignalingServer::start().await?;
        let peers = join_across(&hosts, &server, "cut", ["alice", "bob"]).await?;
        let peers = connected_and_named(peers).await?;
        let dir = scratch_dir()?;
        let file = TestFile::random(dir.path(), "across-the-cut.bin", FILE_SIZE)?;
        let chat: Vec<String> = (1..=3)
            .map(|n| format!("typed during the cut, line {n}"))
            .collect();
        let figures = send_across_a_cut(&hosts, &peers, &file, cut, 40, &chat).await?;
        println!(
            "{} MiB across a {cut:?} cut: paused {:?} after the cut, done {:?} after the \
             accept; {} B sent twice, {} B received twice; {} ICE restarts, {} new connections",
            FILE_SIZE / MIB,
            figures.paused_after,
            figures.took,
            figures.sent_twice,
            figures.received_twice,
            figures.ice_restarts,
            figures.link_rebuilds
        );
        assert!(
            figures.received_twice <= TWICE_AT_MOST,
            "at most {TWICE_AT_MOST} B arrived twice: {figures:?}"
        );
        assert!(
            figures.sent_twice <= TWICE_AT_MOST,
            "at most {TWICE_AT_MOST} B were sent twice: {figures:?}"
        );
        Ok(figures)
    })
}

/// An 8 s cut: the same connection carries the transfer on, after an ICE restart or,
/// when the wire is back before the restart is due, after ICE's own consent checks.
#[test]
fn a_file_sent_across_an_eight_second_cut_goes_on_on_the_same_connection() -> Result<()> {
    let figures = transfer_across_a_cut(Duration::from_secs(8))?;
    assert_eq!(figures.link_rebuilds, 0, "the link was not rebuilt");
    Ok(())
}

/// A 12 s cut outlasts the 2 s the offering side waits after ICE reports the link
/// disconnected (about 6 s into a cut): the transfer goes on after an ICE restart.
#[test]
fn a_file_sent_across_a_twelve_second_cut_goes_on_after_an_ice_restart() -> Result<()> {
    let figures = transfer_across_a_cut(Duration::from_secs(12))?;
    assert!(figures.ice_restarts >= 1, "the link was ICE-restarted");
    assert_eq!(figures.link_rebuilds, 0, "and not rebuilt");
    Ok(())
}

#[test]
fn a_file_sent_across_a_forty_five_second_cut_resumes_on_a_new_connection() -> Result<()> {
    let figures = transfer_across_a_cut(Duration::from_secs(45))?;
    assert!(figures.link_rebuilds >= 1, "the link was rebuilt");
    Ok(())
}

/// The signaling server killed at about 30 % of a transfer and started again 5 s later on
/// its port: both pages are back in the room (their times printed; the goal is
/// 3 s), the transfer arrives whole, and its time is printed beside an undisturbed one's.
#[test]
fn a_file_sent_across_a_server_restart_arrives_whole() -> Result<()> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let server = SignalingServer::start().await?;
        let peers = join_across(&hosts, &server, "restart", ["alice", "bob"]).await?;
        let peers = connected_and_named(peers).await?;
        let dir = scratch_dir()?;
        let file = TestFile::random(dir.path(), "across-the-restart.bin", FILE_SIZE)?;
        let (figures, server) =
            send_across_a_server_restart(server, &peers, &file, Duration::from_secs(5), 30).await?;
        for (label, back) in &figures.back_in_room {
            println!("{label} back in the room {back:?} after the server's restart");
        }
        println!(
            "{} MiB: {:?} undisturbed, {:?} with the server restarted ({:+.0} %)",
            FILE_SIZE / MIB,
            figures.undisturbed,
            figures.disturbed,
            (figures.disturbed.as_secs_f64() / figures.undisturbed.as_secs_f64() - 1.0) * 100.0
        );
        everyone_chats(&peers, |label| format!("{label} after the restart")).await?;
        server.stop().await
    })
}
