//! Lines typed on stdin, as a channel the commands can `select!` on.
//!
//! Reading stdin blocks, so it happens on a plain thread of its own: a thread stuck in
//! `read` does not keep the process from exiting, where a blocking tokio task would keep
//! the runtime from shutting down.

use std::io::BufRead;

use tokio::sync::mpsc;

/// Stdin, line by line; the channel ends at end of input.
pub fn lines() -> mpsc::Receiver<String> {
    let (lines, receiver) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines.blocking_send(line).is_err() {
                break;
            }
        }
    });
    receiver
}
