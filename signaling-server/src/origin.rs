//! Which web pages may open the signaling WebSocket.
//!
//! Browsers send the page's `Origin` with every WebSocket handshake and, unlike for
//! `fetch`, enforce nothing themselves; without this check any site a user visits
//! could join rooms on their behalf. A refused handshake gets `403` before the upgrade.
//!
//! The rule, in order:
//!
//! 1. No `Origin` header: allowed. Only browsers send one, and only a browser can be
//!    made to connect by someone else's page; native clients send none.
//! 2. If allowed origins are configured, the origin must be one of them (scheme, host
//!    and port, compared after normalising case and default ports).
//! 3. Otherwise the origin must be the public URL's origin, or the request's own
//!    origin: the scheme it came over (HTTPS with `--tls-cert`, or as a trusted proxy
//!    says in `X-Forwarded-Proto` / `Forwarded: proto=`), and the host and port of its
//!    `Host` header, all three compared.
//!
//! Rule 3 keeps other sites' pages out, but not DNS rebinding: a page of
//! `http://evil.example:8080` whose name is then pointed at this server makes requests
//! whose `Host` is `evil.example:8080` too, so they match. Only a fixed list of names,
//! `--public-url` or `--allowed-origin`, stops that; the public URL should be set on
//! any server reachable by a name.

use std::fmt;
use std::str::FromStr;

use axum::http::uri::{Authority, Scheme, Uri};

use crate::config::Config;

/// A web origin: scheme, host and port, normalised so equal origins compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    secure: bool,
    /// Lowercase; IPv6 addresses keep their brackets.
    host: String,
    /// `None` for the scheme's default port.
    port: Option<u16>,
}

/// A string that is not an `http` or `https` origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidOrigin {
    #[error("not a URL like https://meshdrop.example.com")]
    NotAUrl,
    #[error("the scheme must be http or https")]
    Scheme,
    #[error("an origin has no path, query or user name")]
    NotJustAnOrigin,
}

impl Origin {
    /// The origin of `url`, which may have a path (like `https://example.com/meshdrop`).
    pub fn of_url(url: &str) -> Result<Self, InvalidOrigin> {
        let uri: Uri = url.parse().map_err(|_| InvalidOrigin::NotAUrl)?;
        let secure = match uri.scheme() {
            Some(scheme) if *scheme == Scheme::HTTPS => true,
            Some(scheme) if *scheme == Scheme::HTTP => false,
            Some(_) => return Err(InvalidOrigin::Scheme),
            None => return Err(InvalidOrigin::NotAUrl),
        };
        let authority = uri.authority().ok_or(InvalidOrigin::NotAUrl)?;
        if authority.as_str().contains('@') {
            return Err(InvalidOrigin::NotJustAnOrigin);
        }
        let default_port = if secure { 443 } else { 80 };
        Ok(Self {
            secure,
            host: authority.host().to_ascii_lowercase(),
            port: authority.port_u16().filter(|port| *port != default_port),
        })
    }

    /// The host name or address, lowercase (IPv6 in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl FromStr for Origin {
    type Err = InvalidOrigin;

    /// An origin as browsers send it; a trailing `/` is tolerated.
    fn from_str(text: &str) -> Result<Self, InvalidOrigin> {
        let without_slash = text.strip_suffix('/').unwrap_or(text);
        let uri: Uri = without_slash.parse().map_err(|_| InvalidOrigin::NotAUrl)?;
        if uri
            .path_and_query()
            .is_some_and(|path| path.as_str() != "/")
        {
            return Err(InvalidOrigin::NotJustAnOrigin);
        }
        Self::of_url(without_slash)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.secure { "https" } else { "http" };
        write!(f, "{scheme}://{}", self.host)?;
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

/// The host part of a `Host` header (or any `host[:port]`), lowercase.
pub fn host_of(authority: &str) -> Option<String> {
    let authority: Authority = authority.parse().ok()?;
    Some(authority.host().to_ascii_lowercase())
}

/// The origin a request was made to: `secure` if it came over HTTPS, and its `Host`.
pub fn of_request(secure: bool, host: &str) -> Option<Origin> {
    let scheme = if secure { "https" } else { "http" };
    Origin::from_str(&format!("{scheme}://{host}")).ok()
}

/// Whether a WebSocket handshake with this `Origin` header, made to `request`, may
/// proceed (see the module docs).
pub fn is_allowed(origin: Option<&str>, request: Option<&Origin>, config: &Config) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    let Ok(origin) = origin.parse::<Origin>() else {
        return false;
    };
    if !config.allowed_origins.is_empty() {
        return config.allowed_origins.contains(&origin);
    }
    config.public_origin.as_ref() == Some(&origin) || request == Some(&origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(text: &str) -> Origin {
        text.parse().unwrap()
    }

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            origin("HTTPS://Example.COM:443/"),
            origin("https://example.com")
        );
        assert_eq!(origin("http://a.b:80").to_string(), "http://a.b");
        assert_eq!(origin("http://a.b:8080").to_string(), "http://a.b:8080");
        assert_eq!(origin("http://[::1]:8080").host(), "[::1]");
        assert_ne!(origin("http://a.b"), origin("https://a.b"));
    }

    #[test]
    fn what_is_not_an_origin_is_refused() {
        assert_eq!("null".parse::<Origin>(), Err(InvalidOrigin::NotAUrl));
        assert_eq!("a.b".parse::<Origin>(), Err(InvalidOrigin::NotAUrl));
        assert_eq!("ftp://a.b".parse::<Origin>(), Err(InvalidOrigin::Scheme));
        assert_eq!(
            "https://a.b/app".parse::<Origin>(),
            Err(InvalidOrigin::NotJustAnOrigin)
        );
        assert_eq!(
            "https://user@a.b".parse::<Origin>(),
            Err(InvalidOrigin::NotJustAnOrigin)
        );
        // A public URL may have a path; its origin is what counts.
        assert_eq!(
            Origin::of_url("https://a.b/app/"),
            Ok(origin("https://a.b"))
        );
    }

    /// The origin of a plain HTTP request to `host`.
    fn plain(host: &str) -> Option<Origin> {
        of_request(false, host)
    }

    #[test]
    fn without_configuration_the_whole_request_origin_decides() {
        let config = Config::default();
        assert!(is_allowed(None, None, &config), "a native client");
        let own = plain("10.0.0.1:8080");
        assert!(is_allowed(
            Some("http://10.0.0.1:8080"),
            own.as_ref(),
            &config
        ));
        // Case and default ports are normalised.
        let secure = of_request(true, "Meshdrop.example:443");
        assert!(is_allowed(
            Some("https://meshdrop.example"),
            secure.as_ref(),
            &config
        ));
        // Another scheme, port or host is another origin.
        for foreign in [
            "https://10.0.0.1:8080",
            "http://10.0.0.1:8081",
            "http://10.0.0.1",
            "http://10.0.0.2:8080",
            "null",
        ] {
            assert!(
                !is_allowed(Some(foreign), own.as_ref(), &config),
                "{foreign}"
            );
        }
        // The DNS-rebinding case: an HTTPS page's name pointed at a plain server.
        let rebound = plain("evil.example");
        assert!(!is_allowed(
            Some("https://evil.example"),
            rebound.as_ref(),
            &config
        ));
        assert!(!is_allowed(Some("https://evil.example"), None, &config));
    }

    #[test]
    fn the_public_url_is_allowed_whatever_the_host_header() {
        let config = Config {
            public_origin: Some(Origin::of_url("https://meshdrop.example/").unwrap()),
            ..Config::default()
        };
        let proxied = plain("127.0.0.1:8080");
        assert!(is_allowed(
            Some("https://meshdrop.example"),
            proxied.as_ref(),
            &config
        ));
        assert!(!is_allowed(
            Some("http://meshdrop.example:81"),
            proxied.as_ref(),
            &config
        ));
    }

    #[test]
    fn configured_origins_replace_the_default() {
        let config = Config {
            allowed_origins: vec![origin("https://app.example")],
            ..Config::default()
        };
        let request = of_request(true, "signal.example");
        assert!(is_allowed(
            Some("https://app.example"),
            request.as_ref(),
            &config
        ));
        assert!(!is_allowed(
            Some("https://signal.example"),
            request.as_ref(),
            &config
        ));
    }
}
