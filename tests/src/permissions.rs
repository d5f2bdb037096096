//! Granting a page a permission the way a person answering the prompt would, through
//! WebDriver's "Set Permission" command (`POST /session/{id}/permissions`, from the
//! Permissions specification; chromedriver implements it).

use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::json;

use crate::browser::Browser;
use crate::error::Result;

/// Grants `name` (`"notifications"`, `"clipboard-read"`, ...) to the origin of the page
/// the browser shows now.
pub async fn grant(browser: &Browser, name: &'static str) -> Result<()> {
    browser.client().issue_cmd(SetPermission { name }).await?;
    Ok(())
}

#[derive(Debug)]
struct SetPermission {
    name: &'static str,
}

impl WebDriverCompatibleCommand for SetPermission {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> std::result::Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/permissions"))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "descriptor": { "name": self.name }, "state": "granted" });
        (http::Method::POST, Some(body.to_string()))
    }
}
