//! The mesh, end to end: real Chromium browsers, the real signaling server, the built app.
//!
//! Needs the web app in `dist/` (`cargo xtask test` builds it first).

use meshdrop_e2e::{
    run_in, App, Browser, Launch, NetNs, Result, SignalingServer, TwoHosts, HOST_A,
};

/// An app in a room, with the peer id the server gave it.
type Peer = (App, String);

#[test]
fn three_browsers_form_a_mesh_that_outlives_the_server() -> Result<()> {
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
        .await
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
        let (local, remote) = tokio::try_join!(
            Browser::launch(),
            Launch::on_host(&hosts.b)
                .treat_as_secure(server.origin_at(HOST_A))
                .start()
        )?;
        let local = App::open(local, &server.room_url("hosts"), "alice").await?;
        let remote = App::open(remote, &server.room_url_at(HOST_A, "hosts"), "bob").await?;
        let peers = vec![welcomed(local).await?, welcomed(remote).await?];
        everyone_connected(&peers).await?;
        everyone_names_themselves(&peers).await?;
        everyone_chats(&peers, |label| format!("{label} across the wire")).await
    })
}

/// Opens the app in `room` once per label, in parallel, each in a browser of its own on this
/// host, and waits until each is welcomed. Returns them in label order.
async fn join(server: &SignalingServer, room: &str, labels: &[&str]) -> Result<Vec<Peer>> {
    let url = server.room_url(room);
    let opening: Vec<_> = labels
        .iter()
        .map(|label| tokio::spawn(open_app(url.clone(), label.to_string())))
        .collect();
    let mut joined = Vec::new();
    for opened in opening {
        joined.push(opened.await.expect("opening the app does not panic")?);
    }
    Ok(joined)
}

async fn open_app(url: String, label: String) -> Result<Peer> {
    welcomed(App::open(Browser::launch().await?, &url, label).await?).await
}

/// `app` with its peer id, once the server has welcomed it.
async fn welcomed(app: App) -> Result<Peer> {
    let id = app.self_id().await?;
    Ok((app, id))
}

/// Waits until every app lists exactly the others, all connected (data channels open).
async fn everyone_connected(peers: &[Peer]) -> Result<()> {
    for (app, id) in peers {
        let others: Vec<&str> = peers
            .iter()
            .map(|(_, other)| other.as_str())
            .filter(|other| other != id)
            .collect();
        app.wait_for_peers(&others, "connected").await?;
    }
    Ok(())
}

/// Every app takes its label as display name; every other app must show it.
async fn everyone_names_themselves(peers: &[Peer]) -> Result<()> {
    for (app, _) in peers {
        app.set_name(app.label()).await?;
    }
    for (app, id) in peers {
        for (other, other_id) in peers.iter().filter(|(_, other_id)| other_id != id) {
            app.wait_for_peer_name(other_id, other.label()).await?;
        }
    }
    Ok(())
}

/// Every app sends `text_of(label)`; every other app must show it, from the right peer and
/// under the sender's name, and the sender must show its own copy.
async fn everyone_chats(peers: &[Peer], text_of: impl Fn(&str) -> String) -> Result<()> {
    for (sender, sender_id) in peers {
        let text = text_of(sender.label());
        sender.send_chat(&text).await?;
        sender.wait_for_chat(sender_id, &text).await?;
        for (receiver, _) in peers.iter().filter(|(_, id)| id != sender_id) {
            let entry = receiver.wait_for_chat(sender_id, &text).await?;
            assert_eq!(
                entry.sender,
                sender.label(),
                "{} shows {}'s message under {}'s name",
                receiver.label(),
                sender.label(),
                sender.label()
            );
        }
    }
    Ok(())
}
