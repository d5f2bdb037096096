//! `meshdrop` recovering its links and its place in the room: a wire cut between two
//! hosts (`ip link set DEV down` / `up`) and a signaling server restart, with real
//! processes, browsers and server. Needs root, `ip`, chromedriver, Chromium and the
//! built web app in `dist/`.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::{
    number_before, peer_id, sha256_of, signaling_url, verified_blocks_at_least, Meshdrop,
};
use meshdrop_e2e::room::join;
use meshdrop_e2e::{run_in, NetNs, Result, SignalingServer, TestFile, TwoHosts, HOST_A};

/// Two `meshdrop chat` peers on two hosts: an 8 s cut takes their link down, the
/// offering side restarts ICE, the link comes back and chat goes on; lines typed during
/// the cut arrive after it, in order.
#[test]
fn native_peers_recover_their_link_after_a_wire_cut() -> Result<()> {
    // The mesh logs its recovery steps at info.
    std::env::set_var("RUST_LOG", "error,meshdrop=info");
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let server = SignalingServer::start().await?;
        let url = format!("ws://{}/ws", server.address(HOST_A));
        let mut ann = Meshdrop::start(&url, "ann", &["chat", "--room", "cut"]);
        ann.expect_status("joined room cut").await;
        let mut bob = Meshdrop::start_in(&hosts.b, &url, "bob", &["chat", "--room", "cut"]);
        ann.expect_status("connected to bob").await;
        bob.expect_status("connected to ann").await;

        hosts.set_wire(false)?;
        let cut = Instant::now();
        ann.expect_status("connection to bob lost").await;
        println!("ann: link down {:?} into the cut", cut.elapsed());
        // Typed while the link is down: they wait for it, and arrive in order.
        ann.type_line("ann during the cut, 1").await;
        ann.type_line("ann during the cut, 2").await;
        tokio::time::sleep(Duration::from_secs(8).saturating_sub(cut.elapsed())).await;
        hosts.set_wire(true)?;
        let mended = Instant::now();
        ann.expect_status("reconnected to bob").await;
        bob.expect_status("reconnected to ann").await;
        println!(
            "native 8 s cut: link up again {:?} after the mend",
            mended.elapsed()
        );

        bob.expect_output(|line| line.ends_with("ann: ann during the cut, 1"))
            .await;
        bob.expect_output(|line| line.ends_with("ann: ann during the cut, 2"))
            .await;
        ann.type_line("ann after the cut").await;
        bob.expect_output(|line| line.ends_with("ann: ann after the cut"))
            .await;
        bob.type_line("bob after the cut").await;
        ann.expect_output(|line| line.ends_with("bob: bob after the cut"))
            .await;
        ann.close_stdin();
        bob.close_stdin();
        assert_eq!(ann.exit_code().await, 0);
        assert_eq!(bob.exit_code().await, 0);
        Ok(())
    })
}

/// The server is killed and started again 5 s later: the native peer and both pages
/// rejoin under their ids (the figure is printed), their links never went down, and a
/// newcomer meets all of them.
#[test]
fn a_native_peer_and_pages_rejoin_after_a_server_restart() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = join(&server, "restart", &["alice", "bob"]).await?;
        let mut carl = Meshdrop::start(
            &signaling_url(&server),
            "carl",
            &["chat", "--room", "restart"],
        );
        let carl_id = peer_id(&carl.expect_status("joined room restart").await);
        for (app, id) in &peers {
            let mut others: Vec<&str> = peers
                .iter()
                .map(|(_, other)| other.as_str())
                .filter(|other| other != id)
                .collect();
            others.push(&carl_id);
            app.wait_for_peers(&others, "connected").await?;
        }

        let port = server.address(Ipv4Addr::LOCALHOST).port();
        server.stop().await?;
        tokio::time::sleep(Duration::from_secs(5)).await;
        let server = SignalingServer::start_on(port).await?;
        let restarted = Instant::now();
        let back = carl.expect_status("back in the room").await;
        println!(
            "carl (native): back in the room {:?} after the restart",
            restarted.elapsed()
        );
        assert!(back.contains(&carl_id), "same id: {back:?}");
        for (app, id) in &peers {
            app.wait_for_connection("connected").await?;
            println!(
                "{}: back in the room {:?} after the restart",
                app.label(),
                restarted.elapsed()
            );
            assert_eq!(&app.self_id().await?, id, "{} keeps its id", app.label());
        }

        // A newcomer is offered to by no one and offers to all: all are in the room.
        let dave = join(&server, "restart", &["dave"]).await?;
        let (dave_app, _) = &dave[0];
        let mut everyone: Vec<&str> = peers.iter().map(|(_, id)| id.as_str()).collect();
        everyone.push(&carl_id);
        dave_app.wait_for_peers(&everyone, "connected").await?;
        carl.close_stdin();
        assert_eq!(carl.exit_code().await, 0);
        Ok(())
    })
}

const MIB: u64 = 1 << 20;

/// `meshdrop send` on host a to `meshdrop receive` on host b, the wire cut for 45 s once
/// 48 of 192 blocks are verified: past ICE's patience, so a new connection takes over
/// and the transfer goes on from the blocks bob lacks, not from zero; the file arrives
/// whole.
#[test]
fn a_file_between_native_peers_resumes_on_a_new_connection_after_a_long_cut() -> Result<()> {
    std::env::set_var("RUST_LOG", "error,meshdrop=info");
    let work = tempfile::tempdir().unwrap();
    let file = TestFile::random(work.path(), "across-the-cut.bin", 192 * MIB)?;
    let inbox = work.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let server = SignalingServer::start().await?;
        let url = format!("ws://{}/ws", server.address(HOST_A));
        let dir = inbox.to_str().unwrap();
        let receive = ["receive", "--room", "cut", "--yes", "--dir", dir];
        let mut bob = Meshdrop::start_in(&hosts.b, &url, "bob", &receive);
        bob.expect_status("joined room cut").await;
        let send = ["send", file.path().to_str().unwrap(), "--room", "cut"];
        let mut ann = Meshdrop::start(&url, "ann", &send);
        bob.expect_status("receiving across-the-cut.bin").await;
        let verified = verified_blocks_at_least(&inbox, 48);
        let verified = tokio::time::timeout(common::STEP_TIMEOUT, verified)
            .await
            .expect("48 blocks verified in time");

        hosts.set_wire(false)?;
        let cut = Instant::now();
        ann.expect_status("transfers paused, reconnecting").await;
        println!("ann: paused {:?} into the cut", cut.elapsed());
        tokio::time::sleep(Duration::from_secs(45).saturating_sub(cut.elapsed())).await;
        hosts.set_wire(true)?;
        let mended = Instant::now();
        let done = ann.expect_status("to bob: done").await;
        let sent = number_before(&done, " bytes sent");
        println!(
            "native 45 s cut at {verified} blocks: done {:?} after the mend; {} bytes sent twice",
            mended.elapsed(),
            sent.saturating_sub(192 * MIB)
        );
        assert!(
            sent < 2 * 192 * MIB - 48 * MIB,
            "went on from what bob lacked, not from zero: {done:?}"
        );
        assert_eq!(ann.exit_code().await, 0, "sender");
        assert_eq!(bob.exit_code().await, 0, "receiver");
        server.stop().await
    })?;
    assert_eq!(sha256_of(&inbox.join("across-the-cut.bin")), file.sha256()?);
    Ok(())
}
