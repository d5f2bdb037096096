//! One headless Chromium, driven over WebDriver.
//!
//! Every browser has its own chromedriver, its own Chromium and its own throw-away profile,
//! so browsers in a test share nothing but the network. Dropping a [`Browser`] kills its
//! processes and deletes its profile.

use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::chromedriver::ChromeDriver;
use crate::error::{Error, Result};
use crate::netns::NetNs;

/// How long one WebDriver script may run; the baseline's bulk transfer is the longest.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);

/// Flags Chromium needs to run headless as root on a machine without internet access.
const CHROMIUM_FLAGS: &[&str] = &[
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

/// Where and how to start a [`Browser`].
#[derive(Debug, Default)]
pub struct Launch<'a> {
    host: Option<&'a NetNs>,
    secure_origins: Vec<String>,
    hide_local_ips: bool,
    dark: bool,
    phone: bool,
    user_agent: Option<String>,
}

/// A phone's screen in CSS pixels (an iPhone 14's), drawn at twice the density.
pub const PHONE_SCREEN: (u32, u32) = (390, 844);

impl<'a> Launch<'a> {
    /// A browser in the calling thread's namespace.
    pub fn local() -> Launch<'a> {
        Launch::default()
    }

    /// A browser on `host`, the B side of a [`crate::TwoHosts`], driven from host A.
    pub fn on_host(host: &'a NetNs) -> Launch<'a> {
        Launch {
            host: Some(host),
            ..Launch::default()
        }
    }

    /// Treats `origin` (like `http://10.77.0.1:8080`) as a secure context, as if it were
    /// loopback, so OPFS and WebCrypto work on pages loaded from another host.
    pub fn treat_as_secure(mut self, origin: impl Into<String>) -> Launch<'a> {
        self.secure_origins.push(origin.into());
        self
    }

    /// Keeps Chromium's default of hiding host candidates behind mDNS names. Without NAT a
    /// server-reflexive candidate equals a host candidate and is dropped as a duplicate;
    /// with the host hidden, it shows.
    pub fn hide_local_ips(mut self) -> Launch<'a> {
        self.hide_local_ips = true;
        self
    }

    /// Prefers dark colours (`prefers-color-scheme: dark`), as a system in dark mode does.
    pub fn dark(mut self) -> Launch<'a> {
        self.dark = true;
        self
    }

    /// A window the size of a phone's screen, [`PHONE_SCREEN`], at a phone's pixel density.
    pub fn phone(mut self) -> Launch<'a> {
        self.phone = true;
        self
    }

    /// Says it is `user_agent`, as another browser on another device would.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Launch<'a> {
        self.user_agent = Some(user_agent.into());
        self
    }

    pub async fn start(self) -> Result<Browser> {
        let profile = tempfile::Builder::new()
            .prefix("meshdrop-e2e-profile-")
            .tempdir()
            .map_err(Error::io("create a Chromium profile directory"))?;
        let driver = match self.host {
            Some(host) => ChromeDriver::start_on(host).await?,
            None => ChromeDriver::start_local().await?,
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(self.capabilities(&profile))
            .connect(driver.url())
            .await?;
        Ok(Browser {
            client,
            driver,
            _profile: profile,
        })
    }

    fn capabilities(&self, profile: &TempDir) -> serde_json::Map<String, Value> {
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|flag| flag.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        if !self.hide_local_ips {
            args.push(SHOW_LOCAL_IPS.to_string());
        }
        if self.dark {
            // Blink's PreferredColorScheme: 0 is dark, 1 light.
            args.push("--blink-settings=preferredColorScheme=0".to_string());
        }
        if let Some(user_agent) = &self.user_agent {
            args.push(format!("--user-agent={user_agent}"));
        }
        if !self.secure_origins.is_empty() {
            args.push(format!(
                "--unsafely-treat-insecure-origin-as-secure={}",
                self.secure_origins.join(",")
            ));
        }
        let mut chrome_options = json!({ "binary": "/usr/bin/chromium", "args": args });
        if self.phone {
            // Headless windows are at least 500 px wide; emulation sizes the page itself.
            let (width, height) = PHONE_SCREEN;
            chrome_options["mobileEmulation"] = json!({
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 2, "touch": true, "mobile": true },
            });
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": chrome_options,
            "timeouts": { "script": SCRIPT_TIMEOUT.as_millis() as u64 },
        });
        match capabilities {
            Value::Object(map) => map,
            _ => unreachable!("json! of an object literal is an object"),
        }
    }
}

/// A running headless Chromium.
#[derive(Debug)]
pub struct Browser {
    client: Client,
    // Dropped after `client`, in this order: kill the processes, then delete their profile.
    driver: ChromeDriver,
    _profile: TempDir,
}

impl Browser {
    /// A browser in the calling thread's namespace; see [`Launch`] for other placements.
    pub async fn launch() -> Result<Browser> {
        Launch::local().start().await
    }

    /// The id of the process that every process of this browser descends from.
    pub(crate) fn process_id(&self) -> u32 {
        self.driver.process_id()
    }

    /// The WebDriver client, for anything the helpers here do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) -> Result<()> {
        Ok(self.client.goto(url).await?)
    }

    /// A PNG of what the window shows.
    pub async fn screenshot(&self) -> Result<Vec<u8>> {
        Ok(self.client.screenshot().await?)
    }

    /// Runs `script` as the body of a function (`arguments[i]` are `args`); a returned promise
    /// is awaited. The result is decoded as `T`; `what` names the script in errors.
    pub async fn run<T: DeserializeOwned>(
        &self,
        what: &'static str,
        script: &str,
        args: Vec<Value>,
    ) -> Result<T> {
        let value = self.client.execute(script, args).await?;
        serde_json::from_value(value.clone()).map_err(|source| Error::UnexpectedJson {
            what,
            value,
            source,
        })
    }
}
