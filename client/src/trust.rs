//! What this browser keeps about trust: the devices the person verified, whether
//! their files are accepted without asking, and a pairing code on its way to the
//! meeting place.
//!
//! Verified devices and the setting live in `localStorage`, for every visit. A pairing
//! code lives in the tab's `sessionStorage` only from the moment it is made or typed
//! until its pairing ends: the page moves to the meeting place by reloading, and the
//! code must survive that one reload, but never a link or the server's logs (it never
//! is in the URL for longer than it takes to read it from a scanned QR code).

use meshdrop_protocol::RoomId;
use meshdrop_verify::{KnownDevices, PairingCode};

use crate::identity;

const KNOWN_KEY: &str = "meshdrop.verified_devices";
const AUTO_ACCEPT_KEY: &str = "meshdrop.auto_accept_verified";
const CODE_KEY: &str = "meshdrop.pairing_code";
/// Marks the page that made the code (and shows it) rather than typed it.
const SHOWS_CODE_KEY: &str = "meshdrop.pairing_code_shown";
/// A scanned QR code opens `/#code=4172-pupil-brave`.
const CODE_FRAGMENT: &str = "#code=";

/// The devices verified on this browser.
pub fn known_devices() -> KnownDevices {
    local()
        .and_then(|storage| storage.get_item(KNOWN_KEY).ok().flatten())
        .and_then(|json| crate::decode::record(&json).ok())
        .unwrap_or_default()
}

pub fn save_known_devices(known: &KnownDevices) {
    if let Some(storage) = local() {
        let _ = storage.set_item(KNOWN_KEY, &crate::encode::known_devices(known));
    }
}

/// Whether offers from verified devices are accepted without asking (off unless the
/// person turned it on).
pub fn auto_accept() -> bool {
    local()
        .and_then(|storage| storage.get_item(AUTO_ACCEPT_KEY).ok().flatten())
        .is_some_and(|value| value == "on")
}

pub fn set_auto_accept(on: bool) {
    if let Some(storage) = local() {
        let _ = storage.set_item(AUTO_ACCEPT_KEY, if on { "on" } else { "off" });
    }
}

/// The pairing this page is to run: the code, and whether this page made it (and so
/// shows it). Only for a page in that code's meeting place.
pub fn pairing_code(room: Option<&RoomId>) -> Option<(PairingCode, bool)> {
    let storage = identity::session_storage()?;
    let code = PairingCode::parse(&storage.get_item(CODE_KEY).ok()??).ok()?;
    let shows = storage.get_item(SHOWS_CODE_KEY).ok()?.is_some();
    (room == Some(&code.meeting_place())).then_some((code, shows))
}

/// Goes to `code`'s meeting place to pair there; `shows` for the page that made it.
pub fn start_pairing(code: &PairingCode, shows: bool) {
    if let Some(storage) = identity::session_storage() {
        let _ = storage.set_item(CODE_KEY, &code.to_string());
        let _ = if shows {
            storage.set_item(SHOWS_CODE_KEY, "1")
        } else {
            storage.remove_item(SHOWS_CODE_KEY)
        };
    }
    identity::go_to_room(&code.meeting_place());
}

/// The pairing ended (either way): its code is spent.
pub fn forget_pairing_code() {
    if let Some(storage) = identity::session_storage() {
        let _ = storage.remove_item(CODE_KEY);
        let _ = storage.remove_item(SHOWS_CODE_KEY);
    }
}

/// A page opened from a scanned code (`/#code=…`): keeps the code for the pairing and
/// puts the meeting place in the URL instead, replacing the history entry, so the
/// secret words stay in no history, bookmark or shared link.
pub fn take_code_from_link() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let fragment = window.location().hash().unwrap_or_default();
    let Some(code) = fragment
        .strip_prefix(CODE_FRAGMENT)
        .and_then(|typed| PairingCode::parse(&decode(typed)).ok())
    else {
        return;
    };
    if let Some(storage) = identity::session_storage() {
        let _ = storage.set_item(CODE_KEY, &code.to_string());
        let _ = storage.remove_item(SHOWS_CODE_KEY);
    }
    if let Ok(history) = window.history() {
        let place = format!("#{}", code.meeting_place().as_str());
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&place));
    }
}

/// The link a QR code carries for `code`.
pub fn code_link(code: &PairingCode) -> String {
    let origin = web_sys::window()
        .and_then(|window| window.location().origin().ok())
        .unwrap_or_default();
    format!("{origin}/{CODE_FRAGMENT}{code}")
}

fn decode(text: &str) -> String {
    js_sys::decode_uri_component(text).map_or_else(|_| text.to_owned(), String::from)
}

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}
