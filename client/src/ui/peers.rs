//! The list of other peers in the room, the state of our link to each, and the places
//! to drop or pick files: on one peer, or on "Everyone".

use std::collections::BTreeMap;

use meshdrop_protocol::PeerId;
use web_sys::{DragEvent, HtmlInputElement};
use yew::prelude::*;

use super::picking;
use super::state::PeerView;
use crate::mesh::LinkState;
use crate::transfer::OutgoingFile;

/// Files picked for one peer (`Some`) or for everyone (`None`).
pub type SendFiles = Callback<(Option<PeerId>, Vec<OutgoingFile>)>;

#[derive(Properties, PartialEq)]
pub struct PeerListProps {
    pub peers: BTreeMap<PeerId, PeerView>,
    pub on_send_files: SendFiles,
}

#[function_component(PeerList)]
pub fn peer_list(props: &PeerListProps) -> Html {
    let anyone_connected = props
        .peers
        .values()
        .any(|peer| peer.state == LinkState::Connected);
    html! {
        <section class="panel peers-panel">
            <h2>{ "Peers" }</h2>
            if props.peers.is_empty() {
                <p class="hint">{ "Nobody else is here yet. Share the room link to invite someone." }</p>
            }
            <ul id="peers">
                { for props.peers.iter().map(|(id, view)| html! {
                    <DropTarget key={id.to_string()} target={Some(id.clone())} on_send_files={props.on_send_files.clone()}
                        enabled={view.state == LinkState::Connected}
                        class={classes!("peer", view.state.as_str())} state={view.state.as_str()}>
                        <span class="peer-name">{ &view.name }</span>
                        <span class="peer-state">{ view.state.as_str() }</span>
                    </DropTarget>
                }) }
            </ul>
            <ul class="everyone">
                <DropTarget target={None} on_send_files={props.on_send_files.clone()} enabled={anyone_connected}
                    class={classes!("peer", "everyone-target")}>
                    <span class="peer-name">{ "Everyone" }</span>
                </DropTarget>
            </ul>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct DropTargetProps {
    target: Option<PeerId>,
    on_send_files: SendFiles,
    enabled: bool,
    class: Classes,
    /// The link state shown in `data-state`, for one peer's row.
    #[prop_or_default]
    state: Option<&'static str>,
    children: Html,
}

/// A row that takes files: dropped on it, or picked with its "Send files" button.
#[function_component(DropTarget)]
fn drop_target(props: &DropTargetProps) -> Html {
    let hovering = use_state(|| false);
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
    let on_drag_over = {
        let (hovering, enabled) = (hovering.clone(), props.enabled);
        Callback::from(move |event: DragEvent| {
            if enabled {
                event.prevent_default();
                hovering.set(true);
            }
        })
    };
    let on_drag_leave = {
        let hovering = hovering.clone();
        Callback::from(move |_: DragEvent| hovering.set(false))
    };
    let on_drop = {
        let hovering = hovering.clone();
        Callback::from(move |event: DragEvent| {
            event.prevent_default();
            hovering.set(false);
            if let Some(transfer) = event.data_transfer() {
                picking::dropped(&transfer, send.clone());
            }
        })
    };
    // The tests find rows by these attributes; "everyone" is the row without a peer.
    let peer_id = props.target.as_ref().map(ToString::to_string);
    let row_id = props.target.is_none().then_some("everyone");
    html! {
        <li id={row_id} data-peer-id={peer_id} data-state={props.state}
            class={classes!(props.class.clone(), (*hovering).then_some("drop-target"))}
            ondragover={on_drag_over} ondragleave={on_drag_leave} ondrop={on_drop}>
            { props.children.clone() }
            <label class={classes!("send-button", (!props.enabled).then_some("disabled"))}>
                { "Send files" }
                <input type="file" class="send-files" multiple=true disabled={!props.enabled} onchange={on_pick.clone()} />
            </label>
            <label class={classes!("send-button", (!props.enabled).then_some("disabled"))}>
                { "Send folder" }
                <input type="file" class="send-folder" webkitdirectory=true disabled={!props.enabled} onchange={on_pick} />
            </label>
        </li>
    }
}
