//! The ICE servers one client is told about in its `welcome`.
//!
//! In this order:
//!
//! 1. the built-in STUN server, if it runs, as `stun:<host>:<port>`, where the host is
//!    the public URL's, or else the one the client itself used to reach this server
//!    (its `Host` header), so the address works from wherever the client is; when only
//!    the built-in relay runs, its port (it answers STUN Binding requests too);
//! 2. the configured ICE servers, as they are;
//! 3. the built-in TURN relay, if it runs, as `turn:<host>:<port>?transport=udp` (and
//!    `?transport=tcp` if it takes TCP, `turns:<host>:<port>?transport=tcp` if TLS)
//!    with the same host, and credentials made for this peer (see `turn`);
//! 4. the configured TURN relays (coturn), with credentials made for this peer.

use std::time::{Duration, SystemTime};

use meshdrop_protocol::signaling::IceServer;
use meshdrop_protocol::PeerId;

use crate::config::Config;
use crate::turn::{self, TurnSecret};

/// The UDP services this server runs itself.
#[derive(Debug, Clone, Default)]
pub struct Builtin {
    /// The built-in STUN server's port, if it runs.
    pub stun_port: Option<u16>,
    pub relay: Option<BuiltinRelay>,
}

/// The built-in TURN relay, as clients are told about it.
#[derive(Debug, Clone)]
pub struct BuiltinRelay {
    /// Its UDP port.
    pub port: u16,
    /// Its TCP port, if it takes TURN over TCP.
    pub tcp_port: Option<u16>,
    /// Its TLS port, if it takes TURN over TLS.
    pub tls_port: Option<u16>,
    pub secret: TurnSecret,
    pub ttl: Duration,
}

/// Who is asking, as far as its ICE servers depend on it.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub peer: &'a PeerId,
    /// The host part of the client's `Host` header, if it sent a valid one.
    pub host: Option<&'a str>,
}

/// The ICE servers for `client`, given what runs here.
pub fn servers(
    config: &Config,
    builtin: &Builtin,
    client: Client<'_>,
    now: SystemTime,
) -> Vec<IceServer> {
    let public_host = config.public_origin.as_ref().map(|origin| origin.host());
    let host = public_host.or(client.host);
    let relay = builtin.relay.as_ref();
    let stun_port = builtin.stun_port.or(relay.map(|relay| relay.port));
    let stun = stun_port.zip(host).map(|(port, host)| IceServer {
        urls: vec![format!("stun:{host}:{port}")],
        username: None,
        credential: None,
    });
    let relay = relay.zip(host).map(|(relay, host)| {
        let udp = format!("turn:{host}:{}?transport=udp", relay.port);
        let tcp = relay
            .tcp_port
            .map(|port| format!("turn:{host}:{port}?transport=tcp"));
        let tls = relay
            .tls_port
            .map(|port| format!("turns:{host}:{port}?transport=tcp"));
        let urls = std::iter::once(udp).chain(tcp).chain(tls).collect();
        turn::ice_server(urls, &relay.secret, relay.ttl, client.peer, now)
    });
    let turn = config
        .turn
        .as_ref()
        .map(|turn| turn.ice_server(client.peer, now));
    stun.into_iter()
        .chain(config.ice_servers.iter().cloned())
        .chain(relay)
        .chain(turn)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::origin::Origin;
    use crate::turn::Turn;

    fn urls(servers: &[IceServer]) -> Vec<&str> {
        servers
            .iter()
            .flat_map(|server| &server.urls)
            .map(String::as_str)
            .collect()
    }

    fn peer() -> PeerId {
        PeerId::new("0123456789abcdef").unwrap()
    }

    fn client<'a>(peer: &'a PeerId, host: Option<&'a str>) -> Client<'a> {
        Client { peer, host }
    }

    fn stun_at(port: u16) -> Builtin {
        Builtin {
            stun_port: Some(port),
            relay: None,
        }
    }

    fn relay_at(port: u16) -> BuiltinRelay {
        BuiltinRelay {
            port,
            tcp_port: Some(port),
            tls_port: None,
            secret: TurnSecret::new("built-in"),
            ttl: Duration::from_secs(60),
        }
    }

    #[test]
    fn builtin_stun_comes_first_at_the_host_the_client_used() {
        let config = Config {
            ice_servers: vec![IceServer {
                urls: vec!["stun:stun.example:19302".into()],
                username: None,
                credential: None,
            }],
            ..Config::default()
        };
        let peer = peer();
        let servers = servers(
            &config,
            &stun_at(3478),
            client(&peer, Some("[::1]")),
            SystemTime::now(),
        );
        assert_eq!(
            urls(&servers),
            ["stun:[::1]:3478", "stun:stun.example:19302"]
        );
    }

    #[test]
    fn the_public_url_host_wins_over_the_host_header() {
        let config = Config {
            public_origin: Some(Origin::of_url("https://meshdrop.example").unwrap()),
            ..Config::default()
        };
        let peer = peer();
        let servers = servers(
            &config,
            &stun_at(3478),
            client(&peer, Some("10.0.0.1")),
            SystemTime::now(),
        );
        assert_eq!(urls(&servers), ["stun:meshdrop.example:3478"]);
    }

    #[test]
    fn without_builtin_stun_or_a_host_there_is_no_builtin_entry() {
        let config = Config::default();
        let peer = peer();
        let now = SystemTime::now();
        let none = Builtin::default();
        assert!(servers(&config, &none, client(&peer, Some("a.example")), now).is_empty());
        assert!(servers(&config, &stun_at(3478), client(&peer, None), now).is_empty());
    }

    #[test]
    fn turn_comes_last_with_credentials_for_this_peer() {
        let config = Config {
            turn: Some(Turn {
                urls: vec!["turn:relay.example:3478?transport=udp".into()],
                secret: TurnSecret::new("s"),
                ttl: Duration::from_secs(60),
            }),
            ..Config::default()
        };
        let peer = peer();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let servers = servers(&config, &stun_at(3478), client(&peer, Some("h")), now);
        assert_eq!(urls(&servers)[0], "stun:h:3478");
        assert_eq!(
            servers[1].username.as_deref(),
            Some("1060:0123456789abcdef")
        );
        assert!(servers[1].credential.is_some());
    }

    #[test]
    fn the_builtin_relay_comes_before_coturn_at_the_host_the_client_used() {
        let config = Config {
            turn: Some(Turn {
                urls: vec!["turn:coturn.example:3478".into()],
                secret: TurnSecret::new("coturn"),
                ttl: Duration::from_secs(60),
            }),
            ..Config::default()
        };
        let builtin = Builtin {
            stun_port: Some(3478),
            relay: Some(BuiltinRelay {
                tls_port: Some(5349),
                ..relay_at(3479)
            }),
        };
        let peer = peer();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let servers = servers(&config, &builtin, client(&peer, Some("h")), now);
        assert_eq!(
            urls(&servers),
            [
                "stun:h:3478",
                "turn:h:3479?transport=udp",
                "turn:h:3479?transport=tcp",
                "turns:h:5349?transport=tcp",
                "turn:coturn.example:3478"
            ]
        );
        let username = "1060:0123456789abcdef";
        assert_eq!(servers[1].username.as_deref(), Some(username));
        assert_eq!(
            servers[1].credential,
            Some(TurnSecret::new("built-in").password(username))
        );
        assert_ne!(servers[1].credential, servers[2].credential);
    }

    #[test]
    fn without_a_stun_server_the_relay_answers_stun_too() {
        let builtin = Builtin {
            stun_port: None,
            relay: Some(relay_at(3478)),
        };
        let peer = peer();
        let servers = servers(
            &Config::default(),
            &builtin,
            client(&peer, Some("h")),
            SystemTime::now(),
        );
        assert_eq!(
            urls(&servers),
            [
                "stun:h:3478",
                "turn:h:3478?transport=udp",
                "turn:h:3478?transport=tcp"
            ]
        );
    }
}
