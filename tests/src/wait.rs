//! Waiting for a browser to reach a state: poll, with a deadline and a useful failure.
//!
//! Browsers and WebRTC are asynchronous and there are no events to subscribe to over
//! WebDriver, so tests poll. Every wait has a timeout, and a timeout reports what the test
//! was waiting for and what it saw last.

use std::future::Future;
use std::time::Duration;

use tokio::time::{sleep, Instant};

use crate::error::{Error, Result};

const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// One look at the state being waited for.
#[derive(Debug)]
pub enum Probe<T> {
    /// The state is reached; the wait returns this value.
    Ready(T),
    /// Not yet; the text describes what was seen instead, for the timeout message.
    NotYet(String),
}

/// Calls `probe` every 100 ms until it returns [`Probe::Ready`], an error, or `timeout`
/// passes, which is an [`Error::Timeout`] naming `what`.
pub async fn until<T, P, F>(what: impl Into<String>, timeout: Duration, mut probe: P) -> Result<T>
where
    P: FnMut() -> F,
    F: Future<Output = Result<Probe<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last_seen = match probe().await? {
            Probe::Ready(value) => return Ok(value),
            Probe::NotYet(seen) => seen,
        };
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                what: what.into(),
                waited: timeout,
                last_seen,
            });
        }
        sleep(POLL_INTERVAL).await;
    }
}
