//! The mesh, end to end: real Chromium browsers, the real signaling server, the built app.
//!
//! Needs the web app in `dist/` (`cargo xtask test` builds it first).

use meshdrop_e2e::{run_in, App, Browser, NetNs, Result, SignalingServer};

/// Opens the app in `room` once per label, in parallel, and waits until each is welcomed.
/// Returns the apps with their peer ids, in label order.
async fn join(server: &SignalingServer, room: &str, labels: &[&str]) -> Result<Vec<(App, String)>> {
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

async fn open_app(url: String, label: String) -> Result<(App, String)> {
    let app = App::open(Browser::launch().await?, &url, label).await?;
    let id = app.self_id().await?;
    Ok((app, id))
}

/// The ids of everyone in `peers` but `me`.
fn others<'a>(peers: &'a [(App, String)], me: &str) -> Vec<&'a str> {
    peers
        .iter()
        .map(|(_, id)| id.as_str())
        .filter(|id| *id != me)
        .collect()
}

/// Every app sends `text_of(label)`; every other app must show it, from the right peer and
/// under the sender's name, and the sender must show its own copy.
async fn everyone_chats(peers: &[(App, String)], text_of: impl Fn(&str) -> String) -> Result<()> {
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

#[test]
fn three_browsers_form_a_mesh_that_outlives_the_server() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = join(&server, "mesh", &["alice", "bob", "carol"]).await?;

        for (app, id) in &peers {
            app.wait_for_connection("connected").await?;
            app.wait_for_peers(&others(&peers, id), "connected").await?;
        }
        for (app, _) in &peers {
            let ms = app.first_channel_ms().await?;
            println!(
                "{}: first data channel open {ms} ms after navigation",
                app.label()
            );
        }

        for (app, _) in &peers {
            app.set_name(app.label()).await?;
        }
        for (app, id) in &peers {
            for (other, other_id) in peers.iter().filter(|(_, other_id)| other_id != id) {
                app.wait_for_peer_name(other_id, other.label()).await?;
            }
        }
        everyone_chats(&peers, |label| format!("hello from {label}")).await?;

        server.stop().await?;
        for (app, id) in &peers {
            app.wait_for("the signaling connection lost", |s| {
                (s.connection.as_deref() != Some("connected")).then_some(())
            })
            .await?;
            app.wait_for_peers(&others(&peers, id), "connected").await?;
        }
        everyone_chats(&peers, |label| {
            format!("{label} still here without the server")
        })
        .await
    })
}

#[test]
fn rooms_do_not_see_each_other() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let first = join(&server, "first", &["alice"]).await?;
        let second = join(&server, "second", &["dave", "erin"]).await?;

        for (app, id) in &second {
            app.wait_for_peers(&others(&second, id), "connected")
                .await?;
        }
        // The second room is fully connected, so anything the server leaked about it to
        // the first room has long arrived.
        let (alice, _) = &first[0];
        let seen = alice.snapshot().await?;
        assert!(
            seen.peers.is_empty(),
            "alice, alone in the first room, sees no one; she sees {:?}",
            seen.peers
        );
        Ok(())
    })
}
