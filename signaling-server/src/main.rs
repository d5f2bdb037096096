//! `meshdrop-server`: run the signaling server from the command line.
//!
//! Every flag can also be set through its environment variable. Logs go to stderr;
//! `RUST_LOG` picks what is logged (default `info`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::builder::RangedU64ValueParser;
use clap::Parser;
use meshdrop_protocol::signaling::{IceServer, Limits};
use meshdrop_signaling_server::{serve, Config, DEFAULT_LIMITS};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// Served when `--static-dir` is not given, if it exists (where Trunk builds the app).
const DEFAULT_STATIC_DIR: &str = "dist";

#[derive(Debug, Parser)]
#[command(version, about = "Meshdrop signaling server and web app host")]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "MESHDROP_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory of the built web app [default: `dist` if it exists].
    #[arg(long, env = "MESHDROP_STATIC_DIR")]
    static_dir: Option<PathBuf>,
    /// STUN/TURN URL handed to clients; repeat or separate with commas.
    #[arg(long = "ice-url", env = "MESHDROP_ICE_URLS", value_delimiter = ',')]
    ice_urls: Vec<String>,
    /// Largest WebSocket message a client may send, in bytes.
    #[arg(long, env = "MESHDROP_MAX_MESSAGE_BYTES", value_parser = at_least_one::<usize>(), default_value_t = DEFAULT_LIMITS.max_message_bytes)]
    max_message_bytes: usize,
    /// Messages a client may send per second (token bucket).
    #[arg(long, env = "MESHDROP_MAX_MESSAGES_PER_SECOND", value_parser = at_least_one::<u32>(), default_value_t = DEFAULT_LIMITS.max_messages_per_second)]
    max_messages_per_second: u32,
    /// Peers per room.
    #[arg(long, env = "MESHDROP_MAX_PEERS_PER_ROOM", value_parser = at_least_one::<usize>(), default_value_t = DEFAULT_LIMITS.max_peers_per_room)]
    max_peers_per_room: usize,
    /// Seconds without any message after which a connection is closed.
    #[arg(long, env = "MESHDROP_IDLE_TIMEOUT_SECS", value_parser = at_least_one::<u64>(), default_value_t = DEFAULT_LIMITS.idle_timeout_secs)]
    idle_timeout_secs: u64,
}

/// Parses a whole number of 1 or more: a limit of zero would refuse every client.
fn at_least_one<T>() -> RangedU64ValueParser<T>
where
    T: TryFrom<u64> + Clone + Send + Sync + 'static,
{
    RangedU64ValueParser::new().range(1..)
}

impl Args {
    fn into_config(self) -> Config {
        let static_dir = self.static_dir.or_else(|| {
            let dist = Path::new(DEFAULT_STATIC_DIR);
            dist.is_dir().then(|| dist.to_path_buf())
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
            static_dir,
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    let listener = TcpListener::bind(args.listen).await?;
    let config = args.into_config();
    tracing::info!(
        address = %listener.local_addr()?,
        static_dir = ?config.static_dir,
        limits = ?config.limits,
        "listening"
    );
    serve(listener, config, stop_requested()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C, or on SIGTERM where there is such a thing.
async fn stop_requested() {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(flags: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("meshdrop-server").chain(flags.iter().copied()))
    }

    #[test]
    fn flags_become_the_config() {
        let config = parse(&[
            "--ice-url",
            "stun:a:3478,stun:b",
            "--max-peers-per-room",
            "4",
        ])
        .unwrap()
        .into_config();
        let urls: Vec<_> = config.ice_servers.iter().map(|s| s.urls.clone()).collect();
        assert_eq!(urls, [vec!["stun:a:3478"], vec!["stun:b"]]);
        assert_eq!(
            config.limits,
            Limits {
                max_peers_per_room: 4,
                ..DEFAULT_LIMITS
            }
        );
    }

    #[test]
    fn zero_limits_are_refused() {
        for flag in [
            "--max-message-bytes",
            "--max-messages-per-second",
            "--max-peers-per-room",
            "--idle-timeout-secs",
        ] {
            assert!(parse(&[flag, "0"]).is_err(), "{flag} 0 was accepted");
        }
    }
}
