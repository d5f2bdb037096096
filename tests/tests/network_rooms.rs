//! Network rooms, end to end: pages opened without a room in their link meet the pages
//! of their own network at once, and nobody else; "New private room" leaves for a room
//! of one's own.
//!
//! The pages run on hosts with public addresses of their own ([`PublicNetworks`]): two
//! on `home`, one on `away`, all reaching the same signaling server.
//! Needs the web app in `dist/` (`cargo xtask test` builds it first).

use meshdrop_e2e::room::{everyone_connected, open_on_site};
use meshdrop_e2e::{run_in, PublicNetworks, Result, SignalingServer};

#[test]
fn pages_on_the_bare_url_meet_their_network_and_only_it() -> Result<()> {
    let networks = PublicNetworks::create()?;
    run_in(&networks.server, async {
        let server = SignalingServer::start().await?;
        let home = vec![
            open_on_site(&networks.home, &server, "first at home").await?,
            open_on_site(&networks.home, &server, "second at home").await?,
        ];
        let (away, _) = open_on_site(&networks.away, &server, "away").await?;

        // No link was shared, yet the two at home form a mesh, of exactly the two.
        everyone_connected(&home).await?;
        for app in home.iter().map(|(app, _)| app).chain([&away]) {
            assert_eq!(app.wait_for_room_kind("network").await?, "");
        }
        // The home mesh is complete, so anything the server leaked has long arrived.
        let seen = away.snapshot().await?;
        assert!(
            seen.peers.is_empty(),
            "the page on another network sees no one; it sees {:?}",
            seen.peers
        );

        // A new private room takes the first page out of its network's room.
        let ((first, _), (second, _)) = (&home[0], &home[1]);
        first.start_private_room().await?;
        let room = first.wait_for_room_kind("private").await?;
        let url = first.browser().client().current_url().await?;
        assert_eq!(
            url.fragment(),
            Some(room.as_str()),
            "the link names the room"
        );
        first.wait_for_connection("connected").await?;
        second.wait_for_peers(&[], "connected").await?;
        Ok(())
    })
}
