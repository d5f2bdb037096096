//! Chat with everyone in the room: the log and the input line.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::state::RoomState;

#[derive(Properties, PartialEq)]
pub struct ChatPanelProps {
    pub state: UseReducerHandle<RoomState>,
    pub on_send: Callback<String>,
}

#[function_component(ChatPanel)]
pub fn chat_panel(props: &ChatPanelProps) -> Html {
    let input = use_node_ref();
    let on_submit = {
        let (input, on_send) = (input.clone(), props.on_send.clone());
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
    let state = &props.state;
    html! {
        <section class="panel chat-panel">
            <h2>{ "Chat" }</h2>
            <ol id="chat-log">
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
            <form id="chat-form" onsubmit={on_submit}>
                <input id="chat-input" ref={input} placeholder="Message everyone" autocomplete="off" maxlength="4000" />
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
