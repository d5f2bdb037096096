//! The tools beyond cargo that building the web app and the browser tests need, installed
//! when missing.
//!
//! Every tool is asked its version first, so a second run installs nothing. Versions come
//! from the workspace: Trunk.toml pins trunk and wasm-opt, and Cargo.lock decides
//! wasm-bindgen (the CLI must match the library exactly; Trunk.toml must agree).
//! geckodriver, axe-core and terser are pinned here.

use std::env;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::process::{command, probe, run, step};
use crate::workspace;

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Firefox's WebDriver server. Debian does not package it, so it is built from crates.io.
const GECKODRIVER_VERSION: &str = "0.37.1";

/// Puts the npm-installed tools and cargo-installed binaries first on this process's PATH,
/// for the version checks here and for Trunk, which looks tools up on PATH.
pub fn put_on_path() {
    let mut dirs = vec![workspace::tools_dir().join("node_modules/.bin")];
    if let Some(home) = cargo_home() {
        dirs.push(home.join("bin"));
    }
    dirs.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
    let path = env::join_paths(dirs).expect("PATH entries contain no separator");
    env::set_var("PATH", path);
}

/// Cargo's own directory: where it installs binaries and unpacks crates.
pub fn cargo_home() -> Option<PathBuf> {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
}

/// Everything `trunk build --release --offline` needs.
pub fn install_web_build_tools() -> Result<()> {
    wasm_target()?;
    trunk()?;
    wasm_bindgen()?;
    wasm_opt()?;
    terser()
}

fn wasm_target() -> Result<()> {
    step(&format!("Rust target {WASM_TARGET}"));
    let installed = probe(command("rustup").args(["target", "list", "--installed"]));
    if installed.is_some_and(|targets| targets.lines().any(|target| target == WASM_TARGET)) {
        println!("installed");
        return Ok(());
    }
    run(command("rustup").args(["target", "add", WASM_TARGET]))
}

fn trunk() -> Result<()> {
    let version = workspace::trunk_setting("trunk-version")?;
    step(&format!("trunk {version}"));
    if probe(command("trunk").arg("--version")) == Some(format!("trunk {version}")) {
        println!("installed");
        return Ok(());
    }
    run(command(cargo()).args(["install", "--locked", "trunk", "--version", &version]))
}

fn wasm_bindgen() -> Result<()> {
    let version = workspace::locked_version("wasm-bindgen")?;
    let pinned = workspace::trunk_setting("wasm_bindgen")?;
    if pinned != version {
        return Err(Error::Version(format!(
            "Trunk.toml pins wasm_bindgen = \"{pinned}\" but Cargo.lock has wasm-bindgen \
             {version}: set it to \"{version}\" in Trunk.toml"
        )));
    }
    step(&format!("wasm-bindgen-cli {version}"));
    if probe(command("wasm-bindgen").arg("--version")) == Some(format!("wasm-bindgen {version}")) {
        println!("installed");
        return Ok(());
    }
    // Without --locked: the CLI's own lock file pins crates that no longer build here.
    run(command(cargo()).args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        &format!("={version}"),
    ]))
}

/// wasm-opt from binaryen's npm package: Debian's binaryen is too old for current wasm.
fn wasm_opt() -> Result<()> {
    let pinned = workspace::trunk_setting("wasm_opt")?;
    let version = pinned.strip_prefix("version_").ok_or_else(|| {
        Error::Version(format!(
            "Trunk.toml's wasm_opt = \"{pinned}\" is not version_N"
        ))
    })?;
    step(&format!("wasm-opt (binaryen {version})"));
    let reported = probe(command("wasm-opt").arg("--version")).unwrap_or_default();
    if reported.contains(&format!("({pinned})")) {
        println!("installed");
        return Ok(());
    }
    let tools = workspace::tools_dir();
    run(command("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&tools)
        .arg(format!("binaryen@{version}")))
}

/// axe-core, the accessibility checker the browser tests inject into the page
/// (tests/tests/accessibility.rs reads `.tools/node_modules/axe-core/axe.min.js`).
const AXE_CORE_VERSION: &str = "4.14.1";

/// What the browser tests need beyond Debian's packages (see `apt`): geckodriver from
/// crates.io and axe-core from npm.
pub fn install_browser_test_tools() -> Result<()> {
    geckodriver()?;
    axe_core()
}

fn geckodriver() -> Result<()> {
    step(&format!("geckodriver {GECKODRIVER_VERSION}"));
    // "geckodriver 0.37.1" first, then licence text.
    let reported = probe(command("geckodriver").arg("--version")).unwrap_or_default();
    if reported.split_whitespace().nth(1) == Some(GECKODRIVER_VERSION) {
        println!("installed");
        return Ok(());
    }
    run(command(cargo()).args([
        "install",
        "--locked",
        "geckodriver",
        "--version",
        &format!("={GECKODRIVER_VERSION}"),
    ]))
}

fn axe_core() -> Result<()> {
    npm_package("axe-core", AXE_CORE_VERSION)
}

/// The JavaScript minifier of web/post-build.mjs, Trunk's post-build hook.
const TERSER_VERSION: &str = "5.51.4";

fn terser() -> Result<()> {
    npm_package("terser", TERSER_VERSION)
}

/// Installs `name@version` from npm into .tools/ unless that version is there.
fn npm_package(name: &str, version: &str) -> Result<()> {
    step(&format!("{name} {version}"));
    let package = workspace::tools_dir().join(format!("node_modules/{name}/package.json"));
    let installed = std::fs::read_to_string(&package).unwrap_or_default();
    if installed.contains(&format!("\"version\": \"{version}\"")) {
        println!("installed");
        return Ok(());
    }
    run(command("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(workspace::tools_dir())
        .arg(format!("{name}@{version}")))
}

/// The cargo that runs this xtask, so installs use the same toolchain.
pub fn cargo() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}
