//! What a receiver keeps of an incoming transfer so that it can go on after it lost its
//! engine: the page reloaded, the process was killed.
//!
//! The bytes are in the driver's files already (OPFS, a `.part` file); what they are is
//! not. A [`Partial`] says it: the files of the offer and, per file, the digest of every
//! block held and verified. The driver saves one beside the partial files, now and then
//! while the transfer runs ([`crate::Transfers::partial`]), and hands it back to a new
//! engine with [`crate::Transfers::restore`]. The restored transfer waits for an offer:
//! the sender's repeated offer (same id, after the receiving page reloaded) or a new
//! one (the sender restarted too, and numbers its transfers afresh). An offer whose
//! files are the partial's (same names, sizes, MIME types and paths, in the same order)
//! is answered with a `resume` naming only the blocks lacking; it stands for the
//! accept, which the person gave before. Nothing on the wire says which partial an
//! offer continues, so a file that changed meanwhile is caught by its `file_end`: the
//! sender hashes the blocks it does not send, and the file's digest covers every block.
//!
//! The digests saved are the sender's, checked against the bytes held; a driver must
//! save a partial only after the bytes of its verified blocks are written (flushed to
//! the file, not in a buffer), or a crash could leave a block marked verified that
//! holds zeros.

use meshdrop_protocol::frame::FileMeta;
use serde::{Deserialize, Serialize};

use crate::digest::{block_count, parse_block_digest, BlockDigest};

/// An incoming transfer as a driver saves it; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partial {
    /// The files as offered.
    pub files: Vec<FileMeta>,
    /// What is held of each file, in the order of `files`.
    pub held: Vec<PartialFile>,
}

/// What is held of one file of a [`Partial`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialFile {
    /// The whole file was verified (and handed to the person): nothing more is needed.
    pub verified: bool,
    /// Per block: its SHA-256 in lowercase hex if held and verified, `None` if not.
    pub blocks: Vec<Option<String>>,
}

/// A [`Partial`] that does not fit its own files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the saved partial transfer is damaged: {0}")]
pub struct BadPartial(pub String);

impl Partial {
    /// Nothing held yet of `files`: where a driver that records verified blocks one by
    /// one ([`crate::Output::BlockVerified`]) starts from.
    pub fn empty(files: Vec<FileMeta>) -> Self {
        let held = files
            .iter()
            .map(|meta| PartialFile {
                verified: false,
                blocks: vec![None; block_count(meta.size) as usize],
            })
            .collect();
        Self { files, held }
    }

    /// The block digests of each file, checked against the files' sizes.
    pub(crate) fn digests(&self) -> Result<Vec<Vec<Option<BlockDigest>>>, BadPartial> {
        if self.files.is_empty() || self.files.len() != self.held.len() {
            return Err(BadPartial(format!(
                "{} files but {} block maps",
                self.files.len(),
                self.held.len()
            )));
        }
        (0..)
            .zip(self.files.iter().zip(&self.held))
            .map(|(index, (meta, held))| {
                let blocks = block_count(meta.size);
                if held.blocks.len() as u64 != blocks {
                    return Err(BadPartial(format!(
                        "file {index} has {blocks} blocks, not {}",
                        held.blocks.len()
                    )));
                }
                held.blocks
                    .iter()
                    .map(|digest| match digest {
                        None if held.verified => Err(BadPartial(format!(
                            "file {index} is verified but lacks a block digest"
                        ))),
                        None => Ok(None),
                        Some(hex) => parse_block_digest(hex).map(Some).ok_or_else(|| {
                            BadPartial(format!(
                                "file {index} has a block digest that is not 64 hexadecimal digits"
                            ))
                        }),
                    })
                    .collect()
            })
            .collect()
    }
}
