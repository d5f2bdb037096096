//! Reaching the person while the page is out of sight: system notifications and a
//! count in the document title.
//!
//! Notifications go through the service worker's registration (`showNotification`),
//! the only way that works on Android and the one a click on them can come back through;
//! where no worker is active, through `new Notification`. Nothing is shown unless the
//! person allowed it after clicking "Notify me".

use std::cell::Cell;
use std::rc::Rc;

use gloo_events::EventListener;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Notification, NotificationOptions, NotificationPermission};

/// The title the page has when nothing is waiting.
const TITLE: &str = "Meshdrop";

/// Whether the person cannot see the page now (another tab, minimised, screen off).
pub fn page_hidden() -> bool {
    document().is_some_and(|document| document.hidden())
}

fn document() -> Option<web_sys::Document> {
    web_sys::window()?.document()
}

/// Whether this browser has notifications at all.
pub fn supported() -> bool {
    web_sys::window().is_some_and(|window| {
        js_sys::Reflect::has(&window, &JsValue::from_str("Notification")).unwrap_or(false)
    })
}

/// What the person decided so far; `Default` until they were asked.
pub fn permission() -> NotificationPermission {
    if supported() {
        Notification::permission()
    } else {
        NotificationPermission::Denied
    }
}

/// Asks the person (must run from a click) and returns their answer.
pub async fn request_permission() -> NotificationPermission {
    let Ok(asked) = Notification::request_permission() else {
        return NotificationPermission::Denied;
    };
    match JsFuture::from(asked)
        .await
        .ok()
        .and_then(|answer| answer.as_string())
    {
        Some(answer) if answer == "granted" => NotificationPermission::Granted,
        Some(answer) if answer == "default" => NotificationPermission::Default,
        _ => NotificationPermission::Denied,
    }
}

/// Shows a system notification, if the person allowed them. `tag` groups
/// notifications of one kind, so a burst of chat lines does not stack up.
pub fn show(title: String, body: String, tag: &'static str) {
    if permission() != NotificationPermission::Granted {
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        let options = NotificationOptions::new();
        options.set_body(&body);
        options.set_tag(tag);
        options.set_icon("/icon-192.png");
        if let Some(registration) = active_registration().await {
            if let Ok(shown) = registration.show_notification_with_options(&title, &options) {
                let _ = JsFuture::from(shown).await;
                return;
            }
        }
        let _ = Notification::new_with_options(&title, &options);
    });
}

/// The service worker registration controlling this page, if any.
async fn active_registration() -> Option<web_sys::ServiceWorkerRegistration> {
    let container = crate::pwa::service_workers()?;
    container.controller()?;
    let ready = container.ready().ok()?;
    JsFuture::from(ready).await.ok().map(Into::into)
}

/// Counts what arrived while the page was hidden, shows it in the title as
/// "(2) Meshdrop", and clears it when the page is seen again.
pub struct TitleCount {
    unseen: Rc<Cell<u32>>,
    _visibility: Option<EventListener>,
}

impl TitleCount {
    pub fn new() -> Self {
        let unseen = Rc::new(Cell::new(0));
        let visibility = document().map(|document| {
            let unseen = unseen.clone();
            EventListener::new(&document, "visibilitychange", move |_| {
                if !page_hidden() {
                    unseen.set(0);
                    set_title(0);
                }
            })
        });
        Self {
            unseen,
            _visibility: visibility,
        }
    }

    /// Adds `count` things the person has not seen, if the page is hidden.
    pub fn add(&self, count: u32) {
        if count == 0 || !page_hidden() {
            return;
        }
        self.unseen.set(self.unseen.get() + count);
        set_title(self.unseen.get());
    }
}

fn set_title(unseen: u32) {
    if let Some(document) = document() {
        match unseen {
            0 => document.set_title(TITLE),
            count => document.set_title(&format!("({count}) {TITLE}")),
        }
    }
}
