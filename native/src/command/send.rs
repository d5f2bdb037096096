//! `meshdrop send`: offer files to one peer or to everyone, then stream them.
//!
//! Who gets the offer: with `--to NAME` every peer of that name, otherwise every peer
//! that connects. The run ends once every offer has reached a final state and every
//! peer that was in the room when we joined has either connected, failed to, or been
//! refused (`--require-verified`), so "everyone" means everyone who was there. If no offer could be made within `--wait`
//! seconds the run fails with "no peer".
//!
//! Files sent to everyone in a room of two peers or more go by a swarm: receivers that
//! take part (other `meshdrop` processes; browsers accept plainly and get their own
//! stream) fetch blocks from each other too. One receiver alone gets the plain stream,
//! which a receiver killed mid-way resumes from its saved part. `meshdrop seed` offers
//! to everyone who is there or comes, always by a swarm, and serves until Ctrl-C.
//!
//! With `--code` there is no room to pick from: the run makes a pairing code, prints it
//! for the person to type on the other device, and waits in the code's meeting place,
//! which seats one other device; the offer goes to it once the pairing succeeded.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use meshdrop_protocol::frame::TransferId;
use meshdrop_protocol::PeerId;
use meshdrop_transfer::TransferState;

use meshdrop_verify::PairingCode;

use super::Device;
use crate::cli::{SeedArgs, SendArgs};
use crate::error::{Error, Result};
use crate::outgoing;
use crate::room::{Room, RoomEvent};
use crate::verification::random;

/// How long to wait for a peer by default; with a code, someone has to type it first.
const WAIT: Duration = Duration::from_secs(30);
const WAIT_FOR_CODE: Duration = Duration::from_secs(300);

pub async fn run(args: SendArgs, device: Device) -> Result<()> {
    offer(args, device, false).await
}

/// `meshdrop seed`: offers to everyone, who come and go, until Ctrl-C.
pub async fn seed(args: SeedArgs, device: Device) -> Result<()> {
    let args = SendArgs {
        files: args.files,
        raw_paths: None,
        corrupt: None,
        to: None,
        no_swarm: false,
        code: false,
        wait: None,
        common: args.common,
    };
    offer(args, device, true).await
}

async fn offer(args: SendArgs, device: Device, seeding: bool) -> Result<()> {
    let files = outgoing::collect(&args.files)?;
    let files = match &args.raw_paths {
        Some(raw) => outgoing::with_raw_paths(files, &raw.0)?,
        None => files,
    };
    let code = args.code.then(|| PairingCode::generate(random()));
    let mut room = super::join(&args.common, device, code.clone(), None).await?;
    if let Some(code) = &code {
        // The one place the code's words are shown: the person has to read them.
        room.ui()
            .status(format!("On the other device, type: {code}"));
    }
    if let Some(corruption) = args.corrupt {
        room.corrupt_what_is_sent(corruption);
    }
    let wanted = |name: &str| args.to.as_deref().is_none_or(|to| to == name);
    // Peers already in the room that we are still waiting to hear from.
    let mut waiting_for: HashSet<PeerId> = room
        .initial_peers()
        .filter(|(_, name)| wanted(name))
        .map(|(id, _)| id.clone())
        .collect();
    let mut offers: HashMap<(PeerId, TransferId), TransferState> = HashMap::new();
    let wait = match (args.wait, args.code) {
        (Some(seconds), _) => Duration::from_secs(seconds),
        (None, false) => WAIT,
        (None, true) => WAIT_FOR_CODE,
    };
    let deadline = tokio::time::Instant::now() + wait;
    let swarm = seeding || (!args.no_swarm && args.to.is_none() && waiting_for.len() >= 2);

    // Made once: a signal that arrives between two polls of a fresh `ctrl_c()` is lost.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let settled = offers.values().all(TransferState::is_final);
        if !seeding && !offers.is_empty() && settled && waiting_for.is_empty() {
            break;
        }
        tokio::select! {
            event = room.recv() => {
                let Some(event) = event else { break };
                for event in room.handle(event).await {
                    match event {
                        RoomEvent::Connected { peer, name } => {
                            waiting_for.remove(&peer);
                            if wanted(&name) {
                                let (ids, events) = room.offer(&peer, &files, swarm).await?;
                                room.ui().status(format!("offered to {name}, waiting for an answer"));
                                for id in ids {
                                    offers.insert((peer.clone(), id), TransferState::Offered);
                                }
                                record(&room, &mut offers, events);
                            }
                        }
                        RoomEvent::Disconnected { peer } | RoomEvent::Refused { peer } => {
                            waiting_for.remove(&peer);
                        }
                        RoomEvent::PairingFailed(error) => {
                            room.leave().await;
                            return Err(error.into());
                        }
                        event => record(&room, &mut offers, vec![event]),
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline), if offers.is_empty() && !seeding => {
                room.leave().await;
                return Err(Error::NoPeer(match &args.to {
                    Some(to) => format!("no peer named {to:?} connected within {}s", wait.as_secs()),
                    None => format!("nobody connected within {}s", wait.as_secs()),
                }));
            }
            _ = &mut interrupted => {
                let events = room.cancel_all("cancelled by the sender").await;
                record(&room, &mut offers, events);
                if seeding {
                    room.leave().await;
                    return Ok(());
                }
                break;
            }
        }
    }
    let outcome = outcome(&room, &offers);
    room.leave().await;
    outcome
}

/// Note the new states of our offers.
fn record(
    room: &Room,
    offers: &mut HashMap<(PeerId, TransferId), TransferState>,
    events: Vec<RoomEvent>,
) {
    for event in events {
        match event {
            RoomEvent::Transfer {
                peer,
                transfer,
                state,
            } => {
                if let Some(known) = offers.get_mut(&(peer, transfer)) {
                    *known = state;
                }
            }
            RoomEvent::Chat { name, text, .. } => room.ui().status(format!("{name}: {text}")),
            RoomEvent::Connected { .. }
            | RoomEvent::Disconnected { .. }
            | RoomEvent::Refused { .. }
            | RoomEvent::PairingFailed(_) => {}
        }
    }
}

/// Success only if there were offers and every one completed; otherwise the worst
/// outcome.
fn outcome(room: &Room, offers: &HashMap<(PeerId, TransferId), TransferState>) -> Result<()> {
    if offers.is_empty() {
        return Err(Error::NoPeer("stopped before anyone connected".into()));
    }
    let mut declined = None;
    for ((peer, _), state) in offers {
        let name = room.name(peer).to_owned();
        match state {
            TransferState::Done => {}
            TransferState::Declined => declined = Some(Error::Declined { peer: name }),
            TransferState::Cancelled { reason, .. } | TransferState::Failed { reason } => {
                return Err(Error::TransferFailed {
                    peer: name,
                    reason: reason.clone(),
                })
            }
            unfinished => {
                return Err(Error::TransferFailed {
                    peer: name,
                    reason: format!("stopped while {unfinished:?}"),
                })
            }
        }
    }
    declined.map_or(Ok(()), Err)
}
