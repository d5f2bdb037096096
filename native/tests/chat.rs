//! `meshdrop chat` with web app pages in headless Chromium: a line to one page alone
//! (`/to NAME`), delivery marks back from the page, and the history `--history` keeps.

mod common;

use common::{open_app, peer_id, signaling_url, Meshdrop};
use meshdrop_chat::Line;
use meshdrop_e2e::{run_in, NetNs, Result, SignalingServer};

#[test]
fn a_line_to_one_browser_reaches_only_it() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let alice = open_app(&server, "privately", "alice").await?;
        let carol = open_app(&server, "privately", "carol").await?;
        let mut bob = Meshdrop::start(
            &signaling_url(&server),
            "bob",
            &["chat", "--room", "privately"],
        );
        let bob_id = peer_id(&bob.expect_status("joined room privately").await);
        bob.expect_statuses(&["connected to alice", "connected to carol"])
            .await;

        bob.type_line("/to alice").await;
        bob.expect_status("writing to alice alone").await;
        bob.type_line("for alice only").await;
        let heard = alice.wait_for_chat(&bob_id, "for alice only").await?;
        assert!(heard.private, "{heard:?}");
        bob.expect_status(r#"alice has your line "for alice only""#)
            .await;

        bob.type_line("/all").await;
        bob.expect_status("writing to everyone").await;
        bob.type_line("for everyone").await;
        carol.wait_for_chat(&bob_id, "for everyone").await?;
        let seen = carol.snapshot().await?;
        assert!(
            seen.chat.iter().all(|entry| entry.text != "for alice only"),
            "carol never shows alice's line: {:?}",
            seen.chat
        );

        // And the other way: a page's private line to meshdrop says it is private.
        alice.send_private_chat(&bob_id, "just for bob").await?;
        bob.expect_output(|line| line.ends_with("] alice (private): just for bob"))
            .await;

        bob.close_stdin();
        assert_eq!(bob.exit_code().await, 0);
        server.stop().await
    })
}

#[test]
fn history_keeps_the_rooms_lines_and_shows_them_next_time() -> Result<()> {
    let ns = NetNs::create()?;
    let config = tempfile::tempdir().expect("a config directory");
    let config_dir = config.path().to_str().expect("a UTF-8 path").to_owned();
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let alice = open_app(&server, "kept", "alice").await?;
        let args = [
            "chat",
            "--room",
            "kept",
            "--history",
            "--config-dir",
            &config_dir,
        ];
        let mut bob = Meshdrop::start(&signaling_url(&server), "bob", &args);
        let bob_id = peer_id(&bob.expect_status("joined room kept").await);
        bob.expect_status("connected to alice").await;
        alice.send_chat("from the browser").await?;
        bob.expect_output(|line| line.ends_with("] alice: from the browser"))
            .await;
        bob.type_line("from the terminal").await;
        alice.wait_for_chat(&bob_id, "from the terminal").await?;
        bob.expect_status(r#"alice has your line "from the terminal""#)
            .await;
        bob.close_stdin();
        assert_eq!(bob.exit_code().await, 0);

        let file = config.path().join("history").join("kept.json");
        let kept: Vec<Line> =
            serde_json::from_slice(&std::fs::read(&file).expect("the history file"))
                .expect("the history file holds chat lines");
        let alice_id = alice.self_id().await?;
        let summary: Vec<(&str, bool, &str)> = kept
            .iter()
            .map(|line| (line.text.as_str(), line.mine, line.name.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("from the browser", false, "alice"),
                ("from the terminal", true, "bob")
            ]
        );
        let alice_id = meshdrop_protocol::PeerId::new(alice_id).expect("a peer id");
        assert!(kept[1].delivered_to(&alice_id));

        let mut again = Meshdrop::start(&signaling_url(&server), "bob", &args);
        again
            .expect_output(|line| line.ends_with("] alice: from the browser (earlier)"))
            .await;
        again
            .expect_output(|line| line.ends_with("] You: from the terminal (earlier)"))
            .await;
        again.type_line("/clear").await;
        again.expect_status("chat history cleared").await;
        again.close_stdin();
        assert_eq!(again.exit_code().await, 0);
        let cleared: Vec<Line> =
            serde_json::from_slice(&std::fs::read(&file).expect("the history file"))
                .expect("the history file holds chat lines");
        assert!(
            cleared.is_empty(),
            "/clear empties the history: {cleared:?}"
        );
        server.stop().await
    })
}
