//! The list of other peers in the room with the state of our link to each.

use std::collections::BTreeMap;

use meshdrop_protocol::PeerId;
use yew::prelude::*;

use super::state::PeerView;

#[derive(Properties, PartialEq)]
pub struct PeerListProps {
    pub peers: BTreeMap<PeerId, PeerView>,
}

#[function_component(PeerList)]
pub fn peer_list(props: &PeerListProps) -> Html {
    html! {
        <section class="panel peers-panel">
            <h2>{ "Peers" }</h2>
            if props.peers.is_empty() {
                <p class="hint">{ "Nobody else is here yet. Share the room link to invite someone." }</p>
            }
            <ul id="peers">
                { for props.peers.iter().map(|(id, view)| html! {
                    <li class={classes!("peer", view.state.as_str())} key={id.to_string()}
                        data-peer-id={id.to_string()} data-state={view.state.as_str()}>
                        <span class="peer-name">{ &view.name }</span>
                        <span class="peer-state">{ view.state.as_str() }</span>
                    </li>
                }) }
            </ul>
        </section>
    }
}
