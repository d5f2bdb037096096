//! The `meshdrop-server` binary itself: settings that cannot work stop it with a
//! message naming the flag, and SIGTERM closes every client with 1001 and exits 0.

mod common;

use std::process::Output;
use std::time::Duration;

use common::process::{command, Running};
use common::{join, Client, PATIENCE};
use tokio::net::{TcpListener, UdpSocket};
use tokio::process::Command;

/// The longest a stop may take: the binary's own bound is 10 s, closing idle clients
/// takes well under 1.
const STOP_BOUND: Duration = Duration::from_secs(5);

/// Run with `args`, which must make it refuse to start.
async fn refused(args: &[&str]) -> (i32, String) {
    refused_with(command(args)).await
}

async fn refused_with(mut command: Command) -> (i32, String) {
    let run = command.output();
    let output: Output = tokio::time::timeout(PATIENCE, run)
        .await
        .expect("a refused setting stops the server at once")
        .unwrap();
    let code = output.status.code().expect("exited, not killed");
    assert_ne!(code, 0);
    (code, String::from_utf8(output.stderr).unwrap())
}

fn assert_names(stderr: &str, flag: &str) {
    assert!(stderr.contains(flag), "expected {flag} in: {stderr}");
}

#[tokio::test]
async fn malformed_values_are_refused_naming_the_flag() {
    for (args, flag) in [
        (&["--max-peers-per-room", "0"][..], "--max-peers-per-room"),
        (&["--public-url", "meshdrop.example"], "--public-url"),
        (&["--ice-url", "http://stun.example"], "--ice-url"),
        (&["--allowed-origin", "null"], "--allowed-origin"),
        (&["--turn-url", "turn:relay.example"], "--turn-secret"),
        (&["--listen", "localhost"], "--listen"),
    ] {
        let (code, stderr) = refused(args).await;
        assert_eq!(code, 2, "usage errors exit 2 ({args:?})");
        assert_names(&stderr, flag);
    }
}

#[tokio::test]
async fn environment_variables_are_checked_like_flags() {
    let mut command = command(&[]);
    command.env("MESHDROP_IDLE_TIMEOUT_SECS", "0");
    let (_, stderr) = refused_with(command).await;
    assert_names(&stderr, "--idle-timeout-secs");
}

#[tokio::test]
async fn unusable_tls_files_are_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    let cert = cert.to_str().unwrap();
    let (code, stderr) = refused(&["--tls-cert", "/nonexistent.pem", "--tls-key", cert]).await;
    assert_eq!(code, 1);
    assert_names(&stderr, "--tls-cert");
    assert_names(&stderr, "/nonexistent.pem");
    let (_, stderr) = refused(&["--tls-cert", cert, "--tls-key", cert]).await;
    assert_names(&stderr, "--tls-key");
}

#[tokio::test]
async fn a_static_dir_without_an_app_is_refused() {
    let empty = tempfile::tempdir().unwrap();
    let (code, stderr) = refused(&["--static-dir", empty.path().to_str().unwrap()]).await;
    assert_eq!(code, 1);
    assert_names(&stderr, "--static-dir");
}

#[tokio::test]
async fn addresses_in_use_are_refused_naming_the_flag() {
    let taken_tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tcp = taken_tcp.local_addr().unwrap().to_string();
    let (code, stderr) = refused(&["--listen", &tcp, "--no-stun"]).await;
    assert_eq!(code, 1);
    assert_names(&stderr, &format!("--listen {tcp}"));

    let taken_udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let udp = taken_udp.local_addr().unwrap().to_string();
    let (_, stderr) = refused(&["--stun-listen", &udp]).await;
    assert_names(&stderr, &format!("--stun-listen {udp}"));
}

#[tokio::test]
async fn sigterm_closes_every_client_with_1001_and_exits_0() {
    let mut server = Running::start(&["--stun-listen", "127.0.0.1:0"]).await;
    let addr = server.address("address");
    let stun = server.address("stun");
    assert_eq!(stun.ip(), addr.ip());
    let mut ann = join(addr, "room", "Ann", 'a').await;
    let mut bob = join(addr, "room", "Bob", 'b').await;
    let mut lurker = Client::connect(addr).await;
    ann.client.recv().await; // peer_joined Bob

    server.terminate();
    for client in [&mut ann.client, &mut bob.client, &mut lurker] {
        assert_eq!(client.expect_close().await, (1001, "shutting_down".into()));
        client.expect_end().await;
    }
    let status = tokio::time::timeout(STOP_BOUND, server.child.wait())
        .await
        .expect("the server exits promptly")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let rest = server.rest.await.unwrap();
    let messages: Vec<&str> = rest
        .iter()
        .filter_map(|log| log["fields"]["message"].as_str())
        .collect();
    assert!(messages.contains(&"stopping") && messages.contains(&"stopped"));
    assert!(rest.iter().all(|log| log["level"] != "ERROR"), "{rest:?}");
}
