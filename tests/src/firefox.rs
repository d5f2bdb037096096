//! How a [`crate::Launch`] is told to Firefox: preferences in its fresh profile, through
//! geckodriver.
//!
//! geckodriver writes the preferences into the profile before Firefox starts, so they hold
//! from the first moment; the remote agent's own recommended preferences only arrive once
//! start-up services are already running.

use serde_json::{json, Map, Value};

use crate::browser::{json_object, Settings};

/// Debian's `firefox-esr`.
const BINARY: &str = "/usr/bin/firefox-esr";

/// Environment for Firefox, through geckodriver's (whose `moz:firefoxOptions.env` is for
/// Android only): a release build takes the remote settings server from the preferences
/// only with this set.
pub(crate) const ENVIRONMENT: &[(&str, &str)] = &[("MOZ_REMOTE_SETTINGS_DEVTOOLS", "1")];

/// Preferences that keep Firefox off the network: everything it would fetch or report on
/// its own. The namespace leads nowhere anyway; these keep it from trying, so a test's
/// traffic is the test's.
fn quiet_preferences() -> Value {
    json!({
        // Add-on and plugin updates (Debian builds Firefox without its own updater).
        "extensions.update.enabled": false,
        "extensions.systemAddon.update.enabled": false,
        "extensions.getAddons.cache.enabled": false,
        "media.gmp-manager.url": "",
        "media.gmp-gmpopenh264.enabled": false,
        // Telemetry, health reports and studies.
        "toolkit.telemetry.unified": false,
        "toolkit.telemetry.archive.enabled": false,
        "datareporting.policy.dataSubmissionEnabled": false,
        "datareporting.healthreport.uploadEnabled": false,
        "datareporting.usage.uploadEnabled": false,
        "app.normandy.enabled": false,
        "app.normandy.api_url": "",
        "app.shield.optoutstudies.enabled": false,
        // Captive portal and connectivity probes.
        "network.captive-portal-service.enabled": false,
        "network.connectivity-service.enabled": false,
        // Safe Browsing lists.
        "browser.safebrowsing.malware.enabled": false,
        "browser.safebrowsing.phishing.enabled": false,
        "browser.safebrowsing.downloads.enabled": false,
        "browser.safebrowsing.blockedURIs.enabled": false,
        // Remote settings: a server that answers nothing (see `ENVIRONMENT`).
        "services.settings.server": "data:,#remote-settings-dummy/v1",
        // Web push's connection to its server.
        "dom.push.connection.enabled": false,
        // Region and geolocation look-ups, search engine updates.
        "browser.region.update.enabled": false,
        "browser.region.network.url": "",
        "geo.provider.network.url": "",
        "browser.search.update": false,
        // Prefetching and speculative connections, DNS over HTTPS.
        "network.prefetch-next": false,
        "network.dns.disablePrefetch": true,
        "network.http.speculative-parallel-limit": 0,
        "network.trr.mode": 5,
        // First-run pages and the new tab page.
        "browser.shell.checkDefaultBrowser": false,
        "browser.startup.homepage_override.mstone": "ignore",
        "browser.startup.page": 0,
        "browser.newtabpage.enabled": false,
        "browser.aboutwelcome.enabled": false,
    })
}

pub(crate) fn capabilities(settings: &Settings) -> Map<String, Value> {
    let mut prefs = json_object(quiet_preferences());
    // Plain IP host candidates instead of mDNS names, as for Chromium: a Chromium peer
    // would otherwise have to resolve them by multicast in the namespace.
    prefs.insert(
        "media.peerconnection.ice.obfuscate_host_addresses".into(),
        settings.hide_local_ips.into(),
    );
    if !settings.secure_origins.is_empty() {
        let hosts: Vec<&str> = settings.secure_origins.iter().map(|o| host_of(o)).collect();
        prefs.insert("dom.securecontext.allowlist".into(), hosts.join(",").into());
    }
    if settings.dark {
        // 0: pages see `prefers-color-scheme: dark`.
        prefs.insert(
            "layout.css.prefers-color-scheme.content-override".into(),
            0.into(),
        );
    }
    if let Some(user_agent) = settings.user_agent {
        prefs.insert("general.useragent.override".into(), user_agent.into());
    }
    assert!(
        !settings.phone,
        "the harness emulates a phone's screen in Chromium only"
    );
    json_object(json!({
        "browserName": "firefox",
        "moz:firefoxOptions": {
            "binary": BINARY,
            // geckodriver uses a profile given this way as it is, instead of a copy.
            "args": ["-headless", "-profile", settings.profile],
            "prefs": prefs,
        },
    }))
}

/// The host of an origin like `http://10.77.0.1:8080`: Firefox's secure-context allowlist
/// names hosts, where Chromium's flag takes origins.
fn host_of(origin: &str) -> &str {
    let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _port)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowlist_takes_the_host_of_an_origin() {
        assert_eq!(host_of("http://10.77.0.1:41234"), "10.77.0.1");
        assert_eq!(host_of("http://meshdrop.test"), "meshdrop.test");
    }
}
