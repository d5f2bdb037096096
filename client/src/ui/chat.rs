//! Chat: the log, kept on this device, and the input line, to everyone or to one peer.
//!
//! On a phone the panel sits at the bottom of the screen (sticky) with the last lines
//! showing, so it is reachable without scrolling past transfers; "More" opens the log
//! taller. The log is a live region, so screen readers announce each new line.
//!
//! Every line is text, never markup: Yew sets it as text nodes, and the links in it
//! (`meshdrop_chat::links`: `http`, `https` and `mailto` only) as the `href` of an `a`
//! that opens apart from the page (`rel="noopener noreferrer"`). Each line has a Copy
//! button, and a long one is folded behind "Show more": one click listener on the log
//! serves them all, and marks the line (`data-unfolded`) or button (`data-state`) with
//! attributes Yew does not render, so a later render keeps them. Our own lines say who
//! has them.

use meshdrop_chat::links::{self, Segment};
use meshdrop_chat::Line;
use meshdrop_protocol::PeerId;
use web_sys::{Element, HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::share::copy;
use super::state::RoomState;

/// Lines longer than this, in bytes, or of more than [`FOLD_LINES`] lines, are folded
/// behind "Show more". (Bytes and newlines: cheaper to count in wasm than characters.)
const FOLD_BYTES: usize = 400;
const FOLD_LINES: usize = 6;

/// The chat panel, with the newest [`RoomState::chat_shown`] lines; `input` is the chat
/// input's, so the page can put pasted text into it. A plain function of the page's
/// state: no hooks and no component of its own, which would cost the app more wasm.
pub fn chat_panel(
    state: &RoomState,
    on_send: Callback<(String, Option<PeerId>)>,
    on_clear: Callback<()>,
    on_write_to: Callback<Option<PeerId>>,
    on_earlier: Callback<MouseEvent>,
    input: NodeRef,
) -> Html {
    let earlier = state.chat.len().saturating_sub(state.chat_shown);
    // Whom the next line goes to, kept in the page's state: the select shows what it
    // says, whatever peers come and go (the browser alone would keep the selection on
    // whichever option came to sit where the chosen one was).
    let on_pick = Callback::from(move |event: Event| {
        let picked = event.target_dyn_into::<HtmlSelectElement>();
        on_write_to.emit(picked.and_then(|select| PeerId::new(select.value()).ok()));
    });
    // A peer written to that left: back to everyone.
    let private_to = state
        .chat_to
        .clone()
        .filter(|peer| state.peers.iter().any(|(id, _)| id == peer));
    let on_submit = {
        let (input, private_to) = (input.clone(), private_to.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let Some(input) = input.cast::<HtmlInputElement>() else {
                return;
            };
            let text = input.value();
            if !text.trim().is_empty() {
                on_send.emit((text, private_to.clone()));
                input.set_value("");
            }
        })
    };

    html! {
        <section class="panel chat-panel" aria-labelledby="chat-heading">
            <div class="chat-head">
                <h2 id="chat-heading">{ "Chat" }</h2>
                if !state.chat.is_empty() {
                    <button type="button" id="clear-chat" class="secondary" onclick={on_clear.reform(|_| ())}>{ "Clear history" }</button>
                }
                <button type="button" class="chat-toggle secondary" aria-expanded="false" onclick={Callback::from(toggle_log)}>
                    <span class="when-folded">{ "More" }</span><span class="when-expanded">{ "Less" }</span>
                </button>
            </div>
            // Reversed flex keeps the newest line in view without any scrolling code.
            <div class="chat-scroll" role="log" aria-label="Chat messages" tabindex="0">
                <ol id="chat-log" onclick={Callback::from(on_line_click)}>
                    if state.chat.is_empty() {
                        <li class="hint">{ "Messages go to everyone in the room, or to the one device you pick. They are kept on this device only." }</li>
                    }
                    if earlier > 0 {
                        <li class="hint"><button type="button" id="chat-earlier" class="link-button" onclick={on_earlier}>{ format!("Show earlier lines ({earlier})") }</button></li>
                    }
                    { for state.chat[earlier..].iter().map(|line| chat_line(state, line)) }
                </ol>
            </div>
            <form id="chat-form" onsubmit={on_submit}>
                <select id="chat-to" aria-label="Write to" onchange={on_pick}>
                    <option value="" selected={private_to.is_none()}>{ "Everyone" }</option>
                    { for state.peers.iter().map(|(id, peer)| html! {
                        <option key={id.to_string()} value={id.to_string()} selected={private_to.as_ref() == Some(id)}>{ &peer.name }</option>
                    }) }
                </select>
                <input id="chat-input" ref={input} placeholder="Message" aria-label="Message"
                    autocomplete="off" maxlength="4000" />
                <button type="submit">{ "Send" }</button>
            </form>
        </section>
    }
}

/// One line of the log.
fn chat_line(state: &RoomState, line: &Line) -> Html {
    let newlines = line.text.bytes().filter(|byte| *byte == b'\n').count();
    let long = line.text.len() > FOLD_BYTES || newlines >= FOLD_LINES;
    let class = super::class_names(&[
        Some("chat-message"),
        line.mine.then_some("mine"),
        line.is_private().then_some("private"),
        line.earlier.then_some("earlier"),
    ]);
    let sender = if line.mine {
        "You".to_owned()
    } else {
        line.name.clone()
    };
    let private = line.to.as_ref().map(|to| match line.mine {
        true => format!("private, to {}", state.name_of(to)),
        false => "private, to you".to_owned(),
    });
    let mut time = clock_time(line.sent_at_ms);
    if line.earlier {
        time.push_str(" · earlier");
    }
    html! {
        <li {class} data-from={line.from.to_string()} data-id={line.id.clone()}
            data-private={if line.is_private() { "true" } else { "false" }}
            data-earlier={if line.earlier { "true" } else { "false" }}>
            <span class="chat-sender">{ sender }</span>
            <time class="chat-time">{ time }</time>
            if let Some(private) = private {
                <span class="chat-private">{ private }</span>
            }
            <span class={if long { "chat-text folded" } else { "chat-text" }}>{ for links::segments(&line.text).into_iter().map(segment) }</span>
            <span class="chat-actions">
                if long {
                    <button type="button" class="show-more link-button">{ "Show more" }</button>
                }
                <button type="button" class="copy-line link-button">{ "Copy" }</button>
            </span>
            if line.mine {
                { marks(state, line) }
            }
        </li>
    }
}

fn segment(segment: Segment<'_>) -> Html {
    match segment {
        Segment::Text(text) => html! { text },
        Segment::Link(link) => html! {
            <a href={link.to_owned()} target="_blank" rel="noopener noreferrer">{ link }</a>
        },
    }
}

/// Who has our line: peer ids in `data-delivered` and `data-pending`, and in words:
/// "✓ Bob, Cy", "✓ Bob · waiting for Cy".
fn marks(state: &RoomState, line: &Line) -> Html {
    // [delivered, pending]: peer ids, and names in words.
    let mut ids = [String::new(), String::new()];
    let mut words = [String::from("✓"), String::from("waiting for")];
    for receipt in &line.receipts {
        let side = usize::from(!receipt.delivered);
        let separator = if ids[side].is_empty() { " " } else { ", " };
        words[side] += separator;
        words[side] += &state.name_of(&receipt.peer);
        if !ids[side].is_empty() {
            ids[side].push(' ');
        }
        ids[side] += receipt.peer.as_str();
    }
    let shown: Vec<&str> = (0..2)
        .filter(|side| !ids[*side].is_empty())
        .map(|side| words[side].as_str())
        .collect();
    let words = if shown.is_empty() {
        "Nobody else was here".to_owned()
    } else {
        shown.join(" · ")
    };
    let [delivered, pending] = ids;
    html! {
        <span class="chat-marks" data-delivered={delivered} data-pending={pending}>{ words }</span>
    }
}

/// "More" opens the log taller (on a phone), "Less" back. The panel and button carry
/// it in attributes Yew does not render (`data-expanded`) or renders only once
/// (`aria-expanded`), so no state of the page's changes.
fn toggle_log(event: MouseEvent) {
    let Some((button, panel)) = clicked(&event, "section") else {
        return;
    };
    let expanded = panel.has_attribute("data-expanded");
    let _ = match expanded {
        true => panel.remove_attribute("data-expanded"),
        false => panel.set_attribute("data-expanded", ""),
    };
    let _ = button.set_attribute("aria-expanded", if expanded { "false" } else { "true" });
}

/// The buttons of a line: "Show more" unfolds it, "Copy" copies its text.
fn on_line_click(event: MouseEvent) {
    let Some((button, line)) = clicked(&event, "li") else {
        return;
    };
    let Ok(Some(text)) = line.query_selector(".chat-text") else {
        return;
    };
    if button.class_name().contains("show-more") {
        let _ = line.set_attribute("data-unfolded", "");
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        let content = text.text_content().unwrap_or_default();
        let select = || {
            let selection = web_sys::window()?.get_selection().ok()??;
            selection.select_all_children(&text).ok()
        };
        let state = copy(&content, &select).await;
        let _ = button.set_attribute("data-state", state.name());
    });
}

/// The button `event` clicked, and the closest `container` around it.
fn clicked(event: &MouseEvent, container: &str) -> Option<(Element, Element)> {
    let button = event
        .target_dyn_into::<Element>()?
        .closest("button")
        .ok()??;
    let around = button.closest(container).ok()??;
    Some((button, around))
}

/// "14:05" in the viewer's time zone.
fn clock_time(ms: u64) -> String {
    let date = js_sys::Date::new(&(ms as f64).into());
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}
