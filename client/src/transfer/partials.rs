//! Outgoing transfers a reloaded page goes on with.
//!
//! A reloaded page cannot read the files it was sending any more (a `File` lives as
//! long as its page), so the tab keeps, per outgoing transfer, its files and the digest
//! of each one's first block, in `sessionStorage`: it belongs to the tab and outlives
//! its reloads, as the session key does ([`crate::identity::session_key`]), so the
//! reloaded page is the same peer. It shows the transfer paused, asking for the files
//! again, and takes a picked file only if its name, size and first block match.
//! (Incoming transfers keep theirs beside their files: [`super::journal`].)

use meshdrop_protocol::frame::{FileMeta, TransferId};
use meshdrop_protocol::PeerId;

use crate::identity::session_storage;

const SENDING_PREFIX: &str = "meshdrop.sending.";

/// What is kept of one outgoing transfer: a reloaded page has lost the `File`s, so it
/// asks the person to pick them again, and takes a file only if it is the same one.
#[derive(Debug)]
// Written and read by `crate::encode` and `crate::decode`; the tests compare with serde.
#[cfg_attr(test, derive(serde::Serialize))]
pub struct Send {
    pub files: Vec<FileMeta>,
    /// Per file: the SHA-256 of its first block (1 MiB, or the whole file if shorter),
    /// in lowercase hex.
    pub first_blocks: Vec<String>,
}

impl crate::decode::FromJson for Send {
    fn from_json(value: serde_json::Value) -> Result<Self, &'static str> {
        let mut fields = crate::decode::Fields::of(value)?;
        Ok(Self {
            files: fields.get("files")?,
            first_blocks: fields.get("first_blocks")?,
        })
    }
}

impl Send {
    /// Its JSON, as serde writes it (see [`crate::encode`]).
    fn to_json(&self) -> String {
        let first_blocks = self.first_blocks.iter().map(|digest| Some(digest.as_str()));
        crate::encode::files_record(&self.files, "first_blocks", first_blocks)
    }
}

fn send_key(peer: &PeerId, id: TransferId) -> String {
    format!("{SENDING_PREFIX}{peer}.{id}")
}

pub fn save_send(peer: &PeerId, id: TransferId, send: &Send) {
    if let Some(storage) = session_storage() {
        let _ = storage.set_item(&send_key(peer, id), &send.to_json());
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
            match crate::decode::record::<Send>(&text) {
                Ok(send) if send.first_blocks.len() == send.files.len() => Some((id, send)),
                _ => {
                    let _ = storage.remove_item(&key);
                    None
                }
            }
        })
        .collect()
}

/// The keys in `storage` that start with `prefix`, read before any is removed.
fn keys_starting_with(storage: &web_sys::Storage, prefix: &str) -> Vec<String> {
    (0..storage.length().unwrap_or(0))
        .filter_map(|at| storage.key(at).ok().flatten())
        .filter(|key| key.starts_with(prefix))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_is_written_as_serde_writes_it() {
        let file = |name: &str, path: Option<&str>| FileMeta {
            name: name.into(),
            size: 1 << 40,
            mime: "text/plain".into(),
            path: path.map(String::from),
        };
        let send = Send {
            files: vec![file("a.txt", None), file("b\\.txt", Some("dir/b.txt"))],
            first_blocks: vec!["ab".repeat(32), "cd".repeat(32)],
        };
        assert_eq!(send.to_json(), serde_json::to_string(&send).unwrap());
        let read: Send = crate::decode::record(&send.to_json()).unwrap();
        assert_eq!(
            (read.files, read.first_blocks),
            (send.files, send.first_blocks)
        );
    }
}
