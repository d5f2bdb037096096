//! How a [`crate::Launch`] is told to Chromium: command-line flags, through chromedriver.

use serde_json::{json, Map, Value};

use crate::browser::{json_object, Settings, PHONE_SCREEN};

/// Flags Chromium needs to run headless as root on a machine without internet access.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// Plain IP host candidates instead of mDNS names: resolving those would add multicast
/// inside the namespace as one more moving part (ICE works either way here).
const SHOW_LOCAL_IPS: &str = "--disable-features=WebRtcHideLocalIpsWithMdns";

pub(crate) fn capabilities(settings: &Settings) -> Map<String, Value> {
    let mut args: Vec<String> = FLAGS.iter().map(|flag| flag.to_string()).collect();
    args.push(format!("--user-data-dir={}", settings.profile.display()));
    if !settings.hide_local_ips {
        args.push(SHOW_LOCAL_IPS.to_string());
    }
    if settings.dark {
        // Blink's PreferredColorScheme: 0 is dark, 1 light.
        args.push("--blink-settings=preferredColorScheme=0".to_string());
    }
    if let Some(user_agent) = settings.user_agent {
        args.push(format!("--user-agent={user_agent}"));
    }
    if !settings.secure_origins.is_empty() {
        args.push(format!(
            "--unsafely-treat-insecure-origin-as-secure={}",
            settings.secure_origins.join(",")
        ));
    }
    let mut chrome_options = json!({ "binary": "/usr/bin/chromium", "args": args });
    if settings.phone {
        // Headless windows are at least 500 px wide; emulation sizes the page itself.
        let (width, height) = PHONE_SCREEN;
        chrome_options["mobileEmulation"] = json!({
            "deviceMetrics": { "width": width, "height": height, "pixelRatio": 2, "touch": true, "mobile": true },
        });
    }
    json_object(json!({
        "browserName": "chrome",
        "goog:chromeOptions": chrome_options,
    }))
}
