//! Where the pages' main threads spend their time while the web app moves 256 MiB from
//! A to B, by function, from V8's sampling profiler ([`meshdrop_e2e::profiler`]). Not part
//! of a plain `bench` run: it slows the pages it watches, and it names the app's wasm
//! functions only in a build that keeps their names (add `-g` to the wasm-opt parameters
//! in `web/index.html`, then `trunk build --release`). The main thread is not all of a
//! renderer: WebRTC's own threads and the file writer's worker are not in it.

use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::room::{everyone_connected, join_across};
use meshdrop_e2e::{profiler, run_in, Result, SignalingServer, TestFile, TwoHosts};

use crate::{send_through_app, size, TIMED_BYTES};

/// How many functions are printed for each page.
const SHOWN: usize = 25;

pub fn run() -> Result<()> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let server = SignalingServer::start().await?;
        let peers = join_across(&hosts, &server, "profile", ["A", "B"]).await?;
        everyone_connected(&peers).await?;
        let dir = scratch_dir()?;
        let file = TestFile::sparse(dir.path(), "profiled.bin", TIMED_BYTES)?;
        // A first transfer, so that what runs once per page is not in the profile.
        send_through_app(&peers[0], &peers[1], &file).await?;
        for (page, _) in &peers {
            profiler::start(page.browser()).await?;
        }
        let transfer = send_through_app(&peers[0], &peers[1], &file).await?;
        println!(
            "Main threads' self time while the web app moved {} from A to B ({:.1} MiB/s):",
            size(TIMED_BYTES),
            transfer.mib_per_second()
        );
        for (label, (page, _)) in ["A, sending", "B, receiving"].iter().zip(&peers) {
            let times = profiler::stop(page.browser()).await?;
            let sampled: f64 = times.iter().map(|(_, ms)| ms).sum();
            println!("  {label}: {:.2} s sampled", sampled / 1000.0);
            for (function, ms) in times.iter().take(SHOWN) {
                println!("    {ms:>8.1} ms  {function}");
            }
        }
        Ok(())
    })
}
