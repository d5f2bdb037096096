//! The page: a header (brand, room tools, connection), who you are, offers waiting for
//! you, the devices, transfers and chat.
//!
//! Files dropped anywhere on the page or pasted (Ctrl/Cmd-V) go to the only connected
//! device, or, with several, to the one picked in [`use_recipient_picker`]. Text pasted
//! outside a text field lands in the chat input, ready to send: nothing is sent to the
//! room without a deliberate Enter.

use std::cell::RefCell;
use std::rc::Rc;

use meshdrop_protocol::PeerId;
use wasm_bindgen::JsCast;
use web_sys::{ClipboardEvent, DragEvent, HtmlInputElement};
use yew::prelude::*;

use super::attention::use_attention;
use super::chat::chat_panel;
use super::pairing::{pairing_panel, use_pair_with_code};
use super::peers::peer_list;
use super::picker::use_recipient_picker;
use super::picking;
use super::room::room_choice;
use super::share::use_share_panel;
use super::shared::use_shared_files;
use super::state::{PairingView, RoomAction, RoomState};
use super::transfers::{offer_list, transfer_list};
use crate::mesh::{Identity, LinkState, Mesh, SignalingStatus};
use crate::transfer::OutgoingFile;
use crate::transfer::{TransferAction, TransferKey};
use crate::{device, identity, pwa, trust};
use meshdrop_transfer::{Direction, TransferState};

#[function_component(App)]
pub fn app() -> Html {
    let room = use_memo((), |_| {
        trust::take_code_from_link();
        identity::room_in_link()
    });
    let pairing = use_memo(room.clone(), |room| {
        trust::pairing_code(room.as_ref().as_ref())
    });
    let me = use_memo((), |_| identity::this_device());
    let name = use_state(identity::display_name);
    let state = {
        let pairing = pairing.clone();
        use_reducer(move || {
            let view = match &*pairing {
                Some((code, shows)) => PairingView::Waiting {
                    shown: shows.then(|| code.to_string()),
                },
                None => PairingView::None,
            };
            RoomState::new(trust::known_devices(), view)
        })
    };
    // Started while the first view is being built rather than after it (in the effect
    // below): the socket's handshake and `join` then overlap the first render, about
    // 80 ms of a fresh page's time to meet the others.
    let mesh: Rc<RefCell<Option<Mesh>>> = {
        let (room, me, name) = (room.clone(), me.clone(), (*name).clone());
        let pairing = pairing.as_ref().as_ref().map(|(code, _)| code.clone());
        let dispatch = state.dispatcher();
        use_mut_ref(move || {
            let identity = Identity {
                room: (*room).clone(),
                name,
                session_key: identity::session_key(),
                device: (*me).clone(),
                pairing,
            };
            Some(Mesh::start(
                identity::signaling_url(),
                identity,
                move |event| dispatch.dispatch(RoomAction::Mesh(event)),
            ))
        })
    };
    // Files dropped or pasted while several devices could take them.
    let pending = use_state(|| None::<Vec<OutgoingFile>>);
    let chat_input = use_node_ref();

    {
        let mesh = mesh.clone();
        use_effect_with((), move |_| {
            pwa::register();
            // A hand-edited fragment names another room: start over in it.
            let reload = web_sys::window().map(|window| {
                gloo_events::EventListener::new(&window, "hashchange", |_| {
                    if let Some(window) = web_sys::window() {
                        let _ = window.location().reload();
                    }
                })
            });
            move || {
                drop(reload);
                mesh.borrow_mut().take();
            }
        });
    }

    // A pairing that ended spent its code; one that failed leaves the meeting place.
    {
        let mesh = mesh.clone();
        use_effect_with(state.pairing.clone(), move |pairing| {
            if matches!(pairing, PairingView::Paired { .. } | PairingView::Failed(_)) {
                trust::forget_pairing_code();
            }
            if matches!(pairing, PairingView::Failed(_)) {
                mesh.borrow_mut().take();
            }
        });
    }
    use_auto_accept(&state, &mesh);

    let on_remember = {
        let state = state.clone();
        Callback::from(move |()| {
            if let PairingView::Paired { peer, fingerprint } = &state.pairing {
                let mut known = (*state.known).clone();
                known.verify(&state.name_of(peer), fingerprint, true);
                trust::save_known_devices(&known);
                state.dispatch(RoomAction::Known(known));
            }
        })
    };
    let on_trust = {
        let state = state.clone();
        Callback::from(move |(peer, verified): (PeerId, bool)| {
            let Some((_, view)) = state.peers.iter().find(|(id, _)| *id == peer) else {
                return;
            };
            let Some(fingerprint) = &view.fingerprint else {
                return;
            };
            let mut known = (*state.known).clone();
            if verified {
                known.verify(&view.name, fingerprint, false);
            } else {
                known.forget(fingerprint);
            }
            trust::save_known_devices(&known);
            state.dispatch(RoomAction::Known(known));
        })
    };

    let on_rename = {
        let (name, mesh) = (name.clone(), mesh.clone());
        Callback::from(move |event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            let value = input.value().trim().to_string();
            if value.is_empty() || value == *name {
                return;
            }
            identity::remember_name(&value);
            if let Some(mesh) = mesh.borrow().as_ref() {
                mesh.rename(value.clone());
            }
            name.set(value);
        })
    };
    let on_send_chat = {
        let (state, mesh) = (state.clone(), mesh.clone());
        Callback::from(move |(text, to): (String, Option<PeerId>)| {
            if let Some(mesh) = mesh.borrow().as_ref() {
                if let Err(error) = mesh.send_chat(text, to) {
                    state.dispatch(RoomAction::Problem(format!("Not sent: {error}")));
                }
            }
        })
    };
    let on_clear_chat = {
        let mesh = mesh.clone();
        Callback::from(move |()| {
            if let Some(mesh) = mesh.borrow().as_ref() {
                mesh.clear_chat();
            }
        })
    };
    let on_send_files = {
        let (mesh, pending) = (mesh.clone(), pending.clone());
        Callback::from(move |(to, files): (Option<PeerId>, Vec<OutgoingFile>)| {
            pending.set(None);
            if let Some(mesh) = mesh.borrow().as_ref() {
                mesh.send_files(to.as_ref(), files);
            }
        })
    };
    let on_transfer_action = {
        let mesh = mesh.clone();
        Callback::from(move |(key, action): (TransferKey, TransferAction)| {
            if let Some(mesh) = mesh.borrow().as_ref() {
                mesh.act(&key, action);
            }
        })
    };

    // Files from a drop or a paste: straight to the only device that can take them,
    // or ask which one.
    let route_files = {
        let (state, pending, on_send_files) =
            (state.clone(), pending.clone(), on_send_files.clone());
        Callback::from(move |files: Vec<OutgoingFile>| {
            let connected: Vec<&PeerId> = state
                .peers
                .iter()
                .filter(|(_, peer)| peer.state == LinkState::Connected)
                .map(|(id, _)| id)
                .collect();
            match connected.as_slice() {
                [] => state.dispatch(RoomAction::Problem(
                    "No device is connected yet: open this room on another device first.".into(),
                )),
                [only] => on_send_files.emit((Some((*only).clone()), files)),
                _ => pending.set(Some(files)),
            }
        })
    };
    use_paste(route_files.clone(), chat_input.clone());
    let on_drag_over = Callback::from(|event: DragEvent| event.prevent_default());
    let on_drop = {
        let route_files = route_files.clone();
        Callback::from(move |event: DragEvent| {
            event.prevent_default();
            if let Some(transfer) = event.data_transfer() {
                let route_files = route_files.clone();
                picking::dropped(&transfer, move |files| {
                    if !files.is_empty() {
                        route_files.emit(files);
                    }
                });
            }
        })
    };
    let on_pick_cancel = {
        let pending = pending.clone();
        Callback::from(move |()| pending.set(None))
    };

    let attention = use_attention(&state);
    let shared_files = use_shared_files(&state.peers, &on_send_files);
    let pair_with_code = use_pair_with_code();
    let share_panel = use_share_panel();
    let on_write_to = {
        let state = state.clone();
        Callback::from(move |peer| state.dispatch(RoomAction::ChatTo(peer)))
    };
    let on_earlier_chat = {
        let state = state.clone();
        Callback::from(move |_| state.dispatch(RoomAction::ShowEarlierChat))
    };
    let chat_panel = chat_panel(
        &state,
        on_send_chat,
        on_clear_chat,
        on_write_to,
        on_earlier_chat,
        chat_input.clone(),
    );
    let recipient_picker = use_recipient_picker(
        pending.as_ref(),
        &state.peers,
        &on_send_files,
        &on_pick_cancel,
    );
    let self_id = state.self_id.as_ref().map(ToString::to_string);
    html! {
        <div class="app" ondragover={on_drag_over} ondrop={on_drop}>
            <header class="topbar">
                <div class="brand">
                    { logo() }
                    <h1>{ "Meshdrop" }</h1>
                </div>
                { attention }
                { connection_badge(state.signaling) }
                // The room's own tools (which room, how to share it) live here.
                <div class="room-tools">
                    { room_choice((*room).as_ref()) }
                    // Open while nobody else is here, the moment it is needed; folded away
                    // once a device has joined, so the devices come first.
                    if state.pairing == PairingView::None {
                        <details class="invite" open={state.peers.is_empty()}>
                            <summary>{ "Invite a device" }</summary>
                            { share_panel }
                            { pair_with_code }
                        </details>
                    }
                </div>
            </header>
            <section class="me" aria-label="You">
                <span class="me-icon" aria-hidden="true">{ super::peers::device_icon(Some(me.kind)) }</span>
                <label class="me-name">
                    <span class="visually-hidden">{ "Your name, as others see it" }</span>
                    <input id="name-input" value={(*name).clone()} maxlength="64" onchange={on_rename} autocomplete="nickname" />
                </label>
                <span class="me-device">{ device::label(&me) }</span>
                // The tests' handle on our peer id; people never need to see it.
                <span id="self-id" hidden=true data-peer-id={self_id}></span>
            </section>
            if let Some(error) = &state.last_error {
                <p class="error" role="alert">{ error }</p>
            }
            { pairing_panel(&state, &on_remember) }
            { shared_files }
            { offer_list(&state, &on_transfer_action) }
            <main class="panels">
                <div class="stack">
                    { peer_list(&state, &on_send_files, &on_trust) }
                    { transfer_list(&state, &on_transfer_action) }
                </div>
                { chat_panel }
            </main>
            { recipient_picker }
        </div>
    }
}

/// Accepts offers from verified devices at once, where the person chose so (off by
/// default): a device they paired with or compared numbers with may drop files
/// straight in, as on their own devices.
#[hook]
fn use_auto_accept(state: &UseReducerHandle<RoomState>, mesh: &Rc<RefCell<Option<Mesh>>>) {
    let (state, mesh) = (state.clone(), mesh.clone());
    use_effect_with(state.transfers.clone(), move |transfers| {
        if !trust::auto_accept() {
            return;
        }
        let verified = |peer: &PeerId| {
            state
                .peers
                .iter()
                .find(|(id, _)| id == peer)
                .and_then(|(_, view)| state.trust(view))
                == Some(meshdrop_verify::Trust::Verified)
        };
        for view in transfers.iter() {
            let offered =
                view.direction == Direction::Incoming && view.state == TransferState::Offered;
            if offered && verified(&view.key.peer) {
                if let Some(mesh) = mesh.borrow().as_ref() {
                    mesh.act(&view.key, TransferAction::Accept);
                }
            }
        }
    });
}

/// Listens for Ctrl/Cmd-V anywhere on the page: files go to `route_files`; text pasted
/// outside a text field goes into the chat input, focused, for the person to send.
#[hook]
fn use_paste(route_files: Callback<Vec<OutgoingFile>>, chat_input: NodeRef) {
    let latest = use_mut_ref(|| route_files.clone());
    *latest.borrow_mut() = route_files;
    use_effect_with((), move |_| {
        let listener = web_sys::window()
            .and_then(|window| window.document())
            .map(|document| {
                gloo_events::EventListener::new(&document, "paste", move |event| {
                    let Some(event) = event.dyn_ref::<ClipboardEvent>() else {
                        return;
                    };
                    let Some(data) = event.clipboard_data() else {
                        return;
                    };
                    let files = data.files().map(picking::files_of).unwrap_or_default();
                    if !files.is_empty() {
                        event.prevent_default();
                        let route = latest.borrow().clone();
                        route.emit(files);
                        return;
                    }
                    let in_text_field = event
                        .target()
                        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
                        .is_some_and(|element| {
                            matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA")
                        });
                    let text = data.get_data("text").unwrap_or_default();
                    if in_text_field || text.trim().is_empty() {
                        return;
                    }
                    if let Some(input) = chat_input.cast::<HtmlInputElement>() {
                        event.prevent_default();
                        input.set_value(&format!("{}{text}", input.value()));
                        let _ = input.focus();
                    }
                })
            });
        move || drop(listener)
    });
}

fn logo() -> Html {
    html! {
        <svg class="logo" viewBox="0 0 32 32" width="28" height="28" aria-hidden="true" focusable="false">
            <circle cx="16" cy="7" r="4" />
            <circle cx="7" cy="24" r="4" />
            <circle cx="25" cy="24" r="4" />
            <path d="M16 11 9 21M16 11l7 10M11 24h10" fill="none" stroke-width="2" />
        </svg>
    }
}

/// Says plainly whether the signaling server is reachable. Devices already connected
/// keep working without it, which the label says too.
fn connection_badge(status: SignalingStatus) -> Html {
    let (state, label) = match status {
        SignalingStatus::Connecting => ("connecting", "Connecting…".to_string()),
        SignalingStatus::Connected => ("connected", "Online".to_string()),
        SignalingStatus::Reconnecting { retry_in_ms } => (
            "reconnecting",
            format!(
                "Offline, retrying in {} s; connected devices keep working",
                retry_in_ms.div_ceil(1000)
            ),
        ),
    };
    html! {
        <span id="connection" class={super::class_names(&[Some("badge"), Some(state)])} data-state={state} role="status">
            <span class="dot" aria-hidden="true"></span>{ label }
        </span>
    }
}
