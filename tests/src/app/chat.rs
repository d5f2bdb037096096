//! Driving the chat beyond a line to everyone: a line to one peer, many lines at once,
//! the line buttons, "Show earlier lines", "Clear history".

use fantoccini::Locator;
use serde_json::json;

use super::{App, ChatEntry};
use crate::error::Result;

/// Clicks `arguments[1]` in the chat line whose text starts with `arguments[0]`; throws
/// (and so fails the command) if there is none.
const CLICK_IN_LINE: &str = r##"
const line = [...document.querySelectorAll("#chat-log .chat-message")]
  .find((li) => li.querySelector(".chat-text").textContent.startsWith(arguments[0]));
if (!line) throw new Error(`no chat line starts with ${JSON.stringify(arguments[0])}`);
line.querySelector(arguments[1]).click();
return null;
"##;

/// Sends each of `arguments[0]` through the chat form, as fast as a script can.
const SEND_LINES: &str = r##"
const input = document.querySelector("#chat-input");
const form = document.querySelector("#chat-form");
for (const text of arguments[0]) {
  input.value = text;
  form.requestSubmit();
}
return null;
"##;

impl App {
    /// Picks `peer` (a peer id) in "Write to", types `text` and presses Enter; then
    /// picks everyone again.
    pub async fn send_private_chat(&self, peer: &str, text: &str) -> Result<()> {
        self.pick_chat_recipient(peer).await?;
        self.send_chat(text).await?;
        self.pick_chat_recipient("").await
    }

    /// Selects `value` in `#chat-to`: a peer id, or `""` for everyone.
    async fn pick_chat_recipient(&self, value: &str) -> Result<()> {
        let select = self.browser.client().find(Locator::Css("#chat-to")).await?;
        select.select_by_value(value).await?;
        Ok(())
    }

    /// Sends `texts` to everyone, one line each, all at once.
    pub async fn send_chat_lines(&self, texts: &[String]) -> Result<()> {
        self.browser
            .run("sending chat lines", SEND_LINES, vec![json!(texts)])
            .await
    }

    /// The text of the "Show earlier lines" button, if the log has one.
    pub async fn earlier_chat_button(&self) -> Result<Option<String>> {
        self.browser
            .run(
                "reading the earlier lines button",
                "return document.querySelector('#chat-earlier')?.textContent ?? null",
                vec![],
            )
            .await
    }

    /// Scrolls the log to its top and clicks "Show earlier lines", as a person would.
    pub async fn show_earlier_chat(&self) -> Result<()> {
        self.browser
            .run::<()>(
                "scrolling to the earlier lines button",
                "document.querySelector('#chat-earlier').scrollIntoView({ block: 'center' })",
                vec![],
            )
            .await?;
        self.click("#chat-earlier").await
    }

    /// Clicks "Clear history".
    pub async fn clear_chat(&self) -> Result<()> {
        self.click("#clear-chat").await
    }

    /// Clicks the Copy button of the line showing `text`; returns the line once the
    /// page says what the button did, and the page's selection then.
    pub async fn copy_chat_line(&self, text: &str) -> Result<(ChatEntry, String)> {
        self.click_in_line(text, "button.copy-line").await?;
        let entry = self
            .wait_for("the line copied", |s| {
                s.chat
                    .iter()
                    .find(|entry| entry.text == text && !entry.copy_state.is_empty())
                    .cloned()
            })
            .await?;
        let selected = self
            .browser
            .run(
                "reading the selection",
                "return String(getSelection() ?? '')",
                vec![],
            )
            .await?;
        Ok((entry, selected))
    }

    /// Clicks "Show more" on the line whose text starts with `start`.
    pub async fn unfold_chat_line(&self, start: &str) -> Result<()> {
        self.click_in_line(start, "button.show-more").await
    }

    async fn click_in_line(&self, start: &str, button: &str) -> Result<()> {
        self.browser
            .run(
                "clicking in a chat line",
                CLICK_IN_LINE,
                vec![json!(start), json!(button)],
            )
            .await
    }
}
