//! Exit statuses that need no network: usage errors and an unreachable server.

use std::path::Path;
use std::process::Command;

/// Runs `meshdrop args` with a config directory of its own.
fn meshdrop(args: &[&str]) -> (i32, String) {
    let config_dir = tempfile::tempdir().unwrap();
    meshdrop_with_config(config_dir.path(), args)
}

fn meshdrop_with_config(config_dir: &Path, args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_meshdrop"))
        .arg("--config-dir")
        .arg(config_dir)
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

/// Chat with nobody (the server is unreachable), in `config_dir`; returns this device's
/// fingerprint as the run printed it.
fn device_fingerprint(config_dir: &Path) -> String {
    let (code, stderr) = meshdrop_with_config(
        config_dir,
        &["chat", "--room", "r", "--server", "ws://127.0.0.1:9/ws"],
    );
    assert_eq!(code, 2, "{stderr}");
    let line = stderr
        .lines()
        .find_map(|line| line.strip_prefix("This device: "))
        .unwrap_or_else(|| panic!("no \"This device\" line: {stderr}"));
    assert!(line.starts_with("sha-256 "), "{line}");
    line.to_owned()
}

#[test]
fn a_config_directory_keeps_the_device_certificate_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let first = device_fingerprint(dir.path());
    assert_eq!(device_fingerprint(dir.path()), first, "the same directory");
    let other = tempfile::tempdir().unwrap();
    assert_ne!(device_fingerprint(other.path()), first, "another directory");

    let certificate = dir.path().join("certificate.pem");
    std::fs::write(&certificate, "not a certificate").unwrap();
    let (code, stderr) = meshdrop_with_config(dir.path(), &["chat", "--room", "r"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&certificate.display().to_string()),
        "the error names the file: {stderr}"
    );
}
