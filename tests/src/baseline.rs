//! The raw RTCDataChannel baseline: how fast two browsers move bytes with none of our code.
//!
//! Benchmarks compare Meshdrop's transfers against this. The JavaScript lives in
//! `js/rtc_baseline.js`; this module relays its offer and answer between the two browsers
//! (candidates are inside the SDP, gathering is complete) and runs the transfer.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::browser::Browser;
use crate::error::{Error, Result};

const SCRIPT: &str = include_str!("../js/rtc_baseline.js");

/// A message size every connection takes (without a `max-message-size`, 64 KiB).
pub const MESSAGE_BYTES: u32 = 64 * 1024;

/// What the receiving browser measured.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Received {
    pub bytes: u64,
    pub messages: u64,
    /// Messages whose sequence number was not the next one expected.
    pub out_of_order: u64,
    /// From the first message's arrival to the last one's, in milliseconds.
    pub elapsed_ms: f64,
}

impl Received {
    /// Throughput in MiB/s over the receiving window.
    pub fn mib_per_second(&self) -> f64 {
        self.bytes as f64 / (1024.0 * 1024.0) / (self.elapsed_ms / 1000.0)
    }
}

/// What the sending browser measured.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    pub bytes: u64,
    /// From the first `send` to the last one returning, in milliseconds.
    pub elapsed_ms: f64,
}

/// Sends `bytes` from `sender` to `receiver` over a fresh RTCDataChannel, in messages of
/// `message_bytes`, and waits, at most `timeout`, until the receiver has all of them.
///
/// Both browsers must have a page loaded (`about:blank` will do); the script is installed
/// into it.
pub async fn transfer(
    sender: &Browser,
    receiver: &Browser,
    bytes: u64,
    message_bytes: u32,
    timeout: Duration,
) -> Result<(Sent, Received)> {
    for browser in [sender, receiver] {
        browser
            .run::<()>("installing the baseline", SCRIPT, vec![])
            .await?;
    }
    let offer: String = sender
        .run("creating an offer", "return rtcBaseline.offer()", vec![])
        .await?;
    let answer: String = receiver
        .run(
            "answering",
            "return rtcBaseline.answer(arguments[0])",
            vec![json!(offer)],
        )
        .await?;
    sender
        .run::<()>(
            "accepting the answer",
            "return rtcBaseline.accept(arguments[0])",
            vec![json!(answer)],
        )
        .await?;

    let send = sender.run(
        "sending",
        "return rtcBaseline.send(arguments[0], arguments[1])",
        vec![json!(bytes), json!(message_bytes)],
    );
    let receive = receiver.run(
        "receiving",
        "return rtcBaseline.receive(arguments[0])",
        vec![json!(bytes)],
    );
    tokio::time::timeout(timeout, async { tokio::try_join!(send, receive) })
        .await
        .map_err(|_| Error::Timeout {
            what: format!("{bytes} bytes over the baseline data channel"),
            waited: timeout,
            last_seen: "the transfer still running".into(),
        })?
}
