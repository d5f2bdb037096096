//! Firefox ESR and Chromium in one mesh: the same app and the same UI contract in both
//! browsers, chat both ways, and a 64 MiB file each way that arrives with the same SHA-256,
//! and a folder each way (Firefox has `<input webkitdirectory>` but no folder picker to
//! save into, so it saves a received folder as one zip).
//!
//! Firefox runs on the second host and loads the app from the first over plain http,
//! treated as a secure context (storing received files and WebCrypto need one), so the
//! two browsers share nothing but the wire.
//!
//! Needs the web app in `dist/` (`cargo xtask test` builds it first).

use meshdrop_e2e::app::{folder_digests, folder_file_digests, zip_digests};
use meshdrop_e2e::room::{
    everyone_chats, everyone_connected, everyone_names_themselves, everyone_sees_path,
    join_across_with, send_and_accept, send_folder,
};
use meshdrop_e2e::{
    files::scratch_dir, run_in, BrowserKind, Launch, Result, ServesApp, SignalingServer, TestFile,
    TwoHosts, HOST_A,
};

const MIB: u64 = 1 << 20;

#[test]
fn firefox_and_chromium_chat_and_send_each_other_64_mib() -> Result<()> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let server = SignalingServer::start().await?;
        let firefox = Launch::on_host(&hosts.b)
            .kind(BrowserKind::Firefox)
            .treat_as_secure(server.origin_at(HOST_A));
        let peers = join_across_with(firefox, &server, "firefox", ["chromium", "firefox"]).await?;
        for ((app, _), engine) in peers.iter().zip(["Chrome/", "Firefox/"]) {
            let agent: String = app
                .browser()
                .run("the user agent", "return navigator.userAgent", vec![])
                .await?;
            assert!(
                agent.contains(engine),
                "{} runs in {engine}: {agent}",
                app.label()
            );
        }
        everyone_connected(&peers).await?;
        // Firefox reports the selected pair in its own way: both still say the path.
        everyone_sees_path(&peers, "same-network").await?;
        everyone_names_themselves(&peers).await?;
        everyone_chats(&peers, |label| format!("hello from {label}")).await?;

        let (chromium, firefox) = (&peers[0], &peers[1]);
        let dir = scratch_dir()?;
        let to_firefox = TestFile::random(dir.path(), "to-firefox.bin", 64 * MIB)?;
        let to_chromium = TestFile::random(dir.path(), "to-chromium.bin", 64 * MIB)?;
        send_and_accept(chromium, firefox, &to_firefox).await?;
        send_and_accept(firefox, chromium, &to_chromium).await
    })
}

#[test]
fn firefox_and_chromium_send_each_other_a_folder() -> Result<()> {
    let dir = scratch_dir()?;
    let album = dir.path().join("album");
    std::fs::create_dir_all(album.join("2024/summer")).unwrap();
    TestFile::random(&album.join("2024/summer"), "beach.bin", 3 * MIB)?;
    TestFile::random(&album.join("2024"), "notes.txt", 1000)?;
    TestFile::random(&album, "Grüße 日本語.txt", 77)?;
    TestFile::random(&album, "empty.txt", 0)?;
    let sent = folder_digests(&album)?;
    assert_eq!(sent.len(), 4);

    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let server = SignalingServer::start().await?;
        let firefox = Launch::on_host(&hosts.b)
            .kind(BrowserKind::Firefox)
            .treat_as_secure(server.origin_at(HOST_A));
        let peers = join_across_with(firefox, &server, "folders", ["chromium", "firefox"]).await?;
        everyone_connected(&peers).await?;
        let (chromium, firefox) = (&peers[0], &peers[1]);

        // Chromium → Firefox, saved as a zip: Firefox has no `showDirectoryPicker`.
        let done = send_folder(chromium, firefox, &album, sent.len()).await?;
        firefox.0.save_all(&chromium.1, &done.id).await?;
        let zip = firefox.0.saved_zip(&chromium.1, &done.id).await?;
        assert_eq!(zip_digests(zip), sent);

        // Firefox → Chromium, saved into a picked folder.
        chromium.0.pick_private_folder("picked").await?;
        let done = send_folder(firefox, chromium, &album, sent.len()).await?;
        chromium.0.save_all(&firefox.1, &done.id).await?;
        let written = chromium.0.private_folder_files("picked").await?;
        assert_eq!(folder_file_digests(&written), sent);
        server.stop().await
    })
}
