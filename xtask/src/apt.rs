//! Debian packages the end-to-end tests need: Chromium and its WebDriver, Firefox ESR (its
//! WebDriver, geckodriver, is not packaged: see `tools`), `ip` for network namespaces,
//! `nft` for the NAT routers between them, and coturn, the TURN relay the NAT tests run.
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
];

pub fn install_browser_test_packages() -> Result<()> {
    step(&format!("Debian packages: {}", PACKAGES.join(" ")));
    let missing: Vec<&str> = PACKAGES
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
