//! Meshdrop's file transfers, as a state machine that performs no I/O.
//!
//! The engine takes inputs (a user's answer, a frame from the control channel, a message
//! from the data channel, bytes the driver read from a file) and answers with what to
//! do: frames to send, bytes to read or write, files to keep or delete, states to show.
//! It never touches a socket, a file or a clock, so the browser client (`Blob.slice`,
//! OPFS) and a native peer (tokio files) run the very same logic, and the tests run it
//! in memory.
//!
//! # The flow
//!
//! ```text
//! sender                                         receiver
//! offer(files)     ── Offer ─────────────────►   Offered: the user decides
//!                  ◄─────────────────── Accept ──  accept(id)   (or Decline: both Declined)
//! next_read, read, on_read
//!                  ══ chunks of file 0 ══════►   on_chunk → Write
//!                  ── Block 0.0 (digest) ────►   block 0 of file 0 held and matching
//!                  ── FileEnd 0 (digest) ────►   all blocks verified, digest equal → FileVerified
//!                  ══ chunks of file 1 ══════►   ...
//! Verifying        ── FileEnd n-1 ───────────►   last file verified
//!                  ◄───────────────── Complete ──  Done
//! Done
//! ```
//!
//! Chunks travel on the data channel and everything else on the control channel; the
//! two are not ordered with each other, so the receiver judges a block once it has both
//! its bytes and its `Block` digest, and a file once it has all its blocks verified and
//! its `FileEnd`, in whichever order they came. A block that does not match is asked
//! for once more (`Refetch`); a second mismatch fails the transfer. Every byte is
//! hashed on each side, block by block ([`digest`]); no file is ever held whole.
//!
//! # Links come and go
//!
//! One [`Transfers`] serves one peer for as long as the peer is known, across all the
//! links (peer connections, or pairs of channels) to it. When a link goes down, running
//! transfers are [`TransferState::Paused`]; when a new one is up, the receiver sends a
//! `Resume` per running transfer naming the blocks it lacks, and the sender sends those
//! only, from each block's start: verified blocks never cross twice. Transfers fail
//! only when the peer is gone for good: it left the room and was not back within the
//! grace period ([`DEFAULT_GRACE`]), or the driver says so.
//!
//! # Engines come and go too
//!
//! A receiver that loses its engine (a reloaded page, a killed process) keeps the
//! bytes it wrote; saved with them, a [`Partial`] (from [`Transfers::partial`]) says
//! which blocks are verified. Handed to a new engine with [`Transfers::restore`], it
//! waits for an offer of the same files, from the same sender's engine or from a new
//! one, and answers it with a `resume` of the lacking blocks instead of asking the user
//! again ([`Output::Resumed`]). A sender that has no digest for blocks the receiver
//! holds reads and hashes them without sending, so each file's `file_end` still
//! covers every block. See [`partial`]. A sender that lost its engine (a reloaded page,
//! which lost its `File`s too) takes an unfinished transfer back under its id with
//! [`Transfers::restore_sending`]: paused and offered again, it holds the receiver's
//! answer until the driver has the files again ([`Transfers::files_found`]).
//!
//! # Driving it
//!
//! Keep one [`Transfers`] per peer, made with
//! `Transfers::new(IdParity::for_connection(&my_id, &peer_id))` when the peer is first
//! met (peer ids are stable, so the parity is). After every call, whatever it returned,
//! carry out [`Transfers::poll_output`] until it returns `None`: send each
//! [`Output::Control`] frame (or drop it if no link is up: what matters is said again
//! on the next link), finalize each [`Output::FileVerified`] file, delete each
//! [`Output::FileDiscarded`] one, show each [`Output::State`].
//!
//! Sending: [`Transfers::offer`], then, whenever the data channel has room (after an
//! `Accept`, when its buffered amount drops, after each sent chunk), loop:
//! [`Transfers::next_read`] gives a [`ReadRequest`], at any offset of any file; read
//! those bytes; pass them to [`Transfers::on_read`]; send the returned chunk on the
//! data channel (there is none for a block read only to hash it).
//!
//! Receiving: an [`Output::State`] with [`TransferState::Offered`] for an id whose
//! [`Transfer::direction`] is [`Direction::Incoming`] asks the user; answer with
//! [`Transfers::accept`] or [`Transfers::decline`]. Give every data-channel message to
//! [`Transfers::on_chunk`] and carry out the [`Write`] it returns before the outputs:
//! writes land at any offset (a block fetched again, a run after a resume), so write
//! at the offset given.
//!
//! The link: [`Transfers::on_link_down`] when the link's channels close or its peer
//! connection fails; [`Transfers::on_link_up`] once a new link's control channel is
//! open, before handing in anything from it. [`Transfers::on_peer_left`] when the
//! signaling server says the peer left the room, then [`Transfers::handle_timeout`]
//! at [`Transfers::poll_timeout`]; [`Transfers::on_disconnect`] when the peer is gone
//! for good.
//!
//! Both: give every control frame except chat and hello to [`Transfers::on_control`];
//! [`Transfers::cancel`] stops a transfer in either direction. A driver with a faster
//! SHA-256 at hand than the engine's sets [`BlockHashing::Driver`] and hashes each block
//! it reads or writes, handing the digests to [`Transfers::on_block_digest`]; it may
//! then keep the bytes out of the engine, handing in only their length
//! ([`Transfers::on_read_held`], [`Transfers::on_chunk_held`]). Feed a
//! [`RateMeter`] from [`Transfer::progress`] to show speed and time left.
//! `tests/support/mod.rs` is a complete driver in a few hundred lines, with memory
//! for files and network, that can hash blocks either way and cut the link.
//!
//! # How transfers end
//!
//! Both ends reach the same final state. The end that finds a fault (a block that did
//! not match twice, bytes past the end of a file, a file that changed while being
//! read, a resume it cannot follow) is [`TransferState::Failed`] and tells the other
//! with a `Fail` carrying the reason, so the other end is `Failed` with that same
//! reason. The last word of an end about a transfer (`Complete`, `Decline`, `Cancel`,
//! `Fail`) is said once more on the next link, in case it was lost with the one before.
//!
//! | what happened                 | sender                     | receiver                   |
//! |-------------------------------|----------------------------|----------------------------|
//! | all files verified            | `Done`                     | `Done`                     |
//! | receiver declined             | `Declined`                 | `Declined`                 |
//! | someone cancelled             | `Cancelled`                | `Cancelled`                |
//! | either end found a fault      | `Failed`                   | `Failed`                   |
//! | the link went down            | `Paused`, then as before   | `Paused`, then as before   |
//! | the peer is gone for good     | `Failed`                   | `Failed`                   |
//!
//! Frames and chunks still in flight after a cancel or failure are dropped silently.
//! Anything else that makes no sense is refused with a [`TransferError`] and changes
//! nothing.

pub mod credit;
pub mod digest;
mod engine;
mod error;
mod output;
mod parity;
pub mod partial;
mod payload;
mod plan;
mod rate;
mod receiving;
pub mod safe_path;
mod sending;
mod state;
mod transfer;

pub use credit::RECEIVE_WINDOW;
pub use digest::{BlockDigest, BlockHashing, DIGEST_BLOCK_LEN};
pub use engine::{Transfers, DEFAULT_CHUNK_LEN, DEFAULT_GRACE};
pub use error::TransferError;
pub use output::{Output, Placement, ReadRequest, Write};
pub use parity::IdParity;
pub use partial::{BadPartial, Partial, PartialFile};
pub use rate::RateMeter;
pub use safe_path::{safe_paths, SafePath};
pub use state::{Direction, Progress, TransferState};
pub use transfer::Transfer;
