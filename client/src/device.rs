//! What kind of device a page runs on, read from its user agent, the way people name
//! their devices: "Chrome on Android", a phone. Peers tell each other this in a
//! [`ControlFrame::Hello`](meshdrop_protocol::frame::ControlFrame::Hello).
//!
//! Pure string matching, no browser calls, so it is unit-tested natively. A user agent
//! is only a hint: an unknown one gives a desktop with empty names, which the page shows
//! as just the person's name.

use meshdrop_protocol::frame::{Device, DeviceKind};

/// The longest browser or OS name a page shows for a peer; peers may send anything.
pub const MAX_NAME_CHARS: usize = 24;

/// Tokens that name a browser, most specific first: Edge and Opera also say "Chrome",
/// and Chrome also says "Safari".
const BROWSERS: &[(&str, &str)] = &[
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("FxiOS/", "Firefox"),
    ("Firefox/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
];

/// The device a page with user agent `user_agent` runs on. `touch_points` is
/// `navigator.maxTouchPoints`: an iPad's Safari claims to be a Mac, and only its touch
/// screen tells them apart.
pub fn from_user_agent(user_agent: &str, touch_points: u32) -> Device {
    let browser = BROWSERS
        .iter()
        .find(|(token, _)| user_agent.contains(token))
        .map(|(_, name)| (*name).to_owned())
        .unwrap_or_default();
    let (kind, os) = platform(user_agent, touch_points);
    Device {
        kind,
        browser,
        os: os.to_owned(),
    }
}

fn platform(user_agent: &str, touch_points: u32) -> (DeviceKind, &'static str) {
    let has = |token: &str| user_agent.contains(token);
    if has("iPhone") || has("iPod") {
        (DeviceKind::Phone, "iOS")
    } else if has("iPad") || (has("Macintosh") && touch_points > 1) {
        (DeviceKind::Tablet, "iPadOS")
    } else if has("Android") {
        // Android phones say "Mobile"; tablets leave it out.
        let kind = if has("Mobile") {
            DeviceKind::Phone
        } else {
            DeviceKind::Tablet
        };
        (kind, "Android")
    } else if has("Windows") {
        (DeviceKind::Desktop, "Windows")
    } else if has("Macintosh") || has("Mac OS X") {
        (DeviceKind::Desktop, "macOS")
    } else if has("CrOS") {
        (DeviceKind::Desktop, "ChromeOS")
    } else if has("Linux") || has("X11") {
        (DeviceKind::Desktop, "Linux")
    } else {
        (DeviceKind::Desktop, "")
    }
}

/// "Chrome on Android", "Firefox", "Linux", or "" when nothing is known. Cuts names a
/// peer sent to [`MAX_NAME_CHARS`].
pub fn label(device: &Device) -> String {
    let browser = shorten(&device.browser);
    let os = shorten(&device.os);
    match (browser.is_empty(), os.is_empty()) {
        (false, false) => format!("{browser} on {os}"),
        (false, true) => browser,
        (true, false) => os,
        (true, true) => String::new(),
    }
}

fn shorten(name: &str) -> String {
    let name = name.trim();
    match name.char_indices().nth(MAX_NAME_CHARS) {
        Some((cut, _)) => format!("{}…", &name[..cut]),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(user_agent: &str, touch_points: u32) -> (DeviceKind, String) {
        let device = from_user_agent(user_agent, touch_points);
        let label = label(&device);
        (device.kind, label)
    }

    #[test]
    fn phones() {
        let pixel = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";
        assert_eq!(
            device(pixel, 5),
            (DeviceKind::Phone, "Chrome on Android".into())
        );
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(
            device(iphone, 5),
            (DeviceKind::Phone, "Safari on iOS".into())
        );
        let chrome_ios = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1";
        assert_eq!(
            device(chrome_ios, 5),
            (DeviceKind::Phone, "Chrome on iOS".into())
        );
        let samsung = "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36";
        assert_eq!(
            device(samsung, 5),
            (DeviceKind::Phone, "Samsung Internet on Android".into())
        );
        let firefox_android =
            "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0";
        assert_eq!(
            device(firefox_android, 5),
            (DeviceKind::Phone, "Firefox on Android".into())
        );
    }

    #[test]
    fn tablets() {
        let android_tablet = "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
        assert_eq!(
            device(android_tablet, 5),
            (DeviceKind::Tablet, "Chrome on Android".into())
        );
        // iPadOS Safari asks for desktop sites and says "Macintosh".
        let ipad = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
        assert_eq!(
            device(ipad, 5),
            (DeviceKind::Tablet, "Safari on iPadOS".into())
        );
        assert_eq!(
            device(ipad, 0),
            (DeviceKind::Desktop, "Safari on macOS".into())
        );
    }

    #[test]
    fn desktops() {
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68";
        assert_eq!(
            device(edge, 0),
            (DeviceKind::Desktop, "Edge on Windows".into())
        );
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(
            device(firefox, 0),
            (DeviceKind::Desktop, "Firefox on Linux".into())
        );
        let headless = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36";
        assert_eq!(
            device(headless, 0),
            (DeviceKind::Desktop, "Chrome on Linux".into())
        );
        let opera = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0";
        assert_eq!(
            device(opera, 0),
            (DeviceKind::Desktop, "Opera on macOS".into())
        );
    }

    #[test]
    fn unknown_agents_give_a_desktop_without_names() {
        assert_eq!(device("", 0), (DeviceKind::Desktop, String::new()));
        assert_eq!(
            device("curl/8.5.0", 0),
            (DeviceKind::Desktop, String::new())
        );
    }

    #[test]
    fn labels_of_what_peers_sent_are_bounded() {
        let sent = Device {
            kind: DeviceKind::Desktop,
            browser: "B".repeat(500),
            os: String::new(),
        };
        assert_eq!(label(&sent).chars().count(), MAX_NAME_CHARS + 1);
        let os_only = Device {
            kind: DeviceKind::Phone,
            browser: " ".into(),
            os: "Android".into(),
        };
        assert_eq!(label(&os_only), "Android");
    }
}
