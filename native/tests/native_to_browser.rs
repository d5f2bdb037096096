//! `meshdrop` against the web app in headless Chromium: files both ways and chat, through
//! the app's UI contract. Needs root, `ip`, chromedriver, Chromium and the built web app
//! in `dist/` (`cargo xtask test` provides them).

mod common;

use std::net::Ipv4Addr;

use common::{random_file, sha256_of, Meshdrop, STEP_TIMEOUT};
use fantoccini::Locator;
use meshdrop_e2e::wait::{self, Probe};
use meshdrop_e2e::{run_in, App, Browser, NetNs, Result, SignalingServer};
use serde_json::json;

const MIB: usize = 1 << 20;

/// The `data-state` of the newest transfer row in `direction`, or "" if there is none.
const TRANSFER_STATE_SCRIPT: &str = r#"
const row = document.querySelector(`#transfers li.transfer[data-direction="${arguments[0]}"]`);
return row?.dataset.state ?? "";
"#;

/// SHA-256 (hex) of the file the newest finished incoming transfer saved, or what the
/// row shows until its save link appears (the app stores the file after it is done).
const SAVED_DIGEST_SCRIPT: &str = r#"
const row = document.querySelector('#transfers li.transfer[data-direction="incoming"][data-state="done"]');
const link = row?.querySelector("a.save");
if (!link) return { Err: row?.outerHTML ?? "no finished incoming transfer" };
const bytes = await (await fetch(link.href)).arrayBuffer();
const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
return { Ok: [...digest].map((b) => b.toString(16).padStart(2, "0")).join("") };
"#;

#[test]
fn a_file_goes_from_the_browser_to_meshdrop() -> Result<()> {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("from-browser.bin");
    let digest = random_file(&file, 8 * MIB);
    let inbox = work.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();

    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let alice = open_app(&server, "web", "alice").await?;
        let dir = inbox.to_str().unwrap();
        let mut bob = Meshdrop::start(
            &signaling_url(&server),
            "bob",
            &["receive", "--room", "web", "--yes", "--dir", dir],
        );
        let bob_id = peer_id(&bob.expect_status("joined room web").await);
        alice.wait_for_peers(&[&bob_id], "connected").await?;

        let picker = format!(r#"#peers li.peer[data-peer-id="{bob_id}"] input.send-files"#);
        let input = alice.browser().client().find(Locator::Css(&picker)).await?;
        input.send_keys(file.to_str().unwrap()).await?;

        assert_eq!(bob.exit_code().await, 0, "receiver");
        wait_for_transfer(&alice, "outgoing", "done").await?;
        server.stop().await
    })?;

    assert_eq!(sha256_of(&inbox.join("from-browser.bin")), digest);
    Ok(())
}

#[test]
fn a_file_goes_from_meshdrop_to_the_browser() -> Result<()> {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("from-terminal.bin");
    let digest = random_file(&file, 8 * MIB);

    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let alice = open_app(&server, "web", "alice").await?;
        let path = file.to_str().unwrap();
        let mut bob = Meshdrop::start(
            &signaling_url(&server),
            "bob",
            &["send", path, "--room", "web", "--to", "alice"],
        );

        let bob_id = peer_id(&bob.expect_status("joined room web").await);
        alice.wait_for_peer_name(&bob_id, "bob").await?;
        wait_for_transfer(&alice, "incoming", "offered").await?;
        let accept = r#"#transfers li.transfer[data-direction="incoming"] button.accept"#;
        alice
            .browser()
            .client()
            .find(Locator::Css(accept))
            .await?
            .click()
            .await?;

        assert_eq!(bob.exit_code().await, 0, "sender");
        wait_for_transfer(&alice, "incoming", "done").await?;
        let saved = wait::until("alice's save link", STEP_TIMEOUT, || async {
            let digest: std::result::Result<String, String> = alice
                .browser()
                .run("the saved file's digest", SAVED_DIGEST_SCRIPT, vec![])
                .await?;
            Ok(digest.map_or_else(Probe::NotYet, Probe::Ready))
        })
        .await?;
        assert_eq!(saved, digest);
        server.stop().await
    })
}

#[test]
fn chat_goes_both_ways_between_meshdrop_and_the_browser() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let alice = open_app(&server, "chat", "alice").await?;
        let mut bob = Meshdrop::start(&signaling_url(&server), "bob", &["chat", "--room", "chat"]);
        let bob_id = peer_id(&bob.expect_status("joined room chat").await);
        alice.wait_for_peers(&[&bob_id], "connected").await?;
        bob.expect_status("connected to alice").await;

        alice.send_chat("hello from the browser").await?;
        bob.expect_output(|line| line.ends_with("] alice: hello from the browser"))
            .await;

        bob.type_line("hello from the terminal").await;
        alice
            .wait_for_chat(&bob_id, "hello from the terminal")
            .await?;

        bob.close_stdin();
        assert_eq!(bob.exit_code().await, 0);
        server.stop().await
    })
}

/// A browser with the app open in `room`, named `name` before anyone else joins.
async fn open_app(server: &SignalingServer, room: &str, name: &str) -> Result<App> {
    let app = App::open(Browser::launch().await?, &server.room_url(room), name).await?;
    app.wait_for_connection("connected").await?;
    app.set_name(name).await?;
    Ok(app)
}

fn signaling_url(server: &SignalingServer) -> String {
    format!("ws://{}/ws", server.address(Ipv4Addr::LOCALHOST))
}

/// The peer id from `meshdrop`'s "joined room ... (peer id ID, ...)" line.
fn peer_id(joined: &str) -> String {
    let rest = joined
        .split_once("peer id ")
        .unwrap_or_else(|| panic!("no peer id in {joined:?}"))
        .1;
    rest.split(',').next().unwrap().to_owned()
}

async fn wait_for_transfer(app: &App, direction: &str, state: &str) -> Result<()> {
    let what = format!("{}'s {direction} transfer {state}", app.label());
    wait::until(what, STEP_TIMEOUT, || async {
        let shown: String = app
            .browser()
            .run(
                "a transfer's state",
                TRANSFER_STATE_SCRIPT,
                vec![json!(direction)],
            )
            .await?;
        Ok(if shown == state {
            Probe::Ready(())
        } else {
            Probe::NotYet(format!("state {shown:?}"))
        })
    })
    .await
}
