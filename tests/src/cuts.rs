//! A file sent from page A (host a) to page B (host b) while the wire between them is
//! cut, or while the signaling server restarts: the scenarios of the recovery tests and
//! the benchmark's figures.
//!
//! Both pages record the states the transfer shows (page B cannot be asked while its
//! browser is across the cut wire), and their byte counters say what the recovery sent
//! twice: bytes the sender's data channel took, and bytes that arrived, beyond the
//! file's size.

use std::time::{Duration, Instant};

use crate::app::Recipient;
use crate::error::Result;
use crate::files::TestFile;
use crate::netns::TwoHosts;
use crate::room::{assert_delivered, Peer};
use crate::server::SignalingServer;
use crate::{TransferButton, HOST_A};

/// What one transfer across a cut showed and cost.
#[derive(Debug, Clone)]
pub struct CutTransfer {
    /// From the accept to both pages showing it done.
    pub took: Duration,
    /// From the cut until page A showed the transfer paused.
    pub paused_after: Duration,
    /// File bytes the sender's channels took beyond the file's size.
    pub sent_twice: u64,
    /// File bytes that arrived beyond the file's size.
    pub received_twice: u64,
    /// ICE restarts and rebuilt links, over both pages, during the transfer.
    pub ice_restarts: u32,
    pub link_rebuilds: u32,
}

/// Counters summed over pages.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    sent: u64,
    received: u64,
    ice_restarts: u32,
    link_rebuilds: u32,
}

async fn counters(peers: &[Peer]) -> Result<Counters> {
    let mut totals = Counters::default();
    for (app, _) in peers {
        let snapshot = app.snapshot().await?;
        totals.sent += snapshot.bytes_sent;
        totals.received += snapshot.bytes_received;
        totals.ice_restarts += snapshot.ice_restarts;
        totals.link_rebuilds += snapshot.link_rebuilds;
    }
    Ok(totals)
}

/// Page A sends `file` to page B; once B shows it `at_percent` along, the wire is cut
/// for `cut` (from the cut until it is mended), and page A types `chat` meanwhile,
/// once it shows the transfer paused. Checks that the file arrives whole (SHA-256
/// equal), that both pages showed it paused and then done, and that B shows `chat`
/// from A after the recovery, once each and in order.
pub async fn send_across_a_cut(
    hosts: &TwoHosts,
    peers: &[Peer],
    file: &TestFile,
    cut: Duration,
    at_percent: u32,
    chat: &[String],
) -> Result<CutTransfer> {
    let (alice, bob) = (&peers[0], &peers[1]);
    let before = counters(peers).await?;
    alice.0.record_transfer_states().await?;
    bob.0.record_transfer_states().await?;
    let (id, accepted) = offered_and_accepted(peers, file).await?;
    reached(peers, &id, at_percent).await?;

    hosts.set_wire(false)?;
    let cut_at = Instant::now();
    alice.0.wait_for_transfer(&bob.1, &id, "paused").await?;
    let paused_after = cut_at.elapsed();
    for text in chat {
        alice.0.send_chat(text).await?;
    }
    tokio::time::sleep(cut.saturating_sub(cut_at.elapsed())).await;
    hosts.set_wire(true)?;

    let took = delivered(peers, &id, file, accepted).await?;
    for (app, other) in [(&alice.0, &bob.1), (&bob.0, &alice.1)] {
        let states = app.transfer_states_seen(other, &id).await?;
        let paused = states.iter().position(|state| state == "paused");
        assert!(
            paused.is_some() && states.last().map(String::as_str) == Some("done"),
            "{} showed the transfer paused, then done: {states:?}",
            app.label()
        );
    }
    for text in chat {
        bob.0.wait_for_chat(&alice.1, text).await?;
    }
    let shown: Vec<String> = bob
        .0
        .snapshot()
        .await?
        .chat
        .into_iter()
        .filter(|entry| entry.from == alice.1 && chat.contains(&entry.text))
        .map(|entry| entry.text)
        .collect();
    assert_eq!(
        shown, chat,
        "the lines typed during the cut arrived once each, in order"
    );

    let after = counters(peers).await?;
    Ok(CutTransfer {
        took,
        paused_after,
        sent_twice: (after.sent - before.sent).saturating_sub(file.size()),
        received_twice: (after.received - before.received).saturating_sub(file.size()),
        ice_restarts: after.ice_restarts - before.ice_restarts,
        link_rebuilds: after.link_rebuilds - before.link_rebuilds,
    })
}

/// Page A offers `file` to page B, who accepts it: the transfer's id, and when B accepted.
async fn offered_and_accepted(peers: &[Peer], file: &TestFile) -> Result<(String, Instant)> {
    let (alice, bob) = (&peers[0], &peers[1]);
    alice.0.send_files(Recipient::Peer(&bob.1), &[file]).await?;
    let id = bob.0.wait_for_offer(&alice.1, &[file]).await?.id;
    bob.0
        .click_transfer_button(&alice.1, &id, TransferButton::Accept)
        .await?;
    Ok((id, Instant::now()))
}

/// Waits until page B shows transfer `id` from page A at least `percent` along.
async fn reached(peers: &[Peer], id: &str, percent: u32) -> Result<()> {
    let (alice, bob) = (&peers[0], &peers[1]);
    bob.0
        .wait_for_transfer_where(&alice.1, id, &format!("at {percent}%"), |entry| {
            entry.percent().is_some_and(|shown| shown >= percent)
        })
        .await?;
    Ok(())
}

/// Waits until both pages show transfer `id` done, and checks what arrived; returns how
/// long after `accepted` it was done.
async fn delivered(
    peers: &[Peer],
    id: &str,
    file: &TestFile,
    accepted: Instant,
) -> Result<Duration> {
    let (alice, bob) = (&peers[0], &peers[1]);
    bob.0.wait_for_transfer(&alice.1, id, "done").await?;
    alice.0.wait_for_transfer(&bob.1, id, "done").await?;
    let took = accepted.elapsed();
    assert_delivered(alice, bob, id, &[file]).await?;
    Ok(took)
}

/// What a transfer across a restart of the signaling server showed.
#[derive(Debug, Clone)]
pub struct ServerRestart {
    /// The same file sent with the server up throughout, from accept to done.
    pub undisturbed: Duration,
    /// From accept to done, with the server restarted meanwhile.
    pub disturbed: Duration,
    /// Per page (by label): from the restart until it was back in the room.
    pub back_in_room: Vec<(String, Duration)>,
}

/// Page A sends `file` to page B twice: once undisturbed, once with the signaling
/// `server` stopped when B shows it `at_percent` along and started again on the same
/// port `down` later. Checks that both arrive whole and that each page is back in the
/// room under its own id. Returns the figures, and the new server.
pub async fn send_across_a_server_restart(
    server: SignalingServer,
    peers: &[Peer],
    file: &TestFile,
    down: Duration,
    at_percent: u32,
) -> Result<(ServerRestart, SignalingServer)> {
    let (id, accepted) = offered_and_accepted(peers, file).await?;
    let undisturbed = delivered(peers, &id, file, accepted).await?;

    let (id, accepted) = offered_and_accepted(peers, file).await?;
    reached(peers, &id, at_percent).await?;
    let port = server.address(HOST_A).port();
    server.stop().await?;
    let stopped = Instant::now();
    for (app, _) in peers {
        app.wait_for("the signaling connection lost", |s| {
            (s.connection.as_deref() != Some("connected")).then_some(())
        })
        .await?;
    }
    tokio::time::sleep(down.saturating_sub(stopped.elapsed())).await;
    let server = SignalingServer::start_on(port).await?;
    let restarted = Instant::now();
    let mut back_in_room = Vec::new();
    for (app, self_id) in peers {
        app.wait_for("itself back in the room", |s| {
            (s.connection.as_deref() == Some("connected")).then_some(())
        })
        .await?;
        back_in_room.push((app.label().to_owned(), restarted.elapsed()));
        assert_eq!(
            &app.self_id().await?,
            self_id,
            "{} keeps its id",
            app.label()
        );
    }
    let disturbed = delivered(peers, &id, file, accepted).await?;
    Ok((
        ServerRestart {
            undisturbed,
            disturbed,
            back_in_room,
        },
        server,
    ))
}
