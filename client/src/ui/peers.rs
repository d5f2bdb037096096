//! The other devices in the room, as large tiles: tap one to pick files for it, or drop
//! files on it. "Everyone" sends to every connected device.
//!
//! Each tile also says whether the device is verified, and opens onto its safety
//! number, to compare with the other device's and mark it verified.

use meshdrop_mesh::path::Reach;
use meshdrop_protocol::frame::{Device, DeviceKind};
use meshdrop_protocol::PeerId;
use wasm_bindgen::JsCast;
use web_sys::{DragEvent, HtmlInputElement};
use yew::prelude::*;

use meshdrop_verify::{SafetyNumber, Trust};

use super::picking;
use super::state::RoomState;
use crate::device;
use crate::mesh::LinkState;
use crate::transfer::OutgoingFile;

/// Files picked for one peer (`Some`) or for everyone (`None`).
pub type SendFiles = Callback<(Option<PeerId>, Vec<OutgoingFile>)>;
/// The person marked a device verified (`true`) or forgot it (`false`).
pub type SetTrust = Callback<(PeerId, bool)>;

pub fn peer_list(state: &RoomState, on_send_files: &SendFiles, on_trust: &SetTrust) -> Html {
    let peers = &state.peers;
    let connected = peers
        .iter()
        .filter(|(_, peer)| peer.state == LinkState::Connected)
        .count();
    html! {
        <section class="panel peers-panel" aria-labelledby="peers-heading">
            <h2 id="peers-heading">{ "Send to" }</h2>
            if peers.is_empty() {
                <p class="hint empty">{ "Nobody else is here yet. Open this room on another device to send files to it." }</p>
            } else {
                <p class="hint">{ "Tap a device, or drop files anywhere." }</p>
            }
            <ul id="peers" class="peer-grid">
                { for peers.iter().map(|(id, view)| peer_tile(&PeerTile {
                    target: Some(id.clone()),
                    on_send_files: on_send_files.clone(),
                    enabled: view.state == LinkState::Connected,
                    name: view.name.clone(),
                    device: view.device.clone(),
                    state: Some(view.state.as_str()),
                    trust: state.trust(view),
                    safety: view.safety,
                    fingerprint: view.fingerprint.clone(),
                    reach: view.reach,
                    on_trust: Some(on_trust.clone()),
                })) }
            </ul>
            // Only worth a tile when it means more than one device; always in the page,
            // so that what it does never depends on how many peers just happen to be here.
            <ul class={super::class_names(&[Some("everyone"), (peers.len() < 2).then_some("single")])}>
                { peer_tile(&PeerTile {
                    target: None,
                    on_send_files: on_send_files.clone(),
                    enabled: connected > 0,
                    name: "Everyone".to_owned(),
                    device: None,
                    state: None,
                    trust: None,
                    safety: None,
                    fingerprint: None,
                    reach: None,
                    on_trust: None,
                }) }
            </ul>
            if state.known.iter().next().is_some() {
                <label class="auto-accept">
                    <input id="auto-accept" type="checkbox" checked={crate::trust::auto_accept()}
                        onchange={Callback::from(|event: Event| {
                            let input: HtmlInputElement = event.target_unchecked_into();
                            crate::trust::set_auto_accept(input.checked());
                        })} />
                    { "Accept files from verified devices without asking" }
                </label>
            }
        </section>
    }
}

/// What a tile shows: one peer's, or with no `target` the "Everyone" tile.
struct PeerTile {
    target: Option<PeerId>,
    on_send_files: SendFiles,
    enabled: bool,
    name: String,
    device: Option<Device>,
    /// The link state, for one peer's tile (`data-state`).
    state: Option<&'static str>,
    trust: Option<Trust>,
    safety: Option<SafetyNumber>,
    /// The peer device's DTLS fingerprint (`data-fingerprint`, while connected).
    fingerprint: Option<String>,
    /// How the peer is reached (`data-path`), once known.
    reach: Option<Reach>,
    on_trust: Option<SetTrust>,
}

/// A device's tile. The button opens the file picker; the file input itself is out of
/// sight and out of the tab order, so keyboard focus always lands on what is visible.
/// A plain function, not a component (which costs the app more wasm): it has no state
/// of its own, and marks itself as a drop target with an attribute Yew does not render.
fn peer_tile(props: &PeerTile) -> Html {
    let send = {
        let (target, on_send_files) = (props.target.clone(), props.on_send_files.clone());
        move |files: Vec<OutgoingFile>| {
            if !files.is_empty() {
                on_send_files.emit((target.clone(), files));
            }
        }
    };
    let on_pick = {
        let send = send.clone();
        Callback::from(move |event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            send(picking::picked(&input));
            input.set_value("");
        })
    };
    let on_open_picker = open_on_click("input.send-files");
    let on_open_folder_picker = open_on_click("input.send-folder");
    let enabled = props.enabled;
    let on_drag_over = Callback::from(move |event: DragEvent| {
        if enabled {
            event.prevent_default();
            event.stop_propagation();
            mark_drop_target(&event, true);
        }
    });
    let on_drag_leave = Callback::from(|event: DragEvent| mark_drop_target(&event, false));
    let on_drop = {
        Callback::from(move |event: DragEvent| {
            event.prevent_default();
            event.stop_propagation();
            mark_drop_target(&event, false);
            if !enabled {
                return;
            }
            if let Some(transfer) = event.data_transfer() {
                picking::dropped(&transfer, send.clone());
            }
        })
    };
    let everyone = props.target.is_none();
    let connected = props
        .state
        .is_none_or(|state| state == LinkState::Connected.as_str());
    // A reachable device says what it is; one that is not, why not.
    let detail = match (&props.device, props.state) {
        _ if everyone => html! { <span class="peer-device">{ "All connected devices" }</span> },
        (_, Some(state)) if !connected => {
            html! { <span class="peer-state">{ state_words(state) }</span> }
        }
        (Some(device), _) => html! { <span class="peer-device">{ device::label(device) }</span> },
        (None, _) => html! { <span class="peer-device"></span> },
    };
    // How it is reached goes with a working link; no path at all is a problem to read.
    let path = match props.reach {
        Some(reach @ Reach::Via(_)) if connected => Some(("peer-path", reach)),
        Some(reach @ Reach::NoPath { .. }) if !connected => Some(("warning no-path", reach)),
        _ => None,
    };
    let kind = props.device.as_ref().map(|device| device.kind);
    // The tests find tiles by these attributes; "everyone" is the tile without a peer.
    let peer_id = props.target.as_ref().map(ToString::to_string);
    let tile_id = everyone.then_some("everyone");
    let fingerprint = props.fingerprint.clone().filter(|_| connected && !everyone);
    html! {
        <li id={tile_id} data-peer-id={peer_id} data-state={props.state}
            data-trust={props.trust.as_ref().map(trust_name)} data-fingerprint={fingerprint}
            data-path={props.reach.map(Reach::name)}
            data-safety-number={props.safety.map(|number| number.words().collect::<Vec<_>>().join(", "))}
            key={props.target.as_ref().map_or_else(|| "everyone".to_owned(), ToString::to_string)}
            class={super::class_names(&[Some("peer"), props.state, everyone.then_some("everyone-target")])}
            ondragover={on_drag_over} ondragleave={on_drag_leave} ondrop={on_drop}>
            <button type="button" class="peer-button" disabled={!props.enabled} onclick={on_open_picker}>
                <span class="peer-icon" aria-hidden="true">{ if everyone { everyone_icon() } else { device_icon(kind) } }</span>
                <span class="visually-hidden">{ "Send files to " }</span>
                <span class="peer-name">{ &props.name }</span>
                { detail }
            </button>
            if let Some((class, reach)) = path {
                <p {class} role="status">{ reach.describe() }</p>
            }
            <input type="file" class="send-files" multiple=true tabindex="-1" aria-hidden="true"
                disabled={!props.enabled} onchange={on_pick.clone()} />
            <button type="button" class="folder-button secondary" disabled={!props.enabled} onclick={on_open_folder_picker}>
                { "Folder" }<span class="visually-hidden">{ format!(" to {}", props.name) }</span>
            </button>
            <input type="file" class="send-folder" webkitdirectory=true tabindex="-1" aria-hidden="true"
                disabled={!props.enabled} onchange={on_pick} />
            { verification(props) }
        </li>
    }
}

/// The device's trust badge, opening onto its safety number and what to do about it.
fn verification(props: &PeerTile) -> Html {
    let (Some(trust), Some(peer), Some(on_trust)) = (&props.trust, &props.target, &props.on_trust)
    else {
        return html! {};
    };
    let badge = match trust {
        Trust::Verified => "✓ Verified".to_owned(),
        Trust::Unverified => "Not verified".to_owned(),
        Trust::NameOfVerified => format!("⚠ Not the {} you verified", props.name),
    };
    let set = |verified: bool| {
        let peer = peer.clone();
        on_trust.reform(move |_: MouseEvent| (peer.clone(), verified))
    };
    let number = match &props.safety {
        Some(number) => html! {
            <>
                <p class="safety-number" aria-label="Safety number">
                    { for number.symbols().zip(number.words()).map(|(symbol, word)| html! {
                        <span class="safety-symbol"><span aria-hidden="true">{ symbol }</span>{ word }</span>
                    }) }
                </p>
                <p class="hint">{ format!("{} should show the same. If it does, nobody is in between.", props.name) }</p>
            </>
        },
        None => html! { <p class="hint">{ "Working out the safety number…" }</p> },
    };
    html! {
        <details class={super::class_names(&[Some("verify"), Some(trust_name(trust))])}>
            <summary class="trust">{ badge }</summary>
            if *trust == Trust::NameOfVerified {
                <p class="warning" role="alert">{ format!(
                    "You verified a device called {}, but this is another device. Compare the safety number before you trust it.",
                    props.name
                ) }</p>
            }
            { number }
            if *trust == Trust::Verified {
                <button type="button" class="secondary forget-device" onclick={set(false)}>{ "Forget verification" }</button>
            } else if props.safety.is_some() {
                <button type="button" class="mark-verified" onclick={set(true)}>{ "They match: mark verified" }</button>
            }
        </details>
    }
}

fn trust_name(trust: &Trust) -> &'static str {
    match trust {
        Trust::Verified => "verified",
        Trust::Unverified => "unverified",
        Trust::NameOfVerified => "name-of-verified",
    }
}

/// Opens the (hidden) file input `input` refers to, as a click on it would.
/// Opens the picker of the tile clicked: its `input` matching `selector`.
fn open_on_click(selector: &'static str) -> Callback<MouseEvent> {
    Callback::from(move |event: MouseEvent| {
        let input = tile_of(&event).and_then(|tile| tile.query_selector(selector).ok().flatten());
        if let Some(input) = input.and_then(|input| input.dyn_into::<HtmlInputElement>().ok()) {
            input.click();
        }
    })
}

/// Shows the tile under a drag as where the files would go (`data-drop-target`).
fn mark_drop_target(event: &DragEvent, hovering: bool) {
    if let Some(tile) = tile_of(event) {
        let _ = match hovering {
            true => tile.set_attribute("data-drop-target", ""),
            false => tile.remove_attribute("data-drop-target"),
        };
    }
}

/// The tile an event happened in.
fn tile_of(event: &Event) -> Option<web_sys::Element> {
    let target = event.target()?.dyn_into::<web_sys::Element>().ok()?;
    target.closest("li.peer").ok().flatten()
}

/// A link state in words, for a tile that cannot take files yet.
fn state_words(state: &str) -> &'static str {
    match state {
        "connecting" => "Connecting…",
        "verifying" => "Checking the pairing code…",
        "failed" => "Can't reach this device",
        _ => "",
    }
}

/// A line drawing of a phone, a tablet or a computer (a computer when unknown).
pub fn device_icon(kind: Option<DeviceKind>) -> Html {
    let path = match kind {
        Some(DeviceKind::Phone) => {
            "M9 3h6a2 2 0 0 1 2 2v14a2 2 0 0 1-2 2H9a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zM11 18h2"
        }
        Some(DeviceKind::Tablet) => {
            "M6 3h12a2 2 0 0 1 2 2v14a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zM11 18h2"
        }
        Some(DeviceKind::Desktop) | None => {
            "M4 5h16a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1zM9 21h6M12 17v4"
        }
    };
    icon(path)
}

fn everyone_icon() -> Html {
    icon("M9 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM3 20a6 6 0 0 1 12 0M16 11a3 3 0 1 0 0-6M21 20a6 6 0 0 0-4-5.7")
}

fn icon(path: &'static str) -> Html {
    html! {
        <svg viewBox="0 0 24 24" width="32" height="32" fill="none" stroke="currentColor"
            stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round" focusable="false">
            <path d={path} />
        </svg>
    }
}
