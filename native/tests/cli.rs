//! Exit statuses that need no network: usage errors and an unreachable server.

use std::process::Command;

fn meshdrop(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_meshdrop"))
        .args(args)
        .output()
        .expect("run meshdrop");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code().expect("exited"), stderr)
}

#[test]
fn help_documents_the_exit_statuses() {
    let output = Command::new(env!("CARGO_BIN_EXE_meshdrop"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for line in [
        "0  done",
        "1  usage",
        "2  the signaling server",
        "3  nobody",
        "4  the offer was declined",
        "5  a transfer",
    ] {
        assert!(help.contains(line), "--help lacks {line:?}:\n{help}");
    }
}

#[test]
fn bad_arguments_exit_with_1() {
    assert_eq!(meshdrop(&["send", "--room", "r"]).0, 1, "no file");
    assert_eq!(meshdrop(&["chat", "--room", "not a room"]).0, 1, "bad room");
    let (code, stderr) = meshdrop(&["chat", "--room", "_net-0123abcd"]);
    assert_eq!(code, 1, "a network room's name");
    assert!(stderr.contains("leave out --room"), "{stderr}");
    assert_eq!(
        meshdrop(&["chat", "--room", "r", "--server", "ftp://x"]).0,
        1,
        "bad server"
    );
    let (code, stderr) = meshdrop(&["send", "/no/such/file", "--room", "r"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("/no/such/file"), "{stderr}");
}

#[test]
fn an_unreachable_server_exits_with_2() {
    // Port 9 (discard) on loopback: nobody listens there.
    let (code, stderr) = meshdrop(&["chat", "--room", "r", "--server", "ws://127.0.0.1:9/ws"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot reach the signaling server"),
        "{stderr}"
    );
}
