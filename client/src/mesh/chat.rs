//! The room's chat in the page: the shared [`Chat`] rules, and the history this browser
//! keeps of each room in IndexedDB (never on the server).
//!
//! The history is one JSON text per room (the lines as `encode::chat_lines` writes
//! them), rewritten whole after each change: at most [`DEFAULT_LIMIT`] lines, so a few
//! hundred KB at worst. One write runs at a time; changes meanwhile are written by the
//! next one, so an older list never lands after a newer one.

use std::cell::RefCell;
use std::rc::Rc;

use meshdrop_chat::{Chat, Line, DEFAULT_LIMIT};
use meshdrop_protocol::{PeerId, RoomId};
use wasm_bindgen::JsValue;

use crate::idb::{describe, Store};
use crate::{decode, encode};

const DATABASE: &str = "meshdrop-chat";
const STORE: &str = "rooms";

/// The chat of the room we are in, and the state of its history.
pub struct RoomChat {
    pub chat: Chat,
    room: RoomId,
    history: Rc<RefCell<History>>,
}

/// Where the kept history stands.
#[derive(Default)]
struct History {
    /// Read (or found unreadable): until then nothing is written, which would replace it.
    loaded: bool,
    writing: bool,
    /// What the next write writes; `None` if nothing changed since the last.
    due: Option<String>,
}

impl RoomChat {
    /// The chat of `me` in `room`; [`load`] brings its history in.
    pub fn new(me: PeerId, room: RoomId) -> Self {
        // A random run keeps this page's line ids apart from an earlier page's.
        let run = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
        Self {
            chat: Chat::new(me, DEFAULT_LIMIT, run),
            room,
            history: Rc::default(),
        }
    }

    pub fn room(&self) -> &RoomId {
        &self.room
    }

    /// Writes the lines as they are now, once the history was read.
    pub fn keep(&self) {
        let mut history = self.history.borrow_mut();
        history.due = Some(encode::chat_lines(self.chat.lines()));
        if history.loaded && !history.writing {
            history.writing = true;
            drop(history);
            write_due(self.history.clone(), self.room.clone());
        }
    }

    /// The history was read: the next [`Self::keep`] writes.
    pub fn loaded(&self) {
        self.history.borrow_mut().loaded = true;
    }
}

/// The kept lines of `room`, oldest first; none if there are none or they cannot be read
/// (the console says why).
pub async fn load(room: &RoomId) -> Vec<Line> {
    let read = async {
        let kept = Store::open(DATABASE, STORE)
            .await?
            .get(room.as_str())
            .await?;
        match kept.as_string() {
            Some(text) => {
                decode::record::<Vec<Line>>(&text).map_err(|error| error.to_string().into())
            }
            None => Ok(Vec::new()),
        }
    };
    read.await.unwrap_or_else(|error: JsValue| {
        warn(&format!(
            "cannot read this room's chat history ({})",
            describe(&error)
        ));
        Vec::new()
    })
}

/// Writes what is due, and again while more became due meanwhile.
fn write_due(history: Rc<RefCell<History>>, room: RoomId) {
    wasm_bindgen_futures::spawn_local(async move {
        loop {
            let Some(text) = history.borrow_mut().due.take() else {
                history.borrow_mut().writing = false;
                return;
            };
            let written = async {
                let store = Store::open(DATABASE, STORE).await?;
                if text == "[]" {
                    store.delete(room.as_str()).await
                } else {
                    store.put(room.as_str(), &text.into()).await
                }
            };
            if let Err(error) = written.await {
                warn(&format!(
                    "cannot keep this room's chat ({})",
                    describe(&error)
                ));
            }
        }
    });
}

fn warn(message: &str) {
    web_sys::console::warn_1(&format!("Meshdrop: {message}").into());
}
