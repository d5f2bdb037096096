//! Pairing with a code: making one or typing one (in the invite panel), and, in the
//! meeting place, how the pairing goes.
//!
//! A code is a number and two words. The page that makes it shows it with its QR code;
//! the other device types it or scans it. Both pages then move to the code's meeting
//! place, prove the code to each other over the link, and only then chat or send files.

use meshdrop_verify::PairingCode;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::share::qr_svg;
use super::state::{PairingView, RoomState};
use crate::trust;

/// "Pair with a code": make one, or type the other device's. A hook of the page rather
/// than a component of its own, which costs the app more wasm.
#[hook]
pub fn use_pair_with_code() -> Html {
    let input = use_node_ref();
    let problem = use_state(|| None::<String>);
    let on_show = Callback::from(|_: MouseEvent| {
        let mut entropy = [0u8; 8];
        entropy.copy_from_slice(&crate::identity::random_bytes(8));
        trust::start_pairing(&PairingCode::generate(entropy), true);
    });
    let on_submit = {
        let (input, problem) = (input.clone(), problem.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let Some(field) = input.cast::<HtmlInputElement>() else {
                return;
            };
            match PairingCode::parse(&field.value()) {
                Ok(code) => trust::start_pairing(&code, false),
                Err(error) => problem.set(Some(error.to_string())),
            }
        })
    };
    html! {
        <section id="pair" class="pair" aria-label="Pair with a code">
            <p class="hint">{ "On another network, or to be sure who is on the other end: pair with a code." }</p>
            <button id="pair-show-code" type="button" class="secondary" onclick={on_show}>{ "Show a code" }</button>
            <form id="pair-form" class="pair-form" onsubmit={on_submit}>
                <label for="pair-code-input">{ "Or type the other device's code" }</label>
                <input id="pair-code-input" ref={input} placeholder="4172-pupil-brave" autocomplete="off"
                    autocapitalize="none" spellcheck="false" />
                <button id="pair-join" type="submit">{ "Pair" }</button>
            </form>
            if let Some(problem) = &*problem {
                <p id="pair-problem" class="error" role="alert">{ problem }</p>
            }
        </section>
    }
}

/// The pairing in this meeting place: the code to show, then how it went.
pub fn pairing_panel(state: &RoomState, on_remember: &Callback<()>) -> Html {
    let back = Callback::from(|_: MouseEvent| {
        if let Some(window) = web_sys::window() {
            // To this network's room: the page starts over there.
            let _ = window.location().set_hash("");
        }
    });
    let (kind, body) = match &state.pairing {
        PairingView::None => return html! {},
        PairingView::Waiting { shown: Some(code) } => {
            let parsed = PairingCode::parse(code).ok();
            let link = parsed.as_ref().map(trust::code_link).unwrap_or_default();
            (
                "waiting",
                html! {
                    <>
                        <p>{ "On the other device, choose “Pair with a code” and type:" }</p>
                        <p id="pairing-code" class="pairing-code">{ code }</p>
                        { qr_svg(&link, "pairing-qr", "QR code that opens Meshdrop with this code") }
                        <p class="hint">{ "Or scan it. Waiting for the other device… The code works once." }</p>
                    </>
                },
            )
        }
        PairingView::Waiting { shown: None } => (
            "waiting",
            html! { <p>{ "Checking the code with the other device…" }</p> },
        ),
        PairingView::Paired { peer, fingerprint } => {
            let name = state.name_of(peer);
            let remembered = state.known.get(fingerprint).is_some();
            let remember = on_remember.reform(|_: MouseEvent| ());
            (
                "paired",
                html! {
                    <>
                        <p>{ format!("Paired with {name}: the code matched and nobody is in between.") }</p>
                        if remembered {
                            <p class="hint">{ format!("{name} is remembered as verified.") }</p>
                        } else {
                            <button id="remember-device" type="button" onclick={remember}>{ "Remember this device" }</button>
                        }
                    </>
                },
            )
        }
        PairingView::Failed(reason) => (
            "failed",
            html! {
                <>
                    <p role="alert" id="pairing-error">{ format!("Pairing failed: {reason}.") }</p>
                    <p class="hint">{ "The code is used up: make a new one to try again." }</p>
                </>
            },
        ),
    };
    html! {
        <section id="pairing" class={super::class_names(&[Some("panel pairing"), Some(kind)])} data-state={kind} aria-label="Pairing">
            <h2>{ "Pair with a code" }</h2>
            { body }
            <button id="pairing-leave" type="button" class="secondary" onclick={back}>{ "Back to my network" }</button>
        </section>
    }
}
