//! Chat under load: how soon a chat line shows on the other page while a large transfer
//! runs between the same two pages.
//!
//! The sending page types a line through its chat form every [`EVERY_MS`] (by script,
//! `tests/js/chat_latency.js`), stamped with when it was sent; the receiving page notes
//! when each shows in its chat log. The lines share the pages, the connection and the
//! CPU with the transfer: a chat line queued behind file bytes, or a page too busy to
//! render, shows here.

use std::time::Duration;

use meshdrop_e2e::room::Peer;
use meshdrop_e2e::{Result, TestFile};
use serde_json::json;

use crate::{send_through_app, size};

const SCRIPT: &str = include_str!("../../../js/chat_latency.js");
/// How often a line is sent.
const EVERY_MS: u64 = 100;
/// What the slowest line in a hundred may take.
const P99_TARGET_MS: f64 = 50.0;

pub async fn measure(sender: &Peer, receiver: &Peer, file: &TestFile) -> Result<()> {
    let (a, b) = (sender.0.browser(), receiver.0.browser());
    a.run::<()>("installing the chat sender", SCRIPT, vec![])
        .await?;
    b.run::<()>("installing the chat watcher", SCRIPT, vec![])
        .await?;
    b.run::<()>("watching the chat", "chatLatency.watch()", vec![])
        .await?;
    a.run::<()>(
        "sending chat lines",
        "chatLatency.send(arguments[0])",
        vec![json!(EVERY_MS)],
    )
    .await?;
    let transfer = send_through_app(sender, receiver, file).await;
    let sent: usize = a
        .run("stopping the chat", "return chatLatency.stop()", vec![])
        .await?;
    let transfer = transfer?;
    // The last line's time to arrive.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut latencies: Vec<f64> = b
        .run(
            "reading chat latencies",
            "return chatLatency.latencies()",
            vec![],
        )
        .await?;
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| {
        let rank = (p * latencies.len() as f64).ceil() as usize;
        latencies
            .get(rank.saturating_sub(1))
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "Chat while {} moves from A to B ({:.1} MiB/s), a line every {EVERY_MS} ms: {} of {sent} \
         lines shown; sent → shown p50 {:.1} ms, p99 {:.1} ms, slowest {:.1} ms \
         (target p99 under {P99_TARGET_MS:.0} ms)",
        size(transfer.bytes),
        transfer.mib_per_second(),
        latencies.len(),
        percentile(0.5),
        percentile(0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
    );
    Ok(())
}
