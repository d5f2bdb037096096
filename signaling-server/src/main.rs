//! `meshdrop-server`: run the signaling server from the command line.
//!
//! Every flag can also be set through its environment variable (see `--help` and
//! `docs/self-hosting.md`). A value that cannot work (a malformed URL, a limit of
//! zero, a certificate that does not load, an address in use) stops the server before
//! it starts, with a message naming the flag. Logs go to stderr, human-readable or as
//! JSON lines; `RUST_LOG` picks what is logged (default `info`).
//!
//! On SIGTERM or Ctrl-C every WebSocket is closed with 1001 and the process exits 0,
//! after at most [`SHUTDOWN_GRACE`] even if some connection does not close in time.

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::{BoolishValueParser, RangedU64ValueParser};
use clap::{ArgGroup, Parser, ValueEnum};
use meshdrop_protocol::signaling::{IceServer, Limits};
use meshdrop_signaling_server::{
    default_max_connections, raise_open_files_limit, serve, serve_with_relay, serve_with_stun,
    Config, NetworkSecret, Origin, Relay, RelayConfig, RelayLimits, RelayTls, Tls, TlsError,
    TrustedProxy, Turn, TurnSecret, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_LIMITS,
    DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, DEFAULT_QUEUED_BYTES, DEFAULT_TURN_TTL,
};
use tokio::net::{TcpListener, TcpSocket, UdpSocket};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// jemalloc rather than glibc's allocator: glibc keeps what a crowd of connections freed
/// (70 MB after 10,000 peers left), jemalloc gives it back (see `cargo xtask load`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read from this symbol as it starts: a thread of its own returns
/// freed pages to the system about a second after they were freed.
#[export_name = "_rjem_malloc_conf"]
static JEMALLOC_OPTIONS: &[u8; 60] =
    b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// Served when `--static-dir` is not given, if it exists (where Trunk builds the app).
/// A binary built with the app embedded serves that instead.
const DEFAULT_STATIC_DIR: &str = "dist";

/// The built-in STUN server's port unless `--stun-listen` says otherwise.
const DEFAULT_STUN_PORT: u16 = 3478;

/// Longest wait for connections to close after a stop is requested.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Parser)]
#[command(version, about = "Meshdrop signaling server and web app host")]
#[command(group(ArgGroup::new("turn_relays").args(["turn_urls", "turn_listen"]).multiple(true)))]
struct Args {
    /// Address to listen on for HTTP(S) and WebSockets.
    #[arg(long, env = "MESHDROP_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// URL users open, like `https://meshdrop.example.com`. Its host names the built-in
    /// STUN server for clients, and its pages may use the WebSocket.
    #[arg(long, env = "MESHDROP_PUBLIC_URL", value_parser = Origin::of_url)]
    public_url: Option<Origin>,
    /// Origin whose pages may use the WebSocket; repeat or separate with commas
    /// [default: the public URL's, and the request's own host].
    #[arg(
        long = "allowed-origin",
        env = "MESHDROP_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    allowed_origins: Vec<Origin>,
    /// Directory of the built web app [default: the embedded app, or `dist` if it exists].
    #[arg(long, env = "MESHDROP_STATIC_DIR")]
    static_dir: Option<PathBuf>,
    /// Address of the built-in STUN server (UDP) [default: the --listen address, port 3478].
    #[arg(long, env = "MESHDROP_STUN_LISTEN", conflicts_with = "no_stun")]
    stun_listen: Option<SocketAddr>,
    /// Do not run the built-in STUN server.
    #[arg(long, env = "MESHDROP_NO_STUN", value_parser = BoolishValueParser::new())]
    no_stun: bool,
    /// Extra STUN or TURN URL handed to clients as is; repeat or separate with commas.
    #[arg(long = "ice-url", env = "MESHDROP_ICE_URLS", value_delimiter = ',', value_parser = ice_url)]
    ice_urls: Vec<String>,
    /// TURN relay URL (turn: or turns:) whose credentials come from --turn-secret;
    /// repeat or separate with commas.
    #[arg(long = "turn-url", env = "MESHDROP_TURN_URLS", value_delimiter = ',', value_parser = turn_url, requires = "turn_secret")]
    turn_urls: Vec<String>,
    /// Secret shared with the TURN relay (coturn: static-auth-secret, use-auth-secret);
    /// the built-in relay uses it too [default for the built-in relay: random at every start].
    #[arg(long, env = "MESHDROP_TURN_SECRET", hide_env_values = true, requires = "turn_relays", value_parser = non_empty)]
    turn_secret: Option<String>,
    /// Run the built-in TURN relay on this address (UDP and TCP), like 0.0.0.0:3478. On
    /// the STUN server's address, it answers STUN there instead.
    #[arg(long, env = "MESHDROP_TURN_LISTEN")]
    turn_listen: Option<SocketAddr>,
    /// Also take TURN over TLS (turns:) on this address, like 0.0.0.0:5349, with the
    /// --tls-cert certificate.
    #[arg(long, env = "MESHDROP_TURN_TLS_LISTEN", requires_all = ["turn_listen", "tls_cert"])]
    turn_tls_listen: Option<SocketAddr>,
    /// Address the built-in relay's sockets are bound on and peers send to
    /// [default: the --turn-listen address, unless that is 0.0.0.0 or ::].
    #[arg(long, env = "MESHDROP_TURN_RELAY_IP", requires = "turn_listen")]
    turn_relay_ip: Option<IpAddr>,
    /// UDP ports of the built-in relay's sockets, one per allocation, as LOW-HIGH.
    #[arg(long, env = "MESHDROP_TURN_RELAY_PORTS", value_parser = port_range, default_value = "49152-65535")]
    turn_relay_ports: RangeInclusive<u16>,
    /// Allocations one credential (one client's welcome) may hold on the built-in relay.
    #[arg(long, env = "MESHDROP_TURN_MAX_ALLOCATIONS", value_parser = at_least_one::<usize>(), default_value_t = RelayLimits::DEFAULT.max_allocations)]
    turn_max_allocations: usize,
    /// Bytes per second one credential may have relayed by the built-in relay, both
    /// directions together; beyond it datagrams are dropped.
    #[arg(long, env = "MESHDROP_TURN_BANDWIDTH", value_parser = at_least_one::<u64>(), default_value_t = RelayLimits::DEFAULT.bandwidth)]
    turn_bandwidth: u64,
    /// How long the TURN credentials handed to each client stay valid, in seconds.
    #[arg(long, env = "MESHDROP_TURN_TTL_SECS", value_parser = at_least_one::<u64>(), default_value_t = DEFAULT_TURN_TTL.as_secs())]
    turn_ttl_secs: u64,
    /// PEM certificate chain: serve HTTPS and WSS (needs --tls-key).
    #[arg(long, env = "MESHDROP_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "MESHDROP_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Reverse proxy (an address, or a range like 172.16.0.0/12) whose Forwarded or
    /// X-Forwarded-For header names the client; repeat or separate with commas. Without
    /// it those headers are ignored, since any client could forge them.
    #[arg(
        long = "trusted-proxy",
        env = "MESHDROP_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "ADDRESS"
    )]
    trusted_proxies: Vec<TrustedProxy>,
    /// Key (at least 16 bytes) of the hash that names network rooms, to keep their names
    /// across restarts [default: random at every start].
    #[arg(long, env = "MESHDROP_NETWORK_SECRET", hide_env_values = true, value_name = "SECRET", value_parser = network_secret)]
    network_secret: Option<NetworkSecret>,
    /// Share rooms with every other server that uses this Redis, like
    /// `redis://127.0.0.1:6379/`, so a load balancer may send a room's peers to any of
    /// them [default: rooms live in this process alone]. Unless `--network-secret` is
    /// given, the servers also share a network-room secret there.
    #[arg(long, env = "MESHDROP_REDIS_URL", hide_env_values = true, value_name = "URL", value_parser = redis_url)]
    redis_url: Option<String>,
    /// Log lines for people, or JSON objects for a log collector.
    #[arg(long, env = "MESHDROP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    /// Largest WebSocket message a client may send, in bytes.
    #[arg(long, env = "MESHDROP_MAX_MESSAGE_BYTES", value_parser = at_least_one::<usize>(), default_value_t = DEFAULT_LIMITS.max_message_bytes)]
    max_message_bytes: usize,
    /// Messages a client may send per second (token bucket).
    #[arg(long, env = "MESHDROP_MAX_MESSAGES_PER_SECOND", value_parser = at_least_one::<u32>(), default_value_t = DEFAULT_LIMITS.max_messages_per_second)]
    max_messages_per_second: u32,
    /// Peers per room.
    #[arg(long, env = "MESHDROP_MAX_PEERS_PER_ROOM", value_parser = at_least_one::<usize>(), default_value_t = DEFAULT_LIMITS.max_peers_per_room)]
    max_peers_per_room: usize,
    /// Seconds a client may take to send an HTTP request head, and then its `join` on
    /// the WebSocket.
    #[arg(long, env = "MESHDROP_HANDSHAKE_TIMEOUT_SECS", value_parser = at_least_one::<u64>(), default_value_t = DEFAULT_HANDSHAKE_TIMEOUT.as_secs())]
    handshake_timeout_secs: u64,
    /// Connections served at once; past it, WebSockets get 503 while /healthz and
    /// /metrics still answer [default: the limit on open files, raised to its hard
    /// limit, less 512 (or a quarter, if smaller)].
    #[arg(long, env = "MESHDROP_MAX_CONNECTIONS", value_parser = at_least_one::<usize>())]
    max_connections: Option<usize>,
    /// Connections one client address (IPv4, or IPv6 /64) may hold at once; trusted
    /// proxies are exempt.
    #[arg(long, env = "MESHDROP_MAX_CONNECTIONS_PER_ADDRESS", value_parser = at_least_one::<usize>(), default_value_t = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS)]
    max_connections_per_address: usize,
    /// Bytes queued for all clients together; past it, the client a message is for is
    /// closed as too slow.
    #[arg(long, env = "MESHDROP_MAX_QUEUED_BYTES", value_parser = at_least_one::<usize>(), default_value_t = DEFAULT_QUEUED_BYTES)]
    max_queued_bytes: usize,
    /// Seconds without any message after which a connection is closed.
    #[arg(long, env = "MESHDROP_IDLE_TIMEOUT_SECS", value_parser = at_least_one::<u64>(), default_value_t = DEFAULT_LIMITS.idle_timeout_secs)]
    idle_timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

/// Parses a whole number of 1 or more: a limit of zero would refuse every client.
fn at_least_one<T>() -> RangedU64ValueParser<T>
where
    T: TryFrom<u64> + Clone + Send + Sync + 'static,
{
    RangedU64ValueParser::new().range(1..)
}

/// A URL browsers accept in `RTCIceServer.urls`.
fn ice_url(url: &str) -> Result<String, String> {
    url_with_scheme(url, &["stun:", "stuns:", "turn:", "turns:"])
}

fn turn_url(url: &str) -> Result<String, String> {
    url_with_scheme(url, &["turn:", "turns:"])
}

fn url_with_scheme(url: &str, schemes: &[&str]) -> Result<String, String> {
    let has_host = |scheme: &&str| {
        url.strip_prefix(*scheme)
            .is_some_and(|rest| !rest.is_empty())
    };
    if schemes.iter().any(has_host) {
        Ok(url.to_owned())
    } else {
        Err(format!(
            "expected a URL starting with {} and a host",
            schemes.join(" or ")
        ))
    }
}

/// `LOW-HIGH`, both ports, LOW at most HIGH.
fn port_range(value: &str) -> Result<RangeInclusive<u16>, String> {
    let expected = || "expected LOW-HIGH, two ports from 1 to 65535 with LOW <= HIGH".to_owned();
    let (low, high) = value.split_once('-').ok_or_else(expected)?;
    let (low, high): (u16, u16) = (
        low.trim().parse().map_err(|_| expected())?,
        high.trim().parse().map_err(|_| expected())?,
    );
    if low == 0 || low > high {
        return Err(expected());
    }
    Ok(low..=high)
}

fn redis_url(value: &str) -> Result<String, String> {
    redis::Client::open(value).map_err(|error| error.to_string())?;
    Ok(value.to_owned())
}

fn network_secret(value: &str) -> Result<NetworkSecret, String> {
    NetworkSecret::new(value).map_err(|error| error.to_string())
}

fn non_empty(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(value.to_owned())
}

/// A setting that passed parsing but cannot be used; names the flag.
#[derive(Debug, thiserror::Error)]
enum StartupError {
    #[error("--listen {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("--stun-listen {address}: {source}")]
    StunListen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("--turn-listen {address}: {source}")]
    TurnListen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("--turn-tls-listen {address}: {source}")]
    TurnTlsListen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("--turn-listen {0} listens on every address: name the one peers reach the relay at with --turn-relay-ip")]
    TurnRelayIpUnknown(SocketAddr),
    #[error("--turn-relay-ip {0}: peers cannot send to an unspecified address")]
    TurnRelayIpUnspecified(IpAddr),
    #[error("--static-dir {}: no index.html there; build the web app first (trunk build)", .0.display())]
    StaticDir(PathBuf),
    #[error("--tls-cert: {0}")]
    TlsCertificate(TlsError),
    #[error("--tls-key: {0}")]
    TlsKey(TlsError),
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

impl From<TlsError> for StartupError {
    fn from(error: TlsError) -> Self {
        match error {
            TlsError::Certificates { .. } => Self::TlsCertificate(error),
            TlsError::Key { .. } | TlsError::Mismatch(_) => Self::TlsKey(error),
        }
    }
}

impl Args {
    /// Where the built-in STUN server should listen, if it runs on a socket of its own:
    /// not when the built-in relay listens at its address (or where both would
    /// collide), since the relay answers STUN too.
    fn stun_address(&self) -> Option<SocketAddr> {
        let default = SocketAddr::new(self.listen.ip(), DEFAULT_STUN_PORT);
        let stun = self.stun_listen.unwrap_or(default);
        let served_by_relay = self.turn_listen.is_some_and(|turn| {
            turn.port() == stun.port()
                && (turn.ip() == stun.ip()
                    || turn.ip().is_unspecified()
                    || stun.ip().is_unspecified())
        });
        (!self.no_stun && !served_by_relay).then_some(stun)
    }

    /// The built-in relay's address and settings, if it runs.
    fn relay(&self) -> Result<Option<(SocketAddr, RelayConfig)>, StartupError> {
        let Some(listen) = self.turn_listen else {
            return Ok(None);
        };
        let relay_ip = match self.turn_relay_ip {
            Some(ip) if ip.is_unspecified() => {
                return Err(StartupError::TurnRelayIpUnspecified(ip))
            }
            Some(ip) => ip,
            None if listen.ip().is_unspecified() => {
                return Err(StartupError::TurnRelayIpUnknown(listen))
            }
            None => listen.ip(),
        };
        let mut config = RelayConfig::new(relay_ip);
        config.ports = self.turn_relay_ports.clone();
        config.limits = RelayLimits {
            max_allocations: self.turn_max_allocations,
            bandwidth: self.turn_bandwidth,
        };
        if let Some(secret) = &self.turn_secret {
            config.secret = TurnSecret::new(secret.clone());
        }
        config.ttl = Duration::from_secs(self.turn_ttl_secs);
        Ok(Some((listen, config)))
    }

    /// A `--static-dir` that is given must hold a built app.
    fn check_static_dir(&self) -> Result<(), StartupError> {
        match &self.static_dir {
            Some(dir) if !dir.join("index.html").is_file() => {
                Err(StartupError::StaticDir(dir.clone()))
            }
            _ => Ok(()),
        }
    }

    fn tls(&self) -> Result<Option<Tls>, TlsError> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(certificates), Some(key)) => Tls::from_pem_files(certificates, key).map(Some),
            // clap makes each of the two require the other.
            _ => Ok(None),
        }
    }

    fn into_config(self, tls: Option<Tls>) -> Config {
        let embedded = cfg!(feature = "embed-web");
        let static_dir = self.static_dir.or_else(|| {
            let dist = Path::new(DEFAULT_STATIC_DIR);
            (!embedded && dist.is_dir()).then(|| dist.to_path_buf())
        });
        // Only for coturn: the built-in relay's secret goes with `Args::relay`.
        let turn = self
            .turn_secret
            .filter(|_| !self.turn_urls.is_empty())
            .map(|secret| Turn {
                urls: self.turn_urls,
                secret: TurnSecret::new(secret),
                ttl: Duration::from_secs(self.turn_ttl_secs),
            });
        Config {
            limits: Limits {
                max_message_bytes: self.max_message_bytes,
                max_messages_per_second: self.max_messages_per_second,
                max_peers_per_room: self.max_peers_per_room,
                idle_timeout_secs: self.idle_timeout_secs,
            },
            ice_servers: self
                .ice_urls
                .into_iter()
                .map(|url| IceServer {
                    urls: vec![url],
                    username: None,
                    credential: None,
                })
                .collect(),
            turn,
            public_origin: self.public_url,
            allowed_origins: self.allowed_origins,
            tls,
            static_dir,
            trusted_proxies: self.trusted_proxies,
            network_secret: self.network_secret,
            redis_url: self.redis_url,
            handshake_timeout: Duration::from_secs(self.handshake_timeout_secs),
            max_connections: self.max_connections.unwrap_or_else(default_max_connections),
            max_connections_per_address: self.max_connections_per_address,
            max_queued_bytes: self.max_queued_bytes,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(args.log_format);
    if let Err(error) = raise_open_files_limit() {
        tracing::warn!(%error, "cannot raise the limit on open files");
    }
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Plainly, whatever the log format or filter.
            eprintln!("meshdrop-server: {error}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}

async fn run(args: Args) -> Result<(), StartupError> {
    args.check_static_dir()?;
    let tls = args.tls()?;
    let (listener, address) = bind_http(args.listen).await?;
    let stun = match args.stun_address() {
        Some(address) => Some(bind_stun(address).await?),
        None => None,
    };
    let relay = match args.relay()? {
        Some((address, config)) => {
            let tls = args.turn_tls_listen.zip(tls.clone());
            Some(bind_relay(address, tls, config).await?)
        }
        None => None,
    };
    let config = args.into_config(tls);
    let trusted_proxies: Vec<String> = config
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    tracing::info!(
        %address,
        tls = config.tls.is_some(),
        public_url = config.public_origin.as_ref().map(|origin| origin.to_string()),
        stun = stun.as_ref().map(|(_, address)| address.to_string()),
        turn = ?config.turn.as_ref().map(|turn| &turn.urls),
        relay = relay.as_ref().map(|(_, address)| address.to_string()),
        relay_ip = relay.as_ref().map(|(relay, _)| relay.config.relay_ip.to_string()),
        relay_ports = ?relay.as_ref().map(|(relay, _)| &relay.config.ports),
        relay_limits = ?relay.as_ref().map(|(relay, _)| relay.config.limits),
        static_dir = ?config.static_dir,
        limits = ?config.limits,
        ?trusted_proxies,
        "listening"
    );
    let stop = CancellationToken::new();
    tokio::spawn(cancel_on_stop_signal(stop.clone()));
    let shutdown = stop.clone().cancelled_owned();
    let served = async move {
        match (stun, relay) {
            (stun, Some((relay, _))) => {
                let stun = stun.map(|(socket, _)| socket);
                serve_with_relay(listener, stun, relay, config, shutdown).await
            }
            (Some((stun, _)), None) => serve_with_stun(listener, stun, config, shutdown).await,
            (None, None) => serve(listener, config, shutdown).await,
        }
    };
    tokio::select! {
        served = served => served.map_err(StartupError::Serve)?,
        () = grace_expired(&stop) => {
            tracing::warn!(grace = ?SHUTDOWN_GRACE, "connections still open; exiting anyway");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// The listener on `address`, and the address it got (which tells the port for `:0`).
/// Connections the kernel may hold for the server before it accepts them (capped by
/// `net.core.somaxconn`). Tokio's default, 1,024, overflows when thousands of clients
/// come back at once, as after a restart, and each overflow costs a client a second.
const LISTEN_BACKLOG: u32 = 8192;

async fn bind_http(address: SocketAddr) -> Result<(TcpListener, SocketAddr), StartupError> {
    let error = |source| StartupError::Listen { address, source };
    let socket = match address {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(error)?;
    socket.set_reuseaddr(true).map_err(error)?;
    socket.bind(address).map_err(error)?;
    let listener = socket.listen(LISTEN_BACKLOG).map_err(error)?;
    let bound = listener.local_addr().map_err(error)?;
    Ok((listener, bound))
}

async fn bind_stun(address: SocketAddr) -> Result<(UdpSocket, SocketAddr), StartupError> {
    let error = |source| StartupError::StunListen { address, source };
    let socket = UdpSocket::bind(address).await.map_err(error)?;
    let bound = socket.local_addr().map_err(error)?;
    Ok((socket, bound))
}

/// The relay's UDP socket and TCP listener on `address` (the same port for both), and
/// its TLS listener if it takes TLS.
async fn bind_relay(
    address: SocketAddr,
    tls: Option<(SocketAddr, Tls)>,
    config: RelayConfig,
) -> Result<(Relay, SocketAddr), StartupError> {
    let error = |source| StartupError::TurnListen { address, source };
    let socket = UdpSocket::bind(address).await.map_err(error)?;
    let bound = socket.local_addr().map_err(error)?;
    let tcp = TcpListener::bind(bound).await.map_err(error)?;
    let tls = match tls {
        Some((address, tls)) => {
            let error = |source| StartupError::TurnTlsListen { address, source };
            let listener = TcpListener::bind(address).await.map_err(error)?;
            Some(RelayTls { listener, tls })
        }
        None => None,
    };
    let relay = Relay {
        socket,
        tcp: Some(tcp),
        tls,
        config,
    };
    Ok((relay, bound))
}

/// Resolves [`SHUTDOWN_GRACE`] after `stop` is cancelled.
async fn grace_expired(stop: &CancellationToken) {
    stop.cancelled().await;
    tokio::time::sleep(SHUTDOWN_GRACE).await;
}

/// Cancels `stop` on Ctrl-C, or on SIGTERM where there is such a thing.
async fn cancel_on_stop_signal(stop: CancellationToken) {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("stopping");
    stop.cancel();
}

#[cfg(test)]
mod tests {
    use meshdrop_signaling_server::DEFAULT_RELAY_PORTS;

    use super::*;

    fn parse(flags: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("meshdrop-server").chain(flags.iter().copied()))
    }

    fn error_text(flags: &[&str]) -> String {
        parse(flags).unwrap_err().to_string()
    }

    #[test]
    fn flags_become_the_config() {
        let config = parse(&[
            "--ice-url",
            "stun:a:3478,stun:b",
            "--max-peers-per-room",
            "4",
            "--turn-url",
            "turn:relay.example:3478",
            "--turn-secret",
            "s3cret",
            "--turn-ttl-secs",
            "600",
            "--public-url",
            "https://meshdrop.example/",
            "--allowed-origin",
            "https://a.example,https://b.example",
            "--trusted-proxy",
            "127.0.0.1,172.16.0.0/12",
            "--trusted-proxy",
            "::1",
        ])
        .unwrap()
        .into_config(None);
        let urls: Vec<_> = config.ice_servers.iter().map(|s| s.urls.clone()).collect();
        assert_eq!(urls, [vec!["stun:a:3478"], vec!["stun:b"]]);
        assert_eq!(
            config.limits,
            Limits {
                max_peers_per_room: 4,
                ..DEFAULT_LIMITS
            }
        );
        let turn = config.turn.unwrap();
        assert_eq!(turn.urls, ["turn:relay.example:3478"]);
        assert_eq!(turn.ttl, Duration::from_secs(600));
        assert_eq!(
            config.public_origin.unwrap().to_string(),
            "https://meshdrop.example"
        );
        assert_eq!(config.allowed_origins.len(), 2);
        let proxies: Vec<String> = config
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(proxies, ["127.0.0.1/32", "172.16.0.0/12", "::1/128"]);
    }

    #[test]
    fn stun_listens_next_to_http_unless_told_otherwise() {
        let args = parse(&["--listen", "0.0.0.0:80"]).unwrap();
        assert_eq!(args.stun_address(), Some("0.0.0.0:3478".parse().unwrap()));
        let args = parse(&["--stun-listen", "127.0.0.1:5000"]).unwrap();
        assert_eq!(args.stun_address(), Some("127.0.0.1:5000".parse().unwrap()));
        assert_eq!(parse(&["--no-stun"]).unwrap().stun_address(), None);
    }

    #[test]
    fn the_built_in_relay_takes_its_flags() {
        let args = parse(&[
            "--turn-listen",
            "0.0.0.0:3479",
            "--turn-relay-ip",
            "203.0.113.5",
            "--turn-relay-ports",
            "50000-50100",
            "--turn-max-allocations",
            "4",
            "--turn-bandwidth",
            "1000000",
            "--turn-secret",
            "s3cret",
        ])
        .unwrap();
        let (address, relay) = args.relay().unwrap().unwrap();
        assert_eq!(address, "0.0.0.0:3479".parse().unwrap());
        assert_eq!(relay.relay_ip, "203.0.113.5".parse::<IpAddr>().unwrap());
        assert_eq!(relay.ports, 50000..=50100);
        assert_eq!(
            relay.limits,
            RelayLimits {
                max_allocations: 4,
                bandwidth: 1_000_000
            }
        );
        assert_eq!(
            relay.secret.password("u"),
            TurnSecret::new("s3cret").password("u")
        );
        // The secret alone configures no coturn.
        assert!(args.into_config(None).turn.is_none());
    }

    #[test]
    fn the_relay_is_off_by_default_and_its_defaults_are_documented() {
        let args = parse(&[]).unwrap();
        assert!(args.relay().unwrap().is_none());
        assert_eq!(args.turn_relay_ports, DEFAULT_RELAY_PORTS);
    }

    #[test]
    fn a_relay_on_every_address_needs_its_relay_ip() {
        let args = parse(&["--turn-listen", "0.0.0.0:3478"]).unwrap();
        let error = args.relay().unwrap_err().to_string();
        assert!(error.contains("--turn-relay-ip"), "{error}");
        let args = parse(&["--turn-listen", "192.0.2.1:3478", "--turn-relay-ip", "::"]).unwrap();
        assert!(matches!(
            args.relay(),
            Err(StartupError::TurnRelayIpUnspecified(_))
        ));
        let args = parse(&["--turn-listen", "192.0.2.1:3478"]).unwrap();
        let (_, relay) = args.relay().unwrap().unwrap();
        assert_eq!(relay.relay_ip, "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_relay_on_the_stun_port_answers_stun_itself() {
        let args = parse(&["--listen", "0.0.0.0:80", "--turn-listen", "192.0.2.1:3478"]).unwrap();
        assert_eq!(args.stun_address(), None);
        let args = parse(&["--turn-listen", "127.0.0.1:3479"]).unwrap();
        assert_eq!(args.stun_address(), Some("127.0.0.1:3478".parse().unwrap()));
    }

    #[test]
    fn zero_limits_are_refused() {
        for flag in [
            "--max-message-bytes",
            "--max-messages-per-second",
            "--max-peers-per-room",
            "--idle-timeout-secs",
            "--turn-ttl-secs",
            "--turn-max-allocations",
            "--turn-bandwidth",
        ] {
            assert!(parse(&[flag, "0"]).is_err(), "{flag} 0 was accepted");
        }
    }

    #[test]
    fn malformed_values_name_their_flag() {
        for (flags, named) in [
            (&["--ice-url", "stun.example:3478"][..], "--ice-url"),
            (
                &["--turn-url", "stun:a", "--turn-secret", "s"],
                "--turn-url",
            ),
            (&["--public-url", "meshdrop.example"], "--public-url"),
            (
                &["--allowed-origin", "https://a.example/app"],
                "--allowed-origin",
            ),
            (&["--log-format", "xml"], "--log-format"),
            (&["--trusted-proxy", "proxy.example"], "--trusted-proxy"),
            (&["--network-secret", "short"], "--network-secret"),
            (&["--turn-relay-ports", "5000"], "--turn-relay-ports"),
            (&["--turn-relay-ports", "6000-5000"], "--turn-relay-ports"),
            (&["--turn-relay-ports", "0-5000"], "--turn-relay-ports"),
        ] {
            let text = error_text(flags);
            assert!(text.contains(named), "{flags:?} gave {text}");
        }
    }

    #[test]
    fn flags_that_only_work_together_require_each_other() {
        assert!(error_text(&["--turn-url", "turn:a"]).contains("--turn-secret"));
        assert!(error_text(&["--turn-secret", "s"]).contains("--turn-url"));
        assert!(error_text(&["--turn-secret", "s"]).contains("--turn-listen"));
        assert!(error_text(&["--turn-relay-ip", "192.0.2.1"]).contains("--turn-listen"));
        let tls_alone = error_text(&[
            "--turn-listen",
            "192.0.2.1:3478",
            "--turn-tls-listen",
            "192.0.2.1:5349",
        ]);
        assert!(tls_alone.contains("--tls-cert"), "{tls_alone}");
        assert!(error_text(&["--tls-cert", "c.pem"]).contains("--tls-key"));
        assert!(error_text(&["--no-stun", "--stun-listen", "0.0.0.0:1"]).contains("--no-stun"));
    }
}
