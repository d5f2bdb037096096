//! A device's identity: every page presents its browser profile's one certificate, so
//! its DTLS fingerprint is the same on every visit, and what a peer's connection sees
//! is what the page says it is.
//!
//! Needs the web app in `dist/` (`cargo xtask test` builds it first).

use meshdrop_e2e::room::{everyone_connected, join, join_across_with, Peer};
use meshdrop_e2e::{
    run_in, BrowserKind, Launch, NetNs, Result, ServesApp, SignalingServer, TwoHosts, HOST_A,
};

#[test]
fn a_device_keeps_its_fingerprint_across_reloads_and_its_peers_see_that_one() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = join(&server, "identity", &["alice", "bob"]).await?;
        everyone_connected(&peers).await?;
        let before = fingerprints_seen(&peers).await?;
        assert_ne!(before[0], before[1], "two profiles, two devices");

        for (app, _) in &peers {
            app.reload().await?;
        }
        for (app, id) in &peers {
            assert_eq!(&app.self_id().await?, id, "{} is back", app.label());
        }
        everyone_connected(&peers).await?;
        let after = fingerprints_seen(&peers).await?;
        assert_eq!(after, before, "the same devices after both pages reloaded");
        server.stop().await
    })
}

/// The fingerprint comes from what the profile keeps: with its IndexedDB cleared, the
/// same browser is a new device.
#[test]
fn a_profile_with_its_storage_cleared_is_a_new_device() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = join(&server, "forget", &["alice"]).await?;
        let alice = &peers[0].0;
        let first = alice.device_fingerprint().await?;
        alice.reload().await?;
        assert_eq!(
            alice.device_fingerprint().await?,
            first,
            "kept across a reload"
        );

        let () = alice
            .browser()
            .run(
                "deleting the device's database",
                "indexedDB.deleteDatabase('meshdrop-device'); return null",
                vec![],
            )
            .await?;
        alice.reload().await?;
        let renewed = alice.device_fingerprint().await?;
        assert_ne!(
            renewed, first,
            "a new certificate once the kept one is gone"
        );
        server.stop().await
    })
}

/// Firefox keeps its certificate too (and has no `getFingerprints()`), and Chromium's
/// connection sees the one it presents, before and after Firefox reloads.
#[test]
fn firefox_keeps_its_device_fingerprint_too() -> Result<()> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let server = SignalingServer::start().await?;
        let firefox = Launch::on_host(&hosts.b)
            .kind(BrowserKind::Firefox)
            .treat_as_secure(server.origin_at(HOST_A));
        let peers = join_across_with(firefox, &server, "firefox", ["chromium", "firefox"]).await?;
        everyone_connected(&peers).await?;
        let before = fingerprints_seen(&peers).await?;
        let (firefox, firefox_id) = &peers[1];
        firefox.reload().await?;
        assert_eq!(&firefox.self_id().await?, firefox_id, "firefox is back");
        everyone_connected(&peers).await?;
        assert_eq!(
            fingerprints_seen(&peers).await?,
            before,
            "after firefox reloaded"
        );
        server.stop().await
    })
}

/// Each page's own device fingerprint, in order, once every other page's connection to
/// it sees exactly that one.
async fn fingerprints_seen(peers: &[Peer]) -> Result<Vec<String>> {
    let mut own = Vec::new();
    for (app, _) in peers {
        let fingerprint = app.device_fingerprint().await?;
        assert!(fingerprint.starts_with("sha-256 "), "{fingerprint}");
        own.push(fingerprint);
    }
    for (app, id) in peers {
        for ((other, other_id), fingerprint) in peers.iter().zip(&own) {
            if other_id != id {
                assert_eq!(
                    &app.peer_fingerprint(other_id).await?,
                    fingerprint,
                    "{} sees {}'s device as the one {} presents",
                    app.label(),
                    other.label(),
                    other.label()
                );
            }
        }
    }
    Ok(own)
}
