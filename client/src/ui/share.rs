//! Getting another device into the room: the room link as a QR code to scan, a Copy
//! button, and the system share sheet where the browser has one.
//!
//! The link is the page's own URL: with a room in the fragment that is the room's link,
//! and a page without one is in a room that its bare URL reaches anyway.

use gloo_timers::callback::Timeout;
use qrcodegen::{QrCode, QrCodeEcc};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Light modules around the code, as the QR specification asks for.
const QUIET_ZONE: i32 = 4;
/// How long "Copied" stays on the button.
const CONFIRMATION_MS: u32 = 4_000;

/// What a Copy button last achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CopyState {
    Ready,
    Copied,
    /// Nothing could write the clipboard: the link is selected for the person to copy.
    SelectedForCopying,
}

impl CopyState {
    fn label(self) -> &'static str {
        match self {
            CopyState::Ready => "Copy link",
            CopyState::Copied => "Copied",
            CopyState::SelectedForCopying => "Press Ctrl+C to copy",
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            CopyState::Ready => "ready",
            CopyState::Copied => "copied",
            CopyState::SelectedForCopying => "selected",
        }
    }
}

/// The share panel. A hook of the page rather than a component of its own, which costs
/// the app more wasm.
#[hook]
pub fn use_share_panel() -> Html {
    let link = page_url();
    // Drawn again only when the link changes: the panel renders with every progress
    // update of a transfer, and encoding the code each time showed in profiles.
    let qr = use_memo(link.clone(), |link| {
        qr_svg(link, "room-qr", "QR code of the room link")
    });
    let copy_state = use_state(|| CopyState::Ready);
    let link_input = use_node_ref();
    let reset = use_mut_ref(|| None::<Timeout>);

    let on_copy = {
        let (link, copy_state, link_input) = (link.clone(), copy_state.clone(), link_input.clone());
        Callback::from(move |_: MouseEvent| {
            let (link, copy_state, link_input, reset) = (
                link.clone(),
                copy_state.clone(),
                link_input.clone(),
                reset.clone(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                let select = || {
                    link_input
                        .cast::<HtmlInputElement>()
                        .map(|input| input.select())
                };
                let state = copy(&link, &select).await;
                copy_state.set(state);
                let back = copy_state.clone();
                *reset.borrow_mut() = Some(Timeout::new(CONFIRMATION_MS, move || {
                    back.set(CopyState::Ready)
                }));
            });
        })
    };
    let on_share = {
        let link = link.clone();
        Callback::from(move |_: MouseEvent| share(&link))
    };

    html! {
        <section id="share" class="share-panel" aria-label="Invite a device">
            { (*qr).clone() }
            <div class="share-actions">
                <input id="room-link" ref={link_input} readonly=true value={link.clone()}
                    aria-label="Room link" onfocus={select_all()} />
                <div class="share-buttons">
                    <button id="copy-link" type="button" data-state={copy_state.name()} onclick={on_copy}>
                        { copy_state.label() }
                    </button>
                    if can_share() {
                        <button id="share-link" type="button" class="secondary" onclick={on_share}>{ "Share…" }</button>
                    }
                </div>
                <p class="hint">{ "Scan the code or open the link on another device to join this room." }</p>
            </div>
        </section>
    }
}

/// The page's URL, which is the room's link.
fn page_url() -> String {
    web_sys::window()
        .and_then(|window| window.location().href().ok())
        .unwrap_or_default()
}

/// The QR code of `text` as one SVG path, one unit per module, dark on light so that
/// scanners read it in dark mode too.
pub(super) fn qr_svg(text: &str, id: &'static str, label: &'static str) -> Html {
    let Ok(code) = QrCode::encode_text(text, QrCodeEcc::Medium) else {
        // Longer than any QR code holds; the link field and buttons still work.
        return html! {};
    };
    let side = code.size() + 2 * QUIET_ZONE;
    let mut path = String::new();
    for y in 0..code.size() {
        for x in 0..code.size() {
            if code.get_module(x, y) {
                path.push_str(&format!("M{} {}h1v1h-1z", x + QUIET_ZONE, y + QUIET_ZONE));
            }
        }
    }
    html! {
        <svg {id} class="room-qr" viewBox={format!("0 0 {side} {side}")}
            role="img" aria-label={label} data-link={text.to_owned()}
            shape-rendering="crispEdges">
            <rect width={side.to_string()} height={side.to_string()} fill="#fff" />
            <path d={path} fill="#000" />
        </svg>
    }
}

/// Writes `text` to the clipboard; where the Clipboard API is missing (no secure
/// context) or refuses, falls back to `select` (which puts the text in the selection,
/// `None` if it cannot) and `execCommand("copy")`.
pub(super) async fn copy(text: &str, select: &dyn Fn() -> Option<()>) -> CopyState {
    if let Some(clipboard) = web_sys::window().map(|window| window.navigator().clipboard()) {
        // `clipboard` is undefined outside secure contexts although typed as present.
        if !JsValue::from(clipboard.clone()).is_undefined()
            && JsFuture::from(clipboard.write_text(text)).await.is_ok()
        {
            return CopyState::Copied;
        }
    }
    if select().is_none() {
        return CopyState::Ready;
    }
    let copied = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.dyn_into::<web_sys::HtmlDocument>().ok())
        .and_then(|document| document.exec_command("copy").ok())
        .unwrap_or(false);
    if copied {
        CopyState::Copied
    } else {
        CopyState::SelectedForCopying
    }
}

/// The browser's `navigator.share`, where it has one.
fn share_function() -> Option<js_sys::Function> {
    let navigator = web_sys::window()?.navigator();
    js_sys::Reflect::get(&navigator, &JsValue::from_str("share"))
        .ok()?
        .dyn_into()
        .ok()
}

fn can_share() -> bool {
    share_function().is_some()
}

/// Opens the system share sheet with the link. The person closing the sheet rejects
/// the promise; that is no error worth showing.
fn share(link: &str) {
    let (Some(share), Some(window)) = (share_function(), web_sys::window()) else {
        return;
    };
    let data = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&data, &"title".into(), &"Meshdrop room".into());
    let _ = js_sys::Reflect::set(&data, &"url".into(), &link.into());
    if let Ok(promise) = share.call1(&window.navigator(), &data) {
        if let Ok(promise) = promise.dyn_into::<js_sys::Promise>() {
            wasm_bindgen_futures::spawn_local(async move {
                let _ = JsFuture::from(promise).await;
            });
        }
    }
}

fn select_all() -> Callback<FocusEvent> {
    Callback::from(|event: FocusEvent| {
        let input: HtmlInputElement = event.target_unchecked_into();
        input.select();
    })
}
