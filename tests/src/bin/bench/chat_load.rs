//! Chat under load: how soon a chat line shows on the other page while a large transfer
//! runs between the same two pages.
//!
//! The sending page types a line through its chat form every [`EVERY_MS`] (by script,
//! `tests/js/chat_latency.js`), stamped with when it was sent; the receiving page notes
//! when each shows in its chat log. The lines share the pages, the connection and the
//! CPU with the transfer: a chat line queued behind file bytes, or a page too busy to
//! render, shows here. Where the time goes is printed too: until A's page hands the line
//! to its data channel (A's main thread busy), until B's script reads it (the wire, and
//! B's main thread working through the messages queued before it), until it shows.

use std::collections::HashMap;
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
    let handed: Vec<(u64, f64)> = a
        .run(
            "reading when lines were handed over",
            "return chatLatency.handedOver()",
            vec![],
        )
        .await?;
    let seen: Vec<(u64, Option<f64>, f64)> = b
        .run(
            "reading chat latencies",
            "return chatLatency.latencies()",
            vec![],
        )
        .await?;
    let handed: HashMap<u64, f64> = handed.into_iter().collect();
    let stages = [
        seen.iter()
            .filter_map(|(n, _, _)| handed.get(n).copied())
            .collect(),
        seen.iter().filter_map(|(_, read, _)| *read).collect(),
        seen.iter().map(|(_, _, shown)| *shown).collect(),
    ]
    .map(Percentiles::of);
    println!(
        "Chat while {} moves from A to B ({:.1} MiB/s), a line every {EVERY_MS} ms: {} of {sent} \
         lines shown; sent → shown p50 {:.1} ms, p99 {:.1} ms, slowest {:.1} ms \
         (target p99 under {P99_TARGET_MS:.0} ms)",
        size(transfer.bytes),
        transfer.mib_per_second(),
        seen.len(),
        stages[2].p50,
        stages[2].p99,
        stages[2].slowest,
    );
    println!(
        "  on the way, p50 / p99 from sent: in A's data channel {:.1} / {:.1} ms, \
         read by B's script {:.1} / {:.1} ms",
        stages[0].p50, stages[0].p99, stages[1].p50, stages[1].p99,
    );
    // When in the transfer the slowest lines were sent: a stall at its start or end, or
    // spread through it.
    let mut slowest: Vec<&(u64, Option<f64>, f64)> = seen.iter().collect();
    slowest.sort_by(|a, b| b.2.total_cmp(&a.2));
    let slowest: Vec<String> = slowest
        .iter()
        .take(seen.len().div_ceil(100))
        .map(|(n, _, shown)| format!("{:.1} s: {shown:.0} ms", (n * EVERY_MS) as f64 / 1000.0))
        .collect();
    println!(
        "  the slowest 1 %, by when they were sent (after the first line): {}",
        slowest.join(", ")
    );
    Ok(())
}

/// The median, the 99th percentile and the slowest of some milliseconds.
struct Percentiles {
    p50: f64,
    p99: f64,
    slowest: f64,
}

impl Percentiles {
    fn of(mut values: Vec<f64>) -> Percentiles {
        values.sort_by(f64::total_cmp);
        let percentile = |p: f64| {
            let rank = (p * values.len() as f64).ceil() as usize;
            values
                .get(rank.saturating_sub(1))
                .copied()
                .unwrap_or(f64::NAN)
        };
        Percentiles {
            p50: percentile(0.5),
            p99: percentile(0.99),
            slowest: values.last().copied().unwrap_or(f64::NAN),
        }
    }
}
