//! Driving the chat beyond a line to everyone: a line to one peer, the line buttons,
//! "Clear history".

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
