//! Transfers a reloaded page goes on with.
//!
//! The bytes of an incoming transfer are in the private file system already
//! ([`super::opfs`]); what the page must keep besides is which blocks of them are
//! verified: the engine's [`Partial`], with the names of the stored files. It is kept in
//! the tab's `sessionStorage`, one entry per transfer, for the same reason as the
//! session key ([`crate::identity::session_key`]): both belong to the tab and outlive
//! its reloads, so a reloaded page is the same peer, holding the same partial files,
//! and its peers' repeated offers find it ready. The driver rewrites the entry at most
//! every [`SAVE_EVERY_MS`] while blocks arrive, each time only once the writer worker
//! has written every block the snapshot calls verified, and removes it when the
//! transfer ends.
//!
//! Outgoing transfers are kept too ([`Send`]): their files and the digest of each
//! one's first block. A reloaded page cannot read the files any more (a `File` lives as
//! long as its page), so it shows the transfer paused, asking for the files again, and
//! takes a picked file only if its name, size and first block match.

use meshdrop_protocol::frame::{FileMeta, TransferId};
use meshdrop_protocol::PeerId;
use meshdrop_transfer::Partial;
use serde::{Deserialize, Serialize};

use crate::identity::session_storage;

/// How often a running transfer's entry is rewritten at most.
pub const SAVE_EVERY_MS: f64 = 500.0;

const PREFIX: &str = "meshdrop.partial.";

/// What is kept of one incoming transfer.
#[derive(Debug, Serialize, Deserialize)]
pub struct Saved {
    pub partial: Partial,
    /// Per file: its name in the private folder; `None` once it was verified and
    /// handed to the person.
    pub stored_names: Vec<Option<String>>,
}

/// The storage key of transfer `id` from `peer`.
pub fn key(peer: &PeerId, id: TransferId) -> String {
    format!("{PREFIX}{peer}.{id}")
}

/// The transfers from `peer` that this tab keeps, by key; entries that do not parse
/// are dropped.
pub fn of_peer(peer: &PeerId) -> Vec<(String, Saved)> {
    let Some(storage) = session_storage() else {
        return Vec::new();
    };
    let prefix = format!("{PREFIX}{peer}.");
    keys_starting_with(&storage, &prefix)
        .into_iter()
        .filter_map(|key| {
            let text = storage.get_item(&key).ok().flatten()?;
            match read::<Saved>(&text) {
                Ok(saved) if saved.stored_names.len() == saved.partial.files.len() => {
                    Some((key, saved))
                }
                _ => {
                    let _ = storage.remove_item(&key);
                    None
                }
            }
        })
        .collect()
}

/// Whether this tab keeps any partial transfer.
pub fn any() -> bool {
    session_storage().is_some_and(|storage| {
        (0..storage.length().unwrap_or(0))
            .filter_map(|at| storage.key(at).ok().flatten())
            .any(|key| key.starts_with(PREFIX))
    })
}

pub fn save(key: &str, saved: &Saved) {
    if let (Some(storage), Ok(text)) = (session_storage(), serde_json::to_string(saved)) {
        let _ = storage.set_item(key, &text);
    }
}

pub fn forget(key: &str) {
    if let Some(storage) = session_storage() {
        let _ = storage.remove_item(key);
    }
}

const SENDING_PREFIX: &str = "meshdrop.sending.";

/// What is kept of one outgoing transfer: a reloaded page has lost the `File`s, so it
/// asks the person to pick them again, and takes a file only if it is the same one.
#[derive(Debug, Serialize, Deserialize)]
pub struct Send {
    pub files: Vec<FileMeta>,
    /// Per file: the SHA-256 of its first block (1 MiB, or the whole file if shorter),
    /// in lowercase hex.
    pub first_blocks: Vec<String>,
}

fn send_key(peer: &PeerId, id: TransferId) -> String {
    format!("{SENDING_PREFIX}{peer}.{id}")
}

pub fn save_send(peer: &PeerId, id: TransferId, send: &Send) {
    if let (Some(storage), Ok(text)) = (session_storage(), serde_json::to_string(send)) {
        let _ = storage.set_item(&send_key(peer, id), &text);
    }
}

pub fn forget_send(peer: &PeerId, id: TransferId) {
    if let Some(storage) = session_storage() {
        let _ = storage.remove_item(&send_key(peer, id));
    }
}

/// The sends to `peer` this tab kept, by transfer id.
pub fn sends_to(peer: &PeerId) -> Vec<(TransferId, Send)> {
    let Some(storage) = session_storage() else {
        return Vec::new();
    };
    let prefix = format!("{SENDING_PREFIX}{peer}.");
    keys_starting_with(&storage, &prefix)
        .into_iter()
        .filter_map(|key| {
            let id = key[prefix.len()..].parse().ok()?;
            let text = storage.get_item(&key).ok().flatten()?;
            match read::<Send>(&text) {
                Ok(send) if send.first_blocks.len() == send.files.len() => Some((id, send)),
                _ => {
                    let _ = storage.remove_item(&key);
                    None
                }
            }
        })
        .collect()
}

/// A kept record from its JSON text. Read through a `serde_json::Value`, whose parser
/// the app has anyway (`crate::decode`): a typed `from_str` would add a second JSON
/// parser, with float formatting in its errors, to the wasm.
fn read<T: serde::de::DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    serde_json::from_str::<serde_json::Value>(text).and_then(serde_json::from_value)
}

/// The keys in `storage` that start with `prefix`, read before any is removed.
fn keys_starting_with(storage: &web_sys::Storage, prefix: &str) -> Vec<String> {
    (0..storage.length().unwrap_or(0))
        .filter_map(|at| storage.key(at).ok().flatten())
        .filter(|key| key.starts_with(prefix))
        .collect()
}
