//! Several apps in one room: opening them, waiting until they form a full mesh, and the
//! checks tests make across it: chat reaches everyone, and sent files arrive intact.
//!
//! Most end-to-end tests start this way, whatever they test afterwards.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Instant;

use crate::app::{App, Recipient, TransferButton, TransferEntry};
use crate::browser::{Browser, Launch};
use crate::error::Result;
use crate::files::TestFile;
use crate::netns::{Site, TwoHosts, HOST_A};
use crate::server::{ServesApp, SignalingServer};

/// An app in a room, with the peer id the server gave it.
pub type Peer = (App, String);

/// Opens the app in `room` once per label, in parallel, each in a browser of its own on this
/// host, and waits until each is welcomed. Returns them in label order.
pub async fn join(server: &impl ServesApp, room: &str, labels: &[&str]) -> Result<Vec<Peer>> {
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
pub async fn welcomed(app: App) -> Result<Peer> {
    let id = app.self_id().await?;
    Ok((app, id))
}

/// Waits until every app lists exactly the others, all connected (data channels open).
pub async fn everyone_connected(peers: &[Peer]) -> Result<()> {
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

/// Waits until every page says it reaches every other along `path` (a `data-path`
/// value, see [`crate::app`]), and returns what they say of it, in words.
pub async fn everyone_sees_path(peers: &[Peer], path: &str) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    for (app, id) in peers {
        for (_, other) in peers.iter().filter(|(_, other)| other != id) {
            notes.push(app.wait_for_path(other, path).await?.path_note);
        }
    }
    Ok(notes)
}

/// Waits until `peers` form a full mesh, then has each take its label as its name: where
/// the tests that chat or send files start.
pub async fn connected_and_named(peers: Vec<Peer>) -> Result<Vec<Peer>> {
    everyone_connected(&peers).await?;
    everyone_names_themselves(&peers).await?;
    Ok(peers)
}

/// Every app takes its label as display name; every other app must show it.
pub async fn everyone_names_themselves(peers: &[Peer]) -> Result<()> {
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

/// Opens the app without a room, as `label`, in a browser of its own on `site` (a host of
/// a [`crate::PublicNetworks`]): the page joins its network's room. Returns it welcomed.
pub async fn open_on_site(site: &Site, server: &SignalingServer, label: &str) -> Result<Peer> {
    open_on(Launch::on(site.remote()), server, site.gateway, None, label).await
}

/// Opens the app as `label` in a browser of its own, started by `launch` on a remote host
/// ([`Launch::on`]), which loads it from the server at `server_at` (the server's address
/// as that host reaches it, treated as a secure context): in `room`, or with `None` in
/// its network's room. Returns it welcomed.
pub async fn open_on(
    launch: Launch<'_>,
    server: &impl ServesApp,
    server_at: Ipv4Addr,
    room: Option<&str>,
    label: &str,
) -> Result<Peer> {
    let browser = launch
        .treat_as_secure(server.origin_at(server_at))
        .start()
        .await?;
    let url = match room {
        Some(room) => server.room_url_at(server_at, room),
        None => server.network_url_at(server_at),
    };
    welcomed(App::open(browser, &url, label).await?).await
}

/// Opens the app in `room` in one browser on each host of `hosts`, labelled `labels`: the
/// first loads it from loopback on host A, the second from [`HOST_A`] on host B, treated
/// as a secure context. Returns them welcomed, in that order.
pub async fn join_across(
    hosts: &TwoHosts,
    server: &SignalingServer,
    room: &str,
    labels: [&str; 2],
) -> Result<Vec<Peer>> {
    let remote = Launch::on_host(&hosts.b).treat_as_secure(server.origin_at(HOST_A));
    join_across_with(remote, server, room, labels).await
}

/// [`join_across`], with the browser on host B launched by `remote`: another kind of
/// browser, or one without the secure-context exception.
pub async fn join_across_with(
    remote: Launch<'_>,
    server: &SignalingServer,
    room: &str,
    labels: [&str; 2],
) -> Result<Vec<Peer>> {
    let (local, remote) = tokio::try_join!(Browser::launch(), remote.start())?;
    let local = App::open(local, &server.room_url(room), labels[0]).await?;
    let remote = App::open(remote, &server.room_url_at(HOST_A, room), labels[1]).await?;
    Ok(vec![welcomed(local).await?, welcomed(remote).await?])
}

/// Every app sends `text_of(label)`; every other app must show it, from the right peer and
/// under the sender's name, and the sender must show its own copy.
pub async fn everyone_chats(peers: &[Peer], text_of: impl Fn(&str) -> String) -> Result<()> {
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

/// `sender` offers `file` to `receiver`, who accepts; it must arrive intact.
pub async fn send_and_accept(sender: &Peer, receiver: &Peer, file: &TestFile) -> Result<()> {
    let (sending, sender_id) = sender;
    let (receiving, receiver_id) = receiver;
    sending
        .send_files(Recipient::Peer(receiver_id), &[file])
        .await?;
    let offered = receiving.wait_for_offer(sender_id, &[file]).await?;
    receiving
        .click_transfer_button(sender_id, &offered.id, TransferButton::Accept)
        .await?;
    assert_delivered(sender, receiver, &offered.id, &[file]).await
}

/// Waits until both sides show transfer `id` done, then reads every file back in the
/// receiver's page and compares it with the file on disk.
pub async fn assert_delivered(
    sender: &Peer,
    receiver: &Peer,
    id: &str,
    files: &[&TestFile],
) -> Result<()> {
    let (sending, sender_id) = sender;
    let (receiving, receiver_id) = receiver;
    let done = receiving.wait_for_transfer(sender_id, id, "done").await?;
    let sent = sending.wait_for_transfer(receiver_id, id, "done").await?;
    assert_eq!(sent.status, "Done", "{sent:#?}");
    let names: Vec<&str> = files.iter().map(|file| file.name()).collect();
    let saved = receiving
        .wait_for(&format!("a save link for each of {names:?}"), |s| {
            s.transfers
                .iter()
                .find(|entry| entry.peer == *sender_id && entry.id == id)
                .filter(|entry| entry.saved.len() == files.len())
                .map(|entry| entry.saved.clone())
        })
        .await?;
    let mut sorted_names = names.clone();
    sorted_names.sort_unstable();
    let mut sorted_saved = saved.clone();
    sorted_saved.sort_unstable();
    assert_eq!(sorted_saved, sorted_names, "{done:#?}");

    let received = receiving.received_files(sender_id, id).await?;
    for file in files {
        let got = received
            .iter()
            .find(|received| received.name == file.name())
            .expect("every saved file was read back");
        assert_eq!(got.size, file.size(), "{} arrived whole", file.name());
        assert_eq!(
            got.sha256,
            file.sha256()?,
            "{} arrived unchanged at {}",
            file.name(),
            receiving.label()
        );
    }
    Ok(())
}

/// Cuts the wire between `hosts` for `cut`, checking that `watcher` (a page on host A:
/// host B's browser is driven across that wire) shows its peer reconnecting meanwhile,
/// then mends it. Returns when the wire was mended.
pub async fn cut_wire_for(
    hosts: &TwoHosts,
    watcher: &App,
    cut: std::time::Duration,
) -> Result<std::time::Instant> {
    hosts.set_wire(false)?;
    let start = std::time::Instant::now();
    watcher
        .wait_for("the peer shown reconnecting", |s| {
            s.peers
                .iter()
                .any(|peer| peer.state == "reconnecting")
                .then_some(())
        })
        .await?;
    tokio::time::sleep(cut.saturating_sub(start.elapsed())).await;
    hosts.set_wire(true)?;
    Ok(std::time::Instant::now())
}

/// `sender` picks `folder` for `receiver`, who accepts the offer of `files` files; returns
/// the receiver's row once every file is ready to save.
pub async fn send_folder(
    sender: &Peer,
    receiver: &Peer,
    folder: &Path,
    files: usize,
) -> Result<TransferEntry> {
    let (sending, sender_id) = sender;
    let (receiving, receiver_id) = receiver;
    let offered = Instant::now();
    sending
        .send_folder(Recipient::Peer(receiver_id), folder)
        .await?;
    let offer = receiving
        .wait_for(
            &format!("an offer of {files} files from {sender_id}"),
            |s| {
                s.transfers
                    .iter()
                    .find(|entry| {
                        entry.peer == *sender_id
                            && entry.direction == "incoming"
                            && entry.state == "offered"
                            && entry.files.len() == files
                    })
                    .cloned()
            },
        )
        .await?;
    println!(
        "{files} files: offer shown {:?} after picking",
        offered.elapsed()
    );
    receiving
        .click_transfer_button(sender_id, &offer.id, TransferButton::Accept)
        .await?;
    let done = receiving
        .wait_for_transfer(sender_id, &offer.id, "done")
        .await;
    if done.is_err() {
        // What the other end saw tells a stalled sender from a stalled receiver.
        if let Ok(snapshot) = sending.snapshot().await {
            println!("the sender when the receiver gave up: {snapshot:#?}");
        }
    }
    done?;
    sending
        .wait_for_transfer(receiver_id, &offer.id, "done")
        .await?;
    receiving
        .wait_for("a save link for every file", |s| {
            s.transfers
                .iter()
                .find(|entry| entry.peer == *sender_id && entry.id == offer.id)
                .filter(|entry| entry.saved_paths.len() == files)
                .cloned()
        })
        .await
}

/// Totals of (ICE restarts, rebuilt links) over the pages.
pub async fn recoveries(peers: &[Peer]) -> Result<(u32, u32)> {
    let mut totals = (0, 0);
    for (app, _) in peers {
        let snapshot = app.snapshot().await?;
        totals.0 += snapshot.ice_restarts;
        totals.1 += snapshot.link_rebuilds;
    }
    Ok(totals)
}
