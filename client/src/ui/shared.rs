//! Files shared to the app from another app (the system's share sheet, see
//! [`crate::pwa`]), shown ready to send: the person picks the peer.

use meshdrop_protocol::PeerId;
use yew::prelude::*;

use super::peers::SendFiles;
use super::state::Peers;
use crate::mesh::LinkState;
use crate::pwa;
use crate::transfer::OutgoingFile;

/// The panel, from the page's own component: a hook, not a component of its own, as it
/// is in the page once (a component costs the app about 0.7 KB of gzipped wasm).
#[hook]
pub fn use_shared_files(peers: &Peers, on_send_files: &SendFiles) -> Html {
    let files = use_state(Vec::<web_sys::File>::new);
    {
        let files = files.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                files.set(pwa::shared_files().await);
            });
        });
    }
    if files.is_empty() {
        return html! {};
    }

    let done = {
        let files = files.clone();
        move || {
            files.set(Vec::new());
            wasm_bindgen_futures::spawn_local(pwa::clear_shared_files());
        }
    };
    let send_to = |peer: &PeerId| {
        let (peer, files, on_send, done) = (
            peer.clone(),
            files.clone(),
            on_send_files.clone(),
            done.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let loose = files.iter().cloned().map(OutgoingFile::from).collect();
            on_send.emit((Some(peer.clone()), loose));
            done();
        })
    };
    let on_discard = {
        let done = done.clone();
        Callback::from(move |_: MouseEvent| done())
    };
    let connected: Vec<_> = peers
        .iter()
        .filter(|(_, view)| view.state == LinkState::Connected)
        .collect();

    html! {
        <section id="shared-files" class="panel shared-files" aria-label="Files shared with Meshdrop">
            <h2>{ "Ready to send" }</h2>
            <ul>
                { for files.iter().map(|file| html! { <li class="shared-file">{ file.name() }</li> }) }
            </ul>
            if connected.is_empty() {
                <p class="hint">{ "Open Meshdrop on the other device to send these." }</p>
            } else {
                <div class="share-buttons">
                    { for connected.iter().map(|(peer, view)| html! {
                        <button type="button" class="send-shared" data-peer-id={peer.to_string()} onclick={send_to(peer)}>
                            { format!("Send to {}", view.name) }
                        </button>
                    }) }
                </div>
            }
            <button id="discard-shared" type="button" class="secondary" onclick={on_discard}>{ "Discard" }</button>
        </section>
    }
}
