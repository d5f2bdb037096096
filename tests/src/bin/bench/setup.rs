//! Connection setup: how soon a page that opens a room's link has data channels open to
//! the peers already there, in a room of one peer and in a room of seven.
//!
//! The peers wait in their browsers, all in one network namespace. Each round, one more
//! browser opens the room's link and the page's own clock says, in milliseconds from
//! navigation, when each peer's first link came up (`linksUpMs`): the first of them, and
//! the last; and when it showed the first peer (`firstPeerMs`: the page loaded, its
//! socket joined and heard who is there), which splits the time between the page and the
//! link. That browser has opened the app before (a returning visitor: the app comes
//! from its cache), as the first visit's download is [`crate::discovery`]'s to time.
//! Between rounds it goes to `about:blank`, and the next round starts once every peer has
//! seen it leave.

use meshdrop_e2e::room::{everyone_connected, join, Peer};
use meshdrop_e2e::{run_in, NetNs, Result, ServesApp, SignalingServer};

use crate::median;

/// An odd number, so the median is one round's figure.
const ROUNDS: usize = 7;
/// The rooms' sizes, before the newcomer joins.
const WAITING: [usize; 2] = [1, 7];
/// Navigation to the first channel open.
const FIRST_TARGET_MS: f64 = 300.0;
/// Navigation to every channel open, in the room of seven.
const ALL_TARGET_MS: f64 = 1000.0;

pub fn run() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        println!(
            "Connection setup: a returning visitor opens a room's link; times from navigation, \
             by the page's clock:"
        );
        for waiting in WAITING {
            let room = format!("setup-{waiting}");
            let labels: Vec<String> = (1..=waiting + 1).map(|n| format!("peer{n}")).collect();
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            let mut peers = join(&server, &room, &labels).await?;
            everyone_connected(&peers).await?;
            let newcomer = peers.pop().expect("the newcomer joined too");
            let (mut shown, mut first, mut all) = (Vec::new(), Vec::new(), Vec::new());
            for round in 1..=ROUNDS {
                leave(&newcomer, &peers).await?;
                newcomer.0.browser().goto(&server.room_url(&room)).await?;
                let times = newcomer.0.links_up_ms(waiting).await?;
                let peer_ms = newcomer.0.first_peer_ms().await?;
                let (first_ms, all_ms) = (times[0], times[waiting - 1]);
                println!(
                    "  {waiting} waiting, round {round}: first peer shown {peer_ms:.0} ms, \
                     first channel open {first_ms:.0} ms, all {waiting} open {all_ms:.0} ms"
                );
                shown.push(peer_ms);
                first.push(first_ms);
                all.push(all_ms);
            }
            println!(
                "Room of {waiting}, median of {ROUNDS} rounds: navigation → first peer shown \
                 {:.0} ms, → first channel open {:.0} ms (target under {FIRST_TARGET_MS:.0} ms), \
                 → all {waiting} open {:.0} ms{}",
                median(shown),
                median(first),
                median(all),
                match waiting {
                    1 => String::new(),
                    _ => format!(" (target under {ALL_TARGET_MS:.0} ms)"),
                }
            );
        }
        Ok(())
    })
}

/// `newcomer`'s page goes away; returns once every peer in `waiting` has seen it leave.
async fn leave(newcomer: &Peer, waiting: &[Peer]) -> Result<()> {
    newcomer.0.browser().goto("about:blank").await?;
    everyone_connected(waiting).await
}
