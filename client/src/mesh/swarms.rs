//! The page's swarms: files offered to several peers, which the receivers fetch from
//! each other too (docs/protocol.md, "Swarms").
//!
//! The swarm rules and their browser I/O are in the module loaded on demand
//! ([`on_demand`]), the first time the person accepts files in a swarm or sends files to
//! everyone. Here the page hands each swarm's member what it needs: the links' channels
//! as they come and go, and the `swarm_*` frames and pieces that arrive, unread. The
//! member sends on the channels itself, keeps or reads the blocks, and reports through a
//! callback: as a receiver, progress, each file verified and its word for the person; as
//! the origin, how much each receiver holds.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::{Array, Uint8Array};
use meshdrop_protocol::frame::SwarmId;
use meshdrop_protocol::PeerId;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::{with_transfers, Channels, Inner};
use crate::on_demand::{self, Member};
use crate::transfer::{OutgoingFile, PeerTransfers, TransferAction, TransferKey};

/// The swarms this page takes part in.
#[derive(Default)]
pub(super) struct Swarms {
    /// Every swarm joined or being joined.
    ids: Vec<SwarmId>,
    joined: Vec<Joined>,
}

struct Joined {
    swarm: SwarmId,
    /// The transfer it brings; `None` where this page is the origin.
    receiving: Option<TransferKey>,
    /// Origin: the receivers taking part, told to the member.
    receivers: Vec<PeerId>,
    member: Member,
    /// The callback it reports through, which must live as long as it.
    _report: Closure<dyn Fn(String, JsValue, JsValue)>,
}

/// A swarm's frame or piece from a peer.
pub(super) enum Arrived {
    Frame(String),
    Piece(Uint8Array),
}

impl Swarms {
    /// The members of the swarms joined, to call without a borrow of the mesh: they
    /// report back through it at once.
    fn members(&self) -> Vec<Member> {
        self.joined
            .iter()
            .map(|joined| joined.member.clone())
            .collect()
    }
}

/// Hands `arrived` from `peer` to every swarm (each reads only its own).
pub(super) fn hear(inner: &Rc<RefCell<Inner>>, peer: &PeerId, arrived: Arrived) {
    let members = inner.borrow().swarms.members();
    for member in members {
        let heard = match &arrived {
            Arrived::Frame(text) => member.frame(peer.as_str(), text),
            Arrived::Piece(bytes) => member.piece(peer.as_str(), bytes),
        };
        if let Err(error) = heard {
            web_sys::console::warn_2(&"swarm input refused:".into(), &error);
        }
    }
}

/// The link to `peer` carries data now, or (`up` false) does not.
pub(super) fn link(inner: &Rc<RefCell<Inner>>, peer: &PeerId, up: bool) {
    let (members, channels) = {
        let state = inner.borrow();
        let channels = state
            .links
            .get(peer)
            .map(|link| link.peer.channels().clone());
        (state.swarms.members(), channels.filter(|_| up))
    };
    for member in members {
        match &channels {
            Some(channels) => {
                let (control, data) = channels.both();
                member.link_up(peer.as_str(), control, data);
            }
            None => member.link_down(peer.as_str()),
        }
    }
}

/// `peer` left the room.
pub(super) fn left(inner: &Rc<RefCell<Inner>>, peer: &PeerId) {
    let members = inner.borrow().swarms.members();
    for member in members {
        member.left(peer.as_str());
    }
}

/// Transfer `key`, which goes by `swarm`, ended before it was done (cancelled, or
/// failed). Received here: the swarm goes on without this page. Sent from here: its
/// receiver is no longer a member.
pub(super) fn ended(inner: &Rc<RefCell<Inner>>, swarm: SwarmId, key: &TransferKey) {
    let (left, origin) = {
        let joined = &mut inner.borrow_mut().swarms.joined;
        let mine = joined
            .iter()
            .position(|joined| joined.receiving.as_ref() == Some(key));
        let origin = joined
            .iter_mut()
            .find(|joined| joined.swarm == swarm && joined.receiving.is_none())
            .filter(|origin| origin.receivers.contains(&key.peer))
            .map(|origin| {
                origin.receivers.retain(|peer| *peer != key.peer);
                origin.member.clone()
            });
        (mine.map(|at| joined.remove(at)), origin)
    };
    if let Some(left) = left {
        left.member.leave();
    }
    if let Some(origin) = origin {
        origin.left(key.peer.as_str());
    }
}

/// The person accepted `key`, offered in `swarm` with files of these `sizes`: takes
/// part once the module is loaded and the member made, so that nothing of the swarm
/// arrives before there is a member to hear it. Without the module, the files come
/// streamed from the sender.
pub(super) fn join(inner: &Rc<RefCell<Inner>>, key: TransferKey, swarm: SwarmId, sizes: Vec<f64>) {
    let me = {
        let mut state = inner.borrow_mut();
        if state.swarms.ids.contains(&swarm) {
            return;
        }
        state.swarms.ids.push(swarm);
        state.self_id.clone()
    };
    let Some(me) = me else { return };
    let weak = Rc::downgrade(inner);
    wasm_bindgen_futures::spawn_local(async move {
        let report = report(&weak, &key);
        let stored_name = format!("{me}-{}-swarm{swarm}", key.peer);
        let joined = async {
            let module = on_demand::load().await?;
            let report = report.as_ref().unchecked_ref();
            let (me, origin) = (me.as_str(), key.peer.as_str());
            let member = module
                .member()
                .join(swarm, me, origin, &sizes, &stored_name, report);
            Ok::<Member, JsValue>(JsFuture::from(member).await?.unchecked_into())
        }
        .await;
        let Some(inner) = weak.upgrade() else { return };
        let transfers = inner.borrow().transfers.get(&key.peer).cloned();
        let Some(transfers) = transfers else { return };
        let member = match joined {
            Ok(member) => member,
            Err(error) => {
                let context = "no swarm module: the files come from the sender alone:";
                web_sys::console::warn_2(&context.into(), &error);
                return transfers.act(key.id, TransferAction::Accept);
            }
        };
        adopt(&inner, swarm, member, report, Some(key.clone()));
        transfers.accept_in_swarm(key.id, swarm);
    });
}

/// Files to everyone (`targets`, two or more): offered in a new swarm, this page its
/// origin, so that the receivers pass blocks on to each other; offered plainly if the
/// module does not load.
pub(super) fn offer(
    inner: &Rc<RefCell<Inner>>,
    files: Vec<OutgoingFile>,
    targets: Vec<PeerTransfers>,
) {
    let Some(me) = inner.borrow().self_id.clone() else {
        return;
    };
    let weak = Rc::downgrade(inner);
    wasm_bindgen_futures::spawn_local(async move {
        let swarm = (js_sys::Math::random() * f64::from(u32::MAX)) as SwarmId;
        let report = origin_report(&weak, swarm);
        let sources: Array = files
            .iter()
            .map(|outgoing| JsValue::from(&outgoing.file))
            .collect();
        let made = match on_demand::load().await {
            Ok(module) => module.member().origin(
                swarm,
                me.as_str(),
                &sources,
                report.as_ref().unchecked_ref(),
            ),
            Err(error) => Err(error),
        };
        let Some(inner) = weak.upgrade() else { return };
        let swarm = match made {
            Ok(member) => {
                adopt(&inner, swarm, member, report, None);
                Some(swarm)
            }
            Err(error) => {
                let context = "no swarm module: the files go to each receiver in turn:";
                web_sys::console::warn_2(&context.into(), &error);
                None
            }
        };
        for transfers in targets {
            match swarm {
                Some(swarm) => transfers.offer_to_swarm(files.clone(), swarm),
                None => transfers.offer(files.clone()),
            }
        }
    });
}

/// The receiver of this page's offer to `peer` takes part in `swarm`, which this page
/// is the origin of: the member hears it once.
pub(super) fn add_receiver(inner: &Rc<RefCell<Inner>>, swarm: SwarmId, peer: &PeerId) {
    let member = {
        let joined = &mut inner.borrow_mut().swarms.joined;
        let origin = joined
            .iter_mut()
            .find(|joined| joined.swarm == swarm && joined.receiving.is_none());
        match origin {
            Some(origin) if !origin.receivers.contains(peer) => {
                origin.receivers.push(peer.clone());
                origin.member.clone()
            }
            _ => return,
        }
    };
    member.add_receiver(peer.as_str());
}

/// Keeps `member` of `swarm` (receiving `receiving`, or the origin), on every open link.
fn adopt(
    inner: &Rc<RefCell<Inner>>,
    swarm: SwarmId,
    member: Member,
    report: Closure<dyn Fn(String, JsValue, JsValue)>,
    receiving: Option<TransferKey>,
) {
    let open: Vec<(PeerId, Channels)> = {
        let state = inner.borrow();
        let channels = state
            .links
            .iter()
            .map(|(peer, link)| (peer, link.peer.channels()));
        let open = channels.filter(|(_, channels)| channels.is_open());
        open.map(|(peer, channels)| (peer.clone(), channels.clone()))
            .collect()
    };
    for (peer, channels) in open {
        let (control, data) = channels.both();
        member.link_up(peer.as_str(), control, data);
    }
    let joined = Joined {
        swarm,
        receiving,
        receivers: Vec::new(),
        member,
        _report: report,
    };
    inner.borrow_mut().swarms.joined.push(joined);
}

/// The callback the origin's member reports through: `held` (a receiver's id, the bytes
/// it holds).
fn origin_report(
    inner: &Weak<RefCell<Inner>>,
    swarm: SwarmId,
) -> Closure<dyn Fn(String, JsValue, JsValue)> {
    let inner = inner.clone();
    Closure::new(move |_kind: String, peer: JsValue, held: JsValue| {
        let Some(inner) = inner.upgrade() else { return };
        let Some(peer) = peer.as_string().and_then(|peer| PeerId::new(peer).ok()) else {
            return;
        };
        let held = held.as_f64().unwrap_or_default() as u64;
        with_transfers(&inner, &peer, |transfers| transfers.swarm_sent(swarm, held));
    })
}

/// The callback a member reports `key`'s news through: `progress` (bytes held, bytes
/// from peers), `fileDone` (index, the stored `File`), `status` (words for the person),
/// `failed` (why).
fn report(
    inner: &Weak<RefCell<Inner>>,
    key: &TransferKey,
) -> Closure<dyn Fn(String, JsValue, JsValue)> {
    let (inner, key) = (inner.clone(), key.clone());
    Closure::new(move |kind: String, a: JsValue, b: JsValue| {
        let Some(inner) = inner.upgrade() else { return };
        let number = |value: &JsValue| value.as_f64().unwrap_or_default();
        let text = |value: JsValue| value.as_string().unwrap_or_default();
        with_transfers(&inner, &key.peer, |transfers| match kind.as_str() {
            "progress" => transfers.swarm_progress(key.id, number(&a) as u64, number(&b) as u64),
            "fileDone" => transfers.swarm_file(key.id, number(&a) as u32, b.unchecked_into()),
            "status" => transfers.swarm_status(key.id, text(a)),
            _ => transfers.fail(key.id, text(a)),
        });
    })
}
