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
//!                  ── FileEnd 0 (digest) ────►   once file 0 is all in: compare → FileVerified
//!                  ══ chunks of file 1 ══════►   ...
//! Verifying        ── FileEnd n-1 ───────────►   last file verified
//!                  ◄───────────────── Complete ──  Done
//! Done
//! ```
//!
//! Chunks travel on the data channel and everything else on the control channel; the
//! two are not ordered with each other, so the receiver judges a file once it has both
//! its last byte and its `FileEnd`, in whichever order they came. Every byte is hashed
//! on each side, block by block ([`digest`]); no file is ever held whole.
//!
//! # Driving it
//!
//! Keep one [`Transfers`] per peer connection, made with
//! `Transfers::new(IdParity::for_connection(&my_id, &peer_id))`. After every call,
//! whatever it returned, carry out [`Transfers::poll_output`] until it returns `None`:
//! send each [`Output::Control`] frame, finalize each [`Output::FileVerified`] file,
//! delete each [`Output::FileDiscarded`] one, show each [`Output::State`].
//!
//! Sending: [`Transfers::offer`], then, whenever the data channel has room (after an
//! `Accept`, when its buffered amount drops, after each sent chunk), loop:
//! [`Transfers::next_read`] gives a [`ReadRequest`]; read those bytes; pass them to
//! [`Transfers::on_read`]; send the returned chunk on the data channel.
//!
//! Receiving: an [`Output::State`] with [`TransferState::Offered`] for an id whose
//! [`Transfer::direction`] is [`Direction::Incoming`] asks the user; answer with
//! [`Transfers::accept`] or [`Transfers::decline`]. Give every data-channel message to
//! [`Transfers::on_chunk`] and carry out the [`Write`] it returns before the outputs.
//!
//! Both: give every control frame except chat to [`Transfers::on_control`];
//! [`Transfers::cancel`] stops a transfer in either direction; call
//! [`Transfers::on_disconnect`] when the connection closes. A driver with a faster
//! SHA-256 at hand than the engine's sets [`BlockHashing::Driver`] and hashes each block
//! it reads or writes, handing the digests to [`Transfers::on_block_digest`]. Feed a
//! [`RateMeter`] from [`Transfer::progress`] to show speed and time left.
//! `tests/support/mod.rs` is a complete driver in a couple of hundred lines, with memory
//! for files and network, that can hash blocks either way.
//!
//! # How transfers end
//!
//! Both ends reach the same final state. The end that finds a fault (a digest
//! mismatch, bytes past the end of a file, a file that changed while being read) is
//! [`TransferState::Failed`] and tells the other with a `Fail` carrying the reason, so
//! the other end is `Failed` with that same reason.
//!
//! | what happened                 | sender                     | receiver                   |
//! |-------------------------------|----------------------------|----------------------------|
//! | all files verified            | `Done`                     | `Done`                     |
//! | receiver declined             | `Declined`                 | `Declined`                 |
//! | someone cancelled             | `Cancelled`                | `Cancelled`                |
//! | either end found a fault      | `Failed`                   | `Failed`                   |
//! | the connection closed         | `Failed`                   | `Failed`                   |
//!
//! Frames and chunks still in flight after a cancel or failure are dropped silently.
//! Anything else that makes no sense is refused with a [`TransferError`] and changes
//! nothing.

pub mod digest;
mod engine;
mod error;
mod output;
mod parity;
mod plan;
mod rate;
mod receiving;
pub mod safe_path;
mod sending;
mod state;
mod transfer;

pub use digest::{BlockDigest, BlockHashing, DIGEST_BLOCK_LEN};
pub use engine::{Transfers, DEFAULT_CHUNK_LEN, DEFAULT_GRACE};
pub use error::TransferError;
pub use output::{Output, ReadRequest, Write};
pub use parity::IdParity;
pub use rate::RateMeter;
pub use safe_path::{safe_paths, SafePath};
pub use state::{Direction, Progress, TransferState};
pub use transfer::Transfer;
