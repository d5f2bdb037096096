//! Several apps in one room: opening them, and waiting until they form a full mesh.
//!
//! Most end-to-end tests start this way, whatever they test afterwards.

use crate::app::App;
use crate::browser::Browser;
use crate::error::Result;
use crate::server::SignalingServer;

/// An app in a room, with the peer id the server gave it.
pub type Peer = (App, String);

/// Opens the app in `room` once per label, in parallel, each in a browser of its own on this
/// host, and waits until each is welcomed. Returns them in label order.
pub async fn join(server: &SignalingServer, room: &str, labels: &[&str]) -> Result<Vec<Peer>> {
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
