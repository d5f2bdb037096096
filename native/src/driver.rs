//! Drives the shared transfer engine ([`meshdrop_transfer::Transfers`]) for one peer,
//! over the links that come and go to it: it carries out what the engine asks with
//! tokio files and the current link's data channel, and tells the engine when a link
//! goes down or comes up, so transfers pause and resume instead of failing.
//!
//! The engine decides everything (states, digests, what to read next, what to send);
//! this module only moves bytes. Sending is paced by the data channel: reads continue
//! while its send buffer is below the high-water mark and resume when it drains.
//! Received files are written to a hidden temporary file in the download directory, at
//! the offset of each write (blocks after a resume, or fetched again, land anywhere),
//! and only moved to their sanitised path ([`crate::destination`]) once the engine has
//! verified their digest, so a half-received or corrupt file never appears under a real
//! name. Beside them, a manifest says which of their blocks are verified
//! ([`crate::partials`]), so a receiver killed and started again goes on from there when
//! the same files are offered again.

use std::collections::{BTreeSet, HashMap};
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use meshdrop_protocol::frame::{
    ControlFrame, SwarmId, TransferId, CHUNK_HEADER_LEN, MIN_MAX_MESSAGE_LEN,
};
use meshdrop_protocol::PeerId;
use meshdrop_transfer::{
    IdParity, Output, ReadRequest, SafePath, Transfer, TransferState, Transfers, Write,
    DIGEST_BLOCK_LEN,
};
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufReader, BufWriter};

use crate::destination::free_destination;
use crate::error::{Error, Result};
use crate::link::PeerLink;
use crate::outgoing::OutgoingFile;
use crate::partials::{self, Manifest};

/// The largest chunk message this peer sends, though browsers and native peers take
/// 256 KiB: webrtc-rs sends 64 KiB messages faster. Measured with `cargo xtask bench
/// transfers` (256 MiB, 3 rounds): meshdrop → meshdrop 28.3 MiB/s in 256 KiB messages,
/// 69.5 in 64 KiB ones; meshdrop → web app the same either way (13.5 and 13.2).
const SEND_MESSAGE_LEN: usize = MIN_MAX_MESSAGE_LEN;

/// Something the application should show.
#[derive(Debug)]
pub enum DriverEvent {
    /// Transfer `transfer` entered `state`.
    State {
        transfer: TransferId,
        state: TransferState,
    },
    /// A received file was verified and saved here.
    Saved { path: PathBuf },
    /// Incoming `transfer` continues one saved by an earlier run; the bytes it has
    /// already are in its progress.
    Resumed { transfer: TransferId },
    /// The peer accepted an outgoing transfer as a member of `swarm`.
    JoinedSwarm { swarm: SwarmId },
}

/// A sender that damages what it sends, for testing receivers (`send --corrupt`): the
/// first byte of block `block` of every file, after it was hashed, the first `times`
/// times it goes out (`None`: every time).
#[derive(Debug, Clone, Copy)]
pub struct Corruption {
    pub block: u64,
    pub times: Option<u32>,
}

impl Corruption {
    /// Flips the block's first byte if `message`, the chunk of `request`, holds it.
    fn damage(&mut self, request: &ReadRequest, message: &mut [u8]) {
        let at = self.block * DIGEST_BLOCK_LEN;
        let holds = (request.offset..request.offset + request.len as u64).contains(&at);
        if !holds || self.times == Some(0) {
            return;
        }
        if let Some(times) = &mut self.times {
            *times -= 1;
        }
        message[CHUNK_HEADER_LEN + (at - request.offset) as usize] ^= 0xff;
    }
}

/// Bytes moved to or from disk per blocking file operation: each tokio file operation
/// is a round trip to a blocking thread, so one per MiB rather than one per 64 KiB chunk.
const FILE_BUFFER: usize = 1 << 20;

/// The file an outgoing transfer is being read from.
struct Source {
    transfer: TransferId,
    index: u32,
    file: BufReader<File>,
    position: u64,
}

/// A file being received, under a temporary name in the download directory.
struct PartFile {
    temp_path: PathBuf,
    file: BufWriter<File>,
    position: u64,
}

pub struct PeerTransfers {
    /// The link up now, if any.
    link: Option<Arc<PeerLink>>,
    engine: Transfers,
    /// Where received files go; `None` if this end receives nothing.
    download_dir: Option<PathBuf>,
    /// Where to read the files of each outgoing transfer, in offer order.
    outgoing: HashMap<TransferId, Vec<PathBuf>>,
    source: Option<Source>,
    incoming: HashMap<(TransferId, u32), PartFile>,
    /// Where each verified incoming file was saved: a swarm serves its blocks from
    /// there.
    saved: HashMap<(TransferId, u32), PathBuf>,
    /// The manifest of each incoming transfer that has one.
    manifests: HashMap<TransferId, PathBuf>,
    /// When the manifests were last written.
    saved_at: Instant,
    /// Transfers in either direction that have not reached a final state.
    unfinished: BTreeSet<TransferId>,
    /// Payload bytes handed to the data channel per outgoing transfer, over all links:
    /// more than the files' size when blocks went again, less when the receiver had
    /// some already.
    bytes_sent: HashMap<TransferId, u64>,
    /// Whether the data channel's send buffer is below its high-water mark.
    data_has_room: bool,
    read_buffer: Vec<u8>,
    corruption: Option<Corruption>,
}

impl PeerTransfers {
    /// Transfers with `peer`, with no link yet (see [`Self::on_link_up`]); `grace` is
    /// how long the peer has to come back once it left the room. Partial transfers
    /// saved in `download_dir` are continued if the peer offers their files.
    pub fn new(
        self_id: &PeerId,
        peer: &PeerId,
        download_dir: Option<PathBuf>,
        grace: Duration,
    ) -> Self {
        let mut engine = Transfers::new(IdParity::for_connection(self_id, peer));
        engine.set_grace(grace);
        if let Some(dir) = &download_dir {
            for (name, manifest) in partials::load_all(dir) {
                if let Err(error) = engine.restore(name.as_str(), manifest.partial) {
                    tracing::warn!(%error, name, "partial transfer not restored");
                }
            }
        }
        Self {
            link: None,
            engine,
            download_dir,
            outgoing: HashMap::new(),
            source: None,
            incoming: HashMap::new(),
            saved: HashMap::new(),
            manifests: HashMap::new(),
            saved_at: Instant::now(),
            bytes_sent: HashMap::new(),
            unfinished: BTreeSet::new(),
            data_has_room: false,
            read_buffer: Vec::new(),
            corruption: None,
        }
    }

    pub fn get(&self, transfer: TransferId) -> Option<&Transfer> {
        self.engine.get(transfer)
    }

    /// Payload bytes sent so far for outgoing `transfer`.
    pub fn bytes_sent(&self, transfer: TransferId) -> u64 {
        self.bytes_sent.get(&transfer).copied().unwrap_or(0)
    }

    /// Offer `files` (few enough for one offer) to the peer, as one of the receivers
    /// of `swarm` if given.
    pub async fn offer(
        &mut self,
        files: &[OutgoingFile],
        swarm: Option<SwarmId>,
    ) -> Result<(TransferId, Vec<DriverEvent>)> {
        let metas = files.iter().map(|file| file.meta.clone()).collect();
        let id = match swarm {
            Some(swarm) => self.engine.offer_to_swarm(metas, swarm),
            None => self.engine.offer(metas),
        }
        .map_err(|error| Error::Usage(error.to_string()))?;
        let sources = files.iter().map(|file| file.source.clone()).collect();
        self.outgoing.insert(id, sources);
        Ok((id, self.carry_out().await))
    }

    pub async fn accept(&mut self, transfer: TransferId) -> Vec<DriverEvent> {
        let result = self.engine.accept(transfer);
        self.after(result).await
    }

    /// Accepts `transfer` as a member of the swarm its offer named.
    pub async fn accept_in_swarm(&mut self, transfer: TransferId) -> Vec<DriverEvent> {
        let result = self.engine.accept_in_swarm(transfer);
        self.after(result).await
    }

    /// A transfer accepted in a swarm holds `bytes`, verified.
    pub fn swarm_progress(&mut self, transfer: TransferId, bytes: u64) {
        if let Err(error) = self.engine.swarm_progress(transfer, bytes) {
            tracing::warn!(%error, "swarm progress refused");
        }
    }

    /// File `index` of a transfer accepted in a swarm is whole and verified: it is
    /// saved.
    pub async fn swarm_file_verified(
        &mut self,
        transfer: TransferId,
        index: u32,
    ) -> Vec<DriverEvent> {
        let result = self.engine.swarm_file_verified(transfer, index);
        self.after(result).await
    }

    /// Writes verified bytes a swarm brought for file `index` of `transfer`.
    pub async fn write_from_swarm(
        &mut self,
        transfer: TransferId,
        index: u32,
        offset: u64,
        bytes: &[u8],
    ) -> Result<(), String> {
        self.write(Write {
            transfer,
            index,
            offset,
            bytes,
        })
        .await
    }

    /// Reads `buffer.len()` received bytes at `offset` of file `index` of incoming
    /// `transfer`, from its temporary file or, once saved, from where it was saved.
    pub async fn read_received(
        &mut self,
        transfer: TransferId,
        index: u32,
        offset: u64,
        buffer: &mut [u8],
    ) -> Result<(), String> {
        let path = match self.incoming.get_mut(&(transfer, index)) {
            Some(part) => {
                part.file.flush().await.map_err(|error| {
                    format!("cannot flush {}: {error}", part.temp_path.display())
                })?;
                part.temp_path.clone()
            }
            None => self
                .saved
                .get(&(transfer, index))
                .cloned()
                .ok_or_else(|| format!("no file {index} of transfer {transfer} here"))?,
        };
        read_at(&path, offset, buffer).await
    }

    /// Whether a transfer accepted in a swarm runs: it goes on without the sender, so
    /// the peer's record must stay when the peer is gone.
    pub fn runs_in_swarm(&self) -> bool {
        self.engine.iter().any(|(_, transfer)| {
            transfer.in_swarm()
                && transfer.direction() == meshdrop_transfer::Direction::Incoming
                && !transfer.state().is_final()
        })
    }

    pub async fn decline(&mut self, transfer: TransferId) -> Vec<DriverEvent> {
        let result = self.engine.decline(transfer);
        self.after(result).await
    }

    pub async fn cancel(&mut self, transfer: TransferId, reason: &str) -> Vec<DriverEvent> {
        let result = self.engine.cancel(transfer, reason);
        self.after(result).await
    }

    /// Damage what is sent from now on, to test receivers.
    pub fn corrupt(&mut self, corruption: Corruption) {
        self.corruption = Some(corruption);
    }

    /// The link up now, if any.
    pub fn link(&self) -> Option<&Arc<PeerLink>> {
        self.link.as_ref()
    }

    /// A link to the peer has its control channel open: running transfers resume on
    /// it, in chunks of at most [`SEND_MESSAGE_LEN`].
    pub async fn on_link_up(&mut self, link: Arc<PeerLink>) -> Vec<DriverEvent> {
        if let Some(max) = link.max_message_size().await {
            self.engine.fit_chunks_to(max.min(SEND_MESSAGE_LEN));
        }
        self.link = Some(link);
        self.data_has_room = true;
        self.engine.on_link_up();
        self.carry_out().await
    }

    /// The link is gone: running transfers pause.
    pub async fn on_link_down(&mut self) -> Vec<DriverEvent> {
        self.link = None;
        self.data_has_room = false;
        self.engine.on_link_down();
        self.carry_out().await
    }

    /// The peer left the room at `now_ms` (since the Unix epoch): its transfers fail
    /// unless it is back before [`Self::poll_timeout`].
    pub async fn on_peer_left(&mut self, now_ms: u64) -> Vec<DriverEvent> {
        self.engine.on_peer_left(now_ms);
        self.carry_out().await
    }

    /// When [`Self::handle_timeout`] is due, in milliseconds since the Unix epoch.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.engine.poll_timeout()
    }

    pub async fn handle_timeout(&mut self, now_ms: u64) -> Vec<DriverEvent> {
        self.engine.handle_timeout(now_ms);
        self.carry_out().await
    }

    /// Cancel every transfer that has not ended, e.g. on Ctrl-C.
    pub async fn cancel_all(&mut self, reason: &str) -> Vec<DriverEvent> {
        let mut events = Vec::new();
        for id in self.unfinished.clone() {
            events.extend(self.cancel(id, reason).await);
        }
        events
    }

    /// A control frame (not chat) from the peer.
    pub async fn on_control(&mut self, frame: ControlFrame) -> Vec<DriverEvent> {
        let result = self.engine.on_control(frame);
        self.after(result).await
    }

    /// A message from the data channel.
    pub async fn on_data(&mut self, message: &[u8]) -> Vec<DriverEvent> {
        let write = match self.engine.on_chunk(message) {
            Ok(write) => write,
            Err(error) => return self.after(Err(error)).await,
        };
        if let Some(write) = write {
            if let Err(reason) = self.write(write).await {
                let transfer = write.transfer;
                return self.cancel(transfer, &reason).await;
            }
        }
        let events = self.carry_out().await;
        if self.saved_at.elapsed() >= partials::SAVE_EVERY {
            self.save_manifests().await;
        }
        events
    }

    /// The data channel drained: send more.
    pub async fn on_drained(&mut self) -> Vec<DriverEvent> {
        self.data_has_room = true;
        self.carry_out().await
    }

    async fn after<E: std::fmt::Display>(&mut self, result: Result<(), E>) -> Vec<DriverEvent> {
        if let Err(error) = result {
            // The peer said something that makes no sense; the engine changed nothing.
            tracing::warn!(%error, "transfer frame refused");
        }
        self.carry_out().await
    }

    /// Carry out everything the engine asks, then send file data while the channel has
    /// room, until neither has anything left to do.
    async fn carry_out(&mut self) -> Vec<DriverEvent> {
        let mut events = Vec::new();
        loop {
            while let Some(output) = self.engine.poll_output() {
                self.carry_out_output(output, &mut events).await;
            }
            if !self.data_has_room {
                break;
            }
            let Some(request) = self.engine.next_read() else {
                break;
            };
            self.send_chunk(request).await;
        }
        events
    }

    async fn carry_out_output(&mut self, output: Output, events: &mut Vec<DriverEvent>) {
        match output {
            Output::Control(frame) => {
                // Without a link, or on a dying one, the frame is lost: the engine says
                // again on the next link whatever still matters.
                let sent = match &self.link {
                    Some(link) => link.send_control(&frame).await,
                    None => Ok(()),
                };
                if let Err(error) = sent {
                    tracing::debug!(%error, "control frame not sent");
                }
            }
            Output::FileVerified { transfer, index } => match self.save(transfer, index).await {
                Ok(path) => {
                    self.saved.insert((transfer, index), path.clone());
                    events.push(DriverEvent::Saved { path });
                }
                Err(reason) => {
                    // Queues a cancel; the loop in `carry_out` carries it out.
                    let _ = self.engine.cancel(transfer, reason);
                }
            },
            // The manifest is rewritten whole, on a timer (`partials::SAVE_EVERY`), after
            // the `.part` files are flushed: a killed process loses at most that much.
            Output::BlockVerified { .. } => {}
            Output::FileDiscarded { transfer, index } => {
                if let Some(part) = self.incoming.remove(&(transfer, index)) {
                    drop(part.file);
                    let _ = tokio::fs::remove_file(&part.temp_path).await;
                }
            }
            Output::Resumed { transfer, key } => {
                match self.take_up(transfer, &key).await {
                    Ok(()) => events.push(DriverEvent::Resumed { transfer }),
                    Err(reason) => {
                        // Queues a fail; the loop in `carry_out` carries it out.
                        let _ = self.engine.fail(transfer, reason);
                    }
                }
            }
            Output::JoinedSwarm { swarm, .. } => events.push(DriverEvent::JoinedSwarm { swarm }),
            Output::State { transfer, state } => {
                if state.is_final() {
                    if let Some(path) = self.manifests.remove(&transfer) {
                        let _ = tokio::fs::remove_file(path).await;
                    }
                    self.release(transfer);
                } else {
                    self.unfinished.insert(transfer);
                }
                events.push(DriverEvent::State { transfer, state });
            }
        }
    }

    /// Incoming `transfer` continues the one saved in manifest `key`: claims the
    /// manifest and opens its `.part` files, which hold the blocks already verified.
    async fn take_up(&mut self, transfer: TransferId, key: &str) -> Result<(), String> {
        let dir = self.download_dir()?.to_owned();
        let (path, manifest) = partials::claim(&dir, key)
            .await
            .map_err(|error| format!("cannot continue the partial transfer {key}: {error}"))?;
        self.manifests.insert(transfer, path);
        for (index, name) in (0..).zip(manifest.parts) {
            let Some(name) = name else { continue };
            let temp_path = dir.join(name);
            let file = tokio::fs::OpenOptions::new()
                .write(true)
                .open(&temp_path)
                .await
                .map_err(|error| format!("cannot open {}: {error}", temp_path.display()))?;
            let part = PartFile {
                temp_path,
                file: BufWriter::with_capacity(FILE_BUFFER, file),
                // Unknown: the first write seeks.
                position: u64::MAX,
            };
            self.incoming.insert((transfer, index), part);
        }
        Ok(())
    }

    /// Rewrites the manifest of every incoming transfer that runs, after flushing its
    /// `.part` files, so that what it calls verified is on disk.
    async fn save_manifests(&mut self) {
        self.saved_at = Instant::now();
        let Ok(dir) = self.download_dir().map(Path::to_owned) else {
            return;
        };
        for &transfer in &self.unfinished {
            let Some(partial) = self.engine.partial(transfer) else {
                continue;
            };
            let mut parts = Vec::with_capacity(partial.files.len());
            for index in 0..partial.files.len() as u32 {
                let part = self.incoming.get_mut(&(transfer, index));
                let name = match part {
                    Some(part) => {
                        if let Err(error) = part.file.flush().await {
                            tracing::warn!(%error, "cannot flush a part file");
                            return;
                        }
                        let name = part.temp_path.file_name().and_then(|name| name.to_str());
                        name.map(str::to_owned)
                    }
                    None => None,
                };
                parts.push(name);
            }
            let path = self
                .manifests
                .entry(transfer)
                .or_insert_with(|| partials::new_manifest_path(&dir));
            if let Err(error) = partials::save(path, &Manifest { partial, parts }).await {
                tracing::warn!(%error, "cannot save the state of a partial transfer");
            }
        }
    }

    /// Forget what we kept for a transfer that ended.
    fn release(&mut self, transfer: TransferId) {
        self.unfinished.remove(&transfer);
        self.outgoing.remove(&transfer);
        if self
            .source
            .as_ref()
            .is_some_and(|source| source.transfer == transfer)
        {
            self.source = None;
        }
    }

    /// Read the requested bytes, let the engine hash and frame them, send the chunk.
    async fn send_chunk(&mut self, request: ReadRequest) {
        let mut buffer = std::mem::take(&mut self.read_buffer);
        buffer.resize(request.len, 0);
        let read = self.read(request, &mut buffer).await;
        let chunk = match read {
            Ok(()) => self.engine.on_read(request.transfer, &buffer),
            Err(reason) => {
                let _ = self.engine.cancel(request.transfer, reason);
                self.read_buffer = buffer;
                return;
            }
        };
        match chunk {
            Ok(Some(chunk)) => {
                *self.bytes_sent.entry(request.transfer).or_default() += chunk.payload.len() as u64;
                let mut message = Vec::new();
                chunk.encode_into(&mut message);
                if let Some(corruption) = &mut self.corruption {
                    corruption.damage(&request, &mut message);
                }
                let Some(link) = &self.link else {
                    self.data_has_room = false;
                    self.read_buffer = buffer;
                    return;
                };
                // Vec to Bytes to BytesMut hands the buffer over without copying it.
                match link.send_data(BytesMut::from(Bytes::from(message))).await {
                    Ok(has_room) => self.data_has_room = has_room,
                    Err(error) => {
                        tracing::debug!(%error, "data chunk not sent");
                        // Wait for the mesh to report the dead link instead of spinning;
                        // the engine sends the block again on the next one.
                        self.data_has_room = false;
                    }
                }
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "read refused by the transfer engine"),
        }
        self.read_buffer = buffer;
    }

    async fn read(&mut self, request: ReadRequest, buffer: &mut [u8]) -> Result<(), String> {
        let source = self.source_for(request.transfer, request.index).await?;
        if source.position != request.offset {
            source
                .file
                .seek(SeekFrom::Start(request.offset))
                .await
                .map_err(|error| format!("cannot seek in the file: {error}"))?;
        }
        source
            .file
            .read_exact(buffer)
            .await
            .map_err(|error| format!("cannot read the file: {error}"))?;
        source.position = request.offset + buffer.len() as u64;
        Ok(())
    }

    /// The open file for file `index` of `transfer`, opening it if it is a new one.
    async fn source_for(
        &mut self,
        transfer: TransferId,
        index: u32,
    ) -> Result<&mut Source, String> {
        let current = self
            .source
            .as_ref()
            .is_some_and(|source| source.transfer == transfer && source.index == index);
        if !current {
            let path = self
                .outgoing
                .get(&transfer)
                .and_then(|paths| paths.get(index as usize))
                .ok_or_else(|| format!("no file {index} in transfer {transfer}"))?;
            let file = File::open(path)
                .await
                .map_err(|error| format!("cannot open {}: {error}", path.display()))?;
            self.source = Some(Source {
                transfer,
                index,
                file: BufReader::with_capacity(FILE_BUFFER, file),
                position: 0,
            });
        }
        Ok(self.source.as_mut().expect("opened above"))
    }

    async fn write(&mut self, write: Write<'_>) -> Result<(), String> {
        let part = self.part_file(write.transfer, write.index).await?;
        if part.position != write.offset {
            part.file
                .seek(SeekFrom::Start(write.offset))
                .await
                .map_err(|error| format!("cannot seek in {}: {error}", part.temp_path.display()))?;
        }
        part.file
            .write_all(write.bytes)
            .await
            .map_err(|error| format!("cannot write {}: {error}", part.temp_path.display()))?;
        part.position = write.offset + write.bytes.len() as u64;
        Ok(())
    }

    /// The temporary file for file `index` of `transfer`, created on first use.
    async fn part_file(
        &mut self,
        transfer: TransferId,
        index: u32,
    ) -> Result<&mut PartFile, String> {
        let key = (transfer, index);
        if !self.incoming.contains_key(&key) {
            let part = create_part_file(self.download_dir()?).await?;
            self.incoming.insert(key, part);
        }
        Ok(self.incoming.get_mut(&key).expect("inserted above"))
    }

    fn download_dir(&self) -> Result<&Path, String> {
        self.download_dir
            .as_deref()
            .ok_or_else(|| "this peer does not receive files".to_owned())
    }

    /// Move a verified file to its sanitised path and return where it went.
    async fn save(&mut self, transfer: TransferId, index: u32) -> Result<PathBuf, String> {
        let path = self
            .engine
            .get(transfer)
            .and_then(|t| t.paths().get(index as usize))
            .cloned()
            .ok_or_else(|| format!("no file {index} in transfer {transfer}"))?;
        // A file with no bytes never got a write, hence no temporary file yet.
        self.part_file(transfer, index).await?;
        let part = self
            .incoming
            .remove(&(transfer, index))
            .expect("created above");
        let temp_path = part.temp_path.clone();
        let result = match self.download_dir() {
            Ok(dir) => finish_part_file(part, dir, &path).await,
            Err(reason) => Err(reason),
        };
        if result.is_err() {
            let _ = tokio::fs::remove_file(&temp_path).await;
        }
        result
    }
}

impl Drop for PeerTransfers {
    /// Temporary files of transfers that never finished are litter, once this end
    /// gave up on them. (A killed process leaves them, with their manifests, for the
    /// next run to continue.)
    fn drop(&mut self) {
        for part in self.incoming.values() {
            let _ = std::fs::remove_file(&part.temp_path);
        }
        for manifest in self.manifests.values() {
            let _ = std::fs::remove_file(manifest);
        }
    }
}

/// Reads `buffer.len()` bytes at `offset` of the file at `path`.
pub async fn read_at(path: &Path, offset: u64, buffer: &mut [u8]) -> Result<(), String> {
    let failed = |error: std::io::Error| format!("cannot read {}: {error}", path.display());
    let mut file = File::open(path).await.map_err(failed)?;
    file.seek(SeekFrom::Start(offset)).await.map_err(failed)?;
    file.read_exact(buffer).await.map_err(failed)?;
    Ok(())
}

async fn create_part_file(dir: &Path) -> Result<PartFile, String> {
    let temp_path = dir.join(partials::new_part_name());
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp_path)
        .await
        .map_err(|error| format!("cannot create {}: {error}", temp_path.display()))?;
    Ok(PartFile {
        temp_path,
        file: BufWriter::with_capacity(FILE_BUFFER, file),
        position: 0,
    })
}

async fn finish_part_file(
    mut part: PartFile,
    dir: &Path,
    path: &SafePath,
) -> Result<PathBuf, String> {
    let failed = |error: std::io::Error| format!("cannot save {path}: {error}");
    part.file.flush().await.map_err(failed)?;
    part.file.get_ref().sync_all().await.map_err(failed)?;
    drop(part.file);
    let destination = free_destination(dir, path).await.map_err(failed)?;
    tokio::fs::rename(&part.temp_path, &destination)
        .await
        .map_err(failed)?;
    Ok(destination)
}
