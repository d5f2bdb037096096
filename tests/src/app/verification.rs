//! The part of the app's UI contract that says who the peers are:
//!
//! * each `#peers li.peer` has `[data-fingerprint]` (the peer's DTLS fingerprint, once its
//!   link is up), `[data-trust]` (`verified` | `unverified` | `name-of-verified`) and
//!   `[data-safety-number]` (the safety number's seven words, comma-separated, once both ends agreed),
//!   and a `details.verify` with `button.mark-verified` / `button.forget-device`;
//! * `#pair-show-code` and `#pair-form` (`#pair-code-input`, `#pair-join`,
//!   `#pair-problem` for a code that does not parse) inside the "Invite a device" panel;
//! * in a meeting place, `#pairing[data-state]` (`waiting` | `paired` | `failed`) with
//!   `#pairing-code` (on the page that made the code), `#pairing-qr[data-link]`,
//!   `#pairing-error` and `#remember-device`;
//! * `#auto-accept`, a checkbox, once a device is verified.

use serde::Deserialize;

use super::{App, UI_TIMEOUT};
use crate::error::Result;
use crate::wait::{self, Probe};

const VERIFICATION_SCRIPT: &str = r##"
const text = (selector) => document.querySelector(selector)?.textContent ?? "";
return {
  peers: [...document.querySelectorAll("#peers li.peer")].map((li) => ({
    id: li.dataset.peerId ?? "",
    name: li.querySelector(".peer-name")?.textContent ?? "",
    state: li.dataset.state ?? "",
    fingerprint: li.dataset.fingerprint ?? "",
    trust: li.dataset.trust ?? "",
    safety_number: li.dataset.safetyNumber ?? "",
  })),
  pairing: document.querySelector("#pairing")?.dataset.state ?? "",
  code: text("#pairing-code"),
  code_link: document.querySelector("#pairing-qr")?.dataset.link ?? "",
  error: text("#pairing-error") || text("#pair-problem"),
  server_error: text("p.error[role=alert]"),
  device_fingerprint: document.body?.dataset.deviceFingerprint ?? "",
};
"##;

/// Opens the peer's verification panel and clicks one of its buttons.
const TRUST_BUTTON_SCRIPT: &str = r##"
const tile = document.querySelector(`#peers li.peer[data-peer-id="${arguments[0]}"]`);
const details = tile?.querySelector("details.verify");
const button = details?.querySelector(arguments[1]);
if (!button) return false;
details.open = true;
button.click();
return true;
"##;

/// Clicks "Show a code" (in the invite panel, which folds away once a device is here).
const SHOW_CODE_SCRIPT: &str = r##"
const button = document.querySelector("#pair-show-code");
button?.click();
return button != null;
"##;

/// Ticks or clears "Accept files from verified devices without asking".
const AUTO_ACCEPT_SCRIPT: &str = r##"
const box = document.querySelector("#auto-accept");
if (!box) return null;
const was = box.checked;
if (box.checked !== arguments[0]) box.click();
return was;
"##;

/// Types a code into "Pair with a code" and submits it, as Enter would.
const ENTER_CODE_SCRIPT: &str = r##"
const form = document.querySelector("#pair-form");
if (!form) return false;
form.querySelector("#pair-code-input").value = arguments[0];
form.requestSubmit();
return true;
"##;

/// Who the peers are, as the page shows it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Verification {
    pub peers: Vec<PeerVerification>,
    /// `#pairing[data-state]`; empty outside a meeting place.
    pub pairing: String,
    /// The code the page shows, on the page that made it.
    pub code: String,
    /// The link in the code's QR code.
    pub code_link: String,
    /// Why pairing failed, or why a typed code was refused.
    pub error: String,
    /// The server's last refusal, as shown.
    pub server_error: String,
    pub device_fingerprint: String,
}

/// One peer tile's verification attributes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PeerVerification {
    pub id: String,
    pub name: String,
    pub state: String,
    pub fingerprint: String,
    pub trust: String,
    pub safety_number: String,
}

impl Verification {
    pub fn peer(&self, id: &str) -> Option<&PeerVerification> {
        self.peers.iter().find(|peer| peer.id == id)
    }
}

impl App {
    /// Reads who the peers are, once.
    pub async fn verification(&self) -> Result<Verification> {
        self.browser
            .run("the verification state", VERIFICATION_SCRIPT, vec![])
            .await
    }

    /// Waits until `check` accepts the verification state.
    pub async fn wait_for_verification<T>(
        &self,
        what: &str,
        check: impl Fn(&Verification) -> Option<T>,
    ) -> Result<T> {
        let what = format!("{} to show {what}", self.label);
        wait::until(what, UI_TIMEOUT, || async {
            // A snapshot first: it fails at once if the app stopped.
            self.snapshot().await?;
            let seen = self.verification().await?;
            Ok(match check(&seen) {
                Some(value) => Probe::Ready(value),
                None => Probe::NotYet(format!("{seen:#?}")),
            })
        })
        .await
    }

    /// The safety number shown for `peer`, once both ends agreed on one.
    pub async fn wait_for_safety_number(&self, peer: &str) -> Result<String> {
        self.wait_for_verification(&format!("a safety number for {peer}"), |seen| {
            let number = &seen.peer(peer)?.safety_number;
            (!number.is_empty()).then(|| number.clone())
        })
        .await
    }

    /// Waits until `peer`'s tile says `trust` (`verified`, `unverified`,
    /// `name-of-verified`).
    pub async fn wait_for_trust(&self, peer: &str, trust: &str) -> Result<PeerVerification> {
        self.wait_for_verification(&format!("{peer} as {trust}"), |seen| {
            seen.peer(peer).filter(|p| p.trust == trust).cloned()
        })
        .await
    }

    /// Clicks "They match: mark verified" on `peer`'s tile.
    pub async fn mark_verified(&self, peer: &str) -> Result<()> {
        self.click_trust_button(peer, "button.mark-verified")
            .await?;
        self.wait_for_trust(peer, "verified").await.map(drop)
    }

    async fn click_trust_button(&self, peer: &str, button: &str) -> Result<()> {
        self.run_until_done(
            "clicking a verification button",
            TRUST_BUTTON_SCRIPT,
            vec![peer.into(), button.into()],
        )
        .await
    }

    /// Clicks "Show a code" and returns the code the page then shows (in its meeting
    /// place, after the reload that takes it there).
    pub async fn show_pairing_code(&self) -> Result<String> {
        self.run_until_done("clicking \"Show a code\"", SHOW_CODE_SCRIPT, vec![])
            .await?;
        self.wait_for_verification("a pairing code", |seen| {
            (!seen.code.is_empty()).then(|| seen.code.clone())
        })
        .await
    }

    /// Types `code` into "Pair with a code" and submits it.
    pub async fn enter_pairing_code(&self, code: &str) -> Result<()> {
        self.run_until_done(
            "entering a pairing code",
            ENTER_CODE_SCRIPT,
            vec![code.into()],
        )
        .await
    }

    /// Waits until `#pairing[data-state]` is `state`.
    pub async fn wait_for_pairing(&self, state: &str) -> Result<Verification> {
        self.wait_for_verification(&format!("pairing {state}"), |seen| {
            (seen.pairing == state).then(|| seen.clone())
        })
        .await
    }

    /// Sets "Accept files from verified devices without asking" to `on`, once the page
    /// offers it; returns what it was before.
    pub async fn set_auto_accept(&self, on: bool) -> Result<bool> {
        let what = format!("{}: the auto-accept setting", self.label);
        wait::until(what, UI_TIMEOUT, || async {
            let was: Option<bool> = self
                .browser
                .run("setting auto-accept", AUTO_ACCEPT_SCRIPT, vec![on.into()])
                .await?;
            Ok(match was {
                Some(was) => Probe::Ready(was),
                None => Probe::NotYet("no #auto-accept yet".into()),
            })
        })
        .await
    }

    /// Clicks "Remember this device" after a pairing.
    pub async fn remember_paired_device(&self) -> Result<()> {
        self.find("#remember-device").await?.click().await?;
        Ok(())
    }

    /// Runs `script` until it returns `true` (once what it acts on is on the page).
    async fn run_until_done(
        &self,
        what: &'static str,
        script: &'static str,
        args: Vec<serde_json::Value>,
    ) -> Result<()> {
        wait::until(format!("{}: {what}", self.label), UI_TIMEOUT, || async {
            let done: bool = self.browser.run(what, script, args.clone()).await?;
            Ok(if done {
                Probe::Ready(())
            } else {
                Probe::NotYet("not on the page yet".into())
            })
        })
        .await
    }
}
