//! Relayed transfers: throughput, and the relay's CPU time per MiB, through the built-in
//! TURN relay and through coturn, next to a direct connection, 256 MiB each, in one run.
//!
//! A [`NatNetwork`] has two homes behind endpoint-independent NATs (hole punching works:
//! the direct row) and two behind symmetric ones (only a relay gets through: the relayed
//! rows). Each row starts the release-built `meshdrop-server` as a process of its own in
//! the server namespace ([`ServerProcess`]), so its CPU time is its own and not the
//! benchmark's: with its STUN only (direct), with its built-in relay (`--turn-listen`,
//! with a per-credential bandwidth cap of [`RELAY_BANDWIDTH`], far above what two pages
//! move, so the relay and not its cap is measured), or with credentials for coturn
//! (`--turn-url`, `--turn-secret`). A page in each of the row's two homes opens the app
//! from it; once both pages show the expected path, the first sends the file to the
//! second, timed by the receiver's clock from `transferring` to `done` (the digest
//! matched), [`ROUNDS`] times, and the CPU time of the server process, of coturn and of
//! both browsers is read around each transfer. Nothing polls the pages meanwhile. The
//! rows print medians of the rounds, and each round's throughput: on a busy machine one
//! transfer's figure says little.

use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::processes::process_cpu_seconds;
use meshdrop_e2e::room::{everyone_connected, everyone_sees_path, open_on, Peer};
use meshdrop_e2e::{run_in, Coturn, Home, Launch, NatKind, NatNetwork, Result, TestFile};

use crate::{median, mib, send_through_app, size, with_cpu_use, TIMED_BYTES};
use meshdrop_e2e::server_process::{Build, ServerProcess};

/// The built-in relay's cap per credential, in bytes per second (1 GiB/s): the default
/// (16 MiB/s) would measure the cap.
const RELAY_BANDWIDTH: u64 = 1 << 30;

/// Transfers per row, in the same pages; an odd number, so the median is one round's figure.
const ROUNDS: usize = 3;

/// Where the built-in relay and coturn listen, in turn: the standard TURN port.
const TURN_PORT: u16 = 3478;

/// The signaling server's STUN port beside coturn, which holds [`TURN_PORT`].
const STUN_BESIDE_COTURN: u16 = 3479;

/// A process whose CPU time a row reports: its name and process id.
type Watched = (&'static str, u32);

pub fn run() -> Result<()> {
    let network = NatNetwork::create(&[
        (NatKind::EndpointIndependent, 1),
        (NatKind::EndpointIndependent, 1),
        (NatKind::Symmetric, 1),
        (NatKind::Symmetric, 1),
    ])?;
    let dir = scratch_dir()?;
    let file = TestFile::random(dir.path(), "relayed.bin", TIMED_BYTES)?;
    let (direct_homes, symmetric_homes) = (
        [&network.homes[0], &network.homes[1]],
        [&network.homes[2], &network.homes[3]],
    );
    let public = NatNetwork::SERVER;
    run_in(&network.server, async {
        println!(
            "{} from a page in one home to a page in another, each home behind a NAT, \
             {ROUNDS} rounds; receiver's clock, transferring to done; medians of the rounds, \
             CPU s of the processes named around each transfer:",
            size(TIMED_BYTES)
        );

        let server = ServerProcess::start(Build::Release, &[], &[]).await?;
        let watched = [("meshdrop-server", server.process_id())];
        let row = Row::measure(direct_homes, &server, "direct", &watched, &file).await?;
        row.print("direct (endpoint-independent NATs)");
        drop(server);

        let (turn_listen, bandwidth) = (format!("{public}:{TURN_PORT}"), RELAY_BANDWIDTH);
        #[rustfmt::skip]
        let server = ServerProcess::start(Build::Release, &[
            "--turn-listen", &turn_listen, "--turn-relay-ip", &public.to_string(),
            "--turn-bandwidth", &bandwidth.to_string(),
        ], &[]).await?;
        let watched = [("meshdrop-server", server.process_id())];
        let row = Row::measure(symmetric_homes, &server, "relayed", &watched, &file).await?;
        row.print("built-in relay (symmetric NATs)");
        drop(server);

        let coturn = Coturn::start(public).await?;
        let stun_listen = format!("{public}:{STUN_BESIDE_COTURN}");
        let turn_urls = coturn.turn().urls.join(",");
        let server = ServerProcess::start(
            Build::Release,
            &["--stun-listen", &stun_listen, "--turn-url", &turn_urls],
            &[("MESHDROP_TURN_SECRET", coturn.secret())],
        )
        .await?;
        let watched = [
            ("turnserver", coturn.process_id()),
            ("meshdrop-server", server.process_id()),
        ];
        let row = Row::measure(symmetric_homes, &server, "relayed", &watched, &file).await?;
        row.print("coturn (symmetric NATs)");

        println!(
            "  (the built-in relay ran with --turn-bandwidth {bandwidth}, {:.0} MiB/s per credential)",
            mib(bandwidth)
        );
        Ok(())
    })
}

/// One way across, measured [`ROUNDS`] times in the same pages.
struct Row {
    /// What the pages said of their path, each distinct saying once.
    path_notes: Vec<String>,
    /// The path the pages reported (a `data-path` value).
    path: &'static str,
    /// The watched processes' names.
    watched: Vec<&'static str>,
    rounds: Vec<Round>,
}

/// One transfer, and what it cost.
struct Round {
    mib_per_second: f64,
    /// CPU seconds each watched process used around the transfer.
    cpu: Vec<f64>,
    /// CPU seconds both browsers (all their processes) used around the transfer.
    browsers_cpu: f64,
}

impl Row {
    /// Opens a page in each of `homes` from `server`, waits until both say they reach the
    /// other along `path`, and times `file` from the first to the second [`ROUNDS`]
    /// times, with the CPU time of `watched` around each transfer.
    async fn measure(
        homes: [&Home; 2],
        server: &ServerProcess,
        path: &'static str,
        watched: &[Watched],
        file: &TestFile,
    ) -> Result<Row> {
        let (sender, receiver) = tokio::try_join!(
            open_in(homes[0], server, "A"),
            open_in(homes[1], server, "B")
        )?;
        let peers: [Peer; 2] = [sender, receiver];
        everyone_connected(&peers).await?;
        let mut path_notes = everyone_sees_path(&peers, path).await?;
        path_notes.dedup();
        let browsers = [peers[0].0.browser(), peers[1].0.browser()];
        let mut rounds = Vec::new();
        for _ in 0..ROUNDS {
            let before = cpu_of(watched)?;
            let (transfer, browsers_spent) =
                with_cpu_use(browsers, send_through_app(&peers[0], &peers[1], file)).await?;
            let after = cpu_of(watched)?;
            rounds.push(Round {
                mib_per_second: transfer.mib_per_second(),
                cpu: after
                    .iter()
                    .zip(before)
                    .map(|(after, before)| after - before)
                    .collect(),
                browsers_cpu: browsers_spent.values().sum(),
            });
        }
        Ok(Row {
            path_notes,
            path,
            watched: watched.iter().map(|&(name, _)| name).collect(),
            rounds,
        })
    }

    /// Medians of the rounds, and each round's throughput.
    fn print(&self, way: &str) {
        let of_rounds =
            |figure: &dyn Fn(&Round) -> f64| median(self.rounds.iter().map(figure).collect());
        let processes: Vec<String> = (0..self.watched.len())
            .map(|index| {
                let seconds = of_rounds(&|round| round.cpu[index]);
                format!(
                    "{} {seconds:.2} CPU s ({:.2} ms/MiB)",
                    self.watched[index],
                    seconds * 1000.0 / mib(TIMED_BYTES)
                )
            })
            .collect();
        let throughputs: Vec<String> = self
            .rounds
            .iter()
            .map(|round| format!("{:.1}", round.mib_per_second))
            .collect();
        println!(
            "  {way:<36} {:>6.1} MiB/s; {}; browsers {:.1} CPU s; path {:?} ({}); rounds {} MiB/s",
            of_rounds(&|round| round.mib_per_second),
            processes.join(", "),
            of_rounds(&|round| round.browsers_cpu),
            self.path,
            self.path_notes.join(" / "),
            throughputs.join(", ")
        );
    }
}

/// Opens the app as `label` on the first host of `home`, from `server`; returns it welcomed.
async fn open_in(home: &Home, server: &ServerProcess, label: &str) -> Result<Peer> {
    let launch = Launch::on(home.remote(0));
    open_on(
        launch,
        server,
        NatNetwork::SERVER,
        Some("bench-relay"),
        label,
    )
    .await
}

/// The CPU seconds each of `watched` has used so far, in its order.
fn cpu_of(watched: &[Watched]) -> Result<Vec<f64>> {
    watched
        .iter()
        .map(|&(_, pid)| process_cpu_seconds(pid))
        .collect()
}
