//! One headless browser, Chromium or Firefox, driven over WebDriver.
//!
//! Every browser has its own driver (chromedriver or geckodriver), its own browser
//! process and its own throw-away profile, so browsers in a test share nothing but the
//! network. Dropping a [`Browser`] kills its processes and deletes its profile.
//!
//! Both kinds take the same [`Launch`] options; [`crate::chromium`] and
//! [`crate::firefox`] say how each browser is told.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tempfile::TempDir;

use crate::driver::Driver;
use crate::error::{Error, Result};
use crate::netns::{NetNs, RemoteHost, HOST_A, HOST_B};
use crate::{chromium, firefox};

/// How long one WebDriver script may run; the baseline's bulk transfer is the longest.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);

/// Which browser to launch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum BrowserKind {
    /// Debian's `chromium`, through `chromedriver`.
    #[default]
    Chromium,
    /// Debian's `firefox-esr`, through `geckodriver`.
    Firefox,
}

impl fmt::Display for BrowserKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BrowserKind::Chromium => "Chromium",
            BrowserKind::Firefox => "Firefox",
        })
    }
}

/// Where and how to start a [`Browser`].
#[derive(Debug, Default)]
pub struct Launch<'a> {
    kind: BrowserKind,
    host: Option<RemoteHost<'a>>,
    secure_origins: Vec<String>,
    hide_local_ips: bool,
    dark: bool,
    phone: bool,
    user_agent: Option<String>,
}

/// A phone's screen in CSS pixels (an iPhone 14's), drawn at twice the density.
pub const PHONE_SCREEN: (u32, u32) = (390, 844);

/// What the browser-specific modules turn into capabilities.
#[derive(Debug)]
pub(crate) struct Settings<'a> {
    /// The profile directory the browser must use.
    pub profile: &'a Path,
    /// Origins like `http://10.77.0.1:8080` to treat as secure contexts.
    pub secure_origins: &'a [String],
    /// Whether ICE host candidates hide behind mDNS names (the browsers' default).
    pub hide_local_ips: bool,
    /// Prefer dark colours.
    pub dark: bool,
    /// Size the page as a phone's screen, [`PHONE_SCREEN`].
    pub phone: bool,
    /// Claim this user agent instead of the browser's own.
    pub user_agent: Option<&'a str>,
}

impl<'a> Launch<'a> {
    /// A Chromium in the calling thread's namespace.
    pub fn local() -> Launch<'a> {
        Launch::default()
    }

    /// A Chromium on `host`, the B side of a [`crate::TwoHosts`], driven from host A.
    pub fn on_host(host: &'a NetNs) -> Launch<'a> {
        Launch::on(RemoteHost {
            ns: host,
            address: HOST_B,
            driven_from: HOST_A,
            behind: None,
        })
    }

    /// A browser on `host`, driven from the test body's namespace.
    pub fn on(host: RemoteHost<'a>) -> Launch<'a> {
        Launch {
            host: Some(host),
            ..Launch::default()
        }
    }

    /// Launches a browser of `kind` instead of Chromium.
    pub fn kind(mut self, kind: BrowserKind) -> Launch<'a> {
        self.kind = kind;
        self
    }

    /// Treats `origin` (like `http://10.77.0.1:8080`) as a secure context, as if it were
    /// loopback, so OPFS and WebCrypto work on pages loaded from another host.
    pub fn treat_as_secure(mut self, origin: impl Into<String>) -> Launch<'a> {
        self.secure_origins.push(origin.into());
        self
    }

    /// Keeps the browser's default of hiding host candidates behind mDNS names. Without
    /// NAT a server-reflexive candidate equals a host candidate and is dropped as a
    /// duplicate; with the host hidden, it shows.
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
            .map_err(Error::io(format!(
                "create a {} profile directory",
                self.kind
            )))?;
        let driver = Driver::start(self.kind, self.host).await?;
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(self.capabilities(&profile))
            .connect(driver.url())
            .await?;
        Ok(Browser {
            client,
            kind: self.kind,
            driver,
            _profile: profile,
        })
    }

    fn capabilities(&self, profile: &TempDir) -> serde_json::Map<String, Value> {
        let settings = Settings {
            profile: profile.path(),
            secure_origins: &self.secure_origins,
            hide_local_ips: self.hide_local_ips,
            dark: self.dark,
            phone: self.phone,
            user_agent: self.user_agent.as_deref(),
        };
        let mut capabilities = match self.kind {
            BrowserKind::Chromium => chromium::capabilities(&settings),
            BrowserKind::Firefox => firefox::capabilities(&settings),
        };
        capabilities.insert(
            "timeouts".into(),
            serde_json::json!({ "script": SCRIPT_TIMEOUT.as_millis() as u64 }),
        );
        capabilities
    }
}

/// A running headless browser.
#[derive(Debug)]
pub struct Browser {
    client: Client,
    kind: BrowserKind,
    // Dropped after `client`, in this order: kill the processes, then delete their profile.
    driver: Driver,
    _profile: TempDir,
}

impl Browser {
    /// A Chromium in the calling thread's namespace; see [`Launch`] for other browsers
    /// and placements.
    pub async fn launch() -> Result<Browser> {
        Launch::local().start().await
    }

    /// The id of the process that every process of this browser descends from.
    pub(crate) fn process_id(&self) -> u32 {
        self.driver.process_id()
    }

    /// The WebDriver client, for anything the helpers here do not cover.
    pub fn kind(&self) -> BrowserKind {
        self.kind
    }

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

/// The map inside a `json!` object literal.
pub(crate) fn json_object(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("json! of an object literal is an object"),
    }
}
