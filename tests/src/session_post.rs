//! WebDriver commands fantoccini has no method for: a POST of a JSON body to a path under
//! the session, such as the Permissions specification's `permissions` or chromedriver's
//! `goog/cdp/execute`.

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::Client;
use serde_json::{json, Value};

use crate::error::Result;

#[derive(Debug)]
pub(crate) struct SessionPost {
    /// Under `session/{id}/`.
    pub path: &'static str,
    pub body: Value,
}

impl WebDriverCompatibleCommand for SessionPost {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> std::result::Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/{}", self.path))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

/// Runs DevTools protocol command `cmd` in the page `client` drives; returns its result.
pub(crate) async fn cdp(client: &Client, cmd: &'static str, params: Value) -> Result<Value> {
    let command = SessionPost {
        path: "goog/cdp/execute",
        body: json!({ "cmd": cmd, "params": params }),
    };
    Ok(client.issue_cmd(command).await?)
}
