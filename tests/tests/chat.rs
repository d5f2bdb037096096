//! Chat worth keeping, end to end in real Chromium pages: history kept on the device,
//! a long log shown from its newest lines, lines to one peer, delivery marks (late ones
//! across a cut wire), and text that is never markup.
//!
//! Needs the web app in `dist/` (`cargo xtask test` builds it first).

use meshdrop_e2e::app::ChatEntry;
use meshdrop_e2e::room::{everyone_connected, everyone_names_themselves, join, open_on, Peer};
use meshdrop_e2e::{run_in, Launch, NetNs, Result, SignalingServer, TwoHosts, HOST_A};

/// Waits until `app` shows exactly the lines `texts`, in that order, and returns them.
async fn wait_for_lines(peer: &Peer, texts: &[&str]) -> Result<Vec<ChatEntry>> {
    let what = format!("the chat showing exactly {texts:?}");
    peer.0
        .wait_for(&what, |s| {
            let shown: Vec<&str> = s.chat.iter().map(|entry| entry.text.as_str()).collect();
            (shown == texts).then(|| s.chat.clone())
        })
        .await
}

/// Waits until our line `text` on `peer` has been acknowledged by exactly `delivered`
/// and waits for exactly `pending`.
async fn wait_for_marks(
    peer: &Peer,
    text: &str,
    delivered: &[&String],
    pending: &[&String],
) -> Result<ChatEntry> {
    let what = format!("{text:?} delivered to {delivered:?}, waiting for {pending:?}");
    peer.0
        .wait_for(&what, |s| {
            s.chat
                .iter()
                .find(|entry| entry.text == text)
                .filter(|entry| same(&entry.delivered, delivered) && same(&entry.pending, pending))
                .cloned()
        })
        .await
}

fn same(ids: &[String], expected: &[&String]) -> bool {
    let mut ids: Vec<&String> = ids.iter().collect();
    let mut expected = expected.to_vec();
    ids.sort();
    expected.sort();
    ids == expected
}

#[test]
fn chat_lines_survive_reloads_and_clear_history_empties_them() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = join(&server, "history", &["alice", "bob"]).await?;
        everyone_connected(&peers).await?;
        everyone_names_themselves(&peers).await?;
        let (alice, bob) = (&peers[0], &peers[1]);
        alice.0.send_chat("kept line").await?;
        bob.0.wait_for_chat(&alice.1, "kept line").await?;
        bob.0.send_chat("a reply").await?;
        alice.0.wait_for_chat(&bob.1, "a reply").await?;
        wait_for_marks(alice, "kept line", &[&bob.1], &[]).await?;

        alice.0.reload().await?;
        let shown = wait_for_lines(alice, &["kept line", "a reply"]).await?;
        assert!(shown.iter().all(|entry| entry.earlier), "{shown:?}");
        assert!(shown[0].time.ends_with("earlier"), "{:?}", shown[0].time);
        assert_eq!(
            (shown[0].sender.as_str(), shown[1].sender.as_str()),
            ("You", "bob")
        );
        assert_eq!(
            shown[0].delivered,
            std::slice::from_ref(&bob.1),
            "the marks are kept too"
        );

        // Both pages reloaded: each has its own history, and new lines come after it.
        bob.0.reload().await?;
        alice.0.reload().await?;
        for peer in &peers {
            wait_for_lines(peer, &["kept line", "a reply"]).await?;
        }
        everyone_connected(&peers).await?;
        bob.0.send_chat("after the reloads").await?;
        let shown = wait_for_lines(alice, &["kept line", "a reply", "after the reloads"]).await?;
        assert!(!shown[2].earlier);

        alice.0.clear_chat().await?;
        wait_for_lines(alice, &[]).await?;
        alice.0.reload().await?;
        everyone_connected(&peers).await?;
        // The page has read its (empty) history once a new line shows alone.
        bob.0.send_chat("after clearing").await?;
        wait_for_lines(alice, &["after clearing"]).await?;
        wait_for_lines(
            bob,
            &[
                "kept line",
                "a reply",
                "after the reloads",
                "after clearing",
            ],
        )
        .await?;
        Ok(())
    })
}

#[test]
fn a_long_log_shows_its_newest_lines_and_earlier_ones_on_request() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = join(&server, "long-log", &["alice", "bob"]).await?;
        everyone_connected(&peers).await?;
        let (alice, bob) = (&peers[0], &peers[1]);
        let texts: Vec<String> = (1..=105).map(|n| format!("line {n}")).collect();
        alice.0.send_chat_lines(&texts).await?;
        let newest: Vec<&str> = texts[5..].iter().map(String::as_str).collect();
        for peer in &peers {
            wait_for_lines(peer, &newest).await?;
            assert_eq!(
                peer.0.earlier_chat_button().await?.as_deref(),
                Some("Show earlier lines (5)")
            );
        }
        bob.0.show_earlier_chat().await?;
        let all: Vec<&str> = texts.iter().map(String::as_str).collect();
        wait_for_lines(bob, &all).await?;
        assert_eq!(bob.0.earlier_chat_button().await?, None);
        // A new line still shows, and alice, who asked for nothing, still shows 100.
        bob.0.send_chat("line 106").await?;
        let mut all = all;
        all.push("line 106");
        wait_for_lines(bob, &all).await?;
        wait_for_lines(alice, &all[6..]).await?;
        Ok(())
    })
}

#[test]
fn a_private_line_reaches_only_the_chosen_peer() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = join(&server, "private", &["alice", "bob", "carol"]).await?;
        everyone_connected(&peers).await?;
        everyone_names_themselves(&peers).await?;
        let (alice, bob, carol) = (&peers[0], &peers[1], &peers[2]);
        alice.0.send_private_chat(&bob.1, "for bob only").await?;
        let heard = bob.0.wait_for_chat(&alice.1, "for bob only").await?;
        assert!(heard.private, "{heard:?}");
        assert_eq!(heard.private_note, "private, to you");
        let mine = wait_for_marks(alice, "for bob only", &[&bob.1], &[]).await?;
        assert!(mine.private);
        assert_eq!(mine.private_note, "private, to bob");

        alice.0.send_chat("for everyone").await?;
        let public = carol.0.wait_for_chat(&alice.1, "for everyone").await?;
        assert!(!public.private);
        // Carol has everything Alice sent her; the private line was never among it.
        let seen = carol.0.snapshot().await?;
        assert!(
            seen.chat.iter().all(|entry| entry.text != "for bob only"),
            "carol never shows bob's private line: {:?}",
            seen.chat
        );
        wait_for_marks(alice, "for everyone", &[&bob.1, &carol.1], &[]).await?;
        Ok(())
    })
}

/// Alice and Bob on one host, Carol on another: cutting the wire between the hosts
/// leaves Carol unreachable while Bob is not.
#[test]
fn delivery_marks_come_from_every_peer_and_late_from_one_cut_off() -> Result<()> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let server = SignalingServer::start().await?;
        let mut peers = join(&server, "marks", &["alice", "bob"]).await?;
        let remote = Launch::on_host(&hosts.b);
        peers.push(open_on(remote, &server, HOST_A, Some("marks"), "carol").await?);
        everyone_connected(&peers).await?;
        everyone_names_themselves(&peers).await?;
        let (alice, bob, carol) = (&peers[0], &peers[1], &peers[2]);

        alice.0.send_chat("to both").await?;
        let marked = wait_for_marks(alice, "to both", &[&bob.1, &carol.1], &[]).await?;
        println!("marks with everyone connected: {:?}", marked.marks);

        hosts.set_wire(false)?;
        alice
            .0
            .wait_for("carol shown reconnecting", |s| {
                s.peers
                    .iter()
                    .any(|peer| peer.id == carol.1 && peer.state == "reconnecting")
                    .then_some(())
            })
            .await?;
        alice.0.send_chat("while carol is away").await?;
        bob.0.wait_for_chat(&alice.1, "while carol is away").await?;
        let waiting = wait_for_marks(alice, "while carol is away", &[&bob.1], &[&carol.1]).await?;
        println!("marks while the wire is cut: {:?}", waiting.marks);

        hosts.set_wire(true)?;
        wait_for_marks(alice, "while carol is away", &[&bob.1, &carol.1], &[]).await?;
        let shown = wait_for_lines(carol, &["to both", "while carol is away"]).await?;
        assert!(shown.iter().all(|entry| entry.from == alice.1));
        Ok(())
    })
}

#[test]
fn chat_text_is_never_markup_and_only_web_and_mail_links_are_links() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = join(&server, "text", &["alice", "bob"]).await?;
        everyone_connected(&peers).await?;
        everyone_names_themselves(&peers).await?;
        let (alice, bob) = (&peers[0], &peers[1]);
        let hostile = "<img src=x onerror=alert(1)> <script>alert(2)</script> javascript:alert(3) \
                       see https://example.test/a?b=1. or mailto:someone@example.test";
        alice.0.send_chat(hostile).await?;
        let shown = bob.0.wait_for_chat(&alice.1, hostile).await?;
        assert_eq!(shown.markup, 0, "no element made of the text: {shown:?}");
        let links: Vec<(&str, &str, &str)> = shown
            .links
            .iter()
            .map(|link| (link.href.as_str(), link.rel.as_str(), link.target.as_str()))
            .collect();
        assert_eq!(
            links,
            [
                (
                    "https://example.test/a?b=1",
                    "noopener noreferrer",
                    "_blank"
                ),
                (
                    "mailto:someone@example.test",
                    "noopener noreferrer",
                    "_blank"
                ),
            ]
        );
        let errors = bob.0.snapshot().await?.page_errors;
        assert!(errors.is_empty(), "nothing ran: {errors:?}");

        // A long line is folded until "Show more"; any line copies with one click.
        let long = format!("start of a long line{}", " word".repeat(100));
        alice.0.send_chat(&long).await?;
        let folded = bob.0.wait_for_chat(&alice.1, &long).await?;
        assert!(folded.folded, "{folded:?}");
        bob.0.unfold_chat_line("start of a long line").await?;
        bob.0
            .wait_for("the long line unfolded", |s| {
                s.chat
                    .iter()
                    .any(|entry| entry.text.starts_with("start of a long line") && !entry.folded)
                    .then_some(())
            })
            .await?;
        let (copied, selection) = bob.0.copy_chat_line(hostile).await?;
        match copied.copy_state.as_str() {
            "copied" => {}
            "selected" => assert_eq!(selection, hostile),
            other => panic!("the Copy button did nothing: {other:?}"),
        }
        Ok(())
    })
}
