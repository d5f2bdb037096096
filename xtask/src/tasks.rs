//! The tasks themselves: each is a sequence of announced steps that stops at the first
//! failure.

use crate::apt;
use crate::error::Result;
use crate::process::{self, command, step};
use crate::tools::{self, cargo};
use crate::workspace;

/// Where the server listens for `cargo xtask run`.
const RUN_ADDRESS: &str = "127.0.0.1:8080";

/// The self-hosting binary every task that builds the server in release leaves behind.
const SERVER_BINARY: &str = "target/release/meshdrop-server";

/// Builds the self-hosting binary and serves with it until interrupted.
pub fn run() -> Result<()> {
    dist()?;
    step(&format!("Serving http://{RUN_ADDRESS} (Ctrl-C stops)"));
    let binary = workspace::root().join(SERVER_BINARY);
    process::run(command(binary).args(["--listen", RUN_ADDRESS]))
}

/// Build the one self-hosting binary: the server with the web app embedded.
pub fn dist() -> Result<()> {
    tools::install_web_build_tools()?;
    build_web_app()?;
    build_server_binary()
}

/// The server in release with the web app embedded, at [`SERVER_BINARY`]. Every release
/// build of the server goes through here, so that path never holds a server without
/// the app (which would answer 404 from any directory without `dist/`).
fn build_server_binary() -> Result<()> {
    step(&format!("Server with the web app inside ({SERVER_BINARY})"));
    process::run(command(cargo()).args([
        "build",
        "--release",
        "-p",
        "meshdrop-signaling-server",
        "--features",
        "embed-web",
    ]))
}

/// Everything CI checks: formatting, lints, unit tests, and the browser tests (which need
/// the built web app). Formatting comes first because it needs nothing installed and fails
/// in a second.
pub fn test() -> Result<()> {
    step("Formatting");
    process::run(command(cargo()).args(["fmt", "--all", "--check"]))?;
    tools::install_web_build_tools()?;
    apt::install_browser_test_packages()?;
    tools::install_browser_test_tools()?;
    build_web_app()?;
    step("Lints");
    process::run(command(cargo()).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    step("Tests");
    process::run(command(cargo()).args(["test", "--workspace", "--exclude", "meshdrop-e2e"]))?;
    // The end-to-end tests that kill a server run this one (see tests/src/server_process.rs).
    step("Server binary, debug build (target/debug/meshdrop-server)");
    process::run(command(cargo()).args(["build", "-p", "meshdrop-signaling-server"]))?;
    step("End-to-end tests in headless Chromium and Firefox");
    // One at a time: each runs several browsers, and CI has two cores. Not captured, so the
    // log shows the timings the tests print (time to the first open data channel).
    process::run(command(cargo()).args([
        "test",
        "-p",
        "meshdrop-e2e",
        "--",
        "--test-threads=1",
        "--nocapture",
    ]))
}

/// Times a file transfer between two hosts: browser to browser through Meshdrop and
/// through a raw data channel, native peer to native peer and native peer to browser; and
/// samples the receiving page's memory; then how soon a second page on the same network
/// finds the first; and so on for every section (`sections`: only those, if any).
/// Prints figures, asserts nothing.
pub fn bench(sections: Vec<String>) -> Result<()> {
    tools::install_web_build_tools()?;
    apt::install_browser_test_packages()?;
    tools::install_browser_test_tools()?;
    build_web_app()?;
    step("Native peer, release build (the benchmark runs target/release/meshdrop)");
    process::run(command(cargo()).args(["build", "--release", "-p", "meshdrop-native"]))?;
    build_server_binary()?;
    step("Benchmark in headless Chromium: transfers between two network namespaces, same-network discovery, recovery, relays");
    process::run(
        command(cargo())
            .args(["run", "-p", "meshdrop-e2e", "--bin", "bench", "--"])
            .args(sections),
    )
}

/// Crowds of WebSocket peers against the release server (see `tests/src/bin/load`).
/// Prints figures, asserts nothing.
pub fn load(args: Vec<String>) -> Result<()> {
    apt::install_load_packages()?;
    dist()?;
    step("Load generator against target/release/meshdrop-server");
    process::run(
        command(cargo())
            .args([
                "run",
                "--release",
                "-p",
                "meshdrop-e2e",
                "--bin",
                "load",
                "--",
            ])
            .args(args),
    )
}

fn build_web_app() -> Result<()> {
    // `trunk build --offline` passes --offline to cargo too, so fetch the crates first.
    step("Crates (cargo fetch)");
    process::run(command(cargo()).arg("fetch"))?;
    step("Web app (trunk build)");
    process::run(
        command("trunk")
            .args(["build", "--release", "--offline"])
            .env(WASM_RUSTFLAGS, unpacked_crates_remapped()),
    )
}

/// Where cargo takes the web app's compiler flags from (it builds nothing else for wasm).
const WASM_RUSTFLAGS: &str = "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS";

/// Flags that shorten the paths of crates.io crates (in their panic messages) to
/// `yew-0.23.0/src/...`: the app is then the same on every machine whatever its cargo
/// directory, and 0.2 KB lighter gzipped.
fn unpacked_crates_remapped() -> String {
    let registries = tools::cargo_home()
        .and_then(|home| std::fs::read_dir(home.join("registry/src")).ok())
        .into_iter()
        .flatten()
        .flatten();
    registries
        .map(|registry| format!("--remap-path-prefix={}/=", registry.path().display()))
        .collect::<Vec<_>>()
        .join(" ")
}
