//! The browser's driver for the shared transfer engine ([`meshdrop_transfer`]).
//!
//! The engine decides *what* happens; this module does the browser I/O it asks for:
//! reading slices of the user's `File`s, sending chunks on the data channel without
//! overfilling it, writing received chunks to the private file system, hashing the
//! files' blocks with WebCrypto, and reporting a [`TransferView`] for the UI whenever
//! something worth showing changed. One driver serves one peer across its links: the
//! mesh tells it when a link's channels open ([`PeerTransfers::on_link_up`]) or close
//! ([`PeerTransfers::on_link_down`]), so transfers pause and resume instead of failing,
//! and when the peer left the room ([`PeerTransfers::on_peer_left`]), which starts the
//! grace period after which they fail. Incoming transfers outlive a reload of the page
//! too: what they verified is kept beside their files in the private file system
//! ([`journal`]) and handed to the engine of the same peer after the reload, which goes
//! on when the peer offers them again. Outgoing ones are kept in the tab ([`partials`]),
//! waiting for their files to be picked again.

mod incoming;
mod journal;
mod partials;
mod read_ahead;
mod webcrypto;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::{ArrayBuffer, Uint8Array};
use meshdrop_protocol::frame::{
    message_len_for, offers_within_by, ControlFrame, DataChunk, FileMeta, SwarmId, TransferId,
    CHUNK_HEADER_LEN, MIN_MAX_MESSAGE_LEN,
};
use meshdrop_protocol::PeerId;
use meshdrop_sorted_map::SortedMap;
use meshdrop_transfer::{
    BlockHashing, Direction, IdParity, Output, Progress, RateMeter, ReadRequest, SafePath,
    TransferState, Transfers,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use incoming::IncomingFile;
pub use journal::clear_leftovers;
use journal::Journal;
use read_ahead::{Ahead, ReadAhead};
use webcrypto::{HashingBlock, WebCrypto};

use crate::mesh::Channels;

/// Stop sending chunks once this much is waiting in the data channel's send buffer.
/// Chrome closes a channel whose buffer passes 16 MiB, and a few MiB keep it busy
/// (4 MiB, the raw loop's mark, measured no faster).
const HIGH_WATER: u32 = 8 << 20;
/// Progress is redrawn at most this often; state changes are shown at once.
const PROGRESS_INTERVAL_MS: f64 = 250.0;
/// How long control frames wait after a link opens unless the peer speaks first: a
/// webrtc-rs peer drops what reaches it before its own end of the channel is set up
/// (docs/protocol.md, "Opening"), and a lost `resume` would leave a transfer paused.
const OPEN_HOLD_MS: u32 = 500;

/// The reason a person's Cancel sends. The page shows a cancel with it as "Cancelled by
/// <name>" without repeating it.
pub const CANCELLED_BY_USER: &str = "cancelled by the user";

/// A transfer, named across the whole page: engines number transfers per peer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransferKey {
    pub peer: PeerId,
    pub id: TransferId,
}

/// What the UI shows of one transfer.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferView {
    pub key: TransferKey,
    pub direction: Direction,
    pub files: Vec<FileMeta>,
    /// Each file's sanitised path: where it goes in a folder it is saved in.
    pub paths: Vec<SafePath>,
    pub state: TransferState,
    pub progress: Progress,
    pub mib_per_second: Option<f64>,
    pub seconds_left: Option<f64>,
    /// Received files that passed their SHA-256 check, ready to save.
    pub saved: Vec<SavedFile>,
    /// Payload bytes this page handed to data channels for an outgoing transfer, over
    /// all links: the files' size, plus what went again, minus what the receiver had.
    pub bytes_sent: u64,
    /// For an incoming transfer: its blocks verified and recorded ([`journal`]), which a
    /// reload of the page keeps.
    pub blocks_kept: u64,
    /// Of those, the blocks kept from before the page was reloaded.
    pub blocks_restored: u64,
    /// An outgoing transfer from before the page was reloaded, paused until the person
    /// picks its files again.
    pub needs_files: bool,
    /// The files last picked for it were not the same (name, size, first block).
    pub picked_wrong: bool,
    /// For a transfer that goes by a swarm (sent or received): what the swarm says of it.
    pub swarm: Option<SwarmNews>,
}

/// What the swarm says of a transfer that goes by it.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmNews {
    pub swarm: SwarmId,
    /// Received: verified bytes that came from members other than the sender.
    pub from_peers: u64,
    /// Its latest word for the person ("Sender left; finishing from peers").
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SavedFile {
    /// Where the file goes in a folder it is saved in: the sender's path for it (or its
    /// name), sanitised by the engine. Its last component is the file's name.
    pub path: SafePath,
    /// The stored file, disk-backed in the private file system.
    pub file: web_sys::File,
    /// An object URL of the stored file.
    pub url: String,
}

/// A file picked to send, and where it sits in a picked folder.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingFile {
    pub file: web_sys::File,
    /// `/`-separated, starting with the picked folder's name; `None` for a loose file.
    pub path: Option<String>,
}

impl From<web_sys::File> for OutgoingFile {
    /// A loose file, in no folder.
    fn from(file: web_sys::File) -> Self {
        Self { file, path: None }
    }
}

/// A user's decision about a transfer.
#[derive(Debug, Clone, PartialEq)]
pub enum TransferAction {
    Accept,
    Decline,
    Cancel,
    /// The files of an outgoing transfer from before the page was reloaded, picked
    /// again ([`TransferView::needs_files`]).
    PickedAgain(Vec<web_sys::File>),
}

/// The transfers with one peer, over all the links to it. Cloning shares the same
/// driver.
#[derive(Clone)]
pub struct PeerTransfers {
    inner: Rc<RefCell<Driver>>,
}

struct Driver {
    /// Our own id, to give stored files names no other tab uses.
    me: PeerId,
    peer: PeerId,
    engine: Transfers,
    /// Hashes the files' blocks when the page has it; otherwise the engine does.
    webcrypto: Option<WebCrypto>,
    /// The channels of the link up now, if any.
    channels: Option<Channels>,
    /// The link's connection is being recovered (ICE restart) with its channels kept:
    /// nothing is lost, so the engine goes on as it was; only the views say Paused.
    interrupted: bool,
    emit: Rc<dyn Fn(TransferView)>,
    /// Fires when the grace period of a peer that left runs out.
    grace_timer: Option<gloo_timers::callback::Timeout>,
    /// Control frames held back since the link opened, until the peer speaks or
    /// [`OPEN_HOLD_MS`] pass (`hold_timer`); `None` once they went.
    held: Option<Vec<ControlFrame>>,
    hold_timer: Option<gloo_timers::callback::Timeout>,
    /// The files we offered, by transfer.
    sources: SortedMap<TransferId, Vec<web_sys::File>>,
    read_ahead: SortedMap<TransferId, ReadAhead>,
    /// Files being received, by (transfer, index).
    incoming: SortedMap<(TransferId, u32), IncomingFile>,
    /// The journals of incoming transfers, by transfer.
    journals: SortedMap<TransferId, Journal>,
    /// The journals and files of transfers kept from before a reload and restored into
    /// the engine, opened, by their key, until the peer offers them again.
    restored: SortedMap<String, (Journal, Vec<(u32, IncomingFile)>)>,
    saved: SortedMap<TransferId, Vec<SavedFile>>,
    meters: SortedMap<TransferId, Meter>,
    /// See [`TransferView::bytes_sent`].
    bytes_sent: SortedMap<TransferId, u64>,
    /// Outgoing transfers kept from before a reload, waiting for their files: each
    /// file's first block digest, to know them again ([`partials::Send`]).
    awaiting: SortedMap<TransferId, Vec<String>>,
    picked_wrong: SortedMap<TransferId, ()>,
    /// Transfers received in a swarm.
    swarm_news: SortedMap<TransferId, SwarmNews>,
    /// Reused for each chunk sent, outside wasm memory: the data channel copies what it
    /// sends, and the bytes read from the file never enter wasm memory.
    message: Uint8Array,
}

struct Meter {
    rate: RateMeter,
    last_shown_ms: f64,
}

impl PeerTransfers {
    /// Transfers with `peer`, with no link yet: see [`Self::on_link_up`].
    pub fn new(me: PeerId, peer: PeerId, emit: impl Fn(TransferView) + 'static) -> Self {
        let mut engine = Transfers::new(IdParity::for_connection(&me, &peer));
        let webcrypto = WebCrypto::get();
        if webcrypto.is_some() {
            engine.set_block_hashing(BlockHashing::Driver);
        }
        let transfers = Self {
            inner: Rc::new(RefCell::new(Driver {
                me,
                peer,
                engine,
                webcrypto,
                channels: None,
                interrupted: false,
                emit: Rc::new(emit),
                grace_timer: None,
                held: None,
                hold_timer: None,
                sources: SortedMap::new(),
                read_ahead: SortedMap::new(),
                incoming: SortedMap::new(),
                journals: SortedMap::new(),
                restored: SortedMap::new(),
                saved: SortedMap::new(),
                meters: SortedMap::new(),
                bytes_sent: SortedMap::new(),
                awaiting: SortedMap::new(),
                picked_wrong: SortedMap::new(),
                swarm_news: SortedMap::new(),
                message: Uint8Array::new_with_length(0),
            })),
        };
        restore_kept(&transfers.inner);
        restore_sends(&transfers.inner);
        transfers
    }

    /// Offer `files` to the peer.
    /// Offer `files` to the peer: in one transfer, or in several if their offer would
    /// not fit one message of the connection (a folder of thousands of files).
    pub fn offer(&self, files: Vec<OutgoingFile>) {
        self.offer_in(files, None)
    }

    /// Offer `files` to the peer as a receiver of `swarm` (this page its origin), if they
    /// fit one offer; otherwise plainly, as [`Self::offer`]. Not kept across a reload.
    pub fn offer_to_swarm(&self, files: Vec<OutgoingFile>, swarm: SwarmId) {
        self.offer_in(files, Some(swarm))
    }

    fn offer_in(&self, files: Vec<OutgoingFile>, swarm: Option<SwarmId>) {
        let metas = files
            .iter()
            .map(|outgoing| FileMeta {
                name: outgoing.file.name(),
                size: outgoing.file.size() as u64,
                mime: outgoing.file.type_(),
                path: outgoing.path.clone(),
            })
            .collect();
        let max_message_len = self
            .inner
            .borrow()
            .channels
            .as_ref()
            .and_then(Channels::max_message_size)
            .map_or(MIN_MAX_MESSAGE_LEN, |max| message_len_for(max as usize));
        let mut files = files.into_iter().map(|outgoing| outgoing.file);
        let runs = offers_within_by(metas, max_message_len, |frame| {
            crate::encode::control_frame(frame).len()
        });
        let swarm = swarm.filter(|_| runs.len() == 1);
        for run in runs {
            let sources: Vec<web_sys::File> = files.by_ref().take(run.len()).collect();
            let mut driver = self.inner.borrow_mut();
            let offered = match swarm {
                Some(swarm) => driver.engine.offer_to_swarm(run, swarm),
                None => driver.engine.offer(run),
            };
            drop(driver);
            if let Ok(id) = offered {
                self.inner.borrow_mut().sources.insert(id, sources.clone());
                if swarm.is_none() {
                    keep_send(&self.inner, id, sources);
                }
            }
        }
        carry_out(&self.inner);
    }

    pub fn act(&self, id: TransferId, action: TransferAction) {
        match action {
            TransferAction::Accept => accept(&self.inner, id),
            TransferAction::Decline => {
                let _ = self.inner.borrow_mut().engine.decline(id);
                carry_out(&self.inner);
            }
            TransferAction::Cancel => {
                let _ = self.inner.borrow_mut().engine.cancel(id, CANCELLED_BY_USER);
                carry_out(&self.inner);
            }
            TransferAction::PickedAgain(files) => picked_again(&self.inner, id, files),
        }
    }

    /// The swarm and file sizes (as JavaScript numbers) of offer `id`, if it names a
    /// swarm and awaits an answer.
    pub fn swarm_offer(&self, id: TransferId) -> Option<(SwarmId, Vec<f64>)> {
        let driver = self.inner.borrow();
        let offer = driver.engine.get(id)?;
        let swarm = offer
            .swarm()
            .filter(|_| offer.state() == &TransferState::Offered)?;
        Some((
            swarm,
            offer.files().iter().map(|file| file.size as f64).collect(),
        ))
    }

    /// The person took offer `id`, and this page takes part in its swarm: the blocks
    /// come through the swarm module, which reports here.
    pub fn accept_in_swarm(&self, id: TransferId, swarm: SwarmId) {
        let accepted = self.inner.borrow_mut().engine.accept_in_swarm(id);
        if accepted.is_ok() {
            news_of(&self.inner, id, swarm);
        }
        carry_out(&self.inner);
    }

    /// The receiver of this page's offer in `swarm` holds `held` bytes of it, as the
    /// swarm heard.
    pub fn swarm_sent(&self, swarm: SwarmId, held: u64) {
        let sent = self
            .inner
            .borrow()
            .swarm_news
            .iter()
            .find(|(_, news)| news.swarm == swarm)
            .map(|(id, _)| *id);
        if let Some(id) = sent {
            self.swarm_progress(id, held, 0);
        }
    }

    /// Transfer `id`, received in a swarm, holds `held` bytes verified, `from_peers` of
    /// them from members other than the sender.
    pub fn swarm_progress(&self, id: TransferId, held: u64, from_peers: u64) {
        {
            let mut driver = self.inner.borrow_mut();
            let _ = driver.engine.swarm_progress(id, held);
            if let Some(news) = driver.swarm_news.get_mut(&id) {
                news.from_peers = from_peers;
            }
        }
        show_progress(&self.inner);
    }

    /// The swarm's word for the person about transfer `id`.
    pub fn swarm_status(&self, id: TransferId, status: String) {
        if let Some(news) = self.inner.borrow_mut().swarm_news.get_mut(&id) {
            news.status = Some(status);
        }
        show(&self.inner, id);
    }

    /// File `index` of transfer `id`, received in a swarm, is verified and stored.
    pub fn swarm_file(&self, id: TransferId, index: u32, file: web_sys::File) {
        let _ = self
            .inner
            .borrow_mut()
            .engine
            .swarm_file_verified(id, index);
        carry_out(&self.inner);
        keep_stored(&self.inner, id, index, Ok(file));
    }

    /// Transfer `id` cannot go on: `reason`.
    pub fn fail(&self, id: TransferId, reason: String) {
        let _ = self.inner.borrow_mut().engine.fail(id, reason);
        carry_out(&self.inner);
    }

    /// A control frame other than chat arrived.
    pub fn on_control(&self, frame: ControlFrame) {
        release_held(&self.inner);
        // A refused frame changes nothing; the engine has already judged it.
        let _ = self.inner.borrow_mut().engine.on_control(frame);
        carry_out(&self.inner);
        pump(&self.inner);
    }

    /// A binary message arrived on the data channel. With WebCrypto at hand, only its
    /// header enters wasm memory: the payload goes from the message into the block
    /// being gathered, in the browser's memory (see [`incoming`]).
    pub fn on_data(&self, message: ArrayBuffer) {
        let message = Uint8Array::new(&message);
        if message.length() < CHUNK_HEADER_LEN as u32 {
            return;
        }
        let payload = message.subarray(CHUNK_HEADER_LEN as u32, message.length());
        let weak = Rc::downgrade(&self.inner);
        let failed_write = {
            let mut driver = self.inner.borrow_mut();
            let Driver {
                engine,
                incoming,
                webcrypto,
                ..
            } = &mut *driver;
            let placed = match webcrypto {
                Some(_) => {
                    let mut header = [0; CHUNK_HEADER_LEN];
                    message
                        .subarray(0, CHUNK_HEADER_LEN as u32)
                        .copy_to(&mut header);
                    engine.on_chunk_held(header, payload.length() as usize)
                }
                None => engine
                    .on_chunk(&message.to_vec())
                    .map(|write| write.map(|write| write.placement())),
            };
            match placed {
                Ok(Some(at)) => match incoming.get_mut(&(at.transfer, at.index)) {
                    Some(file) => {
                        file.write(at.offset, payload, |block, bytes| {
                            if let Some(webcrypto) = webcrypto {
                                let hashing = webcrypto.hash_buffer(block, bytes);
                                report_digest(weak.clone(), at.transfer, at.index, hashing);
                            }
                        });
                        None
                    }
                    None => Some(at.transfer),
                },
                _ => None,
            }
        };
        if let Some(transfer) = failed_write {
            let _ = self
                .inner
                .borrow_mut()
                .engine
                .fail(transfer, "the received file could not be stored");
        }
        carry_out(&self.inner);
        show_progress(&self.inner);
    }

    /// The data channel drained: send more.
    pub fn pump(&self) {
        pump(&self.inner);
    }

    /// A link to the peer has its channels open: transfers resume on it. Chunk sizes
    /// follow the connection's.
    pub fn on_link_up(&self, channels: Channels) {
        {
            let mut driver = self.inner.borrow_mut();
            if let Some(max) = channels.max_message_size() {
                driver.engine.fit_chunks_to(max as usize);
            }
            driver.channels = Some(channels);
            driver.grace_timer = None;
            driver.held = Some(Vec::new());
            let weak = Rc::downgrade(&self.inner);
            driver.hold_timer = Some(gloo_timers::callback::Timeout::new(
                OPEN_HOLD_MS,
                move || {
                    if let Some(inner) = weak.upgrade() {
                        release_held(&inner);
                    }
                },
            ));
            driver.engine.on_link_up();
        }
        carry_out(&self.inner);
        pump(&self.inner);
    }

    /// Whether transfers have channels to go on with: a link that comes back with these
    /// still open was restored, not replaced.
    pub fn has_channels(&self) -> bool {
        self.inner.borrow().channels.is_some()
    }

    /// The link stopped carrying data but keeps its channels while its connection is
    /// recovered: transfers show Paused, and lose nothing.
    pub fn on_link_interrupted(&self) {
        self.set_interrupted(true);
    }

    /// The link's connection is back with the same channels: transfers go on as they were.
    pub fn on_link_restored(&self) {
        self.set_interrupted(false);
        pump(&self.inner);
    }

    fn set_interrupted(&self, interrupted: bool) {
        self.inner.borrow_mut().interrupted = interrupted;
        let running: Vec<TransferId> = self
            .inner
            .borrow()
            .engine
            .iter()
            .filter(|(_, transfer)| transfer.state().is_running())
            .map(|(id, _)| id)
            .collect();
        for id in running {
            show(&self.inner, id);
        }
    }

    /// The link's channels closed or its connection failed: transfers pause.
    pub fn on_link_down(&self) {
        {
            let mut driver = self.inner.borrow_mut();
            driver.channels = None;
            driver.interrupted = false;
            driver.held = None;
            driver.hold_timer = None;
            driver.engine.on_link_down();
        }
        carry_out(&self.inner);
    }

    /// The peer left the room: its transfers fail unless it is back with a new link
    /// within the grace period, whose end they show.
    pub fn on_peer_left(&self) {
        let deadline = {
            let mut driver = self.inner.borrow_mut();
            driver.channels = None;
            driver.engine.on_peer_left(js_sys::Date::now() as u64);
            driver.engine.poll_timeout()
        };
        if let Some(deadline) = deadline {
            let wait = deadline.saturating_sub(js_sys::Date::now() as u64);
            let weak = Rc::downgrade(&self.inner);
            let timer = gloo_timers::callback::Timeout::new(
                u32::try_from(wait).unwrap_or(u32::MAX),
                move || {
                    let Some(inner) = weak.upgrade() else { return };
                    inner
                        .borrow_mut()
                        .engine
                        .handle_timeout(js_sys::Date::now() as u64);
                    carry_out(&inner);
                },
            );
            self.inner.borrow_mut().grace_timer = Some(timer);
        }
        carry_out(&self.inner);
    }
}

/// Open every file of the offer in the private file system, and its journal, then
/// accept. Opening first means no chunk can arrive for a file that does not exist yet.
fn accept(inner: &Rc<RefCell<Driver>>, id: TransferId) {
    let (me, peer, files) = {
        let driver = inner.borrow();
        let Some(transfer) = driver.engine.get(id) else {
            return;
        };
        let files = transfer.files().to_vec();
        (driver.me.clone(), driver.peer.clone(), files)
    };
    let weak = Rc::downgrade(inner);
    wasm_bindgen_futures::spawn_local(async move {
        let opened = open_incoming(&me, &peer, id, &files).await;
        let Some(inner) = weak.upgrade() else { return };
        match opened {
            Ok((journal, opened)) => {
                let mut driver = inner.borrow_mut();
                for (index, file) in opened {
                    driver.incoming.insert((id, index), file);
                }
                driver.journals.insert(id, journal);
                let _ = driver.engine.accept(id);
            }
            Err(error) => {
                let reason = format!(
                    "the receiving page cannot store files: {}",
                    describe(&error)
                );
                let _ = inner.borrow_mut().engine.fail(id, reason);
            }
        }
        carry_out(&inner);
    });
}

/// Opens a file in the private file system for each of `files`, incoming transfer `id`
/// from `peer`, and its journal; on failure, deletes what it opened.
async fn open_incoming(
    me: &PeerId,
    peer: &PeerId,
    id: TransferId,
    files: &[FileMeta],
) -> Result<(Journal, Vec<(u32, IncomingFile)>), JsValue> {
    let mut opened = Vec::new();
    let mut failure = None;
    for (index, meta) in (0..).zip(files) {
        let name = journal::stored_name(me, peer, id, index);
        match IncomingFile::create(name, meta.size).await {
            Ok(file) => opened.push((index, file)),
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    let journal = match failure {
        None => {
            let names = opened
                .iter()
                .map(|(_, file)| Some(file.stored_name().to_owned()));
            Journal::create(me, peer, id, files, names.collect()).await
        }
        Some(error) => Err(error),
    };
    match journal {
        Ok(journal) => Ok((journal, opened)),
        Err(error) => {
            for (_, file) in opened {
                file.discard().await;
            }
            Err(error)
        }
    }
}

/// Carry out everything the engine asked for, in order.
fn carry_out(inner: &Rc<RefCell<Driver>>) {
    loop {
        let Some(output) = inner.borrow_mut().engine.poll_output() else {
            return;
        };
        match output {
            // Without a link the frame is lost; the engine says again on the next link
            // whatever still matters.
            Output::Control(frame) => {
                let mut driver = inner.borrow_mut();
                let Driver { held, channels, .. } = &mut *driver;
                match (held, channels) {
                    (Some(held), _) => held.push(frame),
                    (None, Some(channels)) => channels.send_control(&frame),
                    (None, None) => {}
                }
            }
            Output::BlockVerified {
                transfer,
                index,
                block,
                digest,
            } => {
                if let Some(journal) = inner.borrow_mut().journals.get_mut(&transfer) {
                    journal.record_block(index, block, &digest);
                }
            }
            Output::FileVerified { transfer, index } => {
                if let Some(journal) = inner.borrow_mut().journals.get_mut(&transfer) {
                    journal.record_file_done(index);
                }
                finish_file(inner, transfer, index);
            }
            Output::FileDiscarded { transfer, index } => {
                if let Some(file) = inner.borrow_mut().incoming.remove(&(transfer, index)) {
                    wasm_bindgen_futures::spawn_local(file.discard());
                }
            }
            Output::Resumed { transfer, key } => {
                let mut driver = inner.borrow_mut();
                if let Some((journal, files)) = driver.restored.remove(&key) {
                    for (index, file) in files {
                        driver.incoming.insert((transfer, index), file);
                    }
                    // Goes on under the transfer's new id.
                    driver.journals.insert(transfer, journal);
                }
            }
            // The receiver takes part in this page's swarm: the mesh hears it from the
            // transfer's view (`TransferView::swarm`).
            Output::JoinedSwarm { transfer, swarm } => {
                news_of(inner, transfer, swarm);
                show(inner, transfer);
            }
            Output::State { transfer, state } => {
                if state.is_final() {
                    let mut driver = inner.borrow_mut();
                    driver.sources.remove(&transfer);
                    driver.read_ahead.remove(&transfer);
                    driver.awaiting.remove(&transfer);
                    if let Some(journal) = driver.journals.remove(&transfer) {
                        wasm_bindgen_futures::spawn_local(journal.discard());
                    }
                    partials::forget_send(&driver.peer, transfer);
                }
                show(inner, transfer);
            }
        }
    }
}

/// Opens the files of the transfers from this peer that the page kept before it was
/// reloaded ([`journal`]), and hands them to the engine, which goes on with each when
/// the peer offers its files again. One whose files cannot be opened is dropped.
fn restore_kept(inner: &Rc<RefCell<Driver>>) {
    let (me, peer) = {
        let driver = inner.borrow();
        (driver.me.clone(), driver.peer.clone())
    };
    let weak = Rc::downgrade(inner);
    wasm_bindgen_futures::spawn_local(async move {
        for (kept, journal) in journal::kept(&me, &peer).await {
            let mut files = Vec::new();
            let mut opened = true;
            let named = kept.stored_names.iter().zip(&kept.partial.files);
            for (index, (name, meta)) in (0..).zip(named) {
                let Some(name) = name else { continue };
                match IncomingFile::create(name.clone(), meta.size).await {
                    Ok(file) => files.push((index, file)),
                    Err(_) => {
                        opened = false;
                        break;
                    }
                }
            }
            let Some(inner) = weak.upgrade() else { return };
            let key = journal.name().to_owned();
            let restored = opened
                && inner
                    .borrow_mut()
                    .engine
                    .restore(key.as_str(), kept.partial)
                    .is_ok();
            if restored {
                inner.borrow_mut().restored.insert(key, (journal, files));
            } else {
                journal.discard().await;
                for (_, file) in files {
                    file.discard().await;
                }
            }
        }
    });
}

/// Keeps outgoing transfer `id` of `files` in the tab, to go on after a reload once
/// the person picks the files again. Needs WebCrypto for the first blocks' digests;
/// without it (not a secure context) nothing is kept.
fn keep_send(inner: &Rc<RefCell<Driver>>, id: TransferId, files: Vec<web_sys::File>) {
    let Some(webcrypto) = inner.borrow().webcrypto.clone() else {
        return;
    };
    let weak = Rc::downgrade(inner);
    wasm_bindgen_futures::spawn_local(async move {
        let mut first_blocks = Vec::new();
        for file in &files {
            match first_block_digest(&webcrypto, file).await {
                Ok(digest) => first_blocks.push(digest),
                Err(_) => return,
            }
        }
        let Some(inner) = weak.upgrade() else { return };
        let driver = inner.borrow();
        // One that ended meanwhile is not kept.
        let Some(transfer) = driver.engine.get(id) else {
            return;
        };
        if transfer.state().is_final() {
            return;
        }
        let send = partials::Send {
            files: transfer.files().to_vec(),
            first_blocks,
        };
        partials::save_send(&driver.peer, id, &send);
    });
}

/// Takes back the outgoing transfers to this peer that the tab kept before it was
/// reloaded: paused, offered again, each waiting for its files. They show from the
/// first link on (its `carry_out`): the mesh makes this driver while it holds its own
/// state, which showing them now would need.
fn restore_sends(inner: &Rc<RefCell<Driver>>) {
    let peer = inner.borrow().peer.clone();
    for (id, send) in partials::sends_to(&peer) {
        let mut driver = inner.borrow_mut();
        match driver.engine.restore_sending(id, send.files) {
            Ok(()) => {
                driver.awaiting.insert(id, send.first_blocks);
            }
            Err(_) => partials::forget_send(&peer, id),
        }
    }
}

/// The person picked `files` for outgoing transfer `id`, which waits for its files
/// since the page was reloaded: each of its files must be among them, with the same
/// name, size and first block; then the transfer goes on.
fn picked_again(inner: &Rc<RefCell<Driver>>, id: TransferId, files: Vec<web_sys::File>) {
    let (wanted, webcrypto) = {
        let driver = inner.borrow();
        let (Some(first_blocks), Some(transfer), Some(webcrypto)) = (
            driver.awaiting.get(&id),
            driver.engine.get(id),
            driver.webcrypto.clone(),
        ) else {
            return;
        };
        let wanted: Vec<(FileMeta, String)> = transfer
            .files()
            .iter()
            .cloned()
            .zip(first_blocks.iter().cloned())
            .collect();
        (wanted, webcrypto)
    };
    let weak = Rc::downgrade(inner);
    wasm_bindgen_futures::spawn_local(async move {
        let mut found = Vec::new();
        for (meta, first_block) in &wanted {
            let mut matching = None;
            for file in &files {
                let alike = file.name() == meta.name && file.size() as u64 == meta.size;
                if alike
                    && first_block_digest(&webcrypto, file).await.ok().as_ref() == Some(first_block)
                {
                    matching = Some(file.clone());
                    break;
                }
            }
            match matching {
                Some(file) => found.push(file),
                None => break,
            }
        }
        let Some(inner) = weak.upgrade() else { return };
        if found.len() < wanted.len() {
            inner.borrow_mut().picked_wrong.insert(id, ());
            show(&inner, id);
            return;
        }
        {
            let mut driver = inner.borrow_mut();
            driver.awaiting.remove(&id);
            driver.picked_wrong.remove(&id);
            driver.sources.insert(id, found);
            let _ = driver.engine.files_found(id);
        }
        carry_out(&inner);
        show(&inner, id);
        pump(&inner);
    });
}

/// The SHA-256 of the first block of `file`, in lowercase hex.
async fn first_block_digest(
    webcrypto: &WebCrypto,
    file: &web_sys::File,
) -> Result<String, JsValue> {
    let end = file.size().min(meshdrop_transfer::DIGEST_BLOCK_LEN as f64);
    let blob = file.slice_with_f64_and_f64(0.0, end)?;
    let buffer = JsFuture::from(blob.array_buffer()).await?;
    let digest = webcrypto
        .hash_buffer(0, buffer.unchecked_ref())?
        .digest()
        .await?;
    Ok(digest.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Send the control frames held back since the link opened.
fn release_held(inner: &Rc<RefCell<Driver>>) {
    let mut driver = inner.borrow_mut();
    driver.hold_timer = None;
    let Some(held) = driver.held.take() else {
        return;
    };
    if let Some(channels) = &driver.channels {
        for frame in &held {
            channels.send_control(frame);
        }
    }
}

/// Close a verified file and offer it to the user.
fn finish_file(inner: &Rc<RefCell<Driver>>, transfer: TransferId, index: u32) {
    let Some(file) = inner.borrow_mut().incoming.remove(&(transfer, index)) else {
        return;
    };
    // Held strongly: the sender may hang up right after our `complete`, and the file
    // must still reach the user after its link is gone.
    let inner = inner.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let stored = file.finish().await;
        keep_stored(&inner, transfer, index, stored);
    });
}

/// Transfer `id` goes by `swarm` from now on.
fn news_of(inner: &Rc<RefCell<Driver>>, id: TransferId, swarm: SwarmId) {
    let news = SwarmNews {
        swarm,
        from_peers: 0,
        status: None,
    };
    inner.borrow_mut().swarm_news.insert(id, news);
}

/// File `index` of `transfer` is stored (or could not be): the person may save it.
fn keep_stored(
    inner: &Rc<RefCell<Driver>>,
    transfer: TransferId,
    index: u32,
    stored: Result<web_sys::File, JsValue>,
) {
    let stored = stored.and_then(|file| {
        let url = web_sys::Url::create_object_url_with_blob(&file)?;
        Ok((file, url))
    });
    let path = inner
        .borrow()
        .engine
        .get(transfer)
        .and_then(|t| t.paths().get(index as usize).cloned());
    match (stored, path) {
        (Ok((file, url)), Some(path)) => {
            inner
                .borrow_mut()
                .saved
                .or_default(&transfer)
                .push(SavedFile { path, file, url });
            show(inner, transfer);
        }
        (Ok((_, url)), None) => {
            // The transfer is gone, and nobody will save the file.
            let _ = web_sys::Url::revoke_object_url(&url);
        }
        (Err(error), _) => {
            let reason = format!("could not store a received file: {}", describe(&error));
            let _ = inner.borrow_mut().engine.fail(transfer, reason);
            carry_out(inner);
        }
    }
}

/// Serve the engine's reads while the data channel has room; each read ends in a sent chunk.
fn pump(inner: &Rc<RefCell<Driver>>) {
    loop {
        let request = {
            let mut driver = inner.borrow_mut();
            let room = driver
                .channels
                .as_ref()
                .is_some_and(|channels| channels.buffered_amount() <= HIGH_WATER);
            if !room {
                return;
            }
            match driver.engine.next_read() {
                Some(request) => request,
                None => return,
            }
        };
        if !serve_read(inner, request) {
            return;
        }
    }
}

/// Send the chunk `request` asks for if its bytes are at hand (true). If they are still
/// being read, wait for them and go on pumping from there (false).
fn serve_read(inner: &Rc<RefCell<Driver>>, request: ReadRequest) -> bool {
    let transfer = request.transfer;
    let ahead = {
        let mut driver = inner.borrow_mut();
        let Driver {
            sources,
            read_ahead,
            ..
        } = &mut *driver;
        let file = sources
            .get(&transfer)
            .and_then(|files| files.get(request.index as usize));
        match (file, read_ahead.get_mut(&transfer)) {
            (_, Some(ahead)) if ahead.index() == request.index => ahead.get(&request),
            (Some(file), _) => {
                let mut ahead = ReadAhead::new(file.clone(), request.index);
                let found = ahead.get(&request);
                read_ahead.insert(transfer, ahead);
                found
            }
            (None, _) => Err(JsValue::from_str("the file to send is gone")),
        }
    };
    match ahead {
        Ok(Ahead::Ready(parts)) => {
            send_read(inner, transfer, &parts);
            true
        }
        Ok(Ahead::Reading { start, read }) => {
            let weak = Rc::downgrade(inner);
            wasm_bindgen_futures::spawn_local(async move {
                let read = JsFuture::from(read).await;
                let Some(inner) = weak.upgrade() else { return };
                match read {
                    Ok(buffer) => {
                        let buffer: ArrayBuffer = buffer.unchecked_into();
                        let new_blocks = inner
                            .borrow_mut()
                            .read_ahead
                            .get_mut(&transfer)
                            .map(|ahead| ahead.settle(start, &buffer))
                            .unwrap_or_default();
                        let webcrypto = inner.borrow().webcrypto.clone();
                        if let Some(webcrypto) = webcrypto {
                            for (block, bytes) in new_blocks {
                                let hashing = webcrypto.hash_buffer(block, &bytes);
                                report_digest(weak.clone(), transfer, request.index, hashing);
                            }
                        }
                        if serve_read(&inner, request) {
                            pump(&inner);
                        }
                    }
                    Err(error) => fail_read(&inner, transfer, &error),
                }
            });
            false
        }
        Err(error) => {
            fail_read(inner, transfer, &error);
            true
        }
    }
}

/// Hand the engine the digest of block `hashing` of file `index` once WebCrypto has it.
fn report_digest(
    driver: Weak<RefCell<Driver>>,
    transfer: TransferId,
    index: u32,
    hashing: Result<HashingBlock, JsValue>,
) {
    wasm_bindgen_futures::spawn_local(async move {
        let digest = match hashing {
            Ok(hashing) => {
                let block = hashing.block;
                hashing.digest().await.map(|digest| (block, digest))
            }
            Err(error) => Err(error),
        };
        let Some(inner) = driver.upgrade() else {
            return;
        };
        // A refusal changes nothing: the transfer ended meanwhile.
        let _ = match digest {
            Ok((block, digest)) => {
                let mut driver = inner.borrow_mut();
                driver
                    .engine
                    .on_block_digest(transfer, index, block, digest)
            }
            Err(error) => {
                let reason = format!("could not hash the file: {}", describe(&error));
                inner.borrow_mut().engine.fail(transfer, reason)
            }
        };
        carry_out(&inner);
    });
}

fn fail_read(inner: &Rc<RefCell<Driver>>, transfer: TransferId, error: &JsValue) {
    let reason = format!("could not read the file: {}", describe(error));
    let _ = inner.borrow_mut().engine.fail(transfer, reason);
    carry_out(inner);
}

/// Hand bytes the engine asked for back to it and send the chunk it makes of them.
fn send_read(inner: &Rc<RefCell<Driver>>, transfer: TransferId, parts: &[Uint8Array]) {
    {
        let mut driver = inner.borrow_mut();
        let Driver {
            engine,
            channels,
            webcrypto,
            message,
            bytes_sent,
            ..
        } = &mut *driver;
        let len: u32 = parts.iter().map(Uint8Array::length).sum();
        let header = match webcrypto {
            Some(_) => engine.on_read_held(transfer, len as usize),
            None => {
                let bytes: Vec<u8> = parts.iter().flat_map(|part| part.to_vec()).collect();
                engine
                    .on_read(transfer, &bytes)
                    .map(|chunk| chunk.map(|chunk| DataChunk::header(chunk.transfer)))
            }
        };
        if let Ok(Some(header)) = header {
            *bytes_sent.or_default(&transfer) += u64::from(len);
            let message_len = CHUNK_HEADER_LEN as u32 + len;
            if message.length() < message_len {
                *message = Uint8Array::new_with_length(message_len);
            }
            message
                .subarray(0, CHUNK_HEADER_LEN as u32)
                .copy_from(&header);
            let mut at = CHUNK_HEADER_LEN as u32;
            for part in parts {
                message.set(part, at);
                at += part.length();
            }
            // A chunk the channel refuses (it is closing) is lost with the link, and
            // sent again on the next one.
            if let Some(channels) = channels {
                channels.send_data(&message.subarray(0, message_len));
            }
        }
    }
    carry_out(inner);
    show_progress(inner);
}

/// Show every running transfer whose progress was not shown for a while.
fn show_progress(inner: &Rc<RefCell<Driver>>) {
    let now = now_ms();
    let due: Vec<TransferId> = inner
        .borrow()
        .meters
        .iter()
        .filter(|(_, meter)| now - meter.last_shown_ms >= PROGRESS_INTERVAL_MS)
        .map(|(id, _)| *id)
        .collect();
    for id in due {
        show(inner, id);
    }
}

/// Report the current view of `transfer`.
fn show(inner: &Rc<RefCell<Driver>>, transfer: TransferId) {
    let view = {
        let mut driver = inner.borrow_mut();
        let Driver {
            peer,
            engine,
            saved,
            meters,
            interrupted,
            bytes_sent,
            journals,
            awaiting,
            picked_wrong,
            swarm_news,
            ..
        } = &mut *driver;
        let Some(record) = engine.get(transfer) else {
            return;
        };
        let journal = journals.get(&transfer);
        let state = match record.state() {
            state if *interrupted && state.is_running() => TransferState::Paused {
                gives_up_at_ms: None,
            },
            state => state.clone(),
        };
        let running = matches!(
            state,
            TransferState::Transferring | TransferState::Verifying
        );
        let (mib_per_second, seconds_left) = if running {
            let now = now_ms();
            let meter = meters.or_insert_with(&transfer, || Meter {
                rate: RateMeter::new(3000.0),
                last_shown_ms: now,
            });
            meter.rate.record(now, record.progress());
            meter.last_shown_ms = now;
            (meter.rate.mib_per_second(), meter.rate.seconds_left())
        } else {
            meters.remove(&transfer);
            (None, None)
        };
        let view = TransferView {
            key: TransferKey {
                peer: peer.clone(),
                id: transfer,
            },
            direction: record.direction(),
            files: record.files().to_vec(),
            paths: record.paths().to_vec(),
            state,
            progress: record.progress(),
            mib_per_second,
            seconds_left,
            saved: saved.get(&transfer).cloned().unwrap_or_default(),
            bytes_sent: bytes_sent.get(&transfer).copied().unwrap_or(0),
            blocks_kept: journal.map_or(0, Journal::blocks),
            blocks_restored: journal.map_or(0, Journal::restored),
            needs_files: awaiting.contains_key(&transfer),
            picked_wrong: picked_wrong.contains_key(&transfer),
            swarm: swarm_news.get(&transfer).cloned(),
        };
        view
    };
    let emit = inner.borrow().emit.clone();
    emit(view);
}

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|window| window.performance())
        .map(|performance| performance.now())
        .unwrap_or_else(js_sys::Date::now)
}

/// A readable message from a JavaScript error value.
pub fn describe(error: &wasm_bindgen::JsValue) -> String {
    error
        .as_string()
        .or_else(|| {
            js_sys::Reflect::get(error, &"message".into())
                .ok()
                .and_then(|message| message.as_string())
        })
        .unwrap_or_else(|| format!("{error:?}"))
}
