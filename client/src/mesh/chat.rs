//! The room's chat in the page: the shared [`Chat`] rules, and the history this browser
//! keeps of each room in IndexedDB (never on the server).
//!
//! The history is one JSON text per room (the lines as `encode::chat_lines` writes
//! them), rewritten whole after each change: at most [`DEFAULT_LIMIT`] lines, so a few
//! hundred KB at worst. The database stays open for the page's life (its one version
//! never needs an upgrade that an open connection would hold up), and each write is a
//! transaction made at once, so writes land in the order the changes were made.

use std::rc::Rc;

use js_sys::{Array, Reflect};
use meshdrop_chat::{Chat, Line, Receipt, DEFAULT_LIMIT};
use meshdrop_protocol::{PeerId, RoomId};
use wasm_bindgen::{JsCast, JsValue};

use crate::encode;
use crate::idb::{describe, Store};

const DATABASE: &str = "meshdrop-chat";
const STORE: &str = "rooms";

/// The chat of the room we are in, and where its history is kept.
pub struct RoomChat {
    pub chat: Chat,
    room: RoomId,
    /// Once the history was read; until then nothing is written, which would replace it.
    store: Option<Rc<Store>>,
    /// The chat's version last shown and kept.
    shown: u64,
}

impl RoomChat {
    /// The chat of `me` in `room`; [`load`] brings its history in.
    pub fn new(me: PeerId, room: RoomId) -> Self {
        // A random run keeps this page's line ids apart from an earlier page's.
        let run = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
        Self {
            chat: Chat::new(me, DEFAULT_LIMIT, run),
            room,
            store: None,
            shown: 0,
        }
    }

    /// Whether the lines changed since the last call.
    pub fn changed(&mut self) -> bool {
        let version = self.chat.version();
        std::mem::replace(&mut self.shown, version) != version
    }

    pub fn room(&self) -> &RoomId {
        &self.room
    }

    /// Writes the lines as they are now, once the history was read.
    pub fn keep(&self) {
        let Some(store) = self.store.clone() else {
            return;
        };
        let (room, text) = (self.room.clone(), encode::chat_lines(self.chat.lines()));
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(error) = store.put(room.as_str(), &text.into()).await {
                warn(&format!(
                    "cannot keep this room's chat ({})",
                    describe(&error)
                ));
            }
        });
    }

    /// The history was read from `store`: the next [`Self::keep`] writes there.
    pub fn loaded(&mut self, store: Option<Store>) {
        self.store = store.map(Rc::new);
    }
}

/// The kept lines of `room`, oldest first, and the store to keep them in; no lines if
/// there are none or they cannot be read, and no store if it cannot be opened (the
/// console says why).
pub async fn load(room: &RoomId) -> (Vec<Line>, Option<Store>) {
    let store = match Store::open(DATABASE, STORE).await {
        Ok(store) => store,
        Err(error) => {
            warn(&format!(
                "cannot open the chat history ({})",
                describe(&error)
            ));
            return (Vec::new(), None);
        }
    };
    let read = async {
        let kept = store.get(room.as_str()).await?;
        match kept.as_string() {
            Some(text) => lines_of(&js_sys::JSON::parse(&text)?).ok_or("not chat lines".into()),
            None => Ok(Vec::new()),
        }
    };
    let lines = read.await.unwrap_or_else(|error: JsValue| {
        warn(&format!(
            "cannot read this room's chat history ({})",
            describe(&error)
        ));
        Vec::new()
    });
    (lines, Some(store))
}

/// The lines of a history as `JSON.parse` read it; `None` if anything is not as
/// `encode::chat_lines` writes it. (Read through the browser's parser: a decoder of our
/// own for these fields cost the app 1.3 KB of gzipped wasm.)
fn lines_of(kept: &JsValue) -> Option<Vec<Line>> {
    let mut lines = Vec::new();
    for line in kept.dyn_ref::<Array>()?.iter() {
        let field = |name: &str| Reflect::get(&line, &name.into()).ok();
        let text = |name: &str| field(name)?.as_string();
        let to = field("to")?;
        let mut receipts = Vec::new();
        for receipt in field("receipts")?.dyn_ref::<Array>()?.iter() {
            let peer = Reflect::get(&receipt, &"peer".into()).ok()?.as_string()?;
            receipts.push(Receipt {
                peer: PeerId::new(peer).ok()?,
                delivered: Reflect::get(&receipt, &"delivered".into())
                    .ok()?
                    .as_bool()?,
            });
        }
        lines.push(Line {
            id: text("id")?,
            from: PeerId::new(text("from")?).ok()?,
            name: text("name")?,
            mine: field("mine")?.as_bool()?,
            to: match to.is_null() {
                true => None,
                false => Some(PeerId::new(to.as_string()?).ok()?),
            },
            text: text("text")?,
            sent_at_ms: field("sent_at_ms")?.as_f64()? as u64,
            receipts,
            earlier: false,
        });
    }
    Some(lines)
}

fn warn(message: &str) {
    web_sys::console::warn_1(&format!("Meshdrop: {message}").into());
}
