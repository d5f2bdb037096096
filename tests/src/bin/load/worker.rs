//! One client process of the load generator: a share of the peers, each a real
//! WebSocket from its own loopback address, driven by commands on stdin and reporting
//! one JSON line on stdout per phase.
//!
//! Peers `2r` and `2r + 1` share room `load-r`, so every peer has one partner, and the
//! coordinator gives each worker an even first index so partners live in one process.
//! With several servers (nodes of one cluster), peer `i` joins through server `i mod n`,
//! so the two of a room are on different nodes and meet through Redis.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use meshdrop_protocol::signaling::ServerMessage;
use meshdrop_protocol::{PeerId, PROTOCOL_VERSION};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpSocket;
use tokio::sync::{watch, Mutex, Semaphore};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{client_async_with_config, WebSocketStream};

/// Connections being set up at once, so the server's accept queue does not overflow.
const CONNECTING_AT_ONCE: usize = 128;

/// How long a peer may take to connect and join.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);

/// What one worker is asked to do, from its command line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Share {
    /// The servers, taken in turn.
    pub servers: Vec<SocketAddr>,
    /// The index of its first peer (even), and how many it opens (even).
    pub first: usize,
    pub count: usize,
    /// Peers per client address.
    pub per_address: usize,
}

impl Share {
    /// The server peer `index` joins through.
    fn server(&self, index: usize) -> SocketAddr {
        self.servers[index % self.servers.len()]
    }

    /// The loopback address peer `index` connects from: 127.1.0.1 on, `per_address`
    /// peers each (all of 127.0.0.0/8 is this host).
    fn source(&self, index: usize) -> SocketAddr {
        let address = index / self.per_address;
        let [_, _, high, low] = u32::try_from(address + 1).unwrap_or(u32::MAX).to_be_bytes();
        SocketAddr::from((Ipv4Addr::new(127, 1 + high / 128, high % 128, low), 0))
    }
}

/// What the coordinator tells the peers, through a watch channel.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Idle,
    /// Send a signal to the partner every `interval` until `until`.
    Signal {
        interval: Duration,
        until: Instant,
    },
    Close,
}

/// The worker's answer once its peers have joined.
#[derive(Debug, Serialize, Deserialize)]
pub struct Joined {
    pub joined: usize,
    pub failed: usize,
    /// Each joined peer's time from connecting to `welcome`, in microseconds.
    pub join_micros: Vec<u32>,
    pub first_error: Option<String>,
}

/// The worker's answer after a signal phase.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Signalled {
    pub sent: u64,
    pub received: u64,
    /// Each received signal's time from its sending, in microseconds.
    pub latency_micros: Vec<u32>,
}

type Socket = WebSocketStream<tokio::net::TcpStream>;

/// Run as `load worker SHARE_JSON`: open the peers, then obey stdin.
pub fn run(share: &str) -> meshdrop_e2e::Result<()> {
    let share: Share = serde_json::from_str(share).expect("the coordinator's share");
    meshdrop_signaling_server::raise_open_files_limit()
        .map_err(meshdrop_e2e::Error::io("raise the limit on open files"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(meshdrop_e2e::Error::io("start a runtime"))?;
    runtime.block_on(serve(Arc::new(share)));
    Ok(())
}

async fn serve(share: Arc<Share>) {
    let (phase, phases) = watch::channel(Phase::Idle);
    let connecting = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let results = Arc::new(Mutex::new(Vec::new()));
    let (joins, mut joined) = tokio::sync::mpsc::unbounded_channel();
    let mut peers = tokio::task::JoinSet::new();
    for index in share.first..share.first + share.count {
        let (share, phases, connecting, joins, results) = (
            Arc::clone(&share),
            phases.clone(),
            Arc::clone(&connecting),
            joins.clone(),
            Arc::clone(&results),
        );
        peers.spawn(async move {
            let permit = connecting.acquire_owned().await.expect("never closed");
            let started = Instant::now();
            let opened = tokio::time::timeout(JOIN_TIMEOUT, open(&share, index)).await;
            drop(permit);
            let (mut socket, partner) = match opened {
                Ok(Ok(opened)) => opened,
                Ok(Err(error)) => return joins.send(Err(error)).unwrap_or(()),
                Err(_) => return joins.send(Err("join timed out".into())).unwrap_or(()),
            };
            let took = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
            let partner = match partner {
                Some(partner) => Ok(partner),
                None => tokio::time::timeout(JOIN_TIMEOUT, partner_joining(&mut socket))
                    .await
                    .unwrap_or_else(|_| Err("the partner did not join".into())),
            };
            match partner {
                Ok(partner) => {
                    let _ = joins.send(Ok(took));
                    talk(socket, partner, phases, results).await;
                }
                Err(error) => {
                    let _ = joins.send(Err(error));
                }
            }
        });
    }
    drop(joins);
    let mut report = Joined {
        joined: 0,
        failed: 0,
        join_micros: Vec::new(),
        first_error: None,
    };
    while let Some(outcome) = joined.recv().await {
        match outcome {
            Ok(micros) => {
                report.joined += 1;
                report.join_micros.push(micros);
            }
            Err(error) => {
                report.failed += 1;
                report.first_error.get_or_insert(error);
            }
        }
        if report.joined + report.failed == share.count {
            break;
        }
    }
    say(&report);

    let mut commands = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(command)) = commands.next_line().await {
        let words: Vec<&str> = command.split_whitespace().collect();
        match words.as_slice() {
            ["signal", seconds, per_second] => {
                let (seconds, per_second): (f64, f64) =
                    (seconds.parse().unwrap(), per_second.parse().unwrap());
                results.lock().await.clear();
                let until = Instant::now() + Duration::from_secs_f64(seconds);
                let interval = Duration::from_secs_f64(1.0 / per_second);
                let _ = phase.send(Phase::Signal { interval, until });
                tokio::time::sleep_until((until + Duration::from_secs(2)).into()).await;
                let _ = phase.send(Phase::Idle);
                // Each peer reports when it leaves the phase (a peer whose connection
                // broke may never).
                let reported = Instant::now() + Duration::from_secs(10);
                while results.lock().await.len() < report.joined && Instant::now() < reported {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let mut total = Signalled::default();
                for counts in results.lock().await.drain(..) {
                    total.sent += counts.sent;
                    total.received += counts.received;
                    total.latency_micros.extend(counts.latency_micros);
                }
                say(&total);
            }
            ["close"] => {
                let _ = phase.send(Phase::Close);
                while peers.join_next().await.is_some() {}
                say(&json!({"closed": report.joined}));
                return;
            }
            _ => eprintln!("load worker: unknown command {command:?}"),
        }
    }
}

fn say(report: &impl Serialize) {
    println!(
        "{}",
        serde_json::to_string(report).expect("a report serializes")
    );
}

/// Connect peer `index` from its own address and join its room; with the partner, if it
/// is there already.
async fn open(share: &Share, index: usize) -> Result<(Socket, Option<PeerId>), String> {
    let socket = TcpSocket::new_v4().map_err(|error| error.to_string())?;
    socket
        .bind(share.source(index))
        .map_err(|error| format!("bind {}: {error}", share.source(index)))?;
    let server = share.server(index);
    let stream = socket
        .connect(server)
        .await
        .map_err(|error| format!("connect: {error}"))?;
    // A few KiB per connection, as the server reads, so the worker fits its share.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let url = format!("ws://{server}/ws");
    let (mut socket, _) = client_async_with_config(url, stream, Some(config))
        .await
        .map_err(|error| format!("upgrade: {error}"))?;
    let join = json!({
        "type": "join", "version": PROTOCOL_VERSION, "room": format!("load-{}", index / 2),
        "name": "load", "session_key": format!("{index:032x}"),
    });
    socket
        .send(Message::text(join.to_string()))
        .await
        .map_err(|error| format!("send join: {error}"))?;
    // The second of a pair finds its partner in the welcome; the first hears of it later.
    match receive(&mut socket).await? {
        ServerMessage::Welcome { peers, .. } => {
            let partner = peers.into_iter().next().map(|peer| peer.id);
            Ok((socket, partner))
        }
        other => Err(format!("expected welcome, got {other:?}")),
    }
}

/// The partner that joins the room after this peer.
async fn partner_joining(socket: &mut Socket) -> Result<PeerId, String> {
    loop {
        if let ServerMessage::PeerJoined { peer } = receive(socket).await? {
            return Ok(peer.id);
        }
    }
}

async fn receive(socket: &mut Socket) -> Result<ServerMessage, String> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text).map_err(|error| format!("{text}: {error}"))
            }
            Some(Ok(Message::Close(frame))) => return Err(format!("closed: {frame:?}")),
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.to_string()),
            None => return Err("the connection ended".into()),
        }
    }
}

/// One peer after joining: idle (reading whatever comes, as an idle page between
/// pings), signalling its partner when told and reporting its counts to `results`
/// after each such phase, closing when told.
async fn talk(
    socket: Socket,
    partner: PeerId,
    mut phases: watch::Receiver<Phase>,
    results: Arc<Mutex<Vec<Signalled>>>,
) {
    let (mut sink, mut stream) = socket.split();
    loop {
        let phase = *phases.borrow_and_update();
        match phase {
            Phase::Close => {
                let _ = sink.send(Message::Close(None)).await;
                return;
            }
            Phase::Idle => {
                tokio::select! {
                    changed = phases.changed() => if changed.is_err() { return },
                    frame = stream.next() => if matches!(frame, None | Some(Err(_))) { return },
                }
            }
            Phase::Signal { interval, until } => {
                let mut counts = Signalled::default();
                // Spread the peers' ticks over the interval.
                let offset = interval.mul_f64(spread(&partner));
                let start = Instant::now() + offset;
                let mut ticks = tokio::time::interval_at(start.into(), interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let ended = loop {
                    tokio::select! {
                        _ = ticks.tick(), if Instant::now() < until => {
                            let signal = json!({
                                "type": "signal", "to": partner,
                                "signal": {"kind": "load", "sent": now_micros()},
                            });
                            if sink.send(Message::text(signal.to_string())).await.is_ok() {
                                counts.sent += 1;
                            }
                        }
                        frame = stream.next() => match frame {
                            Some(Ok(Message::Text(text))) => {
                                if let Some(sent) = sent_micros(&text) {
                                    counts.received += 1;
                                    let latency = now_micros().saturating_sub(sent);
                                    let latency = u32::try_from(latency).unwrap_or(u32::MAX);
                                    counts.latency_micros.push(latency);
                                }
                            }
                            Some(Ok(_)) => {}
                            Some(Err(_)) | None => break true,
                        },
                        changed = phases.changed() => break changed.is_err(),
                    }
                };
                results.lock().await.push(counts);
                if ended {
                    return;
                }
            }
        }
    }
}

fn now_micros() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
}

/// The sending time in a forwarded load signal, if `text` is one.
fn sent_micros(text: &str) -> Option<u64> {
    match serde_json::from_str::<ServerMessage>(text).ok()? {
        ServerMessage::Signal { signal, .. } => signal.fields().get("sent")?.as_u64(),
        _ => None,
    }
}

/// A fraction in [0, 1) that differs between peers, to spread their sending.
fn spread(partner: &PeerId) -> f64 {
    let hash = partner.to_string().bytes().fold(0u32, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(u32::from(byte))
    });
    f64::from(hash % 1000) / 1000.0
}
