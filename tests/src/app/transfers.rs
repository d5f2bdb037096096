//! The file-transfer part of the app's UI contract: picking files, answering offers,
//! following a transfer to its end, and checking what arrived.
//!
//! A transfer is named by the other peer's id and the transfer id, which is the sender's
//! id for it and therefore the same on both sides.

use std::time::Duration;

use fantoccini::Locator;
use serde::Deserialize;
use serde_json::json;

use super::App;
use crate::error::{Error, Result};
use crate::files::TestFile;
use crate::wait::{self, Probe};

/// How long a transfer may take to reach a state: long enough for the 2 GiB test at the
/// slowest rate seen on a busy 2-core machine (about 5 MiB/s, when the browsers' CPU
/// cost per byte doubles for minutes at a time; at 7 MiB/s 300 s was once too short).
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(900);

/// States after which a transfer never changes again.
const FINAL_STATES: &[&str] = &["declined", "done", "cancelled", "failed"];

/// Hashes every saved file of one transfer in the page, reading it back from its blob URL
/// as the user's "Save" would.
const RECEIVED_SCRIPT: &str = r##"
const [peer, id] = arguments;
const row = document.querySelector(
  `li.transfer[data-peer-id="${peer}"][data-transfer-id="${id}"]`);
return (async () => {
  const received = [];
  for (const link of row?.querySelectorAll("a.save") ?? []) {
    const bytes = await (await fetch(link.href)).arrayBuffer();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    received.push({
      name: link.getAttribute("download") ?? "",
      size: bytes.byteLength,
      sha256: [...digest].map((byte) => byte.toString(16).padStart(2, "0")).join(""),
    });
  }
  return received;
})();
"##;

/// Records, in the page, every state each transfer row shows from now on, so a test can
/// tell what a page showed while it could not be asked (its browser across a cut wire).
const RECORD_STATES_SCRIPT: &str = r##"
const seen = (window.meshdropStatesSeen ??= {});
const record = () => {
  for (const li of document.querySelectorAll("li.transfer")) {
    const states = (seen[`${li.dataset.peerId} ${li.dataset.transferId}`] ??= []);
    if (states[states.length - 1] !== li.dataset.state) states.push(li.dataset.state);
  }
};
record();
new MutationObserver(record).observe(document.body, {
  subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"],
});
"##;

const STATES_SEEN_SCRIPT: &str = r##"
return window.meshdropStatesSeen?.[`${arguments[0]} ${arguments[1]}`] ?? [];
"##;

/// What [`App::received_slices`] read back of a saved file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SavedSlices {
    /// Bytes in the file; -1 if there was no such saved file.
    pub size: i64,
    /// SHA-256 of each slice asked for, in lowercase hex.
    pub sha256s: Vec<String>,
}

/// One `li.transfer`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TransferEntry {
    pub id: String,
    /// The other peer.
    pub peer: String,
    /// `incoming` | `outgoing`.
    pub direction: String,
    /// `offered` | `declined` | `transferring` | `verifying` | `paused` | `done` | `cancelled` |
    /// `failed`.
    pub state: String,
    /// Payload bytes the sending page sent for it, over all links; 0 for incoming ones.
    pub bytes_sent: u64,
    /// Incoming ones: blocks verified and recorded, which a reload of the page keeps;
    /// 0 once the transfer ended.
    pub blocks_kept: u64,
    /// Incoming ones: of `blocks_kept`, those kept from before the page was reloaded.
    pub blocks_restored: u64,
    /// Received in a swarm: verified bytes that came from members other than the
    /// sender. `None` for a transfer in no swarm.
    pub from_peers: Option<u64>,
    /// Received in a swarm, like "12.0 MiB from other receivers · Sender left;
    /// finishing from peers"; empty otherwise.
    pub swarm: String,
    pub title: String,
    pub files: Vec<OfferedFile>,
    /// The state in words, like "Waiting for answer" or "Done"; empty when `error` says it.
    pub status: String,
    /// Like "12.0 MiB of 64.0 MiB · 19% · 21.4 MiB/s · 2 s left"; empty unless bytes move.
    pub progress: String,
    /// Why it was declined, cancelled or failed; empty otherwise.
    pub error: String,
    /// The first class of each button shown: `accept`, `decline`, `cancel`.
    pub buttons: Vec<String>,
    /// The download names of the files ready to save.
    pub saved: Vec<String>,
    /// Their paths in a folder they are saved in, sanitised (`album/2024/a.jpg`).
    pub saved_paths: Vec<String>,
    /// The "Save all" status: empty without the button, else `idle` | `saving` |
    /// `saved` | `failed`.
    pub save_all: String,
}

impl TransferEntry {
    /// Whether it is transfer `id` with `peer`.
    pub fn is(&self, peer: &str, id: &str) -> bool {
        self.peer == peer && self.id == id
    }

    /// Whether it ended: done, declined, cancelled or failed.
    pub fn is_final(&self) -> bool {
        FINAL_STATES.contains(&self.state.as_str())
    }

    /// How far it is, from the progress line ("… · 19% · …"); `None` while it shows none.
    pub fn percent(&self) -> Option<u32> {
        self.progress
            .split('·')
            .find_map(|part| part.trim().strip_suffix('%')?.parse().ok())
    }

    /// True once some bytes have moved: the progress line no longer starts at zero.
    pub fn has_progressed(&self) -> bool {
        self.state == "transferring" && !self.progress.starts_with("0 B of")
    }
}

/// One file of a transfer, as listed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OfferedFile {
    pub name: String,
    /// As shown, like "64.0 MiB".
    pub size: String,
    /// Empty when the browser knew no type.
    pub mime: String,
    /// " in album/2024" for a file sent in a folder (its sanitised folders); else empty.
    pub folder: String,
}

/// A saved file as the receiving page reads it back.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReceivedFile {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

/// Where picked files go.
#[derive(Debug, Clone, Copy)]
pub enum Recipient<'a> {
    /// The peer with this id.
    Peer(&'a str),
    /// Every connected peer, each in a transfer of its own.
    Everyone,
}

/// The buttons of a transfer row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferButton {
    Accept,
    Decline,
    Cancel,
}

impl Recipient<'_> {
    /// The row that takes files for this recipient.
    pub(crate) fn row_selector(&self) -> String {
        match self {
            Recipient::Peer(id) => format!(r#"#peers li.peer[data-peer-id="{id}"]"#),
            Recipient::Everyone => "#everyone".to_owned(),
        }
    }
}

impl TransferButton {
    fn class(self) -> &'static str {
        match self {
            TransferButton::Accept => "accept",
            TransferButton::Decline => "decline",
            TransferButton::Cancel => "cancel",
        }
    }
}

impl App {
    /// Picks `files` in the recipient's "Send files" input, as a user would.
    pub async fn send_files(&self, to: Recipient<'_>, files: &[&TestFile]) -> Result<()> {
        let input = format!("{} input.send-files", to.row_selector());
        self.pick_files(&input, files).await
    }

    /// Picks `files` again for outgoing transfer `id` to `peer`, paused since this page
    /// was reloaded until the person does.
    pub async fn pick_again(&self, peer: &str, id: &str, files: &[&TestFile]) -> Result<()> {
        let input = format!(
            r#"li.transfer[data-peer-id="{peer}"][data-transfer-id="{id}"] input.pick-again"#
        );
        self.pick_files(&input, files).await
    }

    /// Picks `files` in the file input `selector` matches.
    async fn pick_files(&self, selector: &str, files: &[&TestFile]) -> Result<()> {
        let paths: Vec<String> = files
            .iter()
            .map(|file| file.path().display().to_string())
            .collect();
        self.browser
            .client()
            .find(Locator::Css(selector))
            .await?
            .send_keys(&paths.join("\n"))
            .await?;
        Ok(())
    }

    /// Waits for an offer from `peer` of exactly `files` (by name), and returns it.
    pub async fn wait_for_offer(&self, peer: &str, files: &[&TestFile]) -> Result<TransferEntry> {
        let names: Vec<&str> = files.iter().map(|file| file.name()).collect();
        self.wait_for(&format!("an offer of {names:?} from {peer}"), |s| {
            s.transfers
                .iter()
                .find(|entry| {
                    entry.peer == peer
                        && entry.direction == "incoming"
                        && entry.state == "offered"
                        && entry
                            .files
                            .iter()
                            .map(|file| file.name.as_str())
                            .eq(names.iter().copied())
                })
                .cloned()
        })
        .await
    }

    /// Waits until transfer `id` with `peer` is in `state`, and returns it. Fails at once
    /// if the transfer ends in another state, rather than waiting for the timeout.
    pub async fn wait_for_transfer(
        &self,
        peer: &str,
        id: &str,
        state: &str,
    ) -> Result<TransferEntry> {
        self.wait_for_transfer_where(peer, id, &format!("in state {state:?}"), |entry| {
            entry.state == state
        })
        .await
    }

    /// Waits until transfer `id` with `peer` has moved some bytes.
    pub async fn wait_for_progress(&self, peer: &str, id: &str) -> Result<TransferEntry> {
        self.wait_for_transfer_where(peer, id, "moving bytes", TransferEntry::has_progressed)
            .await
    }

    /// Waits until transfer `id` with `peer` passes `check`, described as `condition`.
    pub async fn wait_for_transfer_where(
        &self,
        peer: &str,
        id: &str,
        condition: &str,
        check: impl Fn(&TransferEntry) -> bool,
    ) -> Result<TransferEntry> {
        let what = format!(
            "{} to show transfer {id} with {peer} {condition}",
            self.label
        );
        wait::until(what.clone(), TRANSFER_TIMEOUT, || async {
            let snapshot = self.snapshot().await?;
            let entry = snapshot.transfers.iter().find(|entry| entry.is(peer, id));
            match entry {
                Some(entry) if check(entry) => Ok(Probe::Ready(entry.clone())),
                Some(entry) if entry.is_final() => Err(Error::TransferEnded {
                    what: what.clone(),
                    last_seen: format!("{entry:#?}"),
                }),
                _ => Ok(Probe::NotYet(format!("{:#?}", snapshot.transfers))),
            }
        })
        .await
    }

    /// Clicks `button` in the row of transfer `id` with `peer`.
    pub async fn click_transfer_button(
        &self,
        peer: &str,
        id: &str,
        button: TransferButton,
    ) -> Result<()> {
        let selector = format!(
            r#"li.transfer[data-peer-id="{peer}"][data-transfer-id="{id}"] button.{}"#,
            button.class()
        );
        self.click(&selector).await
    }

    /// Streams the saved file `name` of one transfer back in the page and hashes `len`
    /// bytes at each of `offsets`: for files too large to hash whole in a page.
    pub async fn received_slices(
        &self,
        peer: &str,
        id: &str,
        name: &str,
        offsets: &[u64],
        len: u64,
    ) -> Result<SavedSlices> {
        self.browser
            .run(
                "reading back slices of a received file",
                include_str!("../../js/saved_slices.js"),
                vec![
                    json!(peer),
                    json!(id),
                    json!(name),
                    json!(offsets),
                    json!(len),
                ],
            )
            .await
    }

    /// From now on, the page records every state its transfer rows show; read them
    /// with [`App::transfer_states_seen`].
    pub async fn record_transfer_states(&self) -> Result<()> {
        self.browser
            .run("recording transfer states", RECORD_STATES_SCRIPT, vec![])
            .await
    }

    /// The states transfer `id` with `peer` showed since [`App::record_transfer_states`],
    /// in order, each change once.
    pub async fn transfer_states_seen(&self, peer: &str, id: &str) -> Result<Vec<String>> {
        self.browser
            .run(
                "reading the recorded transfer states",
                STATES_SEEN_SCRIPT,
                vec![json!(peer), json!(id)],
            )
            .await
    }

    /// Waits until transfer `id` with `peer` is done and its files are ready to save,
    /// then reads them back.
    pub async fn received_once_saved(&self, peer: &str, id: &str) -> Result<Vec<ReceivedFile>> {
        self.wait_for_transfer(peer, id, "done").await?;
        self.wait_for("the received file ready to save", |s| {
            s.transfers
                .iter()
                .any(|entry| entry.id == id && !entry.saved.is_empty())
                .then_some(())
        })
        .await?;
        self.received_files(peer, id).await
    }

    /// Reads back every file of transfer `id` with `peer` that is ready to save.
    pub async fn received_files(&self, peer: &str, id: &str) -> Result<Vec<ReceivedFile>> {
        self.browser
            .run(
                "reading back the received files",
                RECEIVED_SCRIPT,
                vec![json!(peer), json!(id)],
            )
            .await
    }
}
