//! "Send to…": asks which device should get files that were dropped on the page or
//! pasted while several devices are connected.
//!
//! A native modal `<dialog>`: the browser keeps focus inside it and closes it on Escape.

use meshdrop_protocol::PeerId;
use web_sys::HtmlDialogElement;
use yew::prelude::*;

use super::peers::{device_icon, SendFiles};
use super::state::Peers;
use crate::mesh::LinkState;
use crate::transfer::OutgoingFile;

/// The dialog, open while `files` wait for a recipient. A hook of the page rather than a
/// component of its own, which costs the app more wasm (and would render as often: its
/// callbacks changed with every render of the page).
#[hook]
pub fn use_recipient_picker(
    files: Option<&Vec<OutgoingFile>>,
    peers: &Peers,
    on_send_files: &SendFiles,
    on_cancel: &Callback<()>,
) -> Html {
    let dialog = use_node_ref();
    {
        let (dialog, open) = (dialog.clone(), files.is_some());
        use_effect_with(open, move |open| {
            if let Some(dialog) = dialog.cast::<HtmlDialogElement>() {
                match (*open, dialog.open()) {
                    (true, false) => {
                        let _ = dialog.show_modal();
                    }
                    (false, true) => dialog.close(),
                    _ => {}
                }
            }
        });
    }
    let files = files.cloned().unwrap_or_default();
    let choice = |to: Option<PeerId>| {
        let (files, on_send_files) = (files.clone(), on_send_files.clone());
        Callback::from(move |_: MouseEvent| on_send_files.emit((to.clone(), files.clone())))
    };
    let on_close = {
        let on_cancel = on_cancel.clone();
        Callback::from(move |_: Event| on_cancel.emit(()))
    };
    let on_cancel_click = {
        let on_cancel = on_cancel.clone();
        Callback::from(move |_: MouseEvent| on_cancel.emit(()))
    };
    let what = match files.as_slice() {
        [one] => one.file.name(),
        files => format!("{} files", files.len()),
    };
    let connected = peers
        .iter()
        .filter(|(_, peer)| peer.state == LinkState::Connected);
    html! {
        <dialog id="recipient-picker" ref={dialog} class="picker" aria-labelledby="picker-heading" onclose={on_close}>
            <h2 id="picker-heading">{ format!("Send {what} to…") }</h2>
            <ul class="picker-choices">
                { for connected.map(|(id, peer)| html! {
                    <li key={id.to_string()}>
                        <button type="button" class="picker-choice secondary" data-peer-id={id.to_string()} onclick={choice(Some(id.clone()))}>
                            <span aria-hidden="true">{ device_icon(peer.device.as_ref().map(|device| device.kind)) }</span>
                            { &peer.name }
                        </button>
                    </li>
                }) }
                <li>
                    <button type="button" class="picker-choice picker-everyone" onclick={choice(None)}>{ "Everyone" }</button>
                </li>
            </ul>
            <button type="button" class="picker-cancel secondary" onclick={on_cancel_click}>{ "Cancel" }</button>
        </dialog>
    }
}
