//! Why the engine refused an input.
//!
//! Peers can send anything and drivers can have bugs, so every input that makes no sense
//! is answered with one of these instead of a panic. A refused input changes nothing:
//! the transfer it names carries on as if it had never arrived. (A refused offer is also
//! answered with a `Fail` to the peer, which would otherwise wait for an answer.) Faults that do end a
//! transfer (a digest mismatch, bytes past the end of a file) are not errors of the call
//! that revealed them; they show up as [`crate::TransferState::Failed`].

use meshdrop_protocol::frame::{ShortChunk, TransferId};

use crate::TransferState;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("no transfer with id {0}")]
    UnknownTransfer(TransferId),
    #[error("transfer {transfer} is {state:?}, so {what} makes no sense now")]
    Unexpected {
        transfer: TransferId,
        what: &'static str,
        state: TransferState,
    },
    #[error("an offer must hold at least one file")]
    EmptyOffer,
    #[error("an offer may hold at most {} files", u32::MAX)]
    TooManyFiles,
    #[error("transfer id {0} is already taken")]
    DuplicateTransfer(TransferId),
    #[error("transfer id {0} has the receiving end's parity; an offer's id must have the offering end's")]
    WrongParity(TransferId),
    #[error("transfer {transfer} has no file {index}")]
    NoSuchFile { transfer: TransferId, index: u32 },
    #[error("file {index} of transfer {transfer} was already announced as finished")]
    DuplicateFileEnd { transfer: TransferId, index: u32 },
    #[error("file {index} of transfer {transfer} has no block {block}")]
    NoSuchBlock {
        transfer: TransferId,
        index: u32,
        block: u64,
    },
    #[error("this engine hashes blocks itself; it takes no block digests")]
    EngineHashes,
    #[error("this engine hashes blocks itself, so it needs each chunk's bytes")]
    EngineNeedsBytes,
    #[error("chat and hello frames are not about file transfers")]
    NotATransferFrame,
    #[error("the saved partial transfer is damaged: {0}")]
    BadPartial(String),
    #[error(transparent)]
    ShortChunk(#[from] ShortChunk),
}
