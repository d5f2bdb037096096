//! The page's part in swarms (docs/protocol.md, "Swarms").
//!
//! A [`Member`] is one swarm's [`meshdrop_swarm::Swarm`] core with the browser's I/O:
//! it hears the swarm's frames and pieces from the page, sends on the peers' data
//! channels itself, keeps the blocks in files of the private file system
//! ([`meshdrop_opfs`]) and reads them back to serve other members. The page (its
//! transfer engine shell) hears through a [`Host`]: progress, each file verified, and
//! what to tell the person.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::{Rc, Weak};

use js_sys::{ArrayBuffer, Uint8Array};
use meshdrop_opfs::PrivateFile;
use meshdrop_protocol::frame::{
    ControlFrame, SwarmFrame, SwarmId, SwarmPiece, MIN_MAX_MESSAGE_LEN, SWARM_PIECE_HEADER_LEN,
};
use meshdrop_protocol::PeerId;
use meshdrop_swarm::{pieces, Bits, Output, Swarm};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::describe;
use web_sys::{RtcDataChannel, RtcDataChannelState};

/// Bytes of a block per piece: whole messages of the size every peer takes.
const PIECE_LEN: usize = MIN_MAX_MESSAGE_LEN - SWARM_PIECE_HEADER_LEN;

/// A member starts serving another block to a peer only while less than this waits in
/// the data channel's send buffer (as the native peer does, `native/src/room/swarms.rs`):
/// blocks asked for wait here, where a `swarm_unwant` can still call them off.
const SERVE_AHEAD: u32 = 1 << 20;

/// How soon a peer whose send buffer was too full is served again.
const SERVE_AGAIN_MS: u32 = 20;

/// How a [`Member`] reports to the page: `report(kind, a, b)`.
struct Host(js_sys::Function);

impl Host {
    fn report(&self, kind: &str, a: JsValue, b: JsValue) {
        let _ = self.0.call3(&JsValue::NULL, &kind.into(), &a, &b);
    }

    /// `held` verified bytes, `from_peers` of them from members other than the origin.
    fn progress(&self, held: u64, from_peers: u64) {
        self.report("progress", (held as f64).into(), (from_peers as f64).into());
    }

    /// File `index` is whole and verified, stored as `file`.
    fn file_done(&self, index: u32, file: web_sys::File) {
        self.report("fileDone", index.into(), file.into());
    }

    /// Origin: receiver `peer` holds `held` verified bytes.
    fn held(&self, peer: &PeerId, held: u64) {
        self.report("held", peer.as_str().into(), (held as f64).into());
    }

    /// Something the person should read (the origin left, a member served damage).
    fn status(&self, text: &str) {
        self.report("status", text.into(), JsValue::UNDEFINED);
    }

    /// The swarm cannot go on here (its files cannot be stored).
    fn failed(&self, reason: &str) {
        self.report("failed", reason.into(), JsValue::UNDEFINED);
    }
}

/// This page's part in one swarm: a receiver ([`Member::join`]) or its origin
/// ([`Member::origin`]).
#[wasm_bindgen]
pub struct Member {
    state: Rc<RefCell<State>>,
}

struct State {
    core: Swarm,
    id: SwarmId,
    host: Host,
    /// The open links' channels: control, data.
    links: BTreeMap<PeerId, (RtcDataChannel, RtcDataChannel)>,
    files: Vec<Stored>,
    /// Peers being served now (one block at a time each).
    serving: BTreeSet<PeerId>,
    /// The page left the swarm ([`Member::leave`]): it refuses every block asked of it,
    /// and asks for none.
    left: bool,
}

impl State {
    /// A member of `swarm` with no links yet, holding `files`.
    fn new(core: Swarm, swarm: SwarmId, report: js_sys::Function, files: Vec<Stored>) -> Self {
        Self {
            core,
            id: swarm,
            host: Host(report),
            links: BTreeMap::new(),
            files,
            serving: BTreeSet::new(),
            left: false,
        }
    }
}

/// Where a file's blocks are.
enum Stored {
    /// Not open yet, or lost.
    Missing,
    /// Verified whole, being closed: it is read once it is [`Stored::Done`]. (Refused
    /// meanwhile, the asker would think this page lacks the block, and the origin,
    /// which gave it here, would not give it again.)
    Closing,
    /// Open in the writer, receiving.
    Open(Rc<PrivateFile>),
    /// Verified and closed.
    Done(web_sys::File),
}

#[wasm_bindgen]
impl Member {
    /// Take part in swarm `swarm` as a receiver of the files (of these `sizes`) that
    /// `origin` offered. `stored_name` prefixes the names of the files it keeps;
    /// `report` hears its news ([`Host`]).
    pub async fn join(
        swarm: SwarmId,
        me: String,
        origin: String,
        sizes: Vec<f64>,
        stored_name: String,
        report: js_sys::Function,
    ) -> Result<Member, JsError> {
        let me = PeerId::new(me)?;
        let origin = PeerId::new(origin)?;
        let sizes: Vec<u64> = sizes.iter().map(|size| *size as u64).collect();
        let count = sizes.len();
        let core = Swarm::receiver(swarm, me, origin, sizes)?;
        let files = (0..count).map(|_| Stored::Missing).collect();
        let state = Rc::new(RefCell::new(State::new(core, swarm, report, files)));
        for index in 0..count {
            let file = PrivateFile::create(format!("{stored_name}-{index}"))
                .await
                .map_err(|error| JsError::new(&describe(&error)))?;
            state.borrow_mut().files[index] = Stored::Open(Rc::new(file));
        }
        drive(&state);
        Ok(Member { state })
    }

    /// Be the origin of swarm `swarm`, offering `files` (of `File`s): blocks are read from
    /// them. `report` hears, as `held`, how much each receiver holds.
    pub fn origin(
        swarm: SwarmId,
        me: String,
        files: js_sys::Array,
        report: js_sys::Function,
    ) -> Result<Member, JsError> {
        let files: Vec<web_sys::File> = files.iter().map(JsCast::unchecked_into).collect();
        let sizes = files.iter().map(|file| file.size() as u64).collect();
        let core = Swarm::origin(swarm, PeerId::new(me)?, sizes)?;
        let files = files.into_iter().map(Stored::Done).collect();
        let state = Rc::new(RefCell::new(State::new(core, swarm, report, files)));
        Ok(Member { state })
    }

    /// Origin: `peer` accepted the offer in the swarm.
    #[wasm_bindgen(js_name = addReceiver)]
    pub fn add_receiver(&self, peer: String) -> Result<(), JsError> {
        let added = self
            .state
            .borrow_mut()
            .core
            .add_receiver(PeerId::new(peer)?);
        drive(&self.state);
        Ok(added?)
    }

    /// The link to `peer` is up, with these channels.
    #[wasm_bindgen(js_name = linkUp)]
    pub fn link_up(&self, peer: String, control: RtcDataChannel, data: RtcDataChannel) {
        let Ok(peer) = PeerId::new(peer) else { return };
        {
            let mut state = self.state.borrow_mut();
            state.links.insert(peer.clone(), (control, data));
            state.core.link_up(&peer);
        }
        drive(&self.state);
    }

    /// The link to `peer` is down.
    #[wasm_bindgen(js_name = linkDown)]
    pub fn link_down(&self, peer: String) {
        let Ok(peer) = PeerId::new(peer) else { return };
        {
            let mut state = self.state.borrow_mut();
            state.links.remove(&peer);
            state.core.link_down(&peer);
        }
        drive(&self.state);
    }

    /// `peer` left the room.
    pub fn left(&self, peer: String) {
        let Ok(peer) = PeerId::new(peer) else { return };
        {
            let mut state = self.state.borrow_mut();
            state.links.remove(&peer);
            state.core.peer_left(&peer);
        }
        drive(&self.state);
    }

    /// A control frame of type `swarm_*` from `from`, as its JSON text.
    pub fn frame(&self, from: String, text: &str) -> Result<(), JsError> {
        let from = PeerId::new(from)?;
        let ControlFrame::Swarm(frame) = serde_json::from_str(text)? else {
            return Err(JsError::new("not a swarm frame"));
        };
        if frame.swarm() != self.state.borrow().id {
            return Ok(());
        }
        let heard = self.state.borrow_mut().core.on_frame(&from, *frame);
        self.report_held(&from);
        drive(&self.state);
        Ok(heard?)
    }

    /// Origin: tells the page how much `peer` holds, as it said.
    fn report_held(&self, peer: &PeerId) {
        let state = self.state.borrow();
        if !state.core.is_origin() {
            return;
        }
        let held = state
            .core
            .member_progress()
            .find(|(member, _)| *member == peer);
        if let Some((_, held)) = held {
            state.host.held(peer, held);
        }
    }

    /// A data-channel message from `from` that is a swarm piece.
    pub fn piece(&self, from: String, message: &[u8]) -> Result<(), JsError> {
        let from = PeerId::new(from)?;
        let piece = SwarmPiece::decode(message)?;
        if piece.swarm != self.state.borrow().id || self.state.borrow().left {
            return Ok(());
        }
        let heard = self.state.borrow_mut().core.on_piece(&from, piece);
        drive(&self.state);
        Ok(heard?)
    }

    /// The transfer ended here (cancelled, or failed): this page takes no more part. It
    /// tells every member it holds nothing, refuses what it is asked from now on, and
    /// deletes what it kept.
    pub fn leave(&self) {
        let files = {
            let mut state = self.state.borrow_mut();
            if state.left {
                return;
            }
            state.left = true;
            let blocks = state.core.layout().blocks();
            let nothing = ControlFrame::Swarm(Box::new(SwarmFrame::Have {
                swarm: state.id,
                blocks: Bits::empty(blocks).to_wire(),
            }));
            if let Ok(text) = serde_json::to_string(&nothing) {
                for (control, _) in state.links.values() {
                    let _ = control.send_with_str(&text);
                }
            }
            std::mem::take(&mut state.files)
        };
        for stored in files {
            if let Stored::Open(file) = stored {
                if let Ok(file) = Rc::try_unwrap(file) {
                    wasm_bindgen_futures::spawn_local(file.discard());
                }
            }
        }
        let peers: Vec<PeerId> = self.state.borrow().links.keys().cloned().collect();
        for peer in peers {
            refuse_asked(&self.state, &peer);
        }
        drive(&self.state);
    }
}

/// Refuses every block `peer` asked for and waits for.
fn refuse_asked(state: &Rc<RefCell<State>>, peer: &PeerId) {
    let mut state = state.borrow_mut();
    while let Some(block) = state.core.next_serve(peer) {
        state.core.cannot_serve(peer, block);
    }
}

/// Carries out what the core asks; once the page left, only its refusals.
fn drive(state: &Rc<RefCell<State>>) {
    loop {
        let Some(output) = state.borrow_mut().core.poll_output() else {
            return;
        };
        let output = match output {
            output if !state.borrow().left => output,
            Output::ServeReady { to } => {
                refuse_asked(state, &to);
                continue;
            }
            Output::Send {
                to,
                frame: frame @ SwarmFrame::Refuse { .. },
            } => Output::Send { to, frame },
            _ => continue,
        };
        match output {
            Output::Send { to, frame } => {
                let state = state.borrow();
                if let Some((control, _)) = state.links.get(&to) {
                    let frame = ControlFrame::Swarm(Box::new(frame));
                    if let Ok(text) = serde_json::to_string(&frame) {
                        let _ = control.send_with_str(&text);
                    }
                }
            }
            Output::ServeReady { to } => serve(state, to),
            Output::Write {
                index,
                offset,
                bytes,
            } => {
                let state = state.borrow();
                if let Some(Stored::Open(file)) = state.files.get(index as usize) {
                    file.write_at(offset, &bytes);
                }
                let progress = state.core.progress();
                state.host.progress(progress.held, progress.from_peers);
            }
            Output::FileComplete { index, .. } => finish(state, index),
            // A receiver's: it never says the origin's `EveryBlockOut`.
            Output::Complete | Output::EveryBlockOut => {}
            Output::SourceDropped { peer, block } => state.borrow().host.status(&format!(
                "{peer} served block {block} damaged: no longer asked for blocks"
            )),
            // Said only while blocks are still missing here.
            Output::OriginLeft { .. } if state.borrow().core.is_complete() => {}
            Output::OriginLeft {
                finishing_from_peers,
            } => state.borrow().host.status(if finishing_from_peers {
                "Sender left; finishing from peers"
            } else {
                "Sender left; some blocks are with nobody else: waiting for it"
            }),
        }
    }
}

/// File `index` is verified: closes it, and hands the stored file to the page.
fn finish(state: &Rc<RefCell<State>>, index: u32) {
    let open = {
        let mut state = state.borrow_mut();
        let slot = state.files.get_mut(index as usize);
        slot.map(|slot| std::mem::replace(slot, Stored::Closing))
    };
    let Some(Stored::Open(mut file)) = open else {
        return;
    };
    let weak = Rc::downgrade(state);
    wasm_bindgen_futures::spawn_local(async move {
        // A read serving a block may hold the file a moment: wait for it to end.
        let file = loop {
            match Rc::try_unwrap(file) {
                Ok(file) => break file,
                Err(shared) => file = shared,
            }
            gloo_timers::future::TimeoutFuture::new(SERVE_AGAIN_MS).await;
        };
        let finished = file.finish().await;
        let Some(state) = weak.upgrade() else { return };
        let stored = match &finished {
            Ok(file) => Stored::Done(file.clone()),
            Err(_) => Stored::Missing,
        };
        if let Some(slot) = state.borrow_mut().files.get_mut(index as usize) {
            *slot = stored;
        }
        match finished {
            Ok(file) => state.borrow().host.file_done(index, file),
            Err(error) => state.borrow().host.failed(&describe(&error)),
        }
    });
}

/// Sends `peer` the blocks it asked for, one at a time, while its data channel has room.
fn serve(state: &Rc<RefCell<State>>, peer: PeerId) {
    if !state.borrow_mut().serving.insert(peer.clone()) {
        return;
    }
    let weak = Rc::downgrade(state);
    wasm_bindgen_futures::spawn_local(async move {
        serve_while_room(&weak, &peer).await;
        if let Some(state) = weak.upgrade() {
            state.borrow_mut().serving.remove(&peer);
        }
    });
}

async fn serve_while_room(weak: &Weak<RefCell<State>>, peer: &PeerId) {
    loop {
        let Some(state) = weak.upgrade() else { return };
        if state.borrow().left {
            refuse_asked(&state, peer);
            return drive(&state);
        }
        let Some((_, data)) = state.borrow().links.get(peer).cloned() else {
            return;
        };
        if data.ready_state() != RtcDataChannelState::Open {
            return;
        }
        if data.buffered_amount() >= SERVE_AHEAD {
            drop(state);
            gloo_timers::future::TimeoutFuture::new(SERVE_AGAIN_MS).await;
            continue;
        }
        let Some(block) = state.borrow_mut().core.next_serve(peer) else {
            return;
        };
        let read = read_block(&state, block).await;
        let id = state.borrow().id;
        let served = match read {
            Ok(bytes) => {
                let served = state.borrow_mut().core.served(peer, block, &bytes);
                if served.is_ok() {
                    for piece in pieces(id, block, &bytes, PIECE_LEN) {
                        let mut message = Vec::with_capacity(SWARM_PIECE_HEADER_LEN + PIECE_LEN);
                        piece.encode_into(&mut message);
                        // A failed send means the link is dying: the mesh reports it, and
                        // the peer asks again.
                        let _ = data.send_with_u8_array(&message);
                    }
                }
                served.is_ok()
            }
            Err(_) => false,
        };
        if !served {
            state.borrow_mut().core.cannot_serve(peer, block);
        }
        drive(&state);
    }
}

/// The bytes of block `block`, from its file: open or verified and closed.
async fn read_block(state: &Rc<RefCell<State>>, block: u32) -> Result<Vec<u8>, JsValue> {
    let place = state.borrow().core.layout().place(block);
    let (start, len) = (place.span.start, (place.span.end - place.span.start) as u32);
    let source = loop {
        let source = match state.borrow().files.get(place.index as usize) {
            Some(Stored::Open(file)) => Some(Ok(file.clone())),
            Some(Stored::Done(file)) => Some(Err(file.clone())),
            Some(Stored::Closing) => None,
            Some(Stored::Missing) | None => return Err(JsValue::from_str("no such file here")),
        };
        match source {
            Some(source) => break source,
            None => gloo_timers::future::TimeoutFuture::new(SERVE_AGAIN_MS).await,
        }
    };
    match source {
        Ok(file) => file.read_at(start, len).await,
        Err(file) => {
            let slice = file.slice_with_f64_and_f64(start as f64, (start + len as u64) as f64)?;
            let buffer: ArrayBuffer = JsFuture::from(slice.array_buffer()).await?.dyn_into()?;
            Ok(Uint8Array::new(&buffer).to_vec())
        }
    }
}
