//! Chat with everyone in the room: the log and the input line.
//!
//! On a phone the panel sits at the bottom of the screen (sticky) with the last lines
//! showing, so it is reachable without scrolling past transfers; "More" opens the log
//! taller. The log is a live region, so screen readers announce each new line.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::state::RoomState;

/// The chat panel; `input` is the chat input's, so the page can put pasted text into it.
/// A hook of the page rather than a component of its own, which costs the app more wasm
/// (and would render as often: its props changed with every state).
#[hook]
pub fn use_chat_panel(state: &RoomState, on_send: Callback<String>, input: NodeRef) -> Html {
    let expanded = use_state(|| false);
    let on_submit = {
        let input = input.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let Some(input) = input.cast::<HtmlInputElement>() else {
                return;
            };
            let text = input.value();
            if !text.trim().is_empty() {
                on_send.emit(text);
                input.set_value("");
            }
        })
    };
    let on_toggle = {
        let expanded = expanded.clone();
        Callback::from(move |_: MouseEvent| expanded.set(!*expanded))
    };
    html! {
        <section class={classes!("panel", "chat-panel", expanded.then_some("expanded"))} aria-labelledby="chat-heading">
            <div class="chat-head">
                <h2 id="chat-heading">{ "Chat" }</h2>
                <button type="button" class="chat-toggle secondary" aria-expanded={(*expanded).to_string()} onclick={on_toggle}>
                    { if *expanded { "Less" } else { "More" } }
                </button>
            </div>
            // Reversed flex keeps the newest line in view without any scrolling code.
            <div class="chat-scroll" role="log" aria-label="Chat messages" tabindex="0">
                <ol id="chat-log">
                    if state.chat.is_empty() {
                        <li class="hint">{ "Messages go to everyone in the room." }</li>
                    }
                    { for state.chat.iter().map(|line| {
                        let mine = state.self_id.as_ref() == Some(&line.from);
                        html! {
                            <li class={classes!("chat-message", mine.then_some("mine"))} data-from={line.from.to_string()}>
                                <span class="chat-sender">{ if mine { "You".to_string() } else { state.name_of(&line.from) } }</span>
                                <time class="chat-time">{ clock_time(line.sent_at_ms) }</time>
                                <span class="chat-text">{ &line.text }</span>
                            </li>
                        }
                    }) }
                </ol>
            </div>
            <form id="chat-form" onsubmit={on_submit}>
                <input id="chat-input" ref={input} placeholder="Message everyone" aria-label="Message everyone"
                    autocomplete="off" maxlength="4000" />
                <button type="submit">{ "Send" }</button>
            </form>
        </section>
    }
}

/// "14:05" in the viewer's time zone.
fn clock_time(ms: f64) -> String {
    let date = js_sys::Date::new(&ms.into());
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}
