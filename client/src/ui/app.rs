//! The page: header with the room link and connection state, peers, chat.

use std::cell::RefCell;
use std::rc::Rc;

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::attention::Attention;
use super::chat::ChatPanel;
use super::peers::PeerList;
use super::room::RoomChoice;
use super::share::SharePanel;
use super::shared::SharedFiles;
use super::state::{RoomAction, RoomState};
use super::transfers::TransferList;
use crate::identity;
use crate::mesh::{Identity, Mesh, SignalingStatus};
use crate::pwa;
use crate::transfer::{self, TransferAction, TransferKey};
use meshdrop_protocol::PeerId;

#[function_component(App)]
pub fn app() -> Html {
    let room = use_memo((), |_| identity::room_in_link());
    let name = use_state(identity::display_name);
    let state = use_reducer(RoomState::default);
    let mesh: Rc<RefCell<Option<Mesh>>> = use_mut_ref(|| None);

    {
        let (room, name, state, mesh) = (room.clone(), name.clone(), state.clone(), mesh.clone());
        use_effect_with((), move |_| {
            let identity = Identity {
                room: (*room).clone(),
                name: (*name).clone(),
                session_key: identity::session_key(),
            };
            wasm_bindgen_futures::spawn_local(transfer::clear_leftovers());
            pwa::register();
            let dispatch = state.dispatcher();
            *mesh.borrow_mut() = Some(Mesh::start(
                identity::signaling_url(),
                identity,
                move |event| dispatch.dispatch(RoomAction::Mesh(event)),
            ));
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
        Callback::from(move |text: String| {
            if let Some(mesh) = mesh.borrow().as_ref() {
                let sent_at_ms = mesh.send_chat(text.clone());
                state.dispatch(RoomAction::SentChat { text, sent_at_ms });
            }
        })
    };

    let on_send_files = {
        let mesh = mesh.clone();
        Callback::from(
            move |(to, files): (Option<PeerId>, Vec<transfer::OutgoingFile>)| {
                if let Some(mesh) = mesh.borrow().as_ref() {
                    mesh.send_files(to.as_ref(), files);
                }
            },
        )
    };
    let on_transfer_action = {
        let mesh = mesh.clone();
        Callback::from(move |(key, action): (TransferKey, TransferAction)| {
            if let Some(mesh) = mesh.borrow().as_ref() {
                mesh.act(&key, action);
            }
        })
    };

    html! {
        <div class="app">
            <header class="topbar">
                <h1 class="brand">{ "Meshdrop" }</h1>
                <RoomChoice room={(*room).clone()} />
                <Attention state={state.clone()} />
                <ConnectionBadge status={state.signaling} />
            </header>
            <section class="room-bar">
                <SharePanel />
                <label class="field">
                    <span>{ "Your name" }</span>
                    <input id="name-input" value={(*name).clone()} maxlength="64" onchange={on_rename} />
                </label>
                <span class="self-id">
                    { "Your id: " }
                    <code id="self-id">{ state.self_id.as_ref().map(ToString::to_string).unwrap_or_default() }</code>
                </span>
            </section>
            if let Some(error) = &state.last_error {
                <p class="error" role="alert">{ error }</p>
            }
            <SharedFiles peers={state.peers.clone()} on_send_files={on_send_files.clone()} />
            <main class="panels">
                <PeerList peers={state.peers.clone()} on_send_files={on_send_files} />
                <div class="stack">
                    <TransferList transfers={state.transfers.clone()} room={state.clone()} on_action={on_transfer_action} />
                    <ChatPanel state={state.clone()} on_send={on_send_chat} />
                </div>
            </main>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ConnectionBadgeProps {
    status: SignalingStatus,
}

/// Says plainly whether the signaling server is reachable. Peers already connected
/// keep working without it, which the label says too.
#[function_component(ConnectionBadge)]
fn connection_badge(props: &ConnectionBadgeProps) -> Html {
    let (state, label) = match props.status {
        SignalingStatus::Connecting => ("connecting", "Connecting to server…".to_string()),
        SignalingStatus::Connected => ("connected", "Server connected".to_string()),
        SignalingStatus::Reconnecting { retry_in_ms } => (
            "reconnecting",
            format!(
                "Server connection lost, retrying in {} s (connected peers keep working)",
                retry_in_ms.div_ceil(1000)
            ),
        ),
    };
    html! { <span id="connection" class={classes!("badge", state)} data-state={state}>{ label }</span> }
}
