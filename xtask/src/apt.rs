//! Debian packages the end-to-end tests need: Chromium and its WebDriver, Firefox ESR (its
//! WebDriver, geckodriver, is not packaged: see `tools`), `ip` for network namespaces,
//! `nft` for the NAT routers between them, coturn, the TURN relay the NAT tests run, and
//! redis-server, which the cluster tests and `cargo xtask load` share rooms through.
//! Installed only when missing, so a prepared machine never touches apt.

use crate::error::Result;
use crate::process::{command, probe, run, step};

const PACKAGES: &[&str] = &[
    "chromium",
    "chromium-driver",
    "firefox-esr",
    "iproute2",
    "nftables",
    "coturn",
    "redis-server",
];

pub fn install_browser_test_packages() -> Result<()> {
    install(PACKAGES)
}

/// What the load generator's cluster of nodes needs.
pub fn install_load_packages() -> Result<()> {
    install(&["redis-server"])
}

fn install(packages: &[&str]) -> Result<()> {
    step(&format!("Debian packages: {}", packages.join(" ")));
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|package| !is_installed(package))
        .collect();
    if missing.is_empty() {
        println!("installed");
        return Ok(());
    }
    run(command("apt-get").arg("update"))?;
    run(command("apt-get")
        .args(["install", "-y"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn is_installed(package: &str) -> bool {
    probe(command("dpkg-query").args(["-W", "-f=${Status}", package]))
        .is_some_and(|status| status == "install ok installed")
}
