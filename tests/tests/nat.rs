//! Browsers behind NAT routers ([`NatNetwork`]), end to end: across two endpoint-
//! independent NATs they punch through directly (Chromium, and Firefox too); across two
//! symmetric NATs nothing but a relay gets through, so without one both pages say so, and
//! with real coturn (credentials from the signaling server's `welcome`) they connect
//! relayed; either way a file crosses with its digest equal. Two hosts of one home meet
//! on their LAN.
//!
//! The test body, the signaling server (with its built-in STUN) and coturn run on the
//! public side; each browser is a host of a home network, driven through its router.
//! Needs the web app in `dist/`, `nft` and coturn (`cargo xtask test` provides them).

use std::time::{Duration, Instant};

use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::room::{everyone_connected, everyone_sees_path, open_on, send_and_accept, Peer};
use meshdrop_e2e::{
    run_in, BrowserKind, Coturn, Launch, NatKind, NatNetwork, Result, SignalingServer, TestFile,
};

const MIB: u64 = 1 << 20;

/// What the issue allows for a page to say that no path works.
const NO_PATH_WITHIN: Duration = Duration::from_secs(20);

#[test]
fn browsers_behind_two_endpoint_independent_nats_connect_directly() -> Result<()> {
    let network = NatNetwork::create(&[
        (NatKind::EndpointIndependent, 1),
        (NatKind::EndpointIndependent, 1),
    ])?;
    let dir = scratch_dir()?;
    let file = TestFile::random(dir.path(), "hole-punched.bin", 64 * MIB)?;
    run_in(&network.server, async {
        let server = SignalingServer::start_with_stun().await?;
        let peers = open_in_each_home(&network, &server, "punch").await?;
        let start = Instant::now();
        everyone_connected(&peers).await?;
        everyone_sees_path(&peers, "direct").await?;
        println!("connected directly in {:?}", start.elapsed());
        timed_transfer(&peers, &file).await?;
        server.stop().await
    })
}

/// The same with Firefox on one side: its driver, too, is reached through its router.
#[test]
fn firefox_and_chromium_behind_two_endpoint_independent_nats_connect_directly() -> Result<()> {
    let network = NatNetwork::create(&[
        (NatKind::EndpointIndependent, 1),
        (NatKind::EndpointIndependent, 1),
    ])?;
    run_in(&network.server, async {
        let server = SignalingServer::start_with_stun().await?;
        let (at, room) = (NatNetwork::SERVER, Some("gecko"));
        let firefox = Launch::on(network.homes[0].remote(0)).kind(BrowserKind::Firefox);
        let chromium = Launch::on(network.homes[1].remote(0));
        let (firefox, chromium) = tokio::try_join!(
            open_on(firefox, &server, at, room, "firefox"),
            open_on(chromium, &server, at, room, "chromium"),
        )?;
        let peers = [firefox, chromium];
        everyone_connected(&peers).await?;
        everyone_sees_path(&peers, "direct").await?;
        server.stop().await
    })
}

/// Two hosts on one home's LAN reach each other on it, past their router (even a
/// symmetric one), and their pages say so.
#[test]
fn two_browsers_on_one_home_network_connect_on_it() -> Result<()> {
    let network = NatNetwork::create(&[(NatKind::Symmetric, 2)])?;
    run_in(&network.server, async {
        let server = SignalingServer::start_with_stun().await?;
        let home = &network.homes[0];
        let (at, room) = (NatNetwork::SERVER, Some("at-home"));
        let (first, second) = tokio::try_join!(
            open_on(Launch::on(home.remote(0)), &server, at, room, "first"),
            open_on(Launch::on(home.remote(1)), &server, at, room, "second"),
        )?;
        let peers = [first, second];
        everyone_connected(&peers).await?;
        everyone_sees_path(&peers, "same-network").await?;
        server.stop().await
    })
}

#[test]
fn behind_two_symmetric_nats_without_a_relay_both_pages_say_there_is_no_path() -> Result<()> {
    let network = NatNetwork::create(&[(NatKind::Symmetric, 1), (NatKind::Symmetric, 1)])?;
    run_in(&network.server, async {
        let server = SignalingServer::start_with_stun().await?;
        let peers = open_in_each_home(&network, &server, "blocked").await?;
        // The pages met when the second was welcomed, which `open_in_each_home` waited for.
        let met = Instant::now();
        for (app, id) in &peers {
            for (_, other) in peers.iter().filter(|(_, other)| other != id) {
                let entry = app.wait_for_path(other, "none").await?;
                let said = met.elapsed();
                println!("{} said there is no path after {said:?}", app.label());
                assert!(
                    said < NO_PATH_WITHIN,
                    "{} said it only after {said:?}",
                    app.label()
                );
                assert!(
                    entry.path_note.contains("this server has no relay"),
                    "{} says what would help: {entry:#?}",
                    app.label()
                );
                assert_ne!(entry.state, "connected", "{entry:#?}");
            }
        }
        server.stop().await
    })
}

#[test]
fn behind_two_symmetric_nats_browsers_connect_through_coturn() -> Result<()> {
    let network = NatNetwork::create(&[(NatKind::Symmetric, 1), (NatKind::Symmetric, 1)])?;
    run_in(&network.server, async {
        let coturn = Coturn::start(NatNetwork::SERVER).await?;
        let server = SignalingServer::start_with_turn(coturn.turn()).await?;
        relayed_transfer(&network, &server, "coturn").await?;
        assert!(
            coturn.log().contains("ALLOCATE processed, success"),
            "coturn allocated relays with the server's credentials:\n{}",
            coturn.log()
        );
        server.stop().await
    })
}

/// The same through the signaling server's own relay, the only one `welcome` names.
#[test]
fn behind_two_symmetric_nats_browsers_connect_through_the_built_in_relay() -> Result<()> {
    let network = NatNetwork::create(&[(NatKind::Symmetric, 1), (NatKind::Symmetric, 1)])?;
    run_in(&network.server, async {
        let server = SignalingServer::start_with_relay(NatNetwork::SERVER).await?;
        relayed_transfer(&network, &server, "built-in").await?;
        server.stop().await
    })
}

/// Pages in the two homes of `network` connect through `server`'s relay, say so, and
/// 64 MiB crosses intact.
async fn relayed_transfer(
    network: &NatNetwork,
    server: &SignalingServer,
    relay: &str,
) -> Result<()> {
    let dir = scratch_dir()?;
    let file = TestFile::random(dir.path(), "relayed.bin", 64 * MIB)?;
    let peers = open_in_each_home(network, server, relay).await?;
    let start = Instant::now();
    everyone_connected(&peers).await?;
    everyone_sees_path(&peers, "relayed").await?;
    println!(
        "connected through the {relay} relay in {:?}",
        start.elapsed()
    );
    timed_transfer(&peers, &file).await
}

/// Opens the app in `room` on the host of the first home ("alice") and of the second
/// ("bob"), at once; returns them welcomed.
async fn open_in_each_home(
    network: &NatNetwork,
    server: &SignalingServer,
    room: &str,
) -> Result<Vec<Peer>> {
    let at = NatNetwork::SERVER;
    let (alice, bob) = tokio::try_join!(
        open_on(
            Launch::on(network.homes[0].remote(0)),
            server,
            at,
            Some(room),
            "alice"
        ),
        open_on(
            Launch::on(network.homes[1].remote(0)),
            server,
            at,
            Some(room),
            "bob"
        ),
    )?;
    Ok(vec![alice, bob])
}

/// The first page sends `file` to the second, which accepts; it arrives intact.
async fn timed_transfer(peers: &[Peer], file: &TestFile) -> Result<()> {
    let start = Instant::now();
    send_and_accept(&peers[0], &peers[1], file).await?;
    let took = start.elapsed();
    let mib = file.size() as f64 / MIB as f64;
    println!(
        "{mib} MiB arrived intact in {took:?} ({:.1} MiB/s)",
        mib / took.as_secs_f64()
    );
    Ok(())
}
