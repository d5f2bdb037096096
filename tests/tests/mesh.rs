//! The mesh, end to end: real Chromium browsers, the real signaling server, the built app.
//!
//! Needs the web app in `dist/` (`cargo xtask test` builds it first).

use std::net::Ipv4Addr;

use meshdrop_e2e::room::{
    everyone_chats, everyone_connected, everyone_names_themselves, everyone_sees_path, join,
    join_across,
};
use meshdrop_e2e::{run_in, NetNs, Result, SignalingServer, TwoHosts};

/// The mesh stands while the server is away, and when a fresh server process comes back
/// on the same port every page rejoins under its old id: a newcomer meets all of them.
#[test]
fn three_browsers_form_a_mesh_that_outlives_a_server_restart() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = join(&server, "mesh", &["alice", "bob", "carol"]).await?;
        for (app, _) in &peers {
            app.wait_for_connection("connected").await?;
        }
        everyone_connected(&peers).await?;
        for (app, _) in &peers {
            let ms = app.first_channel_ms().await?;
            println!(
                "{}: first data channel open {ms} ms after navigation",
                app.label()
            );
        }
        everyone_names_themselves(&peers).await?;
        everyone_chats(&peers, |label| format!("hello from {label}")).await?;

        let port = server.address(Ipv4Addr::LOCALHOST).port();
        server.stop().await?;
        for (app, _) in &peers {
            app.wait_for("the signaling connection lost", |s| {
                (s.connection.as_deref() != Some("connected")).then_some(())
            })
            .await?;
        }
        everyone_connected(&peers).await?;
        everyone_chats(&peers, |label| {
            format!("{label} still here without the server")
        })
        .await?;

        let server = SignalingServer::start_on(port).await?;
        for (app, id) in &peers {
            app.wait_for_connection("connected").await?;
            assert_eq!(&app.self_id().await?, id, "{} keeps its id", app.label());
        }
        let mut peers = peers;
        peers.extend(join(&server, "mesh", &["dave"]).await?);
        everyone_connected(&peers).await?;
        everyone_names_themselves(&peers).await?;
        everyone_chats(&peers, |label| format!("{label} after the restart")).await
    })
}

#[test]
fn rooms_do_not_see_each_other_and_leavers_disappear() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let first = join(&server, "first", &["alice"]).await?;
        let second = join(&server, "second", &["dave", "erin"]).await?;
        everyone_connected(&second).await?;
        // The second room is fully connected, so anything the server leaked about it to
        // the first room has long arrived.
        let (alice, _) = &first[0];
        let seen = alice.snapshot().await?;
        assert!(
            seen.peers.is_empty(),
            "alice, alone in the first room, sees no one; she sees {:?}",
            seen.peers
        );

        // Erin closes the page: Dave's list must drop her.
        let (dave, _) = &second[0];
        let (erin, _) = &second[1];
        erin.browser().goto("about:blank").await?;
        dave.wait_for_peers(&[], "connected").await?;
        Ok(())
    })
}

#[test]
fn browsers_on_two_hosts_connect_and_chat() -> Result<()> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let server = SignalingServer::start().await?;
        let peers = join_across(&hosts, &server, "hosts", ["alice", "bob"]).await?;
        everyone_connected(&peers).await?;
        // Both hosts are on one private network (10.77.0.0/24): each page says so.
        for note in everyone_sees_path(&peers, "same-network").await? {
            assert_eq!(note, "Same network");
        }
        everyone_names_themselves(&peers).await?;
        everyone_chats(&peers, |label| format!("{label} across the wire")).await
    })
}
