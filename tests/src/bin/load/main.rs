//! `cargo xtask load`: the signaling server under a crowd of real WebSocket peers.
//!
//! For each crowd it starts the release-built `meshdrop-server` as a process of its own
//! (or several, "nodes" sharing rooms through a `redis-server` of their own, each held
//! to the 20,000 open files a process may have here; the two peers of a room then join
//! through different nodes), then client processes ([`worker`], at most
//! [`PEERS_PER_WORKER`] sockets each, under the same limit) that open the peers from
//! many loopback addresses (127.1.0.1 on, [`PEERS_PER_ADDRESS`] each, under the server's
//! per-address cap) and join rooms of two. It prints:
//!
//! * joins per second and each join's latency (connect to `welcome`), p50 and p99;
//! * the server's resident set (all nodes' together) before and with every peer joined
//!   and idle, and so the cost of one idle peer (the goal is 8 KiB at most), and after
//!   they have all closed;
//! * a phase where every peer signals its partner at a steady rate: signals forwarded
//!   per second, their latency from sending to arriving (p50, p99), and the server's CPU
//!   time meanwhile.
//!
//! It asserts nothing: a benchmark informs. Without arguments it runs 10,000 and 19,000
//! peers on one process, then 100,000 peers on [`CLUSTER_NODES`] nodes, each at 20,000
//! signals/s for 10 s; `load --peers 10000,19000 --nodes 1 --rate 20000 --seconds 10`
//! runs the given crowds on the given number of nodes.

mod worker;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use meshdrop_e2e::processes::{process_cpu_seconds, process_resident_bytes};
use meshdrop_e2e::redis::Redis;
use meshdrop_e2e::server_process::{Build, ServerProcess};
use meshdrop_e2e::{Error, Result, ServesApp};
use serde::de::DeserializeOwned;
use worker::{Joined, Share, Signalled};

/// Sockets one client process opens at most, well under the 20,000 open files a process
/// may have here; fewer where the limit is lower (see [`peers_per_worker`]).
const PEERS_PER_WORKER: usize = 9_500;

/// Open files a worker keeps for other things than its peers.
const WORKER_SPARE_FILES: usize = 100;

/// Peers per client address, under the server's default cap of 256.
const PEERS_PER_ADDRESS: usize = 200;

/// Nodes for the default run of 100,000 peers: about 16,700 sockets each.
const CLUSTER_NODES: usize = 6;

/// How long the crowd idles before the server's memory is read.
const SETTLE: Duration = Duration::from_secs(3);

/// The settings, from the command line.
struct Settings {
    /// Each crowd: its peers, and the server processes they join through.
    crowds: Vec<(usize, usize)>,
    /// Signals per second, all peers together.
    rate: f64,
    seconds: f64,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [command, share] = args.as_slice() {
        if command == "worker" {
            return worker::run(share);
        }
    }
    let settings = parse(&args).unwrap_or_else(|usage| {
        eprintln!("{usage}");
        std::process::exit(2)
    });
    meshdrop_signaling_server::raise_open_files_limit()
        .map_err(Error::io("raise the limit on open files"))?;
    let runtime = tokio::runtime::Runtime::new().map_err(Error::io("start a runtime"))?;
    for &(peers, nodes) in &settings.crowds {
        // Fresh servers each time: one that served a crowd before reuses its memory.
        let servers = runtime.block_on(Servers::start(nodes))?;
        measure(&servers, peers, &settings)?;
    }
    Ok(())
}

/// The servers under load: one process with rooms in memory, or several nodes sharing
/// rooms through a `redis-server` of their own.
struct Servers {
    nodes: Vec<ServerProcess>,
    redis: Option<Redis>,
}

impl Servers {
    async fn start(nodes: usize) -> Result<Servers> {
        let redis = match nodes {
            1 => None,
            _ => Some(Redis::start().await),
        };
        let mut args = vec!["--no-stun"];
        if let Some(redis) = &redis {
            args.extend(["--redis-url", &redis.url]);
        }
        let mut started = Vec::new();
        for _ in 0..nodes {
            started.push(ServerProcess::start(Build::Release, &args, &[]).await?);
        }
        Ok(Servers {
            nodes: started,
            redis,
        })
    }

    fn addresses(&self) -> Vec<SocketAddr> {
        let address = |node: &ServerProcess| node.address(Ipv4Addr::LOCALHOST);
        self.nodes.iter().map(address).collect()
    }

    /// The nodes' resident sets, together.
    fn resident_bytes(&self) -> Result<u64> {
        let each = self
            .nodes
            .iter()
            .map(|node| process_resident_bytes(node.process_id()));
        each.sum()
    }

    /// The CPU time of the nodes, and of Redis.
    fn cpu_seconds(&self) -> Result<(f64, f64)> {
        let each = self
            .nodes
            .iter()
            .map(|node| process_cpu_seconds(node.process_id()));
        let redis = match self.redis.as_ref().and_then(Redis::process_id) {
            Some(pid) => process_cpu_seconds(pid)?,
            None => 0.0,
        };
        Ok((each.sum::<Result<f64>>()?, redis))
    }

    /// A series of every node's `/metrics`, summed.
    fn metric(&self, series: &str) -> Result<u64> {
        self.nodes.iter().map(|node| node.metric(series)).sum()
    }

    /// "the server" or "3 nodes (one Redis)", for the report.
    fn name(&self) -> String {
        match self.nodes.len() {
            1 => "the server".into(),
            nodes => format!("{nodes} nodes (one Redis)"),
        }
    }
}

fn parse(args: &[String]) -> std::result::Result<Settings, String> {
    let usage =
        "usage: load [--peers N[,N...]] [--rate SIGNALS_PER_SECOND] [--seconds S] [--nodes N]";
    let mut settings = Settings {
        crowds: vec![(10_000, 1), (19_000, 1), (100_000, CLUSTER_NODES)],
        rate: 20_000.0,
        seconds: 10.0,
    };
    let (mut peers, mut nodes) = (None, 1);
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(usage)?;
        match flag.as_str() {
            "--peers" => {
                let crowds = value
                    .split(',')
                    .map(|peers| peers.parse().map_err(|_| usage));
                peers = Some(crowds.collect::<std::result::Result<Vec<usize>, _>>()?);
            }
            "--nodes" => nodes = value.parse().map_err(|_| usage)?,
            "--rate" => settings.rate = value.parse().map_err(|_| usage)?,
            "--seconds" => settings.seconds = value.parse().map_err(|_| usage)?,
            _ => return Err(usage.into()),
        }
    }
    if nodes == 0 {
        return Err(usage.into());
    }
    if let Some(peers) = peers {
        settings.crowds = peers.into_iter().map(|peers| (peers, nodes)).collect();
    }
    Ok(settings)
}

/// A client process and its pipes.
struct Worker {
    child: Child,
    commands: ChildStdin,
    reports: BufReader<ChildStdout>,
}

impl Worker {
    fn start(share: Share) -> Result<Worker> {
        let share = serde_json::to_string(&share).expect("a share serializes");
        let mut child = Command::new(std::env::current_exe().map_err(Error::io("find myself"))?)
            .args(["worker", &share])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(Error::io("start a load worker"))?;
        let (commands, reports) = (child.stdin.take(), child.stdout.take());
        Ok(Worker {
            child,
            commands: commands.expect("piped"),
            reports: BufReader::new(reports.expect("piped")),
        })
    }

    fn tell(&mut self, command: &str) -> Result<()> {
        writeln!(self.commands, "{command}").map_err(Error::io("command a load worker"))
    }

    fn report<T: DeserializeOwned>(&mut self) -> Result<T> {
        let mut line = String::new();
        self.reports
            .read_line(&mut line)
            .map_err(Error::io("read a load worker's report"))?;
        serde_json::from_str(&line).map_err(|error| Error::Command {
            command: "load worker".into(),
            stderr: format!("reported {line:?}: {error}"),
        })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn measure(servers: &Servers, peers: usize, settings: &Settings) -> Result<()> {
    std::thread::sleep(Duration::from_secs(1));
    let rss_before = servers.resident_bytes()?;

    let started = Instant::now();
    let mut workers = Vec::new();
    let mut first = 0;
    while first < peers {
        // Even shares, so both peers of a room are in one process.
        let count = peers_per_worker().min(peers - first) & !1;
        if count == 0 {
            break;
        }
        workers.push(Worker::start(Share {
            servers: servers.addresses(),
            first,
            count,
            per_address: PEERS_PER_ADDRESS,
        })?);
        first += count;
    }
    let mut join_micros = Vec::new();
    let (mut joined, mut failed, mut first_error) = (0, 0, None);
    for worker in &mut workers {
        let report: Joined = worker.report()?;
        joined += report.joined;
        failed += report.failed;
        first_error = first_error.or(report.first_error);
        join_micros.extend(report.join_micros);
    }
    let joining = started.elapsed();
    std::thread::sleep(SETTLE);
    let rss_joined = servers.resident_bytes()?;
    let seated = servers.metric("meshdrop_peers")?;

    println!(
        "{joined} peers joined ({failed} failed{}) in rooms of 2{}, from {} loopback \
         addresses ({PEERS_PER_ADDRESS} each) in {} client processes; {} seat {seated}",
        first_error.map_or(String::new(), |error| format!(", first: {error}")),
        match servers.nodes.len() {
            1 => "",
            _ => ", the two of each room on different nodes",
        },
        first.div_ceil(PEERS_PER_ADDRESS),
        workers.len(),
        servers.name(),
    );
    println!(
        "  joins: {:.0}/s over {:.1} s; latency connect to welcome p50 {:.1} ms, p99 {:.1} ms",
        joined as f64 / joining.as_secs_f64(),
        joining.as_secs_f64(),
        percentile(&mut join_micros, 0.50) / 1000.0,
        percentile(&mut join_micros, 0.99) / 1000.0,
    );
    let per_peer = rss_joined.saturating_sub(rss_before) as f64 / joined.max(1) as f64;
    println!(
        "  {} resident set: {:.1} MiB before, {:.1} MiB with the peers idle: \
         {:.2} KiB per idle joined peer (goal at most 8 KiB)",
        servers.name(),
        mib(rss_before),
        mib(rss_joined),
        per_peer / 1024.0,
    );

    let per_peer_rate = settings.rate / joined.max(1) as f64;
    let cpu_before = servers.cpu_seconds()?;
    let signalling = Instant::now();
    let command = format!("signal {} {per_peer_rate}", settings.seconds);
    for worker in &mut workers {
        worker.tell(&command)?;
    }
    let (mut sent, mut received, mut latency) = (0, 0, Vec::new());
    for worker in &mut workers {
        let report: Signalled = worker.report()?;
        sent += report.sent;
        received += report.received;
        latency.extend(report.latency_micros);
    }
    let cpu_after = servers.cpu_seconds()?;
    let (cpu, redis_cpu) = (cpu_after.0 - cpu_before.0, cpu_after.1 - cpu_before.1);
    let phase = signalling.elapsed().as_secs_f64();
    println!(
        "  signals: {sent} sent, {received} forwarded in {:.0} s at {:.0}/s asked: {:.0}/s; \
         latency send to arrival p50 {:.2} ms, p99 {:.2} ms; server CPU {cpu:.1} s in \
         {phase:.1} s ({:.0} % of one core{})",
        settings.seconds,
        settings.rate,
        received as f64 / settings.seconds,
        percentile(&mut latency, 0.50) / 1000.0,
        percentile(&mut latency, 0.99) / 1000.0,
        cpu / phase * 100.0,
        match servers.redis {
            Some(_) => format!("; Redis {:.0} %", redis_cpu / phase * 100.0),
            None => String::new(),
        },
    );

    for worker in &mut workers {
        worker.tell("close")?;
    }
    for worker in &mut workers {
        let _: serde_json::Value = worker.report()?;
    }
    drop(workers);
    std::thread::sleep(SETTLE);
    println!(
        "  after every peer closed: {} resident set {:.1} MiB, {} WebSockets open",
        servers.name(),
        mib(servers.resident_bytes()?),
        servers.metric("meshdrop_connections")?,
    );
    Ok(())
}

/// Peers per client process: [`PEERS_PER_WORKER`], or fewer if this machine's hard
/// limit on open files (which workers raise their soft limit to) is lower.
fn peers_per_worker() -> usize {
    use nix::sys::resource::{getrlimit, Resource};
    let hard = getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(_soft, hard)| hard);
    let files = usize::try_from(hard).unwrap_or(usize::MAX);
    PEERS_PER_WORKER.min(files.saturating_sub(WORKER_SPARE_FILES))
}

/// The `q` quantile of `values` (sorted here), in their unit; 0 for none.
fn percentile(values: &mut [u32], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_unstable();
    let rank = ((values.len() - 1) as f64 * q).round() as usize;
    f64::from(values[rank])
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
