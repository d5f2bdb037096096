//! Same-network discovery: how soon a page opened without a room link shows the page
//! already open on its network, and opens a data channel to it.
//!
//! One page waits on the `home` host of [`PublicNetworks`]. Each round, a fresh browser
//! on the same host (nothing cached: a new device) opens the app without a room, and the
//! page's own clock says when it showed the first page and when the first channel to it
//! opened, in milliseconds from navigation (`firstPeerMs`, `firstChannelMs`). The round
//! ends once the first page has seen it leave, so every round starts alike.

use meshdrop_e2e::room::open_on_site;
use meshdrop_e2e::{run_in, PublicNetworks, Result, SignalingServer};

use crate::median;

/// An odd number, so the median is one round's figure.
const ROUNDS: usize = 7;

/// What each figure should stay under.
const TARGET_MS: f64 = 500.0;

pub fn run() -> Result<()> {
    let networks = PublicNetworks::create()?;
    run_in(&networks.server, async {
        let server = SignalingServer::start().await?;
        println!(
            "Second page on the same network, opened without a room link in a fresh browser; \
             times from navigation, by the page's clock:"
        );
        let (first, first_id) = open_on_site(&networks.home, &server, "first").await?;
        let (mut shown, mut open) = (Vec::new(), Vec::new());
        for round in 1..=ROUNDS {
            let (second, _) = open_on_site(&networks.home, &server, "second").await?;
            second.wait_for_peers(&[&first_id], "connected").await?;
            let peer_ms = second.first_peer_ms().await?;
            let channel_ms = second.first_channel_ms().await?;
            let loaded = second.load_timings().await?;
            let at = |ms: Option<f64>| ms.map_or("?".to_owned(), |ms| format!("{ms:.0}"));
            println!(
                "  round {round}: peer shown {peer_ms:.0} ms, first channel open {channel_ms:.0} ms \
                 (index.html in at {}, JS at {}, wasm at {}, DOMContentLoaded at {})",
                at(loaded.html),
                at(loaded.js),
                at(loaded.wasm),
                at(loaded.dom_content_loaded),
            );
            shown.push(peer_ms);
            open.push(channel_ms);
            drop(second);
            first.wait_for_peers(&[], "connected").await?;
        }
        println!(
            "Second page on the same network, median of {ROUNDS} rounds: navigation → peer shown \
             {:.0} ms, → first channel open {:.0} ms (target under {TARGET_MS:.0} ms each)",
            median(shown),
            median(open)
        );
        Ok(())
    })
}
