//! The "Notify me" control, and what it is for: while the page is hidden, each incoming
//! offer and chat line from someone else raises a notification and counts in the title.

use meshdrop_transfer::{Direction, TransferState};
use web_sys::NotificationPermission;
use yew::prelude::*;

use super::state::RoomState;
use crate::notify::{self, TitleCount};
use crate::transfer::TransferKey;

/// What has already been announced, so each line and offer is announced once.
#[derive(Default)]
struct Announced {
    chat_heard: u32,
    offers: Vec<TransferKey>,
}

/// The control, from the page's own component: a hook, not a component of its own, as it
/// is in the page once (a component costs the app about 0.7 KB of gzipped wasm).
#[hook]
pub fn use_attention(state: &UseReducerHandle<RoomState>) -> Html {
    let permission = use_state(notify::permission);
    let title = use_memo((), |_| TitleCount::new());
    let announced = use_mut_ref(Announced::default);

    {
        let (title, announced) = (title.clone(), announced.clone());
        let state = state.clone();
        use_effect_with((state.chat_heard, state.transfers.clone()), move |_| {
            announce(&state, &mut announced.borrow_mut(), &title)
        });
    }

    let on_click = {
        let permission = permission.clone();
        Callback::from(move |_: MouseEvent| {
            let permission = permission.clone();
            wasm_bindgen_futures::spawn_local(async move {
                permission.set(notify::request_permission().await);
            });
        })
    };
    match *permission {
        NotificationPermission::Default => html! {
            <button id="notify-me" type="button" class="secondary" data-permission="default" onclick={on_click}>
                { "Notify me" }
            </button>
        },
        NotificationPermission::Granted => html! {
            <span id="notify-me" class="notify-on" data-permission="granted">{ "Notifications on" }</span>
        },
        // Denied or unsupported: nothing to offer.
        _ => html! {},
    }
}

/// Announces the chat lines and incoming offers that are new since the last call.
fn announce(state: &RoomState, announced: &mut Announced, title: &TitleCount) {
    // Lines heard since the last call: the newest of them is shown, all are counted.
    let heard = state.chat_heard.saturating_sub(announced.chat_heard) as usize;
    announced.chat_heard = state.chat_heard;
    let newest = state.chat.last().filter(|line| heard > 0 && !line.mine);
    let new_offers: Vec<_> = state
        .transfers
        .iter()
        .filter(|view| view.direction == Direction::Incoming)
        .filter(|view| view.state == TransferState::Offered)
        .filter(|view| {
            let new = !announced.offers.contains(&view.key);
            if new {
                announced.offers.push(view.key.clone());
            }
            new
        })
        .collect();
    if !notify::page_hidden() {
        return;
    }
    title.add((heard + new_offers.len()) as u32);
    if let Some(line) = newest {
        notify::show(line.name.clone(), line.text.clone(), "chat");
    }
    for offer in new_offers {
        let files: Vec<&str> = offer.files.iter().map(|file| file.name.as_str()).collect();
        notify::show(
            format!("{} wants to send you files", state.name_of(&offer.key.peer)),
            files.join(", "),
            "offer",
        );
    }
}
