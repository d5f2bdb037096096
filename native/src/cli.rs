//! The command line: subcommands, options, and the parsing of their values.
//!
//! Values are checked here, while clap can still point at the offending argument, so
//! the rest of the program only ever sees a valid room, a WebSocket URL and well-formed
//! ICE servers.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use meshdrop_protocol::signaling::{IceServer, MAX_NAME_CHARS, NETWORK_ROOM_PREFIX};
use meshdrop_protocol::RoomId;
use meshdrop_verify::PairingCode;
use rand::seq::IndexedRandom;

use crate::driver::Corruption;

const EXIT_CODES: &str = "\
Exit status:
  0  done: every file was accepted and verified, or the chat ended
  1  usage: bad arguments, an unreadable file, an unusable --dir
  2  the signaling server is unreachable or refused us (bad URL, room full, ...)
  3  nobody to talk to: no peer (or no peer named --to) connected within --wait
     (or before Ctrl-C)
  4  the offer was declined
  5  a transfer started but did not complete: cancelled, peer left, digest mismatch
  6  pairing by code failed: a wrong code, or a connection that is not authentic

ICE: only host candidates are used unless you add STUN/TURN servers with --ice-server
(the signaling server may add its own). No public server is ever used by default.
  --ice-server stun:stun.example.org:3478
  --ice-server turn:USER:PASSWORD@turn.example.org:3478?transport=udp";

#[derive(Debug, Parser)]
#[command(
    name = "meshdrop",
    version,
    about = "Send files and chat with the peers of a Meshdrop room, from the terminal.",
    long_about = "Send files and chat with the peers of a Meshdrop room, from the terminal.\n\n\
        meshdrop joins a room on a Meshdrop signaling server and talks to every peer in it \
        (browsers or other meshdrop processes) directly over WebRTC data channels; the \
        server only introduces peers to each other. Files are checked with SHA-256 and only \
        appear under their real name once verified.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Directory of this device's certificate (certificate.pem, made on the first run),
    /// whose fingerprint identifies this device to its peers [default:
    /// $XDG_CONFIG_HOME/meshdrop or ~/.config/meshdrop]
    #[arg(long, global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Offer files to one peer (--to) or to everyone in the room and send them once accepted.
    Send(SendArgs),
    /// Wait for an offer, accept it (asking first unless --yes) and save the files.
    Receive(ReceiveArgs),
    /// Chat with everyone in the room, or one peer (`/to NAME`, `/all`): stdin lines go
    /// out, incoming lines are printed.
    Chat(ChatArgs),
    /// Offer files to everyone who is in the room or joins it, and serve them, until
    /// Ctrl-C; receivers pass blocks on to each other.
    Seed(SeedArgs),
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct Common {
    /// Room to join (1-64 of A-Z a-z 0-9 - _), as in the web app's link [default: the
    /// room of the network this machine connects from, where the web app opened without
    /// a room in its link is too]
    #[arg(long, value_parser = parse_room)]
    pub room: Option<RoomId>,

    /// Signaling server: a ws:// or wss:// URL, or the web app's http(s):// address
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws", value_parser = signaling_url)]
    pub server: String,

    /// Display name shown to the other peers [default: a random friendly name]
    #[arg(long, value_parser = parse_name)]
    pub name: Option<String>,

    /// STUN or TURN server, repeatable; TURN credentials as turn:USER:PASSWORD@HOST:PORT
    #[arg(long = "ice-server", value_name = "URL", value_parser = parse_ice_server)]
    pub ice_servers: Vec<IceServer>,

    /// Seconds a peer that left the room (a reload, a network change) has to come back
    /// before it is gone for good and the transfers with it fail; until then they are
    /// paused, and resume from the verified blocks
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub grace: u64,

    /// Let in only peers paired in this run or remembered (`--remember`) from an earlier
    /// one, by their certificate's fingerprint; others are refused, once said why
    #[arg(long)]
    pub require_verified: bool,

    /// Remember the device paired with by code in this run (in verified_devices.json in
    /// the config directory), so `--require-verified` lets it in later
    #[arg(long)]
    pub remember: bool,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Files and folders to send; a folder is sent with every file in it, and the
    /// receiver rebuilds it
    #[arg(required = true, value_name = "FILE|FOLDER")]
    pub files: Vec<PathBuf>,

    /// For testing receivers: a JSON array of strings, one per file sent, put in the
    /// offer as the files' paths exactly as written (hostile ones included)
    #[arg(long, hide = true, value_name = "JSON", value_parser = parse_raw_paths)]
    pub raw_paths: Option<RawPaths>,

    /// For testing receivers: damage block BLOCK of every file on its way out (after
    /// hashing it), the first TIMES times it is sent, or every time with `always`
    #[arg(long, hide = true, value_name = "BLOCK:TIMES", value_parser = parse_corruption)]
    pub corrupt: Option<Corruption>,

    /// Send only to the peer with this display name
    #[arg(long, value_name = "NAME")]
    pub to: Option<String>,

    /// Send each receiver its own copy of every byte. By default, sent to everyone in
    /// a room of two peers or more, receivers that can (other `meshdrop` processes) also
    /// fetch blocks from each other, so the sender uploads each block about once
    #[arg(long)]
    pub no_swarm: bool,

    /// Pair with a code instead of joining a room: prints a code to type on the other
    /// device (`meshdrop receive --code CODE` or the web app's "Pair with code"), and
    /// sends only to that device once both proved the code and the connection
    #[arg(long, conflicts_with_all = ["room", "to"])]
    pub code: bool,

    /// Seconds to wait for the peer(s) to connect [default: 30, or 300 with --code]
    #[arg(long, value_name = "SECONDS")]
    pub wait: Option<u64>,

    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Files and folders to offer
    #[arg(required = true, value_name = "FILE|FOLDER")]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct ReceiveArgs {
    /// Directory to save files in
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,

    /// Accept every offer without asking
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Keep receiving after the transfers offered so far end (until Ctrl-C)
    #[arg(long)]
    pub stay: bool,

    /// For testing senders and swarms: damage every block served to other receivers
    #[arg(long, hide = true)]
    pub corrupt_served: bool,

    /// Pair with the device that shows this code (like 4172-pupil-brave) instead of
    /// joining a room; nothing flows until both proved the code and the connection
    #[arg(long, value_name = "CODE", conflicts_with = "room", value_parser = parse_code)]
    pub code: Option<PairingCode>,

    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Keep this room's chat (the last 1,000 lines) in history/ROOM.json in the config
    /// directory, and show what it holds when the chat starts
    #[arg(long)]
    pub history: bool,

    /// Pair with the device that shows this code (like 4172-pupil-brave) instead of
    /// joining a room; nothing flows until both proved the code and the connection
    #[arg(long, value_name = "CODE", conflicts_with = "room", value_parser = parse_code)]
    pub code: Option<PairingCode>,

    #[command(flatten)]
    pub common: Common,
}

/// Paths for `--raw-paths`, one per file.
#[derive(Debug, Clone)]
pub struct RawPaths(pub Vec<String>);

fn parse_raw_paths(value: &str) -> Result<RawPaths, String> {
    serde_json::from_str(value)
        .map(RawPaths)
        .map_err(|error| format!("not a JSON array of strings: {error}"))
}

fn parse_corruption(value: &str) -> Result<Corruption, String> {
    let bad = || format!("{value:?} is not BLOCK:TIMES (like 2:1 or 2:always)");
    let (block, times) = value.split_once(':').ok_or_else(bad)?;
    let block = block.parse().map_err(|_| bad())?;
    let times = match times {
        "always" => None,
        times => Some(times.parse().map_err(|_| bad())?),
    };
    Ok(Corruption { block, times })
}

fn parse_code(value: &str) -> Result<PairingCode, String> {
    PairingCode::parse(value).map_err(|error| error.to_string())
}

fn parse_room(value: &str) -> Result<RoomId, String> {
    let room = RoomId::new(value).map_err(|error| format!("invalid room: {error}"))?;
    if room.is_network_room() {
        return Err(format!(
            "{NETWORK_ROOM_PREFIX}... names a network room: leave out --room to join yours"
        ));
    }
    Ok(room)
}

fn parse_name(value: &str) -> Result<String, String> {
    let name = value.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(format!("a name has 1 to {MAX_NAME_CHARS} characters"));
    }
    Ok(name.to_owned())
}

/// The signaling WebSocket URL for what the user typed: `ws(s)://` URLs as they are,
/// `http(s)://` addresses of the web app with its `/ws` endpoint.
pub fn signaling_url(value: &str) -> Result<String, String> {
    let (scheme, rest) = value
        .split_once("://")
        .ok_or_else(|| format!("{value:?} is not a URL (try ws://HOST:PORT/ws)"))?;
    let ws_scheme = match scheme.to_ascii_lowercase().as_str() {
        "ws" | "wss" => return Ok(value.to_owned()),
        "http" => "ws",
        "https" => "wss",
        other => {
            return Err(format!(
                "unsupported scheme {other:?}: use ws, wss, http or https"
            ))
        }
    };
    // Only the host and path matter; the web app keeps the room in the fragment.
    let rest = rest.split(['#', '?']).next().unwrap_or_default();
    if rest.is_empty() {
        return Err(format!("{value:?} has no host"));
    }
    let base = rest.trim_end_matches('/');
    let url = if base.ends_with("/ws") {
        format!("{ws_scheme}://{base}")
    } else {
        format!("{ws_scheme}://{base}/ws")
    };
    Ok(url)
}

/// `stun:HOST:PORT`, `turn:HOST:PORT`, or with credentials `turn:USER:PASSWORD@HOST:PORT`
/// (also `turns:`; a `?transport=` suffix is kept).
pub fn parse_ice_server(value: &str) -> Result<IceServer, String> {
    let (scheme, rest) = value
        .split_once(':')
        .ok_or_else(|| format!("{value:?} is not an ICE server URL (try stun:HOST:PORT)"))?;
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "stun" | "stuns" | "turn" | "turns") {
        return Err(format!(
            "unsupported ICE scheme {scheme:?}: use stun, stuns, turn or turns"
        ));
    }
    let (credentials, host) = match rest.rsplit_once('@') {
        Some((credentials, host)) => (Some(credentials), host),
        None => (None, rest),
    };
    if host.is_empty() {
        return Err(format!("{value:?} has no host"));
    }
    let (username, credential) = match credentials {
        None => (None, None),
        Some(credentials) => {
            let (user, password) = credentials
                .split_once(':')
                .ok_or_else(|| format!("credentials in {value:?} must be USER:PASSWORD"))?;
            (Some(user.to_owned()), Some(password.to_owned()))
        }
    };
    if username.is_some() && scheme.starts_with("stun") {
        return Err("STUN servers take no credentials".into());
    }
    Ok(IceServer {
        urls: vec![format!("{scheme}:{host}")],
        username,
        credential,
    })
}

/// A name like "quiet-otter", for people who did not pick one.
pub fn friendly_name() -> String {
    const ADJECTIVES: &[&str] = &[
        "amber", "brave", "calm", "clever", "eager", "gentle", "jolly", "lucky", "mellow",
        "nimble", "quiet", "rapid", "sunny", "swift", "witty",
    ];
    const ANIMALS: &[&str] = &[
        "badger", "crane", "dolphin", "falcon", "fox", "heron", "koala", "lynx", "marten", "otter",
        "panda", "puffin", "raven", "seal", "wren",
    ];
    let mut rng = rand::rng();
    let adjective = ADJECTIVES.choose(&mut rng).expect("not empty");
    let animal = ANIMALS.choose(&mut rng).expect("not empty");
    format!("{adjective}-{animal}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_addresses_lead_to_the_websocket() {
        assert_eq!(signaling_url("ws://h:1/ws").unwrap(), "ws://h:1/ws");
        assert_eq!(signaling_url("http://h:8080").unwrap(), "ws://h:8080/ws");
        assert_eq!(
            signaling_url("https://drop.example/").unwrap(),
            "wss://drop.example/ws"
        );
        assert_eq!(
            signaling_url("https://drop.example/#room").unwrap(),
            "wss://drop.example/ws"
        );
        assert_eq!(signaling_url("http://h/app/").unwrap(), "ws://h/app/ws");
        assert_eq!(signaling_url("http://h/ws").unwrap(), "ws://h/ws");
        assert!(signaling_url("h:8080").is_err());
        assert!(signaling_url("ftp://h").is_err());
        assert!(signaling_url("http://").is_err());
    }

    #[test]
    fn turn_credentials_come_out_of_the_url() {
        let server = parse_ice_server("turn:ann:s3cret@turn.example:3478?transport=udp").unwrap();
        assert_eq!(server.urls, ["turn:turn.example:3478?transport=udp"]);
        assert_eq!(server.username.as_deref(), Some("ann"));
        assert_eq!(server.credential.as_deref(), Some("s3cret"));

        let stun = parse_ice_server("stun:stun.example:3478").unwrap();
        assert_eq!(stun.urls, ["stun:stun.example:3478"]);
        assert_eq!(stun.username, None);

        assert!(parse_ice_server("http://x").is_err());
        assert!(parse_ice_server("turn:nopassword@host").is_err());
        assert!(parse_ice_server("stun:a:b@host").is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  Ann ").unwrap(), "Ann");
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
    }
}
