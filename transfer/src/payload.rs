//! Bytes of a file as a driver hands them in: the bytes themselves, or only how many
//! there are when the driver keeps them and hashes blocks itself
//! ([`crate::BlockHashing::Driver`]). The web app keeps them: its bytes stay in the
//! browser's buffers, and copying each one into wasm memory and out again cost CPU that
//! the data channel needs.

use crate::{BlockHashing, TransferError};

#[derive(Debug, Clone, Copy)]
pub(crate) enum Payload<'a> {
    Bytes(&'a [u8]),
    Held(usize),
}

impl<'a> Payload<'a> {
    pub fn len(&self) -> usize {
        match self {
            Payload::Bytes(bytes) => bytes.len(),
            Payload::Held(len) => *len,
        }
    }

    /// The bytes to hash, where the engine hashes blocks (`None` where the driver does);
    /// refused if the engine hashes but the driver kept the bytes.
    pub fn bytes_to_hash(&self, hashing: BlockHashing) -> Result<Option<&'a [u8]>, TransferError> {
        match (hashing, *self) {
            (BlockHashing::Driver, _) => Ok(None),
            (BlockHashing::Engine, Payload::Bytes(bytes)) => Ok(Some(bytes)),
            (BlockHashing::Engine, Payload::Held(_)) => Err(TransferError::EngineNeedsBytes),
        }
    }
}
