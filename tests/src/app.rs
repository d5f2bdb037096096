//! The Meshdrop web app as a test sees it: its UI contract, read and driven over WebDriver.
//!
//! The contract (ids, classes and data attributes) is the interface between the client and
//! these tests:
//!
//! * `#connection[data-state]`: `connecting` | `connected` | `reconnecting` (signaling).
//! * `#room-kind[data-kind]`: `network` (the page was opened without a room in its link,
//!   and is in its network's room) | `private` (the link's room, named in a `.room-name`
//!   child). `#new-private-room`: a button that moves the page to a new random room.
//! * `#self-id[data-peer-id]`: own peer id once welcomed (a hidden element: people never
//!   see ids). `#name-input`: display name, sent on `change`.
//! * `#peers li.peer[data-peer-id][data-state]` (`connecting` | `connected` |
//!   `reconnecting` | `failed`)
//!   with a `.peer-name` child and, once connected, a `.peer-device` ("Chrome on Android")
//!   and `[data-fingerprint]`: the DTLS fingerprint of the peer's device, from the remote
//!   description (`sha-256 AB:CD:…`); `[data-path]`, how the link reaches the peer:
//!   `same-network` | `direct` | `relayed` (a `.peer-path` child says it in words) |
//!   `none` (no path found: a `.no-path` child says why and what would help).
//! * `document.body.dataset.deviceFingerprint`: the page's own device fingerprint, the
//!   same on every visit of its browser profile (once the page knows it).
//! * `#chat-form` with `#chat-to` (a select: `""` for everyone, or a peer id) and
//!   `#chat-input`; `#chat-log .chat-message[data-from][data-id][data-private]
//!   [data-earlier]` with `.chat-sender`, `.chat-time`, `.chat-text` (links as `a`),
//!   `.chat-private` (on private lines), `button.copy-line[data-state]`,
//!   `button.show-more` (long lines) and, on our own lines,
//!   `.chat-marks[data-delivered][data-pending]` (peer ids); `#clear-chat`. See
//!   [`ChatEntry`] and `app/chat.rs`.
//! * `document.body.dataset.firstPeerMs`: ms from navigation to the first peer shown;
//!   `document.body.dataset.linksUpMs`: to each peer's first link with open channels,
//!   in the order they opened, separated by spaces;
//!   `document.body.dataset.iceRestarts` / `.linkRebuilds`: how many ICE restarts this
//!   page offered and links it rebuilt (absent while none);
//!   `.bytesSent` / `.bytesReceived`: file bytes (chunk payloads) that left through the
//!   page's data channels (what was still queued in a dropped link does not count) and
//!   that arrived on them; beyond the files' sizes, they are what was sent twice.
//! * `input.send-files` (a multiple file input, out of sight: its tile's button opens it)
//!   in each connected peer's tile, and in the `#everyone` tile, which sends to every
//!   connected peer; in the same tiles `input.send-folder` (a `webkitdirectory` input,
//!   out of sight too), which sends a folder.
//! * `li.transfer[data-transfer-id][data-peer-id][data-direction][data-state]`
//!   (see [`TransferEntry`]), outgoing ones with `[data-bytes-sent]` (payload bytes the
//!   page sent for it, over all links), incoming ones with `[data-blocks-kept]` (blocks
//!   verified and recorded, which a reload keeps) and `[data-blocks-restored]` (of them,
//!   those kept from before the page was reloaded), and, when the page was reloaded since it was
//!   offered, `input.pick-again` (a file input) until its files are picked again, in `#offers` while an incoming one waits for an answer,
//!   else in `#transfers`, with `.transfer-title`, `.transfer-files li` (`.file-name`,
//!   `.file-size`, `.file-type`, and `.file-folder` " in album/2024" for a file in a
//!   folder), `.transfer-status` (the state in words), `.transfer-progress` (only while
//!   bytes move), `.transfer-error`, the buttons `button.accept`, `button.decline` and
//!   `button.cancel`, and an `a.save[href][download][data-path]` per received file that
//!   passed its digest check (`data-path`: its sanitised path in a saved folder). Once
//!   every file of an offer of several arrived, where the browser can save into a picked
//!   folder: `button.save-all` and `.save-all-status[data-state]` (`idle` | `saving` |
//!   `saved` | `failed`), and once saved as a zip (no folder picker), `a.save-all-zip[href]`.
//! * Drops, pastes, the "Send to…" picker and "Clear finished": see `app/gestures.rs`.
//! * `#share`: `#room-qr` (an SVG QR code of the room link), `#room-link`,
//!   `#copy-link[data-state]` (`ready` | `copied` | `selected`), `#share-link` where the
//!   browser has Web Share; `#notify-me[data-permission]` (`default` | `granted`);
//!   `#shared-files` with `.shared-file` items and `button.send-shared[data-peer-id]`.
//!   These are read by the methods of [`share`], not in the snapshot.
//! * Who the peers are (fingerprints, safety numbers, trust, pairing by code): see
//!   [`verification`], also read apart from the snapshot.
//!
//! The rest of the contract is read in one script call ([`Snapshot`]); waits are predicates on
//! snapshots, so a timeout reports everything the page showed last.

mod chat;
mod folders;
mod gestures;
mod share;
mod transfers;
mod verification;

pub use folders::{folder_digests, folder_file_digests, zip_digests, FolderFile};
pub use share::Notification;
pub use transfers::{
    OfferedFile, ReceivedFile, Recipient, SavedSlices, TransferButton, TransferEntry,
    TRANSFER_TIMEOUT,
};
pub use verification::{PeerVerification, Verification};

use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::Locator;
use serde::Deserialize;
use serde_json::json;

use crate::browser::Browser;
use crate::error::{Error, Result};
use crate::wait::{self, Probe};

/// How the app's console message about a panic starts (client/src/main.rs).
const APP_STOPPED: &str = "Meshdrop stopped:";

/// The folder of the origin private file system where the app stores what it receives.
pub const INCOMING_FOLDER: &str = "meshdrop-incoming";

/// How long the UI may take to reflect something: a peer joining, a message, a rename.
/// Generous because a 2-core machine may run several Chromiums at once.
pub const UI_TIMEOUT: Duration = Duration::from_secs(60);

const SNAPSHOT_SCRIPT: &str = r##"
const text = (root, selector) => root.querySelector(selector)?.textContent ?? "";
// From the first snapshot of each page on, keep what the page reports as errors: the
// app's panics (logged with console.error) and uncaught exceptions, such as a trap.
if (!window.e2ePageErrors) {
  const errors = (window.e2ePageErrors = []);
  const logError = console.error.bind(console);
  console.error = (...parts) => {
    errors.push(parts.map(String).join(" "));
    logError(...parts);
  };
  addEventListener("error", (event) => errors.push(String(event.error ?? event.message)));
  addEventListener("unhandledrejection", (event) => errors.push(String(event.reason)));
}
return {
  pageErrors: window.e2ePageErrors.slice(-5),
  connection: document.querySelector("#connection")?.dataset.state ?? null,
  roomKind: document.querySelector("#room-kind")?.dataset.kind ?? null,
  roomName: text(document, "#room-kind .room-name"),
  selfId: document.querySelector("#self-id")?.dataset.peerId ?? "",
  peers: [...document.querySelectorAll("#peers li.peer")].map((li) => ({
    id: li.dataset.peerId ?? "",
    state: li.dataset.state ?? "",
    name: text(li, ".peer-name"),
    device: text(li, ".peer-device"),
    fingerprint: li.dataset.fingerprint ?? "",
    path: li.dataset.path ?? "",
    pathNote: text(li, ".peer-path") || text(li, ".no-path"),
  })),
  chat: [...document.querySelectorAll("#chat-log .chat-message")].map((li) => {
    const marks = li.querySelector(".chat-marks")?.dataset ?? {};
    const ids = (list) => (list ?? "").split(" ").filter(Boolean);
    return {
      from: li.dataset.from ?? "",
      id: li.dataset.id ?? "",
      sender: text(li, ".chat-sender"),
      time: text(li, ".chat-time"),
      text: text(li, ".chat-text"),
      private: li.dataset.private === "true",
      privateNote: text(li, ".chat-private"),
      earlier: li.dataset.earlier === "true",
      delivered: ids(marks.delivered),
      pending: ids(marks.pending),
      marks: text(li, ".chat-marks"),
      links: [...li.querySelectorAll(".chat-text a")].map((a) => ({
        href: a.getAttribute("href") ?? "",
        rel: a.rel,
        target: a.target,
      })),
      markup: [...li.querySelectorAll(".chat-text *")].filter((e) => e.tagName !== "A").length,
      folded: li.querySelector(".chat-text.folded") !== null && !("unfolded" in li.dataset),
      copyState: li.querySelector("button.copy-line")?.dataset.state ?? "",
    };
  }),
  deviceFingerprint: document.body?.dataset.deviceFingerprint ?? null,
  firstPeerMs: document.body?.dataset.firstPeerMs ?? null,
  linksUpMs: document.body?.dataset.linksUpMs ?? null,
  iceRestarts: Number(document.body?.dataset.iceRestarts ?? 0),
  linkRebuilds: Number(document.body?.dataset.linkRebuilds ?? 0),
  bytesSent: Number(document.body?.dataset.bytesSent ?? 0),
  bytesReceived: Number(document.body?.dataset.bytesReceived ?? 0),
  transfers: [...document.querySelectorAll("li.transfer")].map((li) => ({
    id: li.dataset.transferId ?? "",
    peer: li.dataset.peerId ?? "",
    direction: li.dataset.direction ?? "",
    state: li.dataset.state ?? "",
    bytes_sent: Number(li.dataset.bytesSent ?? 0),
    blocks_kept: Number(li.dataset.blocksKept ?? 0),
    blocks_restored: Number(li.dataset.blocksRestored ?? 0),
    from_peers: li.dataset.fromPeers === undefined ? null : Number(li.dataset.fromPeers),
    swarm: text(li, ".transfer-swarm"),
    title: text(li, ".transfer-title"),
    files: [...li.querySelectorAll(".transfer-files li")].map((file) => ({
      name: text(file, ".file-name"),
      size: text(file, ".file-size"),
      mime: text(file, ".file-type"),
      folder: text(file, ".file-folder"),
    })),
    status: text(li, ".transfer-status"),
    progress: text(li, ".transfer-progress"),
    error: text(li, ".transfer-error"),
    buttons: [...li.querySelectorAll("button")].map((button) => button.classList[0] ?? ""),
    saved: [...li.querySelectorAll("a.save")].map((a) => a.getAttribute("download") ?? ""),
    saved_paths: [...li.querySelectorAll("a.save")].map((a) => a.dataset.path ?? ""),
    save_all: li.querySelector(".save-all-status")?.dataset.state ?? "",
  })),
};
"##;

const LOAD_TIMINGS_SCRIPT: &str = r##"
const arrived = (pattern) =>
  performance.getEntriesByType("resource")
    .find((entry) => pattern.test(new URL(entry.name).pathname))?.responseEnd ?? null;
const navigation = performance.getEntriesByType("navigation")[0];
return {
  html: navigation?.responseEnd ?? null,
  js: arrived(/\/meshdrop-client-[^/]*\.js$/),
  wasm: arrived(/\.wasm$/),
  dom_content_loaded: navigation?.domContentLoadedEventEnd ?? null,
};
"##;

const RENAME_SCRIPT: &str = r##"
const input = document.querySelector("#name-input");
input.value = arguments[0];
input.dispatchEvent(new Event("change", { bubbles: true }));
"##;

/// See [`App::load_timings`]; `None` where the page has no entry.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct LoadTimings {
    /// index.html arrived.
    pub html: Option<f64>,
    /// The app's JavaScript arrived.
    pub js: Option<f64>,
    /// The app's wasm arrived.
    pub wasm: Option<f64>,
    /// The document was parsed and its deferred scripts ran.
    pub dom_content_loaded: Option<f64>,
}

/// Everything the UI contract exposes, at one moment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// `None` until the app has rendered.
    pub connection: Option<String>,
    /// `network` or `private`; `None` until the app has rendered.
    pub room_kind: Option<String>,
    /// The private room's name; empty in the network's room.
    pub room_name: String,
    /// Empty until welcomed.
    pub self_id: String,
    pub peers: Vec<PeerEntry>,
    pub chat: Vec<ChatEntry>,
    /// This page's device fingerprint, once known.
    pub device_fingerprint: Option<String>,
    pub first_peer_ms: Option<String>,
    /// Milliseconds from navigation to each peer's first link up, in order.
    pub links_up_ms: Option<String>,
    /// ICE restarts this page offered.
    pub ice_restarts: u32,
    /// Links this page replaced by new connections.
    pub link_rebuilds: u32,
    /// File bytes (chunk payloads) this page handed to its data channels.
    pub bytes_sent: u64,
    /// File bytes that arrived on its data channels.
    pub bytes_received: u64,
    pub transfers: Vec<TransferEntry>,
    /// The last errors the page reported since its first snapshot: the app's panics and
    /// uncaught exceptions. Shown with the snapshot when a wait gives up.
    pub page_errors: Vec<String>,
}

/// One `#peers li.peer`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerEntry {
    pub id: String,
    pub state: String,
    pub name: String,
    /// What the device said it is, like "Chrome on Android"; empty until its link opens.
    pub device: String,
    /// The peer device's DTLS fingerprint as this page's connection sees it; empty
    /// unless connected.
    pub fingerprint: String,
    /// How the link reaches the peer: `same-network`, `direct`, `relayed`, `none` (no
    /// path found), or empty while not known.
    pub path: String,
    /// What the page says about the path, in words.
    pub path_note: String,
}

/// One `#chat-log .chat-message`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatEntry {
    pub from: String,
    /// The line's id among its sender's lines (`data-id`).
    pub id: String,
    pub sender: String,
    /// "14:05", and " · earlier" for a line from the kept history.
    pub time: String,
    pub text: String,
    /// Written to one peer alone (`data-private`); `private_note` says to whom.
    pub private: bool,
    pub private_note: String,
    /// From the history this browser kept (`data-earlier`).
    pub earlier: bool,
    /// Our own lines: the peers that acknowledged it, and those it still waits for.
    pub delivered: Vec<String>,
    pub pending: Vec<String>,
    /// The delivery marks in words.
    pub marks: String,
    /// The links in the text.
    pub links: Vec<ChatLink>,
    /// Elements in the text other than links: any is markup that should not be there.
    pub markup: usize,
    /// Folded behind "Show more".
    pub folded: bool,
    /// What its Copy button last achieved: empty (not clicked), `copied`, `selected`.
    pub copy_state: String,
}

/// An `a` in a chat line's text.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatLink {
    pub href: String,
    pub rel: String,
    pub target: String,
}

/// A browser showing the Meshdrop app.
#[derive(Debug)]
pub struct App {
    browser: Browser,
    /// Names this browser in timeout messages ("alice", "browser 2").
    label: String,
}

impl App {
    /// Opens `url` (see [`crate::SignalingServer::room_url`]) in `browser`.
    pub async fn open(browser: Browser, url: &str, label: impl Into<String>) -> Result<App> {
        browser.goto(url).await?;
        Ok(App {
            browser,
            label: label.into(),
        })
    }

    pub fn browser(&self) -> &Browser {
        &self.browser
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Reads the UI contract once.
    /// Fails once the app stopped on a panic: nothing it shows will change any more.
    pub async fn snapshot(&self) -> Result<Snapshot> {
        let snapshot: Snapshot = self
            .browser
            .run("the UI snapshot", SNAPSHOT_SCRIPT, vec![])
            .await?;
        let stopped = snapshot
            .page_errors
            .iter()
            .find(|error| error.starts_with(APP_STOPPED));
        match stopped {
            Some(error) => Err(Error::AppStopped {
                page: self.label.clone(),
                error: error.clone(),
            }),
            None => Ok(snapshot),
        }
    }

    /// Waits until `check` accepts a snapshot, and returns what it returned.
    pub async fn wait_for<T>(
        &self,
        what: &str,
        check: impl Fn(&Snapshot) -> Option<T>,
    ) -> Result<T> {
        let what = format!("{} to show {what}", self.label);
        wait::until(what, UI_TIMEOUT, || async {
            let snapshot = self.snapshot().await?;
            Ok(match check(&snapshot) {
                Some(value) => Probe::Ready(value),
                None => Probe::NotYet(format!("{snapshot:#?}")),
            })
        })
        .await
    }

    /// Own peer id, once the server has welcomed this browser.
    pub async fn self_id(&self) -> Result<String> {
        self.wait_for("its own peer id", |s| {
            (!s.self_id.is_empty()).then(|| s.self_id.clone())
        })
        .await
    }

    /// Waits until the signaling connection is in `state`.
    pub async fn wait_for_connection(&self, state: &str) -> Result<()> {
        self.wait_for(&format!("signaling state {state:?}"), |s| {
            (s.connection.as_deref() == Some(state)).then_some(())
        })
        .await
    }

    /// Waits until the peer list is exactly `ids`, each in `state`.
    pub async fn wait_for_peers(&self, ids: &[&str], state: &str) -> Result<Vec<PeerEntry>> {
        let mut expected: Vec<&str> = ids.to_vec();
        expected.sort_unstable();
        self.wait_for(
            &format!("exactly the peers {expected:?}, all {state:?}"),
            |s| {
                let mut shown: Vec<&str> = s.peers.iter().map(|peer| peer.id.as_str()).collect();
                shown.sort_unstable();
                let all_in_state = s.peers.iter().all(|peer| peer.state == state);
                (shown == expected && all_in_state).then(|| s.peers.clone())
            },
        )
        .await
    }

    /// This page's device fingerprint, once it knows it.
    pub async fn device_fingerprint(&self) -> Result<String> {
        self.wait_for("its device fingerprint", |s| s.device_fingerprint.clone())
            .await
    }

    /// The fingerprint of `peer`'s device as this page's connection to it sees it,
    /// once connected.
    pub async fn peer_fingerprint(&self, peer: &str) -> Result<String> {
        self.wait_for(&format!("the device fingerprint of {peer}"), |s| {
            s.peers
                .iter()
                .find(|entry| entry.id == peer && entry.state == "connected")
                .filter(|entry| !entry.fingerprint.is_empty())
                .map(|entry| entry.fingerprint.clone())
        })
        .await
    }

    /// Waits until the page says how it reaches `peer`: `path` is a `data-path` value
    /// (`same-network`, `direct`, `relayed`, `none`). Returns the peer's entry.
    pub async fn wait_for_path(&self, peer: &str, path: &str) -> Result<PeerEntry> {
        self.wait_for(&format!("path {path:?} to {peer}"), |s| {
            s.peers
                .iter()
                .find(|entry| entry.id == peer && entry.path == path)
                .cloned()
        })
        .await
    }

    /// Waits until `peer` is listed under `name`.
    pub async fn wait_for_peer_name(&self, peer: &str, name: &str) -> Result<()> {
        self.wait_for(&format!("peer {peer} named {name:?}"), |s| {
            s.peers
                .iter()
                .any(|entry| entry.id == peer && entry.name == name)
                .then_some(())
        })
        .await
    }

    /// Waits until the chat log holds `text` from `from`, and returns that entry.
    pub async fn wait_for_chat(&self, from: &str, text: &str) -> Result<ChatEntry> {
        self.wait_for(&format!("chat {text:?} from {from}"), |s| {
            s.chat
                .iter()
                .find(|entry| entry.from == from && entry.text == text)
                .cloned()
        })
        .await
    }

    /// Waits until the page says it is in a room of `kind` (`network` or `private`), and
    /// returns the private room's name (empty for the network's room).
    pub async fn wait_for_room_kind(&self, kind: &str) -> Result<String> {
        self.wait_for(&format!("a room of kind {kind:?}"), |s| {
            (s.room_kind.as_deref() == Some(kind)).then(|| s.room_name.clone())
        })
        .await
    }

    /// Clicks "New private room".
    pub async fn start_private_room(&self) -> Result<()> {
        self.click("#new-private-room").await
    }

    /// The element matching `selector`, once the page shows it.
    async fn find(&self, selector: &str) -> Result<fantoccini::elements::Element> {
        Ok(self
            .browser
            .client()
            .wait()
            .at_most(UI_TIMEOUT)
            .for_element(Locator::Css(selector))
            .await?)
    }

    /// Clicks the element matching `selector`, as a person would, once the page shows it.
    async fn click(&self, selector: &str) -> Result<()> {
        self.find(selector).await?.click().await?;
        Ok(())
    }

    /// Milliseconds from navigation to the first peer shown, once there is one.
    pub async fn first_peer_ms(&self) -> Result<f64> {
        self.wait_for("the first peer's time", |s| milliseconds(&s.first_peer_ms))
            .await
    }

    /// Milliseconds from navigation to the first open data channel, once there is one.
    pub async fn first_channel_ms(&self) -> Result<f64> {
        Ok(self.links_up_ms(1).await?[0])
    }

    /// Milliseconds from navigation to each peer's first link with open channels, in
    /// the order they opened, once there are at least `count`.
    pub async fn links_up_ms(&self, count: usize) -> Result<Vec<f64>> {
        self.wait_for(&format!("{count} links up"), |s| {
            let times: Option<Vec<f64>> = (s.links_up_ms.as_deref()?.split(' '))
                .map(|ms| ms.parse().ok())
                .collect();
            times.filter(|times| times.len() >= count)
        })
        .await
    }

    /// When the page's parts had arrived, in milliseconds from navigation, by the page's
    /// clock (Resource Timing): where a slow start spent its time.
    pub async fn load_timings(&self) -> Result<LoadTimings> {
        self.browser
            .run("reading resource timings", LOAD_TIMINGS_SCRIPT, vec![])
            .await
    }

    /// Types `text` into the chat input and presses Enter, as a user would.
    pub async fn send_chat(&self, text: &str) -> Result<()> {
        let input = self
            .browser
            .client()
            .find(Locator::Css("#chat-input"))
            .await?;
        input
            .send_keys(&format!("{text}{}", char::from(Key::Enter)))
            .await?;
        Ok(())
    }

    /// Sets the display name and fires `change`, as leaving the edited field would.
    pub async fn set_name(&self, name: &str) -> Result<()> {
        self.browser
            .run("renaming", RENAME_SCRIPT, vec![json!(name)])
            .await
    }
}

/// A time the page recorded, once it has.
fn milliseconds(recorded: &Option<String>) -> Option<f64> {
    recorded.as_deref()?.parse().ok()
}
