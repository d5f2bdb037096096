//! Who this page is: its room (from the link), its display name and its session key.
//!
//! A private room lives in the URL fragment (`/#room`), so a link is all it takes to
//! share it and the room name never reaches the server's access logs. A page opened
//! without one joins the room of its network, which the server picks. The display name
//! is kept in `localStorage`, from the first visit on, so a returning user keeps theirs.

use meshdrop_protocol::frame::Device;
use meshdrop_protocol::RoomId;

use crate::device;

const ADJECTIVES: &[&str] = &[
    "Amber", "Brave", "Calm", "Clever", "Cosmic", "Daring", "Gentle", "Golden", "Happy", "Jolly",
    "Lucky", "Mellow", "Nimble", "Quiet", "Rapid", "Silver", "Sunny", "Swift", "Tidy", "Witty",
];
const ANIMALS: &[&str] = &[
    "Badger", "Beaver", "Falcon", "Ferret", "Fox", "Gecko", "Heron", "Koala", "Lynx", "Marten",
    "Narwhal", "Otter", "Owl", "Panda", "Puffin", "Quokka", "Raven", "Seal", "Tapir", "Walrus",
];
const NAME_KEY: &str = "meshdrop.name";
const SESSION_KEY: &str = "meshdrop.session_key";
const ROOM_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// `count` random bytes from the browser's CSPRNG.
pub(crate) fn random_bytes(count: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; count];
    if let Some(crypto) = web_sys::window().and_then(|window| window.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut bytes);
    }
    bytes
}

/// The private room named in the URL fragment; `None` (no fragment, or one that names
/// no room) means the room of this page's network.
pub fn room_in_link() -> Option<RoomId> {
    let fragment = web_sys::window()?.location().hash().ok()?;
    RoomId::new(fragment.trim_start_matches('#')).ok()
}

/// A fresh random private room, like `k7m2pqx9ab`: hard to guess, easy to read out.
pub fn new_private_room() -> RoomId {
    let name: String = random_bytes(10)
        .into_iter()
        .map(|byte| ROOM_ALPHABET[usize::from(byte) % ROOM_ALPHABET.len()] as char)
        .collect();
    RoomId::new(name).expect("the room alphabet is valid")
}

/// Puts `room` in the URL fragment; the app follows fragment changes into the room.
pub fn go_to_room(room: &RoomId) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_hash(room.as_str());
    }
}

/// The stored display name; at the first visit, a friendly random one ("Swift Otter"),
/// stored at once so that the page keeps it across reloads.
pub fn display_name() -> String {
    let stored = storage().and_then(|storage| storage.get_item(NAME_KEY).ok().flatten());
    stored.unwrap_or_else(|| {
        let bytes = random_bytes(2);
        let name = format!(
            "{} {}",
            ADJECTIVES[usize::from(bytes[0]) % ADJECTIVES.len()],
            ANIMALS[usize::from(bytes[1]) % ANIMALS.len()]
        );
        remember_name(&name);
        name
    })
}

/// The device this page runs on, from its user agent.
pub fn this_device() -> Device {
    let navigator = web_sys::window().map(|window| window.navigator());
    let user_agent = navigator
        .as_ref()
        .and_then(|navigator| navigator.user_agent().ok())
        .unwrap_or_default();
    let touch_points = navigator.map_or(0, |navigator| navigator.max_touch_points());
    device::from_user_agent(&user_agent, u32::try_from(touch_points).unwrap_or(0))
}

pub fn remember_name(name: &str) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(NAME_KEY, name);
    }
}

/// This tab's 128-bit secret (see `ClientMessage::Join`), from which the server
/// derives its peer id. Kept in `sessionStorage`, which belongs to the tab and outlives
/// its reloads: a reloaded page is the same peer, so its peers' transfers with it go on
/// (see `transfer::partials`). A new tab, or a copy of one, gets a new key... except a
/// duplicated tab, which copies `sessionStorage`; the server then lets the newer
/// connection take the id over, as for any reconnection.
pub fn session_key() -> String {
    let storage = session_storage();
    let kept = storage
        .as_ref()
        .and_then(|storage| storage.get_item(SESSION_KEY).ok().flatten())
        .filter(|key| key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()));
    kept.unwrap_or_else(|| {
        let key: String = random_bytes(16)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        if let Some(storage) = storage {
            let _ = storage.set_item(SESSION_KEY, &key);
        }
        key
    })
}

/// The tab's own storage, kept across its reloads.
pub fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// `ws://` or `wss://` URL of the signaling endpoint on the server that served the page.
pub fn signaling_url() -> String {
    let location = web_sys::window().map(|window| window.location());
    let secure = location
        .as_ref()
        .and_then(|location| location.protocol().ok())
        .is_some_and(|protocol| protocol == "https:");
    let host = location
        .and_then(|location| location.host().ok())
        .unwrap_or_default();
    format!("{}://{host}/ws", if secure { "wss" } else { "ws" })
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}
