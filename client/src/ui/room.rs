//! Which room this page is in, and the way into a new private one.
//!
//! Opened without a room in its link, the page is in the room of its network: everyone
//! on the same network is there, nobody else. "New private room" makes up a room name,
//! puts it in the link, and the page starts over in that room; the link is then what
//! brings others in, from any network.

use meshdrop_protocol::RoomId;
use yew::prelude::*;

use crate::identity;

/// `room`: the private room from the link, or `None` for the network's room.
pub fn room_choice(room: Option<&RoomId>) -> Html {
    let new_private_room =
        Callback::from(|_: MouseEvent| identity::go_to_room(&identity::new_private_room()));
    let current = match room {
        None => html! {
            <span id="room-kind" data-kind="network" title="Everyone who opens Meshdrop on this network without a room link is here">
                { "On this network" }
            </span>
        },
        Some(room) if room.is_meeting_place() => html! {
            <span id="room-kind" data-kind="pairing" title="Only the device with the code can come here">
                { "Pairing with a code" }
            </span>
        },
        Some(room) => html! {
            <span id="room-kind" data-kind="private" title="Only people with this room's link are here">
                { "Private room " }<strong class="room-name">{ room.as_str() }</strong>
            </span>
        },
    };
    html! {
        <div class="room-choice">
            { current }
            <button id="new-private-room" type="button" class="secondary" onclick={new_private_room}>
                { "New private room" }
            </button>
        </div>
    }
}
