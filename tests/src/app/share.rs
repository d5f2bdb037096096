//! The parts of the app's UI contract that get people into the room and bring them back:
//! the share panel (`#room-qr`, `#room-link`, `#copy-link[data-state]`), notifications
//! (`#notify-me[data-permission]`), the service worker, and files shared to the app
//! (`#shared-files` with `.shared-file` items and `button.send-shared[data-peer-id]`).

use serde::Deserialize;

use super::{App, UI_TIMEOUT};
use crate::error::Result;
use crate::files::TestFile;
use crate::wait::{self, Probe};

/// Whether the service worker controls the page and has the built wasm cached.
const OFFLINE_READY_SCRIPT: &str = r##"
if (!navigator.serviceWorker) return false;
return (async () => {
  await navigator.serviceWorker.ready;
  const cache = await caches.open("meshdrop-shell");
  const cached = (await cache.keys()).map((request) => request.url);
  return navigator.serviceWorker.controller !== null && cached.some((url) => url.endsWith(".wasm"));
})();
"##;

/// Opens another tab in front of the page, as switching tabs would; the handle is kept
/// so that [`App::bring_to_front`] can close it.
const COVER_SCRIPT: &str = r#"window.meshdropTestCover = window.open("about:blank", "_blank");"#;
const UNCOVER_SCRIPT: &str = r#"window.meshdropTestCover?.close();"#;

/// Records each notification the page has the service worker's registration show, once the
/// browser accepted it (`showNotification` resolved). Reading them back with
/// `getNotifications()` is not reliable in headless Chromium: on a loaded machine it drops a
/// notification it accepted (4 runs in 8 with the two cores busy), so the test watches the
/// page's call instead, which still goes through to the browser.
const RECORD_NOTIFICATIONS_SCRIPT: &str = r##"
if (!window.meshdropTestShown) {
  window.meshdropTestShown = [];
  const show = ServiceWorkerRegistration.prototype.showNotification;
  ServiceWorkerRegistration.prototype.showNotification = function (title, options = {}) {
    return show.call(this, title, options).then((value) => {
      window.meshdropTestShown.push({ title, body: options.body ?? "", tag: options.tag ?? "" });
      return value;
    });
  };
}
"##;

const NOTIFICATIONS_SCRIPT: &str = "return window.meshdropTestShown ?? [];";

/// A form posting to the manifest's `share_target`, as the system's share sheet does.
const SHARE_FORM_SCRIPT: &str = r##"
const form = document.createElement("form");
form.id = "test-share-sheet";
form.method = "post";
form.enctype = "multipart/form-data";
form.action = "/share-target";
const input = document.createElement("input");
input.type = "file";
input.name = "files";
input.multiple = true;
form.append(input);
document.body.append(form);
"##;

const SHARED_FILES_SCRIPT: &str = r##"
return [...document.querySelectorAll("#shared-files .shared-file")].map((li) => li.textContent);
"##;

/// A notification the page had the service worker show.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Notification {
    pub title: String,
    pub body: String,
    pub tag: String,
}

impl App {
    /// A PNG of the QR code as the page draws it.
    pub async fn room_qr_png(&self) -> Result<Vec<u8>> {
        let qr = self.find("#room-qr").await?;
        Ok(qr.screenshot().await?)
    }

    /// The room link the page shows in its link field.
    pub async fn room_link(&self) -> Result<String> {
        let link = self.find("#room-link").await?;
        Ok(link.prop("value").await?.unwrap_or_default())
    }

    /// Clicks "Copy link" and waits until the button says it copied.
    pub async fn copy_link(&self) -> Result<()> {
        self.find("#copy-link").await?.click().await?;
        self.wait_for_attribute("#copy-link", "data-state", "copied")
            .await
    }

    /// The text on the clipboard, read by the page (needs `clipboard-read`).
    pub async fn clipboard_text(&self) -> Result<String> {
        self.browser
            .run(
                "reading the clipboard",
                "return navigator.clipboard.readText();",
                vec![],
            )
            .await
    }

    /// Clicks "Notify me" and waits until the page says notifications are on; from then on
    /// the notifications the page shows are recorded for [`wait_for_notification`].
    ///
    /// [`wait_for_notification`]: Self::wait_for_notification
    pub async fn turn_notifications_on(&self) -> Result<()> {
        self.browser
            .run::<()>(
                "recording notifications",
                RECORD_NOTIFICATIONS_SCRIPT,
                vec![],
            )
            .await?;
        self.find("#notify-me").await?.click().await?;
        self.wait_for_attribute("#notify-me", "data-permission", "granted")
            .await
    }

    /// Waits until the service worker controls the page and could serve it offline.
    pub async fn wait_until_offline_ready(&self) -> Result<()> {
        let what = format!("{}'s service worker to have the app cached", self.label);
        wait::until(what, UI_TIMEOUT, || async {
            let ready: bool = self
                .browser
                .run("checking the service worker", OFFLINE_READY_SCRIPT, vec![])
                .await?;
            Ok(if ready {
                Probe::Ready(())
            } else {
                Probe::NotYet("not controlled or nothing cached".into())
            })
        })
        .await
    }

    /// Opens another tab in front of the page and waits until the page is hidden.
    pub async fn cover_with_another_tab(&self) -> Result<()> {
        self.browser
            .run::<()>("opening a tab", COVER_SCRIPT, vec![])
            .await?;
        self.wait_for_visibility("hidden").await
    }

    /// Closes the tab [`cover_with_another_tab`](Self::cover_with_another_tab) opened and
    /// waits until the page is visible again.
    pub async fn bring_to_front(&self) -> Result<()> {
        self.browser
            .run::<()>("closing the tab", UNCOVER_SCRIPT, vec![])
            .await?;
        self.wait_for_visibility("visible").await
    }

    async fn wait_for_visibility(&self, state: &str) -> Result<()> {
        let what = format!("{}'s page to be {state}", self.label);
        wait::until(what, UI_TIMEOUT, || async {
            let seen: String = self
                .browser
                .run(
                    "reading the visibility",
                    "return document.visibilityState;",
                    vec![],
                )
                .await?;
            Ok(if seen == state {
                Probe::Ready(())
            } else {
                Probe::NotYet(seen)
            })
        })
        .await
    }

    /// The document title.
    pub async fn title(&self) -> Result<String> {
        Ok(self.browser.client().title().await?)
    }

    /// Waits until the document title is `title`.
    pub async fn wait_for_title(&self, title: &str) -> Result<()> {
        let what = format!("{}'s title to be {title:?}", self.label);
        wait::until(what, UI_TIMEOUT, || async {
            let seen = self.title().await?;
            Ok(if seen == title {
                Probe::Ready(())
            } else {
                Probe::NotYet(seen)
            })
        })
        .await
    }

    /// Waits until the page had its service worker's registration show a notification
    /// accepted by `check`.
    pub async fn wait_for_notification(
        &self,
        what: &str,
        check: impl Fn(&Notification) -> bool,
    ) -> Result<Notification> {
        let what = format!("{} to be notified of {what}", self.label);
        wait::until(what, UI_TIMEOUT, || async {
            let shown: Vec<Notification> = self
                .browser
                .run("reading the notifications", NOTIFICATIONS_SCRIPT, vec![])
                .await?;
            Ok(match shown.iter().find(|shown| check(shown)) {
                Some(found) => Probe::Ready(found.clone()),
                None => Probe::NotYet(format!("{shown:#?}")),
            })
        })
        .await
    }

    /// Shares `files` to the app as another app would through the system's share sheet:
    /// a multipart POST of the files to the manifest's `share_target`, which navigates.
    pub async fn share_to_app(&self, files: &[&TestFile]) -> Result<()> {
        self.browser
            .run::<()>("adding a share form", SHARE_FORM_SCRIPT, vec![])
            .await?;
        let paths: Vec<String> = files
            .iter()
            .map(|file| file.path().display().to_string())
            .collect();
        self.find("#test-share-sheet input")
            .await?
            .send_keys(&paths.join("\n"))
            .await?;
        self.browser
            .run(
                "posting the share form",
                r##"document.querySelector("#test-share-sheet").submit();"##,
                vec![],
            )
            .await
    }

    /// Waits until the page lists exactly `names` as shared files ready to send.
    pub async fn wait_for_shared_files(&self, names: &[&str]) -> Result<()> {
        let what = format!("{} to show {names:?} ready to send", self.label);
        wait::until(what, UI_TIMEOUT, || async {
            let shown: Vec<String> = self
                .browser
                .run("reading the shared files", SHARED_FILES_SCRIPT, vec![])
                .await?;
            Ok(
                if shown.iter().map(String::as_str).eq(names.iter().copied()) {
                    Probe::Ready(())
                } else {
                    Probe::NotYet(format!("{shown:?}"))
                },
            )
        })
        .await
    }

    /// Sends the shared files to `peer` with its button, once the button is there.
    pub async fn send_shared_files_to(&self, peer: &str) -> Result<()> {
        let selector = format!(r#"#shared-files button.send-shared[data-peer-id="{peer}"]"#);
        self.find(&selector).await?.click().await?;
        Ok(())
    }

    /// Waits until the element at `selector` has attribute `name` = `value`. Read in
    /// one script call: the element may be replaced between two WebDriver calls (a button
    /// that becomes a label once clicked), which would leave a found element stale.
    async fn wait_for_attribute(&self, selector: &str, name: &str, value: &str) -> Result<()> {
        let what = format!("{} to show {selector}[{name}={value:?}]", self.label);
        wait::until(what, UI_TIMEOUT, || async {
            let seen: Option<String> = self
                .browser
                .run(
                    "reading an attribute",
                    "return document.querySelector(arguments[0])?.getAttribute(arguments[1]) ?? null;",
                    vec![selector.into(), name.into()],
                )
                .await?;
            Ok(if seen.as_deref() == Some(value) {
                Probe::Ready(())
            } else {
                Probe::NotYet(format!("{seen:?}"))
            })
        })
        .await
    }
}
