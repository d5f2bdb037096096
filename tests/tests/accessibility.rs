//! Accessibility, checked by axe-core in real Chromium, light and dark, on a phone-size
//! page that shows everything at once: devices, an offer, a finished transfer, chat.
//! The light run also takes the README's screenshot (docs/screenshot.png).
//!
//! Needs axe-core in `.tools/node_modules` (`cargo xtask test` installs it) and the web
//! app in `dist/`.

use std::path::{Path, PathBuf};

use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::room::{connected_and_named, join, welcomed, Peer};
use meshdrop_e2e::{
    run_in, App, Error, Launch, NetNs, Recipient, Result, ServesApp, SignalingServer, TestFile,
    TransferButton, PHONE_SCREEN,
};
use serde::Deserialize;
use serde_json::json;

const AXE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../.tools/node_modules/axe-core/axe.min.js"
);
const SCREENSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/screenshot.png");

/// An Android phone's Chrome, so that the phone's page shows itself, and its peers show
/// it, as the phone it pretends to be.
const PHONE_USER_AGENT: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";

/// Runs axe-core on the whole page and returns its violations.
const AXE_RUN: &str = r#"
const [source] = arguments;
if (!window.axe) (0, eval)(source);
return axe.run(document, { resultTypes: ["violations"] }).then((results) =>
  results.violations.map((violation) => ({
    id: violation.id,
    impact: violation.impact ?? "",
    help: violation.help,
    targets: violation.nodes.map((node) => node.target.join(" ") + ": " + node.failureSummary),
  })));
"#;

/// Every control the Tab key reaches (enabled, in the tab order and rendered: Tab skips
/// what `display: none` hides), with whether a person can see it.
const TAB_STOPS: &str = r#"
const focusable = "a[href], button, input, select, textarea, summary, [tabindex]";
return [...document.querySelectorAll(focusable)]
  .filter((element) => !element.disabled && element.tabIndex >= 0 && element.checkVisibility())
  .map((element) => {
    const box = element.getBoundingClientRect();
    const style = getComputedStyle(element);
    return {
      what: element.outerHTML.slice(0, 120),
      visible: box.width >= 8 && box.height >= 8 && style.opacity !== "0" && style.visibility !== "hidden",
    };
  });
"#;

#[derive(Debug, Deserialize)]
struct Violation {
    id: String,
    impact: String,
    help: String,
    targets: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct TabStop {
    what: String,
    visible: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Light,
    Dark,
}

#[test]
fn a_full_page_passes_axe_in_light_mode_and_makes_the_screenshot() -> Result<()> {
    check_full_page(Scheme::Light)
}

#[test]
fn a_full_page_passes_axe_in_dark_mode() -> Result<()> {
    check_full_page(Scheme::Dark)
}

fn check_full_page(scheme: Scheme) -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let axe = std::fs::read_to_string(AXE).map_err(Error::io(
            "read axe-core (cargo xtask test installs it into .tools)",
        ))?;
        let server = SignalingServer::start().await?;
        let room = "accessibility";
        let launch = Launch::local().phone().user_agent(PHONE_USER_AGENT);
        let launch = match scheme {
            Scheme::Light => launch,
            Scheme::Dark => launch.dark(),
        };
        let phone = App::open(launch.start().await?, &server.room_url(room), "Maya").await;
        let mut peers = vec![welcomed(phone?).await?];
        peers.extend(join(&server, room, &["Leo", "Sam"]).await?);
        let peers = connected_and_named(peers).await?;
        let (maya, leo, sam) = (&peers[0], &peers[1], &peers[2]);

        assert_page_is(&maya.0, scheme).await?;
        leo.0
            .wait_for(&format!("{} as a phone", maya.0.label()), |s| {
                s.peers
                    .iter()
                    .any(|peer| peer.id == maya.1 && peer.device == "Chrome on Android")
                    .then_some(())
            })
            .await?;

        let dir = scratch_dir()?;
        let report = TestFile::random(dir.path(), "Trip budget.xlsx", 48 * 1024)?;
        let photos = TestFile::random(dir.path(), "Beach day.jpg", 3 * 1024 * 1024)?;
        send_and_finish(maya, sam, &report).await?;
        leo.0
            .send_files(Recipient::Peer(&maya.1), &[&photos])
            .await?;
        maya.0.wait_for_offer(&leo.1, &[&photos]).await?;
        leo.0.send_chat("Here are the photos from Saturday").await?;
        maya.0
            .wait_for_chat(&leo.1, "Here are the photos from Saturday")
            .await?;
        maya.0
            .send_chat("Thanks! Sending the budget to Sam")
            .await?;
        maya.0
            .wait_for_chat(&maya.1, "Thanks! Sending the budget to Sam")
            .await?;

        let stops: Vec<TabStop> = maya
            .0
            .browser()
            .run("listing the tab stops", TAB_STOPS, vec![])
            .await?;
        let hidden: Vec<&str> = stops
            .iter()
            .filter(|stop| !stop.visible)
            .map(|stop| stop.what.as_str())
            .collect();
        assert!(
            hidden.is_empty(),
            "Tab reaches only what people can see; it also reaches {hidden:#?}"
        );

        if scheme == Scheme::Light {
            save_screenshot(&maya.0, Path::new(SCREENSHOT)).await?;
        }

        let violations: Vec<Violation> = maya
            .0
            .browser()
            .run("running axe-core", AXE_RUN, vec![json!(axe)])
            .await?;
        for violation in &violations {
            println!(
                "axe ({scheme:?}): {} [{}] {}\n  {}",
                violation.id,
                violation.impact,
                violation.help,
                violation.targets.join("\n  ")
            );
        }
        let serious: Vec<&Violation> = violations
            .iter()
            .filter(|violation| matches!(violation.impact.as_str(), "serious" | "critical"))
            .collect();
        assert!(
            serious.is_empty(),
            "no serious or critical violations in {scheme:?} mode: {serious:#?}"
        );
        Ok(())
    })
}

/// The page has a phone's width and the colour scheme asked for.
async fn assert_page_is(app: &App, scheme: Scheme) -> Result<()> {
    let (width, dark): (u32, bool) = app
        .browser()
        .run(
            "reading the page's width and colour scheme",
            r#"return [innerWidth, matchMedia("(prefers-color-scheme: dark)").matches]"#,
            vec![],
        )
        .await?;
    assert_eq!(width, PHONE_SCREEN.0, "a phone-wide page");
    assert_eq!(dark, scheme == Scheme::Dark, "the page prefers {scheme:?}");
    Ok(())
}

/// `sender` sends `file` to `receiver`, who accepts; returns once both show it done.
async fn send_and_finish(sender: &Peer, receiver: &Peer, file: &TestFile) -> Result<()> {
    sender
        .0
        .send_files(Recipient::Peer(&receiver.1), &[file])
        .await?;
    let offered = receiver.0.wait_for_offer(&sender.1, &[file]).await?;
    receiver
        .0
        .click_transfer_button(&sender.1, &offered.id, TransferButton::Accept)
        .await?;
    receiver
        .0
        .wait_for_transfer(&sender.1, &offered.id, "done")
        .await?;
    sender
        .0
        .wait_for_transfer(&receiver.1, &offered.id, "done")
        .await?;
    Ok(())
}

async fn save_screenshot(app: &App, path: &Path) -> Result<()> {
    // Scrolled to the top, where a person landing on the page looks first, and with no
    // field focused, as a person finds it.
    app.browser()
        .run::<()>(
            "scrolling to the top",
            "document.activeElement?.blur(); scrollTo(0, 0)",
            vec![],
        )
        .await?;
    let png = app.browser().screenshot().await?;
    std::fs::write(PathBuf::from(path), png).map_err(Error::io("write docs/screenshot.png"))?;
    println!("screenshot: {}", path.display());
    Ok(())
}
