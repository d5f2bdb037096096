//! V8's sampling CPU profiler on a page's main thread, through chromedriver's
//! `POST /session/{id}/goog/cdp/execute` (the DevTools protocol's `Profiler` domain):
//! where a page spends its time, by function, including the app's wasm functions (named
//! when the wasm keeps its name section).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::json;

use crate::browser::Browser;
use crate::error::{Error, Result};
use crate::session_post::cdp;

/// How often the profiler samples, in microseconds.
const SAMPLING_INTERVAL_US: u32 = 200;

/// Starts profiling the page `browser` shows; [`stop`] ends it.
pub async fn start(browser: &Browser) -> Result<()> {
    cdp(browser.client(), "Profiler.enable", json!({})).await?;
    let interval = json!({ "interval": SAMPLING_INTERVAL_US });
    cdp(browser.client(), "Profiler.setSamplingInterval", interval).await?;
    cdp(browser.client(), "Profiler.start", json!({})).await?;
    Ok(())
}

/// Ends the profile [`start`] began: milliseconds of self time by function, most first.
/// `(idle)` is the thread waiting; `(program)` is the browser's own code outside any
/// script function.
pub async fn stop(browser: &Browser) -> Result<Vec<(String, f64)>> {
    let value = cdp(browser.client(), "Profiler.stop", json!({})).await?;
    let stopped: Stopped =
        serde_json::from_value(value.clone()).map_err(|source| Error::UnexpectedJson {
            what: "the profile",
            value,
            source,
        })?;
    Ok(stopped.profile.self_times())
}

#[derive(Deserialize)]
struct Stopped {
    profile: Profile,
}

/// The DevTools protocol's `Profiler.Profile`, the parts read here.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    nodes: Vec<Node>,
    /// The node on top of the stack at each sample.
    samples: Vec<u64>,
    /// Microseconds from each sample to the one before.
    time_deltas: Vec<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    id: u64,
    call_frame: CallFrame,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallFrame {
    function_name: String,
    url: String,
}

impl Profile {
    /// Each sample counts the time until the next one to the function it caught.
    fn self_times(&self) -> Vec<(String, f64)> {
        let names: HashMap<u64, String> = (self.nodes.iter())
            .map(|node| {
                let frame = &node.call_frame;
                let file = frame.url.rsplit('/').next().unwrap_or_default();
                let name = match file {
                    "" => frame.function_name.clone(),
                    file => format!("{} ({file})", frame.function_name),
                };
                (node.id, name)
            })
            .collect();
        let mut by_name: HashMap<&str, f64> = HashMap::new();
        let until_next = self.time_deltas.iter().skip(1).chain([&0.0]);
        for (node, micros) in self.samples.iter().zip(until_next) {
            if let Some(name) = names.get(node) {
                *by_name.entry(name).or_default() += micros / 1000.0;
            }
        }
        let mut times: Vec<(String, f64)> = (by_name.into_iter())
            .map(|(name, ms)| (name.to_owned(), ms))
            .collect();
        times.sort_by(|a, b| b.1.total_cmp(&a.1));
        times
    }
}
