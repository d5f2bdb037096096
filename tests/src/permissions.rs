//! Granting a page a permission the way a person answering the prompt would, through
//! WebDriver's "Set Permission" command (`POST /session/{id}/permissions`, from the
//! Permissions specification; chromedriver implements it).

use serde_json::json;

use crate::browser::Browser;
use crate::error::Result;
use crate::session_post::SessionPost;

/// Grants `name` (`"notifications"`, `"clipboard-read"`, ...) to the origin of the page
/// the browser shows now.
pub async fn grant(browser: &Browser, name: &'static str) -> Result<()> {
    let body = json!({ "descriptor": { "name": name }, "state": "granted" });
    let command = SessionPost {
        path: "permissions",
        body,
    };
    browser.client().issue_cmd(command).await?;
    Ok(())
}
